"""The Hadoop Streaming recipe, Scripts/hadoop-wordcount.sh, without Hadoop (no package registry here
has it): its -mapper, -combiner and -reducer strings, read from the script, run in a local simulation
of Hadoop Streaming's contract, and the result must equal `mapreduce wordcount --output`.

The simulation, as Hadoop does it:
  - input splits of SPLIT_BYTES per file; a line belongs to the split it starts in (LineRecordReader),
    lines end at \\n, \\r or \\r\\n, and the mapper gets each line's raw bytes plus \\n;
  - the commands are split at whitespace, not run by a shell; the program is looked up in the task's
    working folder first, where `-files BINARY#mapreduce` puts the binary;
  - map output: the key is the text before the first tab; the partition is the default
    HashPartitioner's, (Text.hashCode() & Integer.MAX_VALUE) % reduces;
  - each map's output for each partition is sorted by key bytes (stable) and run through the combiner
    COMBINER_PASSES times (Hadoop runs it zero or more times);
  - each reducer gets the merged, key-sorted output of every map for its partition; any non-zero exit
    fails the job with the command's stderr.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import Sequence

import support

SCRIPT = support.SCRIPTS / "hadoop-wordcount.sh"
SPLIT_BYTES = 256 * 1024
REDUCES = 3
LINE_END = re.compile(rb"\r\n|\r|\n")


class StreamingJobFailed(Exception):
    pass


def recipe_arguments() -> list[str]:
    """The arguments of the script's `hadoop jar` command, as the shell would pass them."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    command = next(line for line in text.splitlines() if line.strip().startswith("hadoop jar "))
    return shlex.split(command)


def option(arguments: Sequence[str], name: str) -> str:
    return arguments[arguments.index(name) + 1]


