#!/usr/bin/env python3
"""The benchmark behind `make bench`: mapreduce wordcount against a single-threaded C reference,
`cat` (the I/O ceiling) and the Python reference, on a generated corpus of real English text.

Steps:
  1. build mapreduce in release (swift build, in the repository root) and wc.c with gcc -O2;
  2. generate the corpora (cached in Benchmarks/corpora/<size>/, see corpus/generate.py);
  3. verify that the dumps (--output) agree: C == Python on small/ and Fixtures/corpus, C == mapreduce
     on every big shape (exit 1, loudly, if not);
  4. warm the page cache, then time every contender on every shape, round-robin, --rounds rounds, each
     run between two runs of the C reference, its ratio to C taken against their mean;
  5. print one table per shape and a summary against the project's targets, and write everything to
     Benchmarks/results/latest.json.

Each run is timed with perf_counter around the subprocess; MB/s is decimal (1e6 bytes of input per
second); the peak memory is the maximum over ~5 ms samples of the summed RssAnon of the process and
all its descendants (found through /proc/<pid>/task/<tid>/children).

With --cluster (which `make bench` passes), a last section runs `mapreduce wordcount --cluster` with two
peers on 127.0.0.2 and 127.0.0.3 against Parallel Python 1.7.0 on two ppserver nodes (cluster.py,
reference/pp_wordcount.py); `--only cluster` runs just that section.

With --spark (which `make bench` passes too), the Spark section (spark.py, run by the python that has
pyspark: --spark-python, default ../.build-spark/venv/bin/python, made by `make spark-deps`) counts the
same shape as the cluster section on Spark: through our binary's streaming pipes, with Spark's DataFrame
API and with PySpark's RDD API; skipped, with a line saying why, if Java 17+ or pyspark is missing.
`--only spark` runs just that section.

Usage: run.py [--quick] [--size 256M] [--small-size 16M] [--rounds 5] [--python-rounds 3]
              [--chunksizes 256K,1M,4M,16M,64M] [--no-build] [--mapreduce PATH] [--corpus-dir DIR]
              [--cluster | --no-cluster] [--only cluster] [--cluster-shape many-files]
              [--cluster-rounds N] [--pp-rounds 1] [--pp-limit SIZE]
              [--spark | --no-spark] [--only spark] [--spark-python PATH] [--spark-rounds N]
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(HERE, ".build")
REFERENCE_PY = os.path.join(ROOT, "Fixtures", "reference", "wordcount.py")
FIXTURES = os.path.join(ROOT, "Fixtures", "corpus")
SHAPES = ["many-files", "one-file", "few-large", "one-line"]
SAMPLE_SECONDS = 0.005
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET_CORES = 0.3          # "quiet machine": other processes use less than this many cores
RUN_TIMEOUT = 900
SPARK_PYTHON = os.path.join(ROOT, ".build-spark", "venv", "bin", "python")

# The project's targets (see the summary).
TARGET_W2_VS_C = 1.8
TARGET_W1_VS_C = 1.0
TARGET_VS_PYTHON = 80.0
TARGET_PEAK_ANON_MIB = 64.0
TARGET_AUTO_WITHIN = 0.10


def log(message):
    print("run.py: " + message, file=sys.stderr, flush=True)


def fail(message):
    print("\nrun.py: FAILED: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def check_call(command, **kwargs):
    log("$ " + " ".join(command))
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        fail("%s exited %d" % (command[0], result.returncode))
    return result


# ---------------------------------------------------------------------------------------------------
# Building


def build_mapreduce():
    check_call(["swift", "build", "-c", "release", "--product", "mapreduce"], cwd=ROOT)
    return mapreduce_path()


def mapreduce_path():
    bin_dir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(bin_dir, "mapreduce")


def build_wc():
    """unicode_tables.h from this Python, then wc.c with gcc -O2 (only when a source is newer)."""
    reference = os.path.join(HERE, "reference")
    header = os.path.join(reference, "unicode_tables.h")
    generator = os.path.join(reference, "generate_c_tables.py")
    source = os.path.join(reference, "wc.c")
    binary = os.path.join(BUILD, "wc")
    os.makedirs(BUILD, exist_ok=True)

    def newer(target, *sources):
        return not os.path.exists(target) or any(os.path.getmtime(s) > os.path.getmtime(target)
                                                 for s in sources)
    if newer(header, generator):
        check_call([sys.executable, generator, header])
    if newer(binary, source, header):
        check_call(["gcc", "-O2", "-Wall", "-Wextra", "-o", binary, source])
    return binary


# ---------------------------------------------------------------------------------------------------
# Measuring


def read_small(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def tree_rss_kib(root):
    """Summed (RssAnon, RssFile) in KiB of `root` and all its descendants; processes may vanish
    meanwhile. The cluster section reports both: a peer maps its input files."""
    anon, file, stack, seen = 0, 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = read_small("/proc/%d/status" % pid)
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        match = re.search(rb"RssAnon:\s+(\d+) kB", status)
        if match:
            anon += int(match.group(1))
        match = re.search(rb"RssFile:\s+(\d+) kB", status)
        if match:
            file += int(match.group(1))
        for tid in tids:
            try:
                stack.extend(int(child) for child in read_small("/proc/%d/task/%s/children" % (pid, tid)).split())
            except OSError:
                pass
    return anon, file


def busy_cpu_seconds():
    """CPU time the whole machine has spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def wait_for_quiet_machine(timeout):
    """The project machine is shared (builds, tests). Waits, up to `timeout` seconds, until other
    processes use less than QUIET_CORES cores; returns the seconds waited."""
    started = time.perf_counter()
    while True:
        before = busy_cpu_seconds()
        time.sleep(0.2)
        load = (busy_cpu_seconds() - before) / 0.2
        waited = time.perf_counter() - started
        if load < QUIET_CORES or waited >= timeout:
            return waited
        time.sleep(0.5)


