#!/usr/bin/env python3
"""Writes the seed corpora in Fuzz/Corpus/<Target>/ (committed; run again only to change them).

Each seed is a small, valid input of its target, encoded by hand from the formats in
Sources/MapReduce/Wire: frames, task messages, spill records, LZ4 frames (made with the `lz4` command),
and text for word count. libFuzzer mutates from there. Crash inputs found by `make fuzz` are added
next to them as `regression-*`.
"""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Corpus")


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def lp(data):
    if isinstance(data, str):
        data = data.encode()
    return varint(len(data)) + data


def signed(n):
    """The engine's order-preserving Int encoding."""
    magnitude = n if n >= 0 else ~n
    length = (magnitude.bit_length() + 7) // 8
    tag = 0x80 + length if n >= 0 else 0x7F - length
    low = (n & ((1 << (8 * length)) - 1)).to_bytes(length, "big") if length else b""
    return bytes([tag]) + low


def frame(kind, payload):
    return len(payload).to_bytes(4, "big") + bytes([kind]) + payload


def write(target, name, data):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def frames():
    hello = varint(2) + lp("wordcount") + lp(b"\x00") + lp("/tmp/job") + varint(4) + varint(24 << 20) + varint(0)
    split = lp("/data/a.txt") + lp("a.txt") + varint(1000) + varint(0) + varint(1000)
    map_task = varint(7) + varint(2) + split + split
    spill = lp("/tmp/job/spill-0") + b"\x01" + varint(2) + varint(0) + varint(10) + varint(3) + varint(10) + varint(5) + varint(1)
    map_done = varint(7) + varint(1000) + varint(40) + varint(123456) + varint(1) + spill
    reduce_input = lp("/tmp/job/spill-0") + varint(0) + varint(2) + varint(10) + varint(5)
    reduce_task = varint(9) + varint(0) + varint(4) + varint(100) + b"\x01" + varint(1) + reduce_input
    reduce_done = varint(9) + lp("/tmp/job/run-0") + varint(100) + varint(15) + varint(99999)
    failed = varint(9) + b"\x03" + lp("invalid UTF-8 at byte offset 3") + b"\x01" + lp("a.txt:3")
    ready = varint(2) + varint(4242)
    # Byte 0: the limit (5: 64 MiB), byte 1: the pieces and the kind of the whole-input payload.
    write("FuzzFrames", "seed-coordinator", b"\x05\x00" + frame(1, hello) + frame(2, map_task) + frame(3, b"")
          + frame(4, reduce_task) + frame(5, b""))
    write("FuzzFrames", "seed-worker", b"\x05\x01" + frame(64, ready) + frame(65, map_done) + frame(66, varint(1) + spill)
          + frame(67, reduce_done) + frame(68, failed))
    write("FuzzFrames", "seed-over-limit", b"\x02\x04" + frame(2, map_task))
    write("FuzzFrames", "seed-map-payload", b"\x05\x06" + map_task)
    write("FuzzFrames", "seed-reduce-payload", b"\x05\x12" + reduce_task)


def records():
    def record(key, value):
        return lp(key) + lp(value)

    sorted_ints = b"".join(record(k, signed(v)) for k, v in [("apple", 1), ("banana", 300), ("cherry", -5)])
    write("FuzzRecords", "seed-sorted", sorted_ints)
    write("FuzzRecords", "seed-unsorted", record("zeta", signed(2)) + record("alpha", signed(1)) + record("", b""))
    write("FuzzRecords", "seed-long-key", record("k" * 200, signed(1 << 40)) + record("k" * 201, signed(-(1 << 40))))
    strings = varint(2) + lp("ab") + lp("cd")
    write("FuzzRecords", "seed-array-values", record("a", strings) + record("b", varint(0)))


def lz4():
    for name, text in [
        ("seed-text", b"the quick brown fox jumps over the lazy dog " * 20),
        ("seed-empty", b""),
        ("seed-bytes", bytes(range(256))),
    ]:
        compressed = subprocess.run(["lz4", "-c", "-q", "--content-size", "-"], input=text,
                                    capture_output=True, check=True).stdout
        write("FuzzLZ4", name, b"\x06" + compressed)
    no_size = subprocess.run(["lz4", "-c", "-q", "--no-frame-crc", "-BD", "-"], input=b"abc" * 100,
                             capture_output=True, check=True).stdout
    write("FuzzLZ4", "seed-linked-blocks", b"\x04" + no_size)


def words():
    # Byte 0: bit 0 is the mode (0 strict, 1 replace), the rest a space of the first line to cut at.
    english = ("The cat's hat, THE CAT'S HAT! a an AND 42 x1 don't\n.. skipped line\n  .. also skipped\n"
               "one\r.. two\r\nthree\r\n..four\nfive " + "longer words make a line of more than sixty-four bytes " * 3)
    unicode = ("ΟΔΟΣ ΣΑΣ İstanbul Straße\u00a0CAFÉ cafe\u0301 漢字\u3000zero\u200bwidth\n"
               "\u3000.. skipped\u2028still skipped\nnaïve ǅemal ﬁne\x1cend\u0085next")
    write("FuzzWordCount", "seed-english", b"\x00" + english.encode())
    write("FuzzWordCount", "seed-english-cut", b"\x06" + english.encode())
    write("FuzzWordCount", "seed-unicode", b"\x00" + unicode.encode())
    write("FuzzWordCount", "seed-unicode-cut", b"\x05" + unicode.encode())
    invalid = "valid words then ".encode() + b"\xe2\x28\xa1 bad \xc3 byte \xed\xa0\x80 surrogate\n"
    write("FuzzWordCount", "seed-invalid-strict", b"\x00" + invalid)
    write("FuzzWordCount", "seed-invalid-replace", b"\x01" + invalid)


if __name__ == "__main__":
    frames()
    records()
    lz4()
    words()
    sys.exit(0)
