"""What the Spark and Hadoop suites share: the binary under test, local dumps, generated inputs."""
from __future__ import annotations

import importlib.util
import os
import random
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Sequence

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "Fixtures" / "corpus"
ADVERSARIAL = ROOT / "Fixtures" / "adversarial"
SCRIPTS = ROOT / "Scripts"


def binary() -> str:
    """The mapreduce under test: $MAPREDUCE_BINARY (make test-spark passes the static build)."""
    path = os.environ.get("MAPREDUCE_BINARY")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set MAPREDUCE_BINARY to a built mapreduce (make test-spark does)")
    return os.path.abspath(path)


def load_script(name: str) -> ModuleType:
    """A script of Scripts/ as a module (its file name has a dash)."""
    spec = importlib.util.spec_from_file_location(name.replace("-", "_").removesuffix(".py"), SCRIPTS / name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local_dump(inputs: Sequence[str | Path], directory: Path, options: Sequence[str] = ()) -> bytes:
    """What `mapreduce wordcount --output FILE` writes for `inputs`: the expected result."""
    out = directory / "local-dump.tsv"
    result = subprocess.run([binary(), "wordcount", *options, "--output", str(out), *map(str, inputs)],
                            capture_output=True)
    if result.returncode != 0:
        raise AssertionError("local mapreduce wordcount failed: " + result.stderr.decode(errors="replace"))
    return out.read_bytes()


def local_failure(inputs: Sequence[str | Path], directory: Path, options: Sequence[str] = ()) -> str:
    """The one stderr line of a local `mapreduce wordcount` that must fail."""
    result = subprocess.run([binary(), "wordcount", *options, "--output", str(directory / "failed.tsv"),
                             *map(str, inputs)], capture_output=True)
    if result.returncode != 1:
        raise AssertionError("local mapreduce wordcount exited %d, not 1" % result.returncode)
    return result.stderr.decode(errors="replace").strip()


def part_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.name.startswith("part-"))


def keys_of(lines: Sequence[bytes]) -> list[bytes]:
    return [line.split(b"\t", 1)[0] for line in lines]


# Words the suites mix into lines: scripts and case rules of Fixtures/adversarial/unicode.txt, and
# characters outside the BMP, where UTF-16 order (a JVM String's) differs from byte order: U+FF41 "ａ"
# sorts after U+10428 "𐐨" in UTF-16 (0xFF41 > 0xD801) but before it in UTF-8 (EF < F0).
UNICODE_WORDS = [
    "İstanbul", "KİLİM", "Straße", "STRASSE", "ẞ", "ΟΔΟΣ", "ΣΟΦΟΣ", "aΣb", "ǅungla", "ﬁne", "Kelvin",
    "Ångström", "е́", "é", "漢字", "かな", "カナ", "한국어", "ไทย", "Ꭰꭰ", "ꭰꭱ", "Ωmega", "ΐ", "ᾈ", "ᾼ",
    "ı", "Ⅻ", "ⅻ", "①", "²superscript", "ＡＢＣ", "ａｂｃ", "𐐀𐐁", "𐐨𐐩", "𝐀𝐁𝐂", "𠀀𠀁", "😀", "word",
    "plain", "ascii", "the", "and", "Ｚ", "ｚ",
]
SEPARATORS = [" ", " ", " ", "\t", "\u3000", "\u00a0", "\u2003", ", ", ". ", "—", "'", "(", ")", "\x1c"]
LINE_ENDINGS = ["\n", "\n", "\n", "\r\n", "\r"]


def unicode_corpus(directory: Path, lines: int = 20000, seed: int = 12) -> Path:
    """A generated UTF-8 file of `lines` lines of UNICODE_WORDS (fixed seed), with mixed line endings
    and some lines that start with "..", which word count skips."""
    rng = random.Random(seed)
    path = directory / "unicode-generated.txt"
    with open(path, "w", encoding="utf-8", newline="") as out:
        for _ in range(lines):
            words = [rng.choice(UNICODE_WORDS) + rng.choice(SEPARATORS) for _ in range(rng.randint(0, 12))]
            prefix = rng.choice(["", "", "", "", "  ..", ".."])
            out.write(prefix + "".join(words) + rng.choice(LINE_ENDINGS))
    return path


# Invalid UTF-8 between words: a lone continuation byte, bytes never valid, a truncated 2-, 3- and
# 4-byte sequence, an overlong encoding, an encoded surrogate, a code point past U+10FFFF, each
# followed by a separator or glued to a word.
INVALID_SEQUENCES = [b"\x80", b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc0\xaf",
                     b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"]


def invalid_utf8_corpus(directory: Path, lines: int = 3000, seed: int = 7) -> Path:
    """A generated file with INVALID_SEQUENCES among valid words; local strict mode rejects it."""
    rng = random.Random(seed)
    path = directory / "invalid-utf8.txt"
    with open(path, "wb") as out:
        for _ in range(lines):
            parts = []
            for _ in range(rng.randint(1, 10)):
                word = rng.choice(UNICODE_WORDS).encode()
                if rng.random() < 0.2:
                    bad = rng.choice(INVALID_SEQUENCES)
                    word = rng.choice([bad + word, word + bad, bad + b" " + word, word + b" " + bad])
                parts.append(word)
            out.write(b" ".join(parts) + b"\n")
    return path