def measure(command, extra=None):
    """Runs `command` (stdout to /dev/null) and returns seconds, peak tree RssAnon in MiB (and
    RssAnon+RssFile), the CPU seconds of the process tree, and `foreign_cpu_seconds`: what the rest of
    the machine used meanwhile (other users' builds; a noisy run shows here). A sampler thread reads
    /proc every ~5 ms while the main thread waits. `extra` ({name: pid}) are other process trees to
    sample meanwhile (the cluster's peers); their peaks come back in `extra_peaks`."""
    with tempfile.TemporaryFile() as stderr:
        busy_before, own_before = busy_cpu_seconds(), sum(os.times()[:2])
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        peak = [0, 0]
        extra_peaks = {name: [0, 0] for name in (extra or {})}
        done = threading.Event()

        def sample():
            while not done.is_set():
                for slot, pid in [(peak, process.pid)] + [(extra_peaks[n], p) for n, p in (extra or {}).items()]:
                    anon, file = tree_rss_kib(pid)
                    slot[0], slot[1] = max(slot[0], anon), max(slot[1], anon + file)
                done.wait(SAMPLE_SECONDS)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            # Interrupted (^C, or a SIGTERM the cluster section turns into an exit): the measured
            # program goes too, so that it runs its own cleanup (pp_wordcount.py stops its nodes).
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
        finally:
            elapsed = time.perf_counter() - started
            done.set()
            sampler.join()
        tree_cpu = usage.ru_utime + usage.ru_stime
        foreign = busy_cpu_seconds() - busy_before - tree_cpu - (sum(os.times()[:2]) - own_before)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            fail("%s exited %d: %s" % (" ".join(command), process.returncode,
                                        stderr.read().decode(errors="replace").strip()[-2000:]))
    result = {"seconds": elapsed, "peak_anon_mib": peak[0] / 1024.0, "peak_anon_plus_file_mib": peak[1] / 1024.0,
              "cpu_seconds": tree_cpu, "foreign_cpu_seconds": max(0.0, foreign)}
    if extra:
        result["extra_peaks"] = {name: {"peak_anon_mib": anon / 1024.0, "peak_anon_plus_file_mib": total / 1024.0}
                                 for name, (anon, total) in extra_peaks.items()}
    return result


