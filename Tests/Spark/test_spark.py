"""`mapreduce streaming` on a real Spark cluster: Scripts/spark-wordcount.py (the README's recipe) on
`local-cluster[2,1,1024]`, a master and two executor JVMs on 127.0.0.1, so the shuffle between the map
and the reduce pipes is a real one. One session for the whole suite: a session costs ~1.5 GiB and
15-25 s.

Run with `make test-spark` (it installs Java, pyspark and the static binary), or with
MAPREDUCE_BINARY=PATH and a python that has pyspark: `python -m unittest discover -s Tests/Spark`.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import unittest
from pathlib import Path
from typing import Sequence

import support

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # before the JVM starts: nothing listens beyond loopback

from py4j.protocol import Py4JJavaError  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

recipe = support.load_script("spark-wordcount.py")
spark: SparkSession | None = None


def setUpModule() -> None:
    global spark
    spark = (SparkSession.builder
             .master("local-cluster[2,1,1024]")
             .appName("mapreduce streaming tests")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.task.maxFailures", "1")
             .config("spark.ui.showConsoleProgress", "false")
             # Every reduce partition its own reducer, not coalesced into one by adaptive execution.
             .config("spark.sql.adaptive.coalescePartitions.enabled", "false")
             # Small splits: the corpus becomes ~a dozen map tasks, so both executors map and reduce.
             .config("spark.sql.files.maxPartitionBytes", "256k")
             .config("spark.sql.files.openCostInBytes", "64k")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")


def tearDownModule() -> None:
    if spark is not None:
        spark.stop()


class SparkWordCountTests(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="spark-test-"))
        self.addCleanup(shutil.rmtree, self.directory, True)

    # MARK: - Helpers

    def run_recipe(self, inputs: Sequence[str | Path], *options: str) -> list[bytes]:
        """Runs Scripts/spark-wordcount.py in the suite's session; returns its output lines, checking
        that each part file is sorted by key bytes and that no key is in two of them."""
        output = self.directory / "spark-output"
        recipe.main(["--binary", support.binary(), "--output", str(output), "--partitions", "3", *options,
                     *map(str, inputs)], spark=spark)
        lines: list[bytes] = []
        for part in support.part_files(output):
            part_lines = part.read_bytes().splitlines()
            keys = support.keys_of(part_lines)
            self.assertEqual(keys, sorted(keys), "%s is not sorted by key bytes" % part.name)
            lines += part_lines
        keys = support.keys_of(lines)
        self.assertEqual(len(keys), len(set(keys)), "a key is in more than one part file")
        return lines

    def assertSameAsLocal(self, inputs: Sequence[str | Path], *options: str, local_options: Sequence[str] = ()) -> None:
        lines = self.run_recipe(inputs, *options)
        expected = support.local_dump(inputs, self.directory, local_options)
        self.assertGreater(len(expected), 0)
        actual = b"".join(line + b"\n" for line in sorted(lines))
        self.assertEqual(actual, expected, "Spark's word count differs from mapreduce wordcount --output")

    def assertJobFails(self, inputs: Sequence[str | Path], *options: str, message: str) -> str:
        """The job fails (no partial output) and the driver's exception carries `message`."""
        with self.assertRaises(Py4JJavaError) as caught:
            self.run_recipe(inputs, *options)
        text = str(caught.exception)
        self.assertIn("Subprocess exited with status 1. Error: " + message, text)
        self.assertFalse((self.directory / "spark-output" / "_SUCCESS").exists())
        return text

    # MARK: - Word count

    def test_ascii_corpus_equals_local_dump(self) -> None:
        self.assertSameAsLocal([support.CORPUS])

    def test_unicode_corpus_equals_local_dump(self) -> None:
        inputs = [support.unicode_corpus(self.directory), *sorted(support.ADVERSARIAL.iterdir())]
        self.assertSameAsLocal(inputs)

    def test_map_side_combine_equals_local_dump(self) -> None:
        self.assertSameAsLocal([support.CORPUS, support.unicode_corpus(self.directory)], "--combine")

    def test_raw_bytes_path_equals_local_dump(self) -> None:
        inputs = [support.unicode_corpus(self.directory), support.ADVERSARIAL / "line-endings.txt"]
        self.assertSameAsLocal(inputs, "--strict-bytes")

    # MARK: - Invalid UTF-8 and failures

    def test_spark_text_replaces_invalid_utf8_before_the_mapper(self) -> None:
        """Spark decodes every line in the JVM (U+FFFD for invalid bytes) before the pipe: strict mode
        never sees them, and the result is local --invalid-utf8 replace's."""
        inputs = [support.invalid_utf8_corpus(self.directory)]
        self.assertIn("mapreduce: ", support.local_failure(inputs, self.directory))
        self.assertSameAsLocal(inputs, local_options=["--invalid-utf8", "replace"])

    def test_every_text_path_hands_the_child_u_fffd_for_invalid_bytes(self) -> None:
        """What bytes a child process gets for a line with invalid UTF-8, path by path: Spark keeps the
        raw bytes, but TRANSFORM (of the string or of its bytes), the JVM's RDD.pipe and PySpark's
        rdd.pipe all decode them first, and the child reads U+FFFD (EF BF BD) for each bad sequence."""
        assert spark is not None
        path = self.directory / "bad.txt"
        path.write_bytes(b"ok \xff\xfe end\n")
        raw, replaced = "6f6b20fffe20656e64", "6f6b20efbfbdefbfbd20656e64"
        code = 'import sys\nfor line in sys.stdin.buffer: print(line.rstrip(b"\\n").hex())'
        hexdump = "python3 -c " + shlex.quote(code)
        spark.read.text(str(path)).createOrReplaceTempView("bad_lines")
        paths = {
            "cast(value AS binary)": spark.sql("SELECT lower(hex(cast(value AS binary))) FROM bad_lines"),
            "TRANSFORM(value)": spark.sql(
                f"SELECT TRANSFORM(value) USING {recipe.sql_string(hexdump)} AS (line STRING) FROM bad_lines"),
            "TRANSFORM(cast(value AS binary))": spark.sql(
                f"SELECT TRANSFORM(cast(value AS binary)) USING {recipe.sql_string(hexdump)} AS (line STRING) "
                "FROM bad_lines"),
        }
        seen = {name: [row[0] for row in frame.collect()] for name, frame in paths.items()}
        context = spark.sparkContext
        seen["JVM RDD.pipe"] = list(context._jsc.textFile(str(path)).pipe(["python3", "-c", code]).collect())
        seen["PySpark rdd.pipe"] = context.textFile(str(path)).pipe(hexdump, env=dict(os.environ),
                                                                    checkCode=True).collect()
        self.assertEqual(seen, {"cast(value AS binary)": [raw], "TRANSFORM(value)": [replaced],
                                "TRANSFORM(cast(value AS binary))": [replaced], "JVM RDD.pipe": [replaced],
                                "PySpark rdd.pipe": [replaced]})

    def test_invalid_utf8_on_raw_bytes_fails_the_job_with_our_error(self) -> None:
        inputs = [support.invalid_utf8_corpus(self.directory)]
        self.assertJobFails(inputs, "--strict-bytes", message="mapreduce: <stdin>: invalid UTF-8")

    def test_a_mapper_failing_while_spark_still_feeds_it_fails_the_job_with_our_error(self) -> None:
        """The mapper fails on the first line of a 24 MiB split, while Spark is still writing rows to
        it: it reads the rest before it exits, so Spark reports our line, not a bare Broken pipe (the
        recipe has no `cat > /dev/null` wrapper). Alone and in `map | sort | combine`."""
        path = self.directory / "fails-early.txt"
        with open(path, "wb") as out:
            out.write(b"bad \xff line\n")
            out.write(b"many good words on many good lines\n" * ((24 << 20) // 35))
        for options in [("--strict-bytes",), ("--strict-bytes", "--combine")]:
            with self.subTest(options=options):
                text = self.assertJobFails([path], *options, message="mapreduce: <stdin>: invalid UTF-8")
                self.assertNotIn("Broken pipe", text)

    def test_replace_option_reaches_the_mapper(self) -> None:
        inputs = [support.invalid_utf8_corpus(self.directory)]
        self.assertSameAsLocal(inputs, "--strict-bytes", "--invalid-utf8", "replace",
                               local_options=["--invalid-utf8", "replace"])

    def test_shuffle_without_sort_fails_the_reducer_loudly(self) -> None:
        """Forgetting SORT BY is caught: the reducer rejects unsorted input and the job fails."""
        pairs = recipe.map_step(spark, [str(support.CORPUS)], recipe.map_command(support.binary(), "wordcount"))
        reduced = recipe.reduce_step(spark, pairs, recipe.reduce_command(support.binary(), "wordcount"), sort=False)
        with self.assertRaises(Py4JJavaError) as caught:
            reduced.collect()
        self.assertIn("Subprocess exited with status 1. Error: mapreduce: <stdin>: line ", str(caught.exception))
        self.assertIn("is out of order", str(caught.exception))


class HadoopPartitionerTests(unittest.TestCase):
    def test_simulated_partitioner_hashes_keys_as_hadoop_text_does(self) -> None:
        """test_hadoop.py partitions as Hadoop's HashPartitioner would: checked against the real
        org.apache.hadoop.io.Text in the session's JVM (Spark ships Hadoop's client)."""
        import test_hadoop
        assert spark is not None
        text_class = spark.sparkContext._jvm.org.apache.hadoop.io.Text
        for word in ["word", "é", "abcdefgh", "漢字", "𐐨𐐩", "İstanbul", "x" * 100]:
            with self.subTest(word=word):
                self.assertEqual(test_hadoop.java_string_hash(word.encode()), text_class(word).hashCode())


if __name__ == "__main__":
    unittest.main()
