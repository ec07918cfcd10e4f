#!/usr/bin/env python3
"""Word count on Spark through `mapreduce streaming`: the README's Spark recipe, and what
`make test-spark` runs (Tests/Spark imports this file and calls `main` with its own session).

    spark-submit Scripts/spark-wordcount.py --binary /usr/local/bin/mapreduce INPUT... --output DIR

Every node runs the same static `mapreduce` (swift build -c release --static-swift-stdlib: no Swift
toolchain needed on the nodes) at --binary's path. The job is three SQL steps:

  1. map: `SELECT TRANSFORM(value) USING 'mapreduce streaming map wordcount'` over `spark.read.text`
     (one record per line, lines split at \\n, \\r and \\r\\n as in local mode); with --combine, the map
     side runs `map | LC_ALL=C sort | combine` in one shell pipeline (`set -o pipefail`);
  2. shuffle: `CLUSTER BY key` (hash-partitioned by key, then sorted within each partition; Spark SQL
     compares strings as UTF-8 bytes, the `LC_ALL=C sort` order the reducer checks);
  3. reduce: `TRANSFORM(key, value) USING 'mapreduce streaming reduce wordcount'` on each partition.

TRANSFORM fails loudly: a child that exits non-zero fails its task, with the child's stderr (our
`mapreduce: ...` line) in the exception, and after spark.task.maxFailures attempts the job. A failing
step reads the rest of its input before it exits, or Spark would report a bare "Broken pipe" instead:
`mapreduce streaming` does that itself, so the commands need no wrapper (see shell_pipeline). PySpark's `rdd.pipe` would also do, with checkCode=True and env=,
but its exception does not carry stderr.

What Spark hands the mapper is text: every text path (TRANSFORM, rdd.pipe, textFile) decodes the line
as UTF-8 in the JVM, replacing invalid bytes with U+FFFD, so `--invalid-utf8 strict` never sees them
and the result equals local `mapreduce wordcount --invalid-utf8 replace`. With --strict-bytes the
mapper gets the raw bytes instead (each line as hex, turned back into bytes by a small decoder in front
of the mapper), and invalid UTF-8 fails the job as it fails locally.

The output DIR holds one text file per reduce partition (`part-*`), `word<TAB>count` lines sorted
within each file; `LC_ALL=C sort DIR/part-*` is exactly `mapreduce wordcount --output FILE INPUT...`.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession

TAB_FORMAT = "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'"

# Each input line arrives as hex (with its \n appended): this turns it back into the line's bytes. A
# failing mapper drains what this writes, so it reads Spark's rows to the end; should the mapper ever
# be gone, it dies of SIGPIPE, silently, so that the mapper's line stays the error.
HEX_DECODER = ("python3 -c 'import signal, sys\n"
               "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
               "for line in sys.stdin: sys.stdout.buffer.write(bytes.fromhex(line))'")


def sql_string(text: str) -> str:
    """`text` as a Spark SQL string literal (backslash escapes are on by default)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def shell_pipeline(*commands: str) -> str:
    """One `bash -c` script (TRANSFORM's shell) that fails if any of `commands` fails.

    Spark reports the child's stderr (our `mapreduce: ...` line) only if its feeding thread did not fail
    first, and that thread fails with a bare "Broken pipe" when the child exits while rows are still
    being written to it. A failing `mapreduce streaming` step reads the rest of its input before it
    exits, so no `cat > /dev/null` is needed after it: when the map step fails in `map | sort | combine`
    it still reads Spark's rows to the end, and `sort` and `combine` see a clean end of input.
    """
    return " | ".join(commands) if len(commands) == 1 else "set -o pipefail; " + " | ".join(commands)


def map_command(binary: str, job: str, options: Sequence[str] = (), combine: bool = False,
                strict_bytes: bool = False) -> str:
    quoted = shlex.quote(binary)
    steps = [HEX_DECODER] if strict_bytes else []
    steps.append(" ".join([quoted, "streaming", "map", shlex.quote(job), *map(shlex.quote, options)]))
    if combine:
        steps += ["LC_ALL=C sort", f"{quoted} streaming combine {shlex.quote(job)}"]
    return shell_pipeline(*steps)


