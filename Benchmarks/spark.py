#!/usr/bin/env python3
"""The Spark section of the benchmark (run.py --spark, on by default in `make bench`): word count on
Spark three ways, in one session, against the C reference and a local `mapreduce wordcount --workers 2`
measured in the same rounds:

  pipe       Scripts/spark-wordcount.py, the README's recipe: `mapreduce streaming map wordcount`
             through SQL TRANSFORM, CLUSTER BY key, `streaming reduce` through TRANSFORM;
  DataFrame  Spark SQL functions only (word_count_dataframe below), from README "Word count rules";
  RDD        PySpark's RDD API with Python functions written from Fixtures/reference/wordcount.py.

The session is `local-cluster[2,1,1024]` (two executor JVMs of one core each, as many as our two
workers) on 127.0.0.1; its start (JVMs up, one trivial job run) is timed apart from the jobs. Each job
writes `word<TAB>count` text files, as the recipe does; every output is compared with the local dump
(outside the timing): the pipe must equal it (or the section fails), the other two report how many
words differ. MB/s is input bytes (10^6) per second of the job alone.

Run by run.py with the venv's python (`make spark-deps` makes it): spark.py --mapreduce BIN --wc BIN
--corpus DIR [--rounds N] [--json FILE]. Needs pyspark and Java 17+.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (the same measuring and waiting as the other sections)

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
from pyspark.sql import DataFrame, SparkSession, functions as F  # noqa: E402

STOP_WORDS = frozenset("a an and are as be by for if in is it of or py rst that the to with".split())
PUNCTUATION_TO_SPACE = str.maketrans({p: " " for p in string.punctuation})


def load_recipe():
    spec = importlib.util.spec_from_file_location("spark_wordcount", ROOT / "Scripts" / "spark-wordcount.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------
# The contenders


def python_whitespace_class() -> str:
    """A Java regex class of exactly Python's str.isspace() characters (with \\x1c-\\x1f, U+0085)."""
    return "[" + "".join("\\x{%x}" % c for c in range(sys.maxunicode + 1) if chr(c).isspace()) + "]"


def word_count_dataframe(spark: SparkSession, inputs: list[str]) -> DataFrame:
    """Word count with Spark SQL functions. Where it differs from the rules: Java's Unicode (13.0 in
    Java 17, Python has 14.0) decides \\p{L} and lower(); the rest is the same rules spelled in
    Spark: the ".." test after Python's whitespace, string.punctuation to spaces, a split at runs of
    Python's whitespace, lower(), letters only, the stop words."""
    space = python_whitespace_class()
    punctuation = "[" + re.escape(string.punctuation) + "]"
    lines = spark.read.text(inputs).where(~F.col("value").rlike("^" + space + "*\\.\\."))
    words = F.explode(F.split(F.regexp_replace("value", punctuation, " "), space + "+"))
    return (lines.select(words.alias("word")).select(F.lower("word").alias("word"))
            .where(F.col("word").rlike("^\\p{L}+$") & ~F.col("word").isin(sorted(STOP_WORDS)))
            .groupBy("word").count())


def words_of_line(line: str) -> Iterator[tuple[str, int]]:
    """The reference's map, per line (Fixtures/reference/wordcount.py, file_to_words)."""
    if line.lstrip().startswith(".."):
        return
    for word in line.translate(PUNCTUATION_TO_SPACE).split():
        word = word.lower()
        if word.isalpha() and word not in STOP_WORDS:
            yield word, 1


def word_count_rdd(spark: SparkSession, inputs: list[str], output: str) -> None:
    lines = spark.sparkContext.textFile(",".join(inputs))
    counts = lines.flatMap(words_of_line).reduceByKey(lambda a, b: a + b)
    counts.map(lambda item: "%s\t%d" % item).saveAsTextFile(output)


# ---------------------------------------------------------------------------------------------------
# Running and checking