def files_of(path):
    """The files under path, in the Python reference's order (os.walk, sorted)."""
    if not os.path.isdir(path):
        return [path]
    found = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(names))
    return found


def input_bytes(path):
    return sum(os.path.getsize(f) for f in files_of(path))


def warm_page_cache(paths):
    started, total = time.perf_counter(), 0
    for path in paths:
        for name in files_of(path):
            with open(name, "rb", buffering=0) as f:
                while True:
                    chunk = f.read(1 << 22)
                    if not chunk:
                        break
                    total += len(chunk)
    log("page cache warmed: %.0f MB read in %.1f s" % (total / 1e6, time.perf_counter() - started))


# ---------------------------------------------------------------------------------------------------
# Verification


def dump(command, path, out):
    """Runs a counter with --output and returns (dump bytes, stdout bytes)."""
    result = subprocess.run(command + ["--output", out, path], capture_output=True)
    if result.returncode != 0:
        fail("%s on %s exited %d: %s" % (" ".join(command), path, result.returncode,
                                         result.stderr.decode(errors="replace").strip()[-2000:]))
    with open(out, "rb") as f:
        return f.read(), result.stdout


def first_difference(a, b):
    lines_a, lines_b = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(lines_a, lines_b)):
        if x != y:
            return "line %d: %r vs %r" % (i + 1, x, y)
    return "lengths differ: %d vs %d lines" % (len(lines_a), len(lines_b))


def verify(wc, mapreduce, corpus, workdir):
    """Fails loudly unless every dump (and top table) agrees."""
    python = [sys.executable, REFERENCE_PY, "--workers", "2"]
    checks = []

    def same(name_a, a, name_b, b, what):
        if a != b:
            fail("%s and %s differ on %s: %s" % (name_a, name_b, what, first_difference(a, b)))
        checks.append("%s == %s on %s" % (name_a, name_b, what))
        log("verified: %s == %s on %s" % (name_a, name_b, what))

    for label, path in (("Fixtures/corpus", FIXTURES), ("small/", os.path.join(corpus, "small"))):
        c_dump, c_top = dump([wc], path, os.path.join(workdir, "c.tsv"))
        py_dump, py_top = dump(python, path, os.path.join(workdir, "py.tsv"))
        same("C", c_dump, "Python", py_dump, label + " (dump)")
        same("C", c_top, "Python", py_top, label + " (top 20 table)")

    shape_dumps = {}
    for shape in SHAPES:
        path = os.path.join(corpus, shape)
        c_dump, c_top = dump([wc], path, os.path.join(workdir, "c.tsv"))
        mr_dump, mr_top = dump([mapreduce, "wordcount", "--workers", "2", "--chunksize", "auto"], path,
                               os.path.join(workdir, "mr.tsv"))
        same("C", c_dump, "mapreduce", mr_dump, shape + " (dump, --workers 2 --chunksize auto)")
        same("C", c_top, "mapreduce", mr_top, shape + " (top 20 table)")
        shape_dumps[shape] = c_dump
    # The single huge line is the hardest case for chunk boundaries: check small chunks too.
    path = os.path.join(corpus, "one-line")
    mr_dump, _ = dump([mapreduce, "wordcount", "--quiet", "--workers", "2", "--chunksize", "256K"], path,
                      os.path.join(workdir, "mr.tsv"))
    same("C", shape_dumps["one-line"], "mapreduce", mr_dump, "one-line (dump, --chunksize 256K)")
    # Same text, same words: the layouts must not change the counts (one-line can differ: it has no
    # line starts, so no ".." line is skipped).
    for shape in ("one-file", "few-large"):
        same("many-files", shape_dumps["many-files"], shape, shape_dumps[shape], "C dumps")
    return checks


# ---------------------------------------------------------------------------------------------------
# Reporting


def fmt_mbs(value):
    return "%9.1f" % value