def reduce_command(binary: str, job: str) -> str:
    return shell_pipeline(f"{shlex.quote(binary)} streaming reduce {shlex.quote(job)}")


def map_step(spark: SparkSession, inputs: Sequence[str], command: str, strict_bytes: bool = False) -> DataFrame:
    """The mapper over every line of `inputs`: a DataFrame of (key, value) strings."""
    spark.read.text(list(inputs)).createOrReplaceTempView("streaming_lines")
    # hex() of the raw bytes, since a string column reaches the child decoded (see the docstring).
    column = "hex(concat(cast(value AS binary), X'0A'))" if strict_bytes else "value"
    return spark.sql(f"""
        SELECT TRANSFORM({column}) {TAB_FORMAT}
        USING {sql_string(command)}
        AS (key STRING, value STRING) {TAB_FORMAT}
        FROM streaming_lines""")


def reduce_step(spark: SparkSession, pairs: DataFrame, command: str, sort: bool = True) -> DataFrame:
    """Shuffles `pairs` by key (sorted within partitions unless `sort` is false) and runs the reducer on
    each partition: a DataFrame of (key, value) strings."""
    pairs.createOrReplaceTempView("streaming_pairs")
    shuffle = "CLUSTER BY key" if sort else "DISTRIBUTE BY key"
    return spark.sql(f"""
        SELECT TRANSFORM(key, value) {TAB_FORMAT}
        USING {sql_string(command)}
        AS (key STRING, value STRING) {TAB_FORMAT}
        FROM (SELECT key, value FROM streaming_pairs {shuffle})""")


def word_count(spark: SparkSession, binary: str, inputs: Sequence[str], options: Sequence[str] = (),
               combine: bool = False, strict_bytes: bool = False) -> DataFrame:
    """`mapreduce wordcount` as a Spark job: a DataFrame of (key, value) strings, word and count."""
    pairs = map_step(spark, inputs, map_command(binary, "wordcount", options, combine, strict_bytes), strict_bytes)
    return reduce_step(spark, pairs, reduce_command(binary, "wordcount"))


def write_lines(result: DataFrame, output: str) -> None:
    """`key<TAB>value` lines, one text file per partition, in partition order."""
    result.selectExpr("concat(key, '\\t', value) AS line").write.mode("error").text(output)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (Spark's paths)")
    parser.add_argument("--binary", required=True, help="the mapreduce binary, at this path on every node")
    parser.add_argument("--output", required=True, help="the output folder (must not exist)")
    parser.add_argument("--partitions", type=int,
                        help="reduce partitions, each a reducer and an output file (default: Spark's choice)")
    parser.add_argument("--combine", action="store_true", help="run `streaming combine` on the map side")
    parser.add_argument("--invalid-utf8", choices=["strict", "replace"], help="passed to the mapper")
    parser.add_argument("--strict-bytes", action="store_true",
                        help="hand the mapper the raw bytes of each line (see above), not Spark's decoded text")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> None:
    """Runs the job; with `spark`, in that session (the tests'), else in spark-submit's."""
    args = parse(sys.argv[1:] if argv is None else argv)
    spark = spark or SparkSession.builder.appName("mapreduce streaming wordcount").getOrCreate()
    spark.conf.set("spark.sql.shuffle.partitions", str(args.partitions or spark.sparkContext.defaultParallelism))
    if args.partitions:
        # N reducers and N output files, not fewer coalesced by adaptive execution.
        spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    options = ["--invalid-utf8", args.invalid_utf8] if args.invalid_utf8 else []
    result = word_count(spark, args.binary, args.inputs, options, args.combine, args.strict_bytes)
    write_lines(result, args.output)


if __name__ == "__main__":
    main()