def java_string_hash(key: bytes) -> int:
    """Text.hashCode(): WritableComparator.hashBytes, 31 * h + signed byte, in 32-bit arithmetic."""
    value = 1
    for byte in key:
        value = (31 * value + (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def partition_of(key: bytes, reduces: int) -> int:
    return (java_string_hash(key) & 0x7FFFFFFF) % reduces


def key_of(line: bytes) -> bytes:
    return line.split(b"\t", 1)[0]


def splits_of(path: Path) -> list[bytes]:
    """What each map task of `path` feeds its mapper: the lines starting in the split, each plus \\n."""
    data = path.read_bytes()
    starts, records = [0], []
    for match in LINE_END.finditer(data):
        records.append(data[starts[-1]:match.start()])
        starts.append(match.end())
    if starts[-1] < len(data):
        records.append(data[starts[-1]:])
    else:
        starts.pop()
    splits: dict[int, list[bytes]] = {}
    for start, record in zip(starts, records):
        splits.setdefault(start // SPLIT_BYTES, []).append(record + b"\n")
    return [b"".join(lines) for _, lines in sorted(splits.items())]


class HadoopStreamingSimulation:
    def __init__(self, task_folder: Path, arguments: Sequence[str], combiner_passes: int = 1) -> None:
        self.task_folder = task_folder
        self.mapper = option(arguments, "-mapper")
        self.combiner = option(arguments, "-combiner")
        self.reducer = option(arguments, "-reducer")
        self.combiner_passes = combiner_passes
        # -files BINARY#mapreduce: the binary, by that name, in the task's working folder.
        shipped = option(arguments, "-files").split("#")[-1]
        link = task_folder / shipped
        if not link.exists():
            link.symlink_to(support.binary())

    def run(self, command: str, data: bytes) -> bytes:
        argv = command.split()
        if (self.task_folder / argv[0]).exists():
            argv[0] = str(self.task_folder / argv[0])
        result = subprocess.run(argv, input=data, capture_output=True, cwd=self.task_folder)
        if result.returncode != 0:
            raise StreamingJobFailed("%r exited %d: %s" % (command, result.returncode,
                                                           result.stderr.decode(errors="replace").strip()))
        return result.stdout

    def sorted_lines(self, lines: Sequence[bytes]) -> bytes:
        return b"".join(line + b"\n" for line in sorted(lines, key=key_of))

    def map_task(self, split: bytes) -> list[list[bytes]]:
        """One map task: its combined output, partition by partition."""
        partitions: list[list[bytes]] = [[] for _ in range(REDUCES)]
        for line in self.run(self.mapper, split).splitlines():
            partitions[partition_of(key_of(line), REDUCES)].append(line)
        combined = []
        for lines in partitions:
            data = self.sorted_lines(lines)
            for _ in range(self.combiner_passes):
                data = self.run(self.combiner, data)
            combined.append(data.splitlines())
        return combined

    def job(self, inputs: Sequence[Path]) -> list[bytes]:
        """The job's part files, in partition order."""
        maps = [self.map_task(split) for path in inputs for split in splits_of(path)]
        return [self.run(self.reducer, self.sorted_lines([line for output in maps for line in output[index]]))
                for index in range(REDUCES)]


class HadoopRecipeTests(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hadoop-test-"))
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.arguments = recipe_arguments()

    def simulate(self, inputs: Sequence[Path], combiner_passes: int = 1) -> list[bytes]:
        task_folder = self.directory / "task"
        task_folder.mkdir(exist_ok=True)
        return HadoopStreamingSimulation(task_folder, self.arguments, combiner_passes).job(inputs)

    def assertSameAsLocal(self, inputs: Sequence[Path], combiner_passes: int = 1) -> None:
        parts = self.simulate(inputs, combiner_passes)
        lines = []
        for part in parts:
            keys = [key_of(line) for line in part.splitlines()]
            self.assertEqual(keys, sorted(keys), "a reducer's output is not sorted")
            lines += part.splitlines()
        self.assertEqual(b"".join(line + b"\n" for line in sorted(lines)), support.local_dump(inputs, self.directory))

    # MARK: - The recipe

    def test_recipe_states_the_settings_that_matter(self) -> None:
        settings = [self.arguments[i + 1] for i, word in enumerate(self.arguments) if word == "-D"]
        self.assertIn("stream.num.map.output.key.fields=1", settings)
        self.assertIn("stream.non.zero.exit.is.failure=true", settings)
        self.assertTrue(any(s.startswith("mapreduce.job.reduces=") for s in settings))
        self.assertEqual(option(self.arguments, "-mapper"), "mapreduce streaming map wordcount")

    def test_hash_of_text_matches_java(self) -> None:
        # hashBytes starts at 1 where String.hashCode starts at 0: 31^4 + "word".hashCode() (3655434).
        self.assertEqual(java_string_hash(b"word"), 923521 + 3655434)
        # Bytes are signed: "é" is C3 A9, -61 and -87.
        self.assertEqual(java_string_hash("é".encode()), 31 * (31 - 61) - 87)
        # 32-bit wrap-around: "abcdefgh" overflows to a negative int.
        self.assertEqual(java_string_hash(b"abcdefgh"), -547780731)

    # MARK: - Word count

    def test_ascii_corpus_equals_local_dump(self) -> None:
        self.assertSameAsLocal(sorted(support.CORPUS.iterdir()))

    def test_unicode_corpus_equals_local_dump(self) -> None:
        self.assertSameAsLocal([support.unicode_corpus(self.directory), *sorted(support.ADVERSARIAL.iterdir())])

    def test_any_number_of_combiner_passes_gives_the_same_dump(self) -> None:
        for passes in (0, 2):
            with self.subTest(combiner_passes=passes):
                self.assertSameAsLocal([support.CORPUS / "devils-dictionary.txt"], passes)

    def test_invalid_utf8_reaches_the_mapper_and_fails_the_job(self) -> None:
        with self.assertRaises(StreamingJobFailed) as caught:
            self.simulate([support.invalid_utf8_corpus(self.directory)])
        self.assertIn("mapreduce: <stdin>: invalid UTF-8", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