def print_table(title, rows):
    print("\n%s" % title)
    header = "  %-22s %7s %10s %10s %8s %14s %9s %12s" % ("contender", "workers", "chunksize", "MB/s",
                                                          "x C", "peak anon MiB", "CPU s", "other cores")
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows:
        ratio = "%8.2f" % row["ratio_to_c"] if row.get("ratio_to_c") is not None else "%8s" % "-"
        print("  %-22s %7s %10s %s %s %14.1f %9.2f %12.2f" % (
            row["contender"], row["workers"], row["chunksize"], fmt_mbs(row["mb_per_s"]), ratio,
            row["peak_anon_mib"], row["cpu_seconds"], row["other_cores"]))


def summarize(rows_by_shape, python_row, small_rows):
    """The project's targets, shape by shape; returns printable lines and a JSON-able list."""
    results = []

    def target(name, shape, value, goal, passed, detail):
        results.append({"target": name, "shape": shape, "value": value, "goal": goal,
                        "pass": passed, "detail": detail})

    mr_all = []
    for shape, rows in rows_by_shape.items():
        c = next(r for r in rows if r["contender"] == "C reference")
        mr = [r for r in rows if r["contender"] == "mapreduce"]
        mr_all += mr
        for workers, goal, name in ((2, TARGET_W2_VS_C, "workers 2 >= 1.8x C"),
                                    (1, TARGET_W1_VS_C, "workers 1 >= 1.0x C")):
            auto = next((r for r in mr if r["workers"] == workers and r["chunksize"] == "auto"), None)
            if auto:
                ratio = auto["ratio_to_c"]
                target(name, shape, round(ratio, 3), goal, ratio >= goal,
                       "auto %.1f MB/s, C %.1f MB/s (medians; the ratio is the median of paired runs)"
                       % (auto["mb_per_s"], c["mb_per_s"]))
        for workers in (1, 2):
            auto = next((r for r in mr if r["workers"] == workers and r["chunksize"] == "auto"), None)
            fixed = [r for r in mr if r["workers"] == workers and r["chunksize"] != "auto"]
            if auto and fixed:
                # Through the paired ratios to C, so that a fixed size measured in a fast spell does not win.
                best = max(fixed, key=lambda r: r["ratio_to_c"])
                ratio = auto["ratio_to_c"] / best["ratio_to_c"]
                target("auto within 10%% of best fixed (workers %d)" % workers, shape, round(ratio, 3),
                       1 - TARGET_AUTO_WITHIN, ratio >= 1 - TARGET_AUTO_WITHIN,
                       "auto %.2fx C vs %s %.2fx C" % (auto["ratio_to_c"], best["chunksize"], best["ratio_to_c"]))
        peak = max(r["peak_anon_mib"] for r in mr)
        target("peak anon RSS <= 64 MiB", shape, round(peak, 1), TARGET_PEAK_ANON_MIB,
               peak <= TARGET_PEAK_ANON_MIB, "max over every mapreduce run on this shape")
    if python_row:
        small_mr = next((r for r in small_rows if r["contender"] == "mapreduce" and r["workers"] == 2), None)
        if small_mr:
            ratio = small_mr["ratio_to_c"] / python_row["ratio_to_c"]
            target(">= 80x Python (same input)", "small", round(ratio, 1), TARGET_VS_PYTHON,
                   ratio >= TARGET_VS_PYTHON, "mapreduce w2 auto %.1f vs Python %.2f MB/s on small/"
                   % (small_mr["mb_per_s"], python_row["mb_per_s"]))
        big = [r for r in mr_all if r["workers"] == 2 and r["chunksize"] == "auto"]
        if big:
            best = max(big, key=lambda r: r["mb_per_s"])
            ratio = best["mb_per_s"] / python_row["mb_per_s"]
            target(">= 80x Python (big corpus MB/s)", best["shape"], round(ratio, 1), TARGET_VS_PYTHON,
                   ratio >= TARGET_VS_PYTHON, "mapreduce w2 auto %.1f MB/s (best shape) vs Python %.2f MB/s"
                   % (best["mb_per_s"], python_row["mb_per_s"]))
    return results


