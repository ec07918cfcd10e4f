#!/usr/bin/env python3
"""The reference inverted index: Python's multiprocessing MapReduce, written from the project's rules.

`Pool.map` of a map function over the input files (word count's own map function, from wordcount.py,
then a count per word: the combiner), a partition step that groups every (word, (file, count)) pair by
word in the parent process, and `Pool.map` of a reduce function that adds the counts per file.
`mapreduce index` must print exactly what this prints, and write exactly the same dump.

Usage: index.py [--workers N] [--top N] [--output FILE] [--invalid-utf8 strict|replace] PATH...

Rules: words are word count's (see wordcount.py). A file is named as given, joined with the names below
a directory, each byte that is not valid UTF-8 shown as \\xhh. The dump has one line per word, sorted by
word (code-point order): 'word<TAB>file:count,file:count', files sorted by the UTF-8 bytes of their
names; a name is escaped as streaming text is (backslash, tab, line feed and carriage return as \\\\,
\\t, \\n, \\r; other bytes below 0x20 and 0x7F as \\xhh), then '%', ',' and ':' as %25, %2C, %3A.
The table lists the words found in the most files, then with the most occurrences, then by word.
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wordcount  # noqa: E402  (the same tokenizer, not a copy)


def display_name(path):
    """The name error messages give a path: surrogate-escaped bytes shown as \\xhh."""
    return "".join("\\x%02x" % (ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in path)


def file_to_postings(job):
    """Map (and combine): one file to (word, (file, occurrences)) pairs."""
    filename, errors = job
    counts = collections.Counter(word for word, one in wordcount.file_to_words((filename, errors)))
    name = display_name(filename)
    return [(word, (name, count)) for word, count in counts.items()]


def merge_postings(item):
    """Reduce: a word and its (file, count) pairs to its files, sorted by name, with their counts."""
    word, postings = item
    per_file = collections.Counter()
    for name, count in postings:
        per_file[name] += count
    return (word, sorted(per_file.items(), key=lambda entry: entry[0].encode("utf-8")))


def escape(name):
    """Streaming text escaping, then '%', ',' and ':' as %25, %2C, %3A."""
    out = []
    for char in name:
        code = ord(char)
        if char in "\\\t\n\r":
            out.append({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}[char])
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02x" % code)
        elif char in "%,:":
            out.append({"%": "%25", ",": "%2C", ":": "%3A"}[char])
        else:
            out.append(char)
    return "".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--output")
    parser.add_argument("--invalid-utf8", choices=["strict", "replace"], default="strict")
    args = parser.parse_args()

    files = wordcount.expand(args.paths)
    mapper = wordcount.SimpleMapReduce(file_to_postings, merge_postings, args.workers)
    try:
        index = mapper([(name, args.invalid_utf8) for name in files])
    except UnicodeDecodeError as error:
        print("index.py: invalid UTF-8: %s" % error, file=sys.stderr)
        sys.exit(1)

    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            for word, postings in sorted(index):
                out.write("%s\t%s\n" % (word, ",".join("%s:%d" % (escape(name), count) for name, count in postings)))

    rows = [(word, len(postings), sum(count for name, count in postings)) for word, postings in index]
    rows.sort(key=lambda row: (-row[1], -row[2], row[0]))
    top = rows[: args.top]
    width = max([4] + [len(word) for word, files, occurrences in top])
    print("\nTOP %d WORDS BY NUMBER OF FILES\n" % args.top)
    print("%s  %6s  %11s" % ("word".ljust(width), "files", "occurrences"))
    for word, files, occurrences in top:
        print("%s  %6d  %11d" % (word.ljust(width), files, occurrences))


if __name__ == "__main__":
    main()