def start_session(max_partition_bytes: str) -> tuple[SparkSession, float]:
    started = time.perf_counter()
    spark = (SparkSession.builder.master("local-cluster[2,1,1024]").appName("mapreduce spark benchmark")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.task.maxFailures", "1")
             .config("spark.sql.files.maxPartitionBytes", max_partition_bytes)
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.adaptive.coalescePartitions.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(4).repartition(2).count()  # both executors up
    return spark, time.perf_counter() - started


def dump_of(output: Path) -> bytes:
    lines = [line for part in sorted(output.glob("part-*")) for line in part.read_bytes().splitlines()]
    return b"".join(line + b"\n" for line in sorted(lines))


def differing_words(actual: bytes, expected: bytes) -> tuple[int, list[str]]:
    a, e = set(actual.splitlines()), set(expected.splitlines())
    words = sorted({line.split(b"\t")[0].decode(errors="replace") for line in a ^ e})
    return len(words), words[:5]


def timed_job(name: str, job: Callable[[str], None], workdir: Path, expected: bytes, quiet_timeout: float) -> dict:
    output = workdir / name.replace(" ", "-")
    shutil.rmtree(output, ignore_errors=True)
    waited = bench.wait_for_quiet_machine(quiet_timeout) if quiet_timeout > 0 else 0.0
    started = time.perf_counter()
    job(str(output))
    seconds = time.perf_counter() - started
    count, examples = differing_words(dump_of(output), expected)
    return {"seconds": seconds, "differing_words": count, "examples": examples,
            "waited_for_quiet_seconds": round(waited, 2)}


def section(mapreduce: str, wc: str, corpus: str, rounds: int, quiet_timeout: float,
            max_partition_bytes: str) -> dict:
    recipe = load_recipe()
    inputs = [corpus]
    size = bench.input_bytes(corpus)
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as temporary:
        workdir = Path(temporary)
        local = workdir / "local.tsv"
        expected, _ = bench.dump([mapreduce, "wordcount", "--quiet", "--workers", "2"], corpus, str(local))
        bench.warm_page_cache([corpus])
        spark, session_seconds = start_session(max_partition_bytes)
        bench.log("spark: session up in %.1f s" % session_seconds)
        try:
            binary = mapreduce
            jobs: dict[str, Callable[[str], None]] = {
                "Spark pipe": lambda out: recipe.main(["--binary", binary, "--output", out, "--partitions", "4",
                                                       *inputs], spark=spark),
                "Spark DataFrame": lambda out: word_count_dataframe(spark, inputs)
                .selectExpr("concat(word, '\\t', cast(count AS string))").write.text(out),
                "PySpark RDD": lambda out: word_count_rdd(spark, inputs, out),
            }
            samples: dict[str, list[dict]] = {name: [] for name in ["C reference", "mapreduce local w2", *jobs]}
            commands = {"C reference": [wc, "--top", "0", corpus],
                        "mapreduce local w2": [mapreduce, "wordcount", "--quiet", "--top", "0", "--workers", "2",
                                               corpus]}
            for index in range(rounds):
                for name, command in commands.items():
                    waited = bench.wait_for_quiet_machine(quiet_timeout) if quiet_timeout > 0 else 0.0
                    result = bench.measure(command)
                    result["waited_for_quiet_seconds"] = round(waited, 2)
                    samples[name].append(result)
                for name, job in jobs.items():
                    result = timed_job(name, job, workdir, expected, quiet_timeout)
                    if name == "Spark pipe" and result["differing_words"]:
                        bench.fail("the Spark pipe's output differs from the local dump in %d words, e.g. %s"
                                   % (result["differing_words"], result["examples"]))
                    samples[name].append(result)
                bench.log("spark: round %d done" % (index + 1))
        finally:
            spark.stop()
    return report(samples, size, session_seconds, corpus)


def report(samples: dict[str, list[dict]], size: int, session_seconds: float, corpus: str) -> dict:
    rows = []
    for name, runs in samples.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        rows.append({"contender": name, "rounds": len(runs), "seconds_median": seconds,
                     "mb_per_s": size / 1e6 / seconds, "differing_words": runs[-1].get("differing_words"),
                     "examples": runs[-1].get("examples"), "samples": runs})
    c = rows[0]["mb_per_s"]
    local = rows[1]["mb_per_s"]
    print("\n== spark: %s, %.1f MB; local-cluster[2,1,1024] (two executors of one core), session start %.1f s =="
          % (os.path.basename(corpus), size / 1e6, session_seconds))
    print("  %-20s %7s %9s %10s %8s %10s   %s" % ("contender", "rounds", "job s", "MB/s", "x C", "x local w2",
                                                 "same dump as mapreduce"))
    for row in rows:
        row["ratio_to_c"], row["ratio_to_local_w2"] = row["mb_per_s"] / c, row["mb_per_s"] / local
        same = ("-" if row["differing_words"] is None else "yes" if row["differing_words"] == 0
                else "no: %d words differ, e.g. %s" % (row["differing_words"], ", ".join(row["examples"])))
        print("  %-20s %7d %9.2f %10.2f %8.3f %10.3f   %s" % (row["contender"], row["rounds"], row["seconds_median"],
                                                          row["mb_per_s"], row["ratio_to_c"],
                                                          row["ratio_to_local_w2"], same))
    print("  (job s: the job alone, from the action to its output written; the session start is not in it)")
    return {"corpus": corpus, "input_bytes": size, "session_start_seconds": session_seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mapreduce", required=True)
    parser.add_argument("--wc", required=True, help="the C reference (Benchmarks/.build/wc)")
    parser.add_argument("--corpus", required=True, help="a folder of the benchmark corpus (one shape)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quiet-timeout", type=float, default=10.0)
    parser.add_argument("--max-partition-bytes", default="32m", help="Spark's input split size (default 32m)")
    parser.add_argument("--json", help="write the section's report here")
    args = parser.parse_args()
    result = section(os.path.abspath(args.mapreduce), os.path.abspath(args.wc), os.path.abspath(args.corpus),
                     args.rounds, args.quiet_timeout, args.max_partition_bytes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