def environment(wc, mapreduce):
    def out(command, cwd=None):
        try:
            return subprocess.run(command, capture_output=True, text=True, cwd=cwd).stdout.strip()
        except OSError:
            return None
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(),
        "gcc": (out(["gcc", "--version"]) or "").split("\n")[0],
        "swift": (out(["swift", "--version"]) or "").split("\n")[0],
        "git_commit": out(["git", "rev-parse", "HEAD"], cwd=ROOT),
        "git_dirty_sources": bool(out(["git", "status", "--porcelain", "Sources", "Package.swift"], cwd=ROOT)),
        "mapreduce": mapreduce, "mapreduce_version": out([mapreduce, "--version"]),
        "mapreduce_sha256": sha256_of(mapreduce), "wc": wc,
    }


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fast check: 32M corpus, 4M small corpus, 2 rounds, chunk sizes 1M,16M")
    parser.add_argument("--size", help="corpus size (default 256M; 32M with --quick)")
    parser.add_argument("--small-size", help="Python reference corpus size (default 16M; 4M with --quick)")
    parser.add_argument("--rounds", type=int, help="rounds of every contender (default 5; 2 with --quick)")
    parser.add_argument("--python-rounds", type=int, help="rounds of the Python reference (default 3; 2 with --quick)")
    parser.add_argument("--chunksizes", help="fixed chunk sizes to sweep besides auto (default 256K,1M,4M,16M,64M)")
    parser.add_argument("--no-build", action="store_true", help="do not run swift build (use the binary as it is)")
    parser.add_argument("--mapreduce", help="the mapreduce binary (default: swift build's release binary)")
    parser.add_argument("--quiet-timeout", type=float, default=10.0,
                        help="before each run, wait up to this many seconds for other processes to go "
                             "quiet (the machine is shared); 0 disables (default 10)")
    parser.add_argument("--output", help="the JSON report (default results/latest.json; results/cluster.json "
                                          "with --only cluster)")
    parser.add_argument("--corpus-dir", help="use this already generated corpus folder as it is, read only "
                                             "(e.g. another checkout's Benchmarks/corpora/256M)")
    cluster_options = parser.add_argument_group("cluster section (see cluster.py)")
    cluster_options.add_argument("--cluster", action="store_true",
                                 help="also run the cluster section: mapreduce --cluster with two loopback peers "
                                      "against Parallel Python (make bench passes it; CLUSTER=0 does not)")
    cluster_options.add_argument("--no-cluster", action="store_true", help="skip the cluster section")
    cluster_options.add_argument("--only", choices=["cluster", "spark"],
                                 help="run only this section (after the build and the corpus)")
    cluster_options.add_argument("--cluster-shape", default="many-files", choices=SHAPES,
                                 help="the corpus shape the cluster section counts (default many-files)")
    cluster_options.add_argument("--cluster-rounds", type=int,
                                 help="rounds of mapreduce --cluster (default: --rounds)")
    cluster_options.add_argument("--pp-rounds", type=int, default=1,
                                 help="rounds of Parallel Python (default 1: it takes ~1.5 min on 256M)")
    cluster_options.add_argument("--pp-limit", help="let Parallel Python count only a prefix of this size "
                                                    "(e.g. 32M); the ratios are per byte")
    spark_options = parser.add_argument_group("Spark section (see spark.py)")
    spark_options.add_argument("--spark", action="store_true",
                               help="also run the Spark section (make bench passes it; SPARK=0 does not)")
    spark_options.add_argument("--no-spark", action="store_true", help="skip the Spark section")
    spark_options.add_argument("--spark-python", default=os.environ.get("SPARK_PYTHON") or SPARK_PYTHON,
                               help="a python with pyspark (default: $SPARK_PYTHON or ../.build-spark/venv)")
    spark_options.add_argument("--spark-rounds", type=int, help="rounds of the Spark section (default 2; 1 with --quick)")
    args = parser.parse_args()
    if args.only == "cluster" and args.no_cluster:
        parser.error("--only cluster and --no-cluster contradict each other")
    if args.only == "spark" and args.no_spark:
        parser.error("--only spark and --no-spark contradict each other")
    cluster_on = (args.cluster or args.only == "cluster") and not args.no_cluster and args.only != "spark"
    spark_on = (args.spark or args.only == "spark") and not args.no_spark and args.only != "cluster"
    args.output = args.output or os.path.join(HERE, "results", "%s.json" % (args.only or "latest"))
    size = args.size or ("32M" if args.quick else "256M")
    small_size = args.small_size or ("4M" if args.quick else "16M")
    rounds = args.rounds or (2 if args.quick else 5)
    python_rounds = args.python_rounds or (2 if args.quick else 3)
    chunksizes = (args.chunksizes or ("1M,16M" if args.quick else "256K,1M,4M,16M,64M")).split(",")

    # 1. Build.
    if args.mapreduce:
        mapreduce = os.path.abspath(args.mapreduce)
    elif args.no_build:
        mapreduce = mapreduce_path()
    else:
        mapreduce = build_mapreduce()
    if not os.access(mapreduce, os.X_OK):
        fail("no mapreduce binary at %s" % mapreduce)
    # Sources/ may be rebuilt by someone else while the benchmark runs: measure a private copy, so
    # that every run of every round uses the same binary (its workers run /proc/self/exe: the copy).
    os.makedirs(BUILD, exist_ok=True)
    snapshot = os.path.join(BUILD, "mapreduce")
    shutil.copy2(mapreduce, snapshot)
    log("measuring a copy of %s: %s" % (mapreduce, snapshot))
    mapreduce = snapshot
    wc = build_wc()
    env = environment(wc, mapreduce)

    # 2. Corpora.
    if args.corpus_dir:
        corpus = os.path.abspath(args.corpus_dir)
        log("using the corpus in %s as it is (not regenerated)" % corpus)
    else:
        corpus = os.path.join(HERE, "corpora", size)
        check_call([sys.executable, os.path.join(HERE, "corpus", "generate.py"), "--out", corpus,
                    "--size", size, "--small-size", small_size])
    with open(os.path.join(corpus, "stamp.json")) as f:
        stamp = json.load(f)

    def cluster_section():
        import cluster  # noqa: E402  (only with --cluster)
        return cluster.section(mapreduce, wc, corpus, args.cluster_shape, args.cluster_rounds or rounds,
                               args.pp_rounds, args.pp_limit, args.quiet_timeout)

    def spark_section():
        return run_spark_section(args.spark_python, mapreduce, wc, os.path.join(corpus, args.cluster_shape),
                                 args.spark_rounds or (1 if args.quick else 2), args.quiet_timeout)

    if args.only == "cluster":
        report = {"parameters": {"size": size, "rounds": args.cluster_rounds or rounds, "pp_rounds": args.pp_rounds,
                                 "quick": args.quick, "quiet_timeout": args.quiet_timeout},
                  "environment": env, "corpus": dict(stamp, path=corpus), "cluster": cluster_section()}
        write_report(report, args.output)
        return
    if args.only == "spark":
        report = {"parameters": {"size": size, "quick": args.quick, "quiet_timeout": args.quiet_timeout},
                  "environment": env, "corpus": dict(stamp, path=corpus), "spark": spark_section()}
        write_report(report, args.output)
        return

    # 3. Verify.
    with tempfile.TemporaryDirectory() as workdir:
        checks = verify(wc, mapreduce, corpus, workdir)

    # 4. Measure.
    shape_paths = {shape: os.path.join(corpus, shape) for shape in SHAPES}
    small = os.path.join(corpus, "small")
    warm_page_cache(list(shape_paths.values()) + [small])

    contenders = {}   # shape -> list of (key, description, command)
    for shape, path in shape_paths.items():
        entries = [(("C reference", 1, "-"), [wc, "--top", "0", path])]
        for workers in (1, 2):
            for chunk in ["auto"] + chunksizes:
                entries.append((("mapreduce", workers, chunk),
                                [mapreduce, "wordcount", "--quiet", "--top", "0", "--workers", str(workers),
                                 "--chunksize", chunk, path]))
        entries.append((("cat", 1, "-"), ["cat"] + files_of(path)))
        contenders[shape] = entries
    small_entries = [(("C reference", 1, "-"), [wc, "--top", "0", small])]
    for workers in (1, 2):
        small_entries.append((("mapreduce", workers, "auto"),
                              [mapreduce, "wordcount", "--quiet", "--top", "0", "--workers", str(workers),
                               "--chunksize", "auto", small]))
    python_entry = (("Python reference", 2, "-"), [sys.executable, REFERENCE_PY, "--workers", "2", small])

    # Every run of a contender has a run of the C reference just before and just after it, and its
    # ratio to C is taken against their mean: this shared machine has slow and fast spells of a few
    # seconds, which move absolute times by 20% or more but cancel out of pairs taken seconds apart.
    def paired(entries):
        c_entry, others = entries[0], entries[1:]
        sequence = [c_entry]
        for entry in others:
            sequence += [entry, c_entry]
        return sequence

    runs = {}         # (shape, key) -> list of measurements
    total = (rounds * sum(2 * len(entries) - 1 for entries in list(contenders.values()) + [small_entries])
             + 2 * python_rounds)
    done_runs, started = 0, time.perf_counter()
    for round_index in range(max(rounds, python_rounds)):
        for shape, entries in list(contenders.items()) + [("small", small_entries)]:
            todo = list(entries) if round_index < rounds else [entries[0]]
            if shape == "small" and round_index < python_rounds:
                todo.append(python_entry)
            if len(todo) < 2:
                continue
            measured = []
            for key, command in paired(todo):
                waited = wait_for_quiet_machine(args.quiet_timeout) if args.quiet_timeout > 0 else 0.0
                if waited >= args.quiet_timeout > 0:
                    log("machine still busy after %.0f s of waiting; measuring anyway" % waited)
                result = measure(command)
                result["waited_for_quiet_seconds"] = round(waited, 2)
                measured.append((key, result))
                done_runs += 1
            for index, (key, result) in enumerate(measured):
                if index % 2 == 1:
                    neighbours = (measured[index - 1][1]["seconds"], measured[index + 1][1]["seconds"])
                    result["paired_c_seconds"] = sum(neighbours) / 2
                runs.setdefault((shape, key), []).append(result)
        log("round %d done (%d/%d runs, %.0f s)" % (round_index + 1, done_runs, total,
                                                  time.perf_counter() - started))

    # 5. Report.
    sizes = {shape: input_bytes(path) for shape, path in list(shape_paths.items()) + [("small", small)]}
    rows_by_shape, small_rows, python_row = {}, [], None
    for shape in SHAPES + ["small"]:
        keys = [key for (s, key) in runs if s == shape]
        rows = []
        for key in keys:
            samples = runs[(shape, key)]
            seconds = statistics.median(m["seconds"] for m in samples)
            rows.append({
                "shape": shape, "contender": key[0], "workers": key[1], "chunksize": key[2],
                "rounds": len(samples), "seconds_median": seconds,
                "mb_per_s": sizes[shape] / 1e6 / seconds,
                "peak_anon_mib": max(m["peak_anon_mib"] for m in samples),
                "peak_anon_mib_median": statistics.median(m["peak_anon_mib"] for m in samples),
                "cpu_seconds": statistics.median(m["cpu_seconds"] for m in samples),
                "other_cores": statistics.median(m["foreign_cpu_seconds"] / m["seconds"] for m in samples),
                "samples": samples,
            })
        for row in rows:
            pairs = [m["paired_c_seconds"] / m["seconds"] for m in row["samples"] if "paired_c_seconds" in m]
            row["ratio_to_c"] = statistics.median(pairs) if pairs else 1.0
        if shape == "small":
            small_rows = rows
            python_row = next((r for r in rows if r["contender"] == "Python reference"), None)
        else:
            rows_by_shape[shape] = rows

    print("\nmapreduce wordcount benchmark: %s corpus (%s), %d rounds (Python: %d)." % (
        size, corpus, rounds, python_rounds))
    print("MB/s and CPU s are medians; 'x C' is the median over rounds of the C reference's time around each "
          "run (the mean of\nthe C runs just before and after it) over the run's time; peak anon MiB is the max "
          "over rounds of the process\ntree's peak RssAnon; 'other cores' is what other processes used meanwhile "
          "(median; near 0 on a quiet machine;\n/proc/stat's 10 ms ticks make it rough for runs under ~0.2 s).")
    for shape in SHAPES:
        files = len(files_of(shape_paths[shape]))
        print_table("== %s: %d file%s, %.1f MB ==" % (shape, files, "s" if files > 1 else "", sizes[shape] / 1e6),
                    rows_by_shape[shape])
    print_table("== small: %d files, %.1f MB (the Python reference's corpus) =="
                % (len(files_of(small)), sizes["small"] / 1e6), small_rows)

    targets = summarize(rows_by_shape, python_row, small_rows)
    print("\nTargets")
    for t in targets:
        print("  %-4s %-42s %-10s %10s (goal %s)  %s" % ("PASS" if t["pass"] else "FAIL", t["target"], t["shape"],
                                                       t["value"], t["goal"], t["detail"]))
    passed = sum(t["pass"] for t in targets)
    print("  %d of %d targets met" % (passed, len(targets)))
    all_samples = [m for samples in runs.values() for m in samples]
    # /proc/stat counts in 10 ms ticks: below a few ticks the estimate is noise itself.
    noisy = sum(m["foreign_cpu_seconds"] > max(0.1 * m["seconds"], 3.0 / CLOCK_TICKS) for m in all_samples)
    if noisy:
        print("\nNote: in %d of %d runs other processes used more than 0.1 core (the machine is shared);"
              " compare medians with care." % (noisy, len(all_samples)))

    report = {
        "parameters": {"size": size, "small_size": small_size, "rounds": rounds,
                       "python_rounds": python_rounds, "chunksizes": chunksizes, "quick": args.quick,
                       "sample_seconds": SAMPLE_SECONDS, "quiet_timeout": args.quiet_timeout,
                       "quiet_cores": QUIET_CORES},
        "environment": env, "corpus": dict(stamp, path=corpus),
        "input_bytes": sizes, "verified": checks,
        "results": [row for shape in SHAPES for row in rows_by_shape[shape]] + small_rows,
        "targets": targets,
    }
    write_report(report, args.output)
    if cluster_on:
        # Written first without it: a failing cluster section does not lose the measurements above.
        report["cluster"] = cluster_section()
        write_report(report, args.output)
    if spark_on:
        report["spark"] = spark_section()
        write_report(report, args.output)


