#!/usr/bin/env python3
"""The counters `mapreduce wordcount` reports, computed by the reference rules (see wordcount.py).

Usage: counters.py PATH...   (directories are read recursively)
Prints one `name value` line each: lines, dotdot_lines, tokens, words (alphabetic tokens, stop words
included: the pairs the mapper emits), stop_words (occurrences).
"""
import sys

from wordcount import PUNCTUATION_TO_SPACE, STOP_WORDS, expand

counts = {"lines": 0, "dotdot_lines": 0, "tokens": 0, "words": 0, "stop_words": 0}
for filename in expand(sys.argv[1:]):
    with open(filename, "rt", encoding="utf-8") as f:
        for line in f:
            counts["lines"] += 1
            if line.lstrip().startswith(".."):
                counts["dotdot_lines"] += 1
                continue
            for word in line.translate(PUNCTUATION_TO_SPACE).split():
                counts["tokens"] += 1
                word = word.lower()
                if word.isalpha():
                    counts["words"] += 1
                    if word in STOP_WORDS:
                        counts["stop_words"] += 1
for name, value in counts.items():
    print(name, value)
