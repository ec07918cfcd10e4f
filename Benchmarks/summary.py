#!/usr/bin/env python3
"""The short benchmark `make test` prints after the tests pass: word count on the Fixtures corpus and
on a generated corpus of about 64 MB (one file, from corpus/generate.py, cached in
Benchmarks/corpora/64M), with 1 and 2 workers, beside the project's single-threaded C reference
(reference/wc.c) and the Python multiprocessing reference (Fixtures/reference/wordcount.py, 2
workers), all measured in this run on this machine.

It reports, never judges: no threshold, and a failure to measure is a line, not a failed `make test`
(the Makefile ignores its status). Each contender runs twice and its faster run is shown (the Python
reference once, and on the big corpus's first 8 MB only: it runs at about 10 MB/s); MB/s is decimal; the peak is the summed RssAnon
of the process tree (see run.py's `measure`). `make bench` is the full benchmark.

Usage: summary.py --mapreduce PATH [--size 64M]
"""
import argparse
import os
import sys

import run

HERE = os.path.dirname(os.path.abspath(__file__))


def best_of(command, rounds):
    runs = [run.measure(command) for _ in range(rounds)]
    return min(runs, key=lambda r: r["seconds"]), max(r["peak_anon_mib"] for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mapreduce", required=True, help="the mapreduce binary the tests ran")
    parser.add_argument("--size", default="64M", help="the generated corpus's size (default 64M)")
    args = parser.parse_args()

    mapreduce = os.path.abspath(args.mapreduce)
    wc = run.build_wc()
    corpus = os.path.join(HERE, "corpora", args.size)
    run.check_call([sys.executable, os.path.join(HERE, "corpus", "generate.py"), "--out", corpus,
                    "--size", args.size, "--small-size", "8M"])
    # The Python reference reads the big corpus's first 8 MB (generate.py's small/ is the same text cut
    # short): at about 10 MB/s it would take most of the minute on all of it. Its rate is per byte.
    inputs = [("Fixtures corpus", run.FIXTURES, run.FIXTURES),
              ("generated %s" % args.size, os.path.join(corpus, "one-file"), os.path.join(corpus, "small"))]
    run.warm_page_cache([path for _, path, _ in inputs] + [inputs[1][2]])

    rows = []
    for name, path, python_path in inputs:
        size = run.input_bytes(path)
        c_run, c_peak = best_of([wc, "--top", "0", path], 2)
        python_run, python_peak = best_of([sys.executable, run.REFERENCE_PY, "--workers", "2", python_path], 1)
        c_speed = size / c_run["seconds"] / 1e6
        python_speed = run.input_bytes(python_path) / python_run["seconds"] / 1e6
        python_name = "Python reference (2 workers)" if python_path == path else "Python ref. (2 w., first 8 MB)"
        rows.append((name, "C reference (1 thread)", c_speed, c_peak, c_speed, python_speed))
        rows.append((name, python_name, python_speed, python_peak, c_speed, python_speed))
        for workers in (1, 2):
            measured, peak = best_of(
                [mapreduce, "wordcount", "--quiet", "--top", "0", "--workers", str(workers), path], 2)
            speed = size / measured["seconds"] / 1e6
            rows.append((name, "mapreduce, %d worker%s" % (workers, "s" if workers > 1 else ""),
                         speed, peak, c_speed, python_speed))

    print()
    print("Word count, measured in this run (%d cores; best of 2, Python once; no thresholds):"
          % os.cpu_count())
    header = ("input", "contender", "MB/s", "x C", "x Python", "peak MiB")
    widths = (18, 30, 8, 6, 9, 9)
    print("  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for name, contender, speed, peak, c_speed, python_speed in rows:
        cells = (name, contender, "%.1f" % speed, "%.2f" % (speed / c_speed), "%.1f" % (speed / python_speed),
                 "%.1f" % peak)
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    print("(peak: RssAnon of the process tree; the Fixtures corpus is %.1f MB, too small for the workers "
          "to reach full speed; `make bench` is the full run)" % (run.input_bytes(run.FIXTURES) / 1e6))


if __name__ == "__main__":
    main()
