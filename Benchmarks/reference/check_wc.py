#!/usr/bin/env python3
"""Randomized differential test: wc (and optionally mapreduce) against the Python reference.

Writes random documents built from the awkward parts of the word rules (universal newlines, "..",
Unicode whitespace, final sigma, U+0130, case-ignorable and titlecase letters, digits, controls,
words longer than 16 and 64 bytes, tokens across 64-byte block boundaries) and compares the
`--output` dump of every counter with the one wordcount.py's own map function gives. Also checks
that invalid UTF-8 makes each counter exit 1.

On a mismatch it shrinks the document (dropping lines, then characters) to a small input that still
shows the difference, prints it as a Python literal, and exits 1.

Usage: check_wc.py --wc PATH [--mapreduce PATH] [--cases N] [--seed N]
"""
import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Fixtures", "reference"))
import wordcount  # noqa: E402  (the reference's own map function is the oracle)

PIECES = [
    # plain words, stop words, case
    "word", "Word", "WORD", "the", "The", "and", "is", "py", "rst", "a", "I", "x", "naïve", "Straße",
    "abcdefghijklmnopq", "Supercalifragilisticexpialidocious", "b" * 70, "Ab" * 40,
    # separators
    " ", " ", " ", "  ", "\t", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f", ".", ",", "'", "-", "_",
    "!", "\"", "#$%&", "()*+", "/:;<=>?@", "[\\]^", "`{|}~",
    # line breaks and the ".." rule
    "\n", "\n", "\r", "\r\n", "\n..", "\n  ..", "\n\t..x", "\n\u3000..", "\n\x85..", "..", "...",
    "\n. .", "\n\x0b..", "\n\xa0..skip",
    # Unicode whitespace (splits words, never lines) and look-alikes that are not whitespace
    "\x85", "\xa0", "\u1680", "\u2000", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000", "\u200b", "\ufeff", "\u180e",
    # case mapping: final sigma, U+0130, titlecase, special letters
    "ΣΑΣ", "ΟΔΟΣ", "Σ", "σ", "ς", "ΑΣ", "AΣ", "Σʰ", "ΑΣ\u00ad", "Α\u00adΣ", "Σ\u0345", "ʰ", "İ",
    "İstanbul", "iİ", "ǅ", "ǈ", "ẞ", "K", "Ω", "Å", "ﬁ", "ﬄ", "ŉ", "ᾼ", "ΐ", "Ⅻ", "ⓐ", "Ⓐ",
    # letters and non-letters of other scripts
    "слово", "Слово", "日本語", "한국어", "עברית", "ع", "ℌ", "𝔄", "😀", "\u0301", "e\u0301",
    "\u0307", "²", "٣", "½", "©", "→", "\x00", "\x01", "\x7f", "\x08", "\x0e", "\x1b", "9", "42",
]


def random_document(rng):
    length = rng.choice([1, 3, 10, 40, 200, 1000])
    parts = [rng.choice(PIECES) for _ in range(length)]
    if rng.random() < 0.3:   # words of every length around the 16- and 64-byte boundaries
        parts.insert(rng.randrange(len(parts) + 1), "k" * rng.randrange(1, 140))
    if rng.random() < 0.3:
        parts.insert(0, " " * rng.randrange(0, 130))
    return "".join(parts)


def reference_dump(path):
    counts = collections.Counter()
    for word, one in wordcount.file_to_words((path, "strict")):
        counts[word] += one
    return "".join("%s\t%d\n" % item for item in sorted(counts.items())).encode("utf-8")


def run_dump(command, path, out):
    result = subprocess.run(command + ["--output", out, path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    if result.returncode != 0:
        return "exit %d: %s" % (result.returncode, result.stderr.decode(errors="replace").strip())
    with open(out, "rb") as f:
        return f.read()


def differs(command, data, workdir):
    path = os.path.join(workdir, "case.txt")
    with open(path, "wb") as f:
        f.write(data)
    return run_dump(command, path, os.path.join(workdir, "out.tsv")) != reference_dump(path)


def shrink(command, data, workdir):
    """Greedy minimization: drop lines, then single characters, while the difference remains."""
    text = data.decode("utf-8")
    for unit in ("lines", "chars"):
        changed = True
        while changed:
            changed = False
            pieces = text.splitlines(keepends=True) if unit == "lines" else list(text)
            i = 0
            while i < len(pieces):
                candidate = "".join(pieces[:i] + pieces[i + 1:])
                if candidate and differs(command, candidate.encode("utf-8"), workdir):
                    pieces.pop(i)
                    text = candidate
                    changed = True
                else:
                    i += 1
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wc", required=True)
    parser.add_argument("--mapreduce", help="also check this mapreduce binary (--workers 2; auto and tiny chunks)")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counters = {"wc": [args.wc]}
    if args.mapreduce:
        counters["mapreduce"] = [args.mapreduce, "wordcount", "--quiet", "--workers", "2"]
        # Tiny chunks put chunk boundaries inside words, lines and UTF-8 characters.
        counters["mapreduce --chunksize 7"] = counters["mapreduce"] + ["--chunksize", "7"]
        counters["mapreduce --chunksize 100"] = counters["mapreduce"] + ["--chunksize", "100"]
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        # Many documents per run of each counter (in one directory); a failing batch is bisected.
        batch = 100
        for start in range(0, args.cases, batch):
            docs = [random_document(rng).encode("utf-8") for _ in range(min(batch, args.cases - start))]
            folder = os.path.join(workdir, "batch")
            os.makedirs(folder, exist_ok=True)
            for i, data in enumerate(docs):
                with open(os.path.join(folder, "%04d.txt" % i), "wb") as f:
                    f.write(data)
            expected = collections.Counter()
            for i in range(len(docs)):
                for word, one in wordcount.file_to_words((os.path.join(folder, "%04d.txt" % i), "strict")):
                    expected[word] += one
            expected = "".join("%s\t%d\n" % item for item in sorted(expected.items())).encode()
            for name, command in counters.items():
                if run_dump(command, folder, os.path.join(workdir, "out.tsv")) == expected:
                    continue
                for data in docs:
                    if differs(command, data, workdir):
                        small = shrink(command, data, workdir)
                        print("%s differs from the Python reference on %r" % (name, small.encode("utf-8")))
                        failures += 1
                        break
            for name in os.listdir(folder):
                os.remove(os.path.join(folder, name))

        # Invalid UTF-8 must be an error (exit 1) wherever it is, even in a skipped ".." line.
        bad_inputs = [b"abc \xff def", b"..skipped \xc3\x28\n", b"word\xe2\x82", b"\xed\xa0\x80",
                      b"\xf4\x90\x80\x80", b"\xc0\xaf", b"x" * 63 + b"\x80", b"\xe0\x80\x80 ok"]
        for data in bad_inputs:
            path = os.path.join(workdir, "bad.txt")
            with open(path, "wb") as f:
                f.write(data)
            for name, command in counters.items():
                code = subprocess.run(command + [path], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL).returncode
                if code != 1:
                    print("%s exits %d instead of 1 on invalid UTF-8 %r" % (name, code, data))
                    failures += 1
    print("check_wc.py: %d cases, %s: %s" % (args.cases, " and ".join(counters),
                                             "%d failures" % failures if failures else "all identical"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
