#!/usr/bin/env python3
"""The reference word count: Python's multiprocessing MapReduce, written from the project's rules.

This is the classic `SimpleMapReduce` shape (PyMOTW): `Pool.map` of a map function over the input files,
a partition step that groups every (word, 1) pair by word in the parent process, and `Pool.map` of a
reduce function over the groups. `mapreduce wordcount` must print exactly what this prints, and write
exactly the same dump.

Usage: wordcount.py [--workers N] [--top N] [--output FILE] [--invalid-utf8 strict|replace] PATH...
Directories are read recursively. Prints the top table to stdout; exits 1 with one line on stderr if a
file is not valid UTF-8 (strict).
"""
import argparse
import collections
import itertools
import multiprocessing
import os
import string
import sys

STOP_WORDS = set("a an and are as be by for if in is it of or py rst that the to with".split())
PUNCTUATION_TO_SPACE = str.maketrans({p: " " for p in string.punctuation})


class SimpleMapReduce:
    def __init__(self, map_func, reduce_func, num_workers=None):
        self.map_func = map_func
        self.reduce_func = reduce_func
        self.pool = multiprocessing.Pool(num_workers)

    def partition(self, mapped_values):
        partitioned_data = collections.defaultdict(list)
        for key, value in mapped_values:
            partitioned_data[key].append(value)
        return partitioned_data.items()

    def __call__(self, inputs, chunksize=1):
        map_responses = self.pool.map(self.map_func, inputs, chunksize=chunksize)
        partitioned_data = self.partition(itertools.chain(*map_responses))
        reduced_values = self.pool.map(self.reduce_func, partitioned_data)
        self.pool.close()
        self.pool.join()
        return reduced_values


def file_to_words(job):
    """Map: one file to a list of (word, 1)."""
    filename, errors = job
    output = []
    with open(filename, "rt", encoding="utf-8", errors=errors) as f:
        for line in f:
            if line.lstrip().startswith(".."):
                continue
            line = line.translate(PUNCTUATION_TO_SPACE)
            for word in line.split():
                word = word.lower()
                if word.isalpha() and word not in STOP_WORDS:
                    output.append((word, 1))
    return output


def count_words(item):
    """Reduce: a word and its list of ones to (word, count)."""
    word, occurrences = item
    return (word, sum(occurrences))


def expand(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(os.path.join(root, name) for name in sorted(names))
        else:
            files.append(path)
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--output")
    parser.add_argument("--invalid-utf8", choices=["strict", "replace"], default="strict")
    args = parser.parse_args()

    files = expand(args.paths)
    mapper = SimpleMapReduce(file_to_words, count_words, args.workers)
    try:
        word_counts = mapper([(name, args.invalid_utf8) for name in files])
    except UnicodeDecodeError as error:
        print("wordcount.py: invalid UTF-8: %s" % error, file=sys.stderr)
        sys.exit(1)

    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            for word, count in sorted(word_counts):
                out.write("%s\t%d\n" % (word, count))

    word_counts.sort(key=lambda item: (-item[1], item[0]))
    top = word_counts[: args.top]
    print("\nTOP %d WORDS BY FREQUENCY\n" % args.top)
    longest = max((len(word) for word, count in top), default=0)
    for word, count in top:
        print("{word:<{len}}: {count:5}".format(len=longest + 1, word=word, count=count))


if __name__ == "__main__":
    main()
