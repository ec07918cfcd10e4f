#!/usr/bin/env bash
# Word count on Hadoop through `mapreduce streaming`: the README's Hadoop recipe.
#
#   Scripts/hadoop-wordcount.sh MAPREDUCE INPUT OUTPUT [REDUCES]
#
# MAPREDUCE is the static binary (swift build -c release --static-swift-stdlib --product mapreduce):
# -files ships it into every task's working folder, where Hadoop Streaming finds it by name, so the
# nodes need neither a Swift toolchain nor the binary installed. INPUT and OUTPUT are HDFS paths.
#
# The settings that matter:
#   - Hadoop sorts map output by the key's bytes (Text's comparator: the LC_ALL=C order that
#     `streaming reduce` checks) and partitions it with the default HashPartitioner on the key, so
#     every line of one word reaches one reducer. No KeyFieldBasedComparator: it would only re-state
#     this, and its options (-k, -n) would break the byte order.
#   - stream.num.map.output.key.fields=1 and the tab separator (the defaults, stated): the key is the
#     text before the first tab of a mapper line, the value the rest.
#   - The combiner runs on sorted map output, zero or more times per key; `streaming combine` reads
#     and writes the same KEY<TAB>VALUE lines, so any number of passes gives the same counts.
#   - stream.non.zero.exit.is.failure=true (the default, stated): a mapper that exits 1 (invalid
#     UTF-8 in strict mode, for one) fails its task, and after its attempts the job. Hadoop Streaming
#     hands the mapper each line's raw bytes, so strict mode sees invalid UTF-8 here, unlike on Spark.
#
# Tests/Spark/test_hadoop.py runs the -mapper, -combiner and -reducer strings below, read from this
# file, in a local simulation of Hadoop Streaming's contract: keep each on one line.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 MAPREDUCE INPUT OUTPUT [REDUCES]" >&2
    exit 2
fi
binary=$1 input=$2 output=$3 reduces=${4:-4}

hadoop jar "$HADOOP_HOME"/share/hadoop/tools/lib/hadoop-streaming-*.jar \
    -D mapreduce.job.name="mapreduce streaming wordcount" \
    -D mapreduce.job.reduces="$reduces" \
    -D stream.num.map.output.key.fields=1 \
    -D stream.map.output.field.separator=$'\t' \
    -D stream.non.zero.exit.is.failure=true \
    -files "$binary#mapreduce" \
    -mapper 'mapreduce streaming map wordcount' \
    -combiner 'mapreduce streaming combine wordcount' \
    -reducer 'mapreduce streaming reduce wordcount' \
    -input "$input" \
    -output "$output"

# OUTPUT/part-00000 ... hold `word<TAB>count` lines, each file sorted; the whole dump of
# `mapreduce wordcount --output FILE` is:  hdfs dfs -cat "$output/part-*" | LC_ALL=C sort