def spark_missing(python):
    """Why the Spark section cannot run here ("" if it can): it needs Java 17+ and pyspark."""
    java = shutil.which("java")
    if not java:
        return "no java on PATH (make spark-deps installs openjdk-17-jre-headless)"
    version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', version)
    if not match or int(match.group(1)) < 17:
        return "Java 17 or later needed, found: %s" % (version.splitlines() or ["?"])[0]
    if not os.access(python, os.X_OK):
        return "no python with pyspark at %s (make spark-deps makes it)" % python
    if subprocess.run([python, "-c", "import pyspark"], capture_output=True).returncode != 0:
        return "%s cannot import pyspark (make spark-deps installs it)" % python
    return ""


def run_spark_section(python, mapreduce, wc, corpus, rounds, quiet_timeout):
    """spark.py under the python that has pyspark; its report, or why it was skipped."""
    missing = spark_missing(python)
    if missing:
        print("\n== spark: SKIPPED: %s ==" % missing, flush=True)
        log("spark: SKIPPED: " + missing)
        return {"skipped": missing}
    with tempfile.TemporaryDirectory() as workdir:
        out = os.path.join(workdir, "spark.json")
        sys.stdout.flush()
        check_call([python, os.path.join(HERE, "spark.py"), "--mapreduce", mapreduce, "--wc", wc, "--corpus", corpus,
                    "--rounds", str(rounds), "--quiet-timeout", str(quiet_timeout), "--json", out])
        with open(out) as f:
            return json.load(f)


def write_report(report, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log("wrote %s" % path)


if __name__ == "__main__":
    main()
