#!/usr/bin/env python3
"""The word count on Parallel Python 1.7.0: the cluster reference that `mapreduce wordcount --cluster`
is measured against.

Two `ppserver` nodes, one worker each (`-w 1`), listen on loopback addresses (127.0.0.2 and 127.0.0.3 by
default; only 127.0.0.0/8 is accepted) with a random secret (`-s`). The coordinator is
`pp.Server(ncpus=0, ppservers=(...), secret=...)`: it runs nothing itself, it reads the input, cuts
every file into chunks at line ends and submits one job per chunk. As pp does for all its users, each
job carries the chunk's bytes and the map function's source (pp caches the source by hash after the
first job of a connection). The nodes return a dict of partial counts; the coordinator adds them up.

The word rules are the Python `multiprocessing` reference's (Fixtures/reference/wordcount.py):
its module is imported, its stop words and punctuation are shipped with every job, its map loop is
repeated in `count_chunk` over a text stream that decodes exactly as `open(..., "rt")` does
(universal newlines, UTF-8 strict or replace), its file order (`expand`) is used, and the dump and
the top table are written in its format. `--check` proves it: both on Fixtures/corpus and
Fixtures/adversarial (or the given paths), with small chunks, dumps and tables byte for byte.

Parallel Python is installed by this script, into a virtual environment cached in
Benchmarks/.build/pp-venv (`python3 -m venv`; Debian's python3-venv is installed with apt-get if
venv cannot bootstrap pip). Run it with any python3: it re-executes itself there.

Measured (printed, and written with --json): wall time from creating pp.Server (connecting to the
nodes) to the merged counts written, MB/s (10^6 input bytes per second), and the peak memory of the
coordinator process and of each ppserver's process tree (server + worker), as RssAnon and
RssAnon+RssFile sampled every ~5 ms (the sampler of Benchmarks/run.py), plus the coordinator's
ru_maxrss. Every ppserver runs in its own process group, which is killed (TERM, then KILL) on any exit.

Usage: pp_wordcount.py [--check] [--setup] [--nodes 127.0.0.2,127.0.0.3] [--port N] [--chunksize 4M]
                       [--inflight N] [--limit SIZE] [--top N] [--output FILE] [--json FILE]
                       [--invalid-utf8 strict|replace] PATH...
"""
import argparse
import collections
import io  # noqa: F401  (count_chunk's; pp imports it on the nodes)
import ipaddress
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCHMARKS)
REFERENCE_DIR = os.path.join(ROOT, "Fixtures", "reference")
REFERENCE_PY = os.path.join(REFERENCE_DIR, "wordcount.py")
VENV = os.path.join(BENCHMARKS, ".build", "pp-venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
PP_REQUIREMENT = "pp==1.7.0"
SAMPLE_SECONDS = 0.005

sys.path.insert(0, REFERENCE_DIR)
sys.path.insert(0, BENCHMARKS)
import wordcount as reference  # noqa: E402  (the rules come from the reference itself)
from run import tree_rss_kib  # noqa: E402  (the same sampler as the macro benchmark)


def log(message):
    print("pp_wordcount.py: " + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# The virtual environment


def venv_ready():
    return os.path.exists(os.path.join(VENV, ".installed-" + PP_REQUIREMENT))


def ensure_venv():
    """Creates Benchmarks/.build/pp-venv with pp 1.7.0 unless it is there already."""
    if venv_ready():
        return VENV_PYTHON
    log("installing %s into %s" % (PP_REQUIREMENT, VENV))
    if subprocess.run([sys.executable, "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        # Debian splits venv's pip bootstrap into its own package.
        log("python3 -m venv cannot bootstrap pip here: apt-get install python3-venv")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        version = "python3.%d-venv" % sys.version_info[1]
        if subprocess.run(["apt-get", "install", "-y", "-qq", "python3-venv"]).returncode != 0:
            subprocess.run(["apt-get", "install", "-y", "-qq", version], check=True)
    shutil.rmtree(VENV, ignore_errors=True)
    os.makedirs(os.path.dirname(VENV), exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    PP_REQUIREMENT], check=True)
    # The stamp is written last: a half-made venv is made again next time.
    open(os.path.join(VENV, ".installed-" + PP_REQUIREMENT), "w").close()
    return VENV_PYTHON


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


# ---------------------------------------------------------------------------------------------------
# The job pp ships to the nodes. Only its source travels: everything it uses is an argument or a
# module pp imports on the node (`modules=("io",)`).


def count_chunk(data, errors, stop_words, punctuation):
    """Map and combine: the reference's `file_to_words` loop over one chunk of whole lines, returning
    {word: count} (or the decode error's text, for strict UTF-8)."""
    table = str.maketrans({p: " " for p in punctuation})
    counts = {}
    get = counts.get
    try:
        for line in io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors):
            if line.lstrip().startswith(".."):
                continue
            line = line.translate(table)
            for word in line.split():
                word = word.lower()
                if word.isalpha() and word not in stop_words:
                    counts[word] = get(word, 0) + 1
    except UnicodeDecodeError as error:
        return str(error)
    return counts


# ---------------------------------------------------------------------------------------------------
# Input


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B").rstrip("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def chunks(files, chunksize, limit=None):
    """Yields the input as byte chunks of whole lines (cut after a b"\\n"; a chunk never spans two
    files, so every file's line starts stay line starts). In UTF-8 no multi-byte sequence contains
    0x0A, and a "\\r\\n" is never split, so decoding chunk by chunk equals decoding the whole file.
    With `limit`, stops at the last line end within the first `limit` bytes."""
    budget = limit
    for name in files:
        with open(name, "rb") as f:
            carry = b""
            while True:
                want = chunksize if budget is None else min(chunksize, budget)
                block = f.read(want) if want > 0 else b""
                if budget is not None:
                    budget -= len(block)
                data = carry + block
                if budget is not None and budget <= 0:
                    cut = data.rfind(b"\n") + 1
                    if cut:
                        yield data[:cut]
                    return
                if not block:
                    if data:
                        yield data      # the file's last line, without a line end
                    break
                cut = data.rfind(b"\n") + 1
                if cut == 0:            # one line longer than the chunk: read on
                    carry = data
                    continue
                carry = data[cut:]
                yield data[:cut]


# ---------------------------------------------------------------------------------------------------
# The nodes


def free_port(addresses):
    """A TCP port free on every address (the nodes all listen on the same port number)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as s:
                    s.bind((address, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port on %s" % ", ".join(addresses))


class Nodes:
    """The ppserver processes, each the leader of its own process group, killed on close()."""

    def __init__(self, addresses, port, secret, workers=1):
        self.addresses, self.port, self.secret = addresses, port, secret
        self.processes = []
        self.logs = []
        ppserver = os.path.join(os.path.dirname(sys.executable), "ppserver")
        for address in addresses:
            log_file = tempfile.TemporaryFile()
            # No -a: auto-discovery would broadcast. -t: a node left behind by a killed coordinator
            # exits once nobody has been connected for 10 minutes.
            command = [ppserver, "-i", address, "-p", str(port), "-w", str(workers), "-s", secret,
                       "-t", "600"]
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                       start_new_session=True)
            self.processes.append(process)
            self.logs.append(log_file)

    def wait_until_listening(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        for address, process, log_file in zip(self.addresses, self.processes, self.logs):
            while True:
                if process.poll() is not None:
                    raise RuntimeError("ppserver on %s:%d exited %d: %s" % (
                        address, self.port, process.returncode, self.log_text(log_file)))
                try:
                    with socket.create_connection((address, self.port), timeout=1.0):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("ppserver on %s:%d not listening after %.0f s"
                                           % (address, self.port, timeout))
                    time.sleep(0.05)

    @staticmethod
    def log_text(log_file):
        log_file.seek(0)
        return log_file.read().decode(errors="replace").strip()[-2000:]

    def close(self):
        """SIGTERM to every node's process group, 5 s of grace, then SIGKILL; waits until each group
        is empty."""
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5.0
        for process in self.processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            # The node's workers (its grandchildren) are reaped by init: wait until none is left.
            for _ in range(200):
                try:
                    os.killpg(process.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
            else:
                log("process group %d still has processes after SIGKILL" % process.pid)
        for log_file in self.logs:
            log_file.close()


class PeakSampler:
    """Every ~5 ms: the coordinator's own RssAnon/RssFile (it has no children but the nodes) and each
    node's process tree's sums. Keeps the maxima in KiB."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.peaks = {"coordinator": [0, 0, 0]}
        for address in nodes.addresses:
            self.peaks["ppserver " + address] = [0, 0, 0]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def record(self, name, anon, file):
        peak = self.peaks[name]
        peak[0], peak[1], peak[2] = max(peak[0], anon), max(peak[1], file), max(peak[2], anon + file)

    def run(self):
        me = os.getpid()
        while not self.done.is_set():
            self.record("coordinator", *own_rss_kib(me))
            for address, process in zip(self.nodes.addresses, self.nodes.processes):
                self.record("ppserver " + address, *tree_rss_kib(process.pid))
            self.done.wait(SAMPLE_SECONDS)

    def report(self):
        return {name: {"peak_anon_mib": round(anon / 1024.0, 1), "peak_file_mib": round(file / 1024.0, 1),
                       "peak_anon_plus_file_mib": round(total / 1024.0, 1)}
                for name, (anon, file, total) in self.peaks.items()}


def own_rss_kib(pid):
    with open("/proc/%d/status" % pid, "rb") as f:
        status = f.read()
    values = []
    for field in (b"RssAnon:", b"RssFile:"):
        start = status.find(field)
        values.append(int(status[start + len(field):status.index(b"kB", start)]) if start >= 0 else 0)
    return values


# ---------------------------------------------------------------------------------------------------
# Counting


def count(pp, files, args, nodes):
    """Submits the chunks, at most `args.inflight` jobs at a time (pp keeps every submitted job's
    pickled chunk in its queue: unbounded, the coordinator would hold the whole corpus), and merges
    the partial counts. Returns (counts, input bytes, jobs)."""
    servers = tuple("%s:%d" % (address, nodes.port) for address in nodes.addresses)
    job_server = pp.Server(ncpus=0, ppservers=servers, secret=nodes.secret)
    try:
        stop_words = frozenset(reference.STOP_WORDS)
        punctuation = "".join(sorted(chr(c) for c in reference.PUNCTUATION_TO_SPACE))
        totals = collections.Counter()
        pending = collections.deque()
        total_bytes, jobs = 0, 0

        def collect():
            result = pending.popleft()()
            if isinstance(result, str):
                raise UnicodeError(result)
            if result is None:
                raise RuntimeError("a pp job failed (see the ppserver's log above)")
            totals.update(result)

        for data in chunks(files, args.chunksize, args.limit):
            total_bytes += len(data)
            jobs += 1
            pending.append(job_server.submit(count_chunk, (data, args.invalid_utf8, stop_words, punctuation),
                                             modules=("io",)))
            del data
            while len(pending) >= args.inflight:
                collect()
        while pending:
            collect()
        return totals, total_bytes, jobs
    finally:
        job_server.destroy()


def write_results(totals, args):
    """The reference's dump and top table, in its format."""
    word_counts = list(totals.items())
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            for word, n in sorted(word_counts):
                out.write("%s\t%d\n" % (word, n))
    word_counts.sort(key=lambda item: (-item[1], item[0]))
    top = word_counts[: args.top]
    lines = ["", "TOP %d WORDS BY FREQUENCY" % args.top, ""]
    longest = max((len(word) for word, n in top), default=0)
    for word, n in top:
        lines.append("{word:<{len}}: {count:5}".format(len=longest + 1, word=word, count=n))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def run_once(args, files):
    import pp
    if pp.version != "1.7.0":
        raise RuntimeError("pp %s in %s, expected 1.7.0" % (pp.version, sys.prefix))
    port = args.port or free_port(args.nodes)
    nodes = Nodes(args.nodes, port, secrets.token_hex(16), workers=args.workers)
    try:
        nodes.wait_until_listening()
        with PeakSampler(nodes) as sampler:
            started = time.perf_counter()
            totals, total_bytes, jobs = count(pp, files, args, nodes)
            write_results(totals, args)
            seconds = time.perf_counter() - started
    except UnicodeError:
        raise
    except BaseException:
        for address, log_file in zip(nodes.addresses, nodes.logs):
            text = nodes.log_text(log_file)
            if text:
                log("ppserver %s said:\n%s" % (address, text))
        raise
    finally:
        nodes.close()
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {
        "pp_version": pp.version, "nodes": ["%s:%d" % (a, port) for a in args.nodes],
        "workers_per_node": args.workers, "chunksize": args.chunksize, "inflight": args.inflight,
        "limit": args.limit, "input_bytes": total_bytes, "jobs": jobs, "seconds": seconds,
        "mb_per_s": total_bytes / 1e6 / seconds, "peaks": sampler.report(),
        "coordinator_maxrss_mib": round(maxrss_mib, 1),
    }
    peaks = result["peaks"]
    log("%.1f MB in %d jobs in %.2f s: %.2f MB/s%s; peak RssAnon+RssFile MiB: %s; coordinator maxrss %.1f MiB"
        % (total_bytes / 1e6, jobs, seconds, result["mb_per_s"],
           " (a %s prefix)" % format_size(args.limit) if args.limit else "",
           ", ".join("%s %.1f" % (name, p["peak_anon_plus_file_mib"]) for name, p in peaks.items()), maxrss_mib))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return result


def format_size(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n % size == 0:
            return "%d%s" % (n // size, unit)
    return str(n)


def check(args):
    """pp's dump and top table equal the multiprocessing reference's, byte for byte."""
    groups = [[p] for p in args.paths] or [[os.path.join(ROOT, "Fixtures", "corpus")],
                                            [os.path.join(ROOT, "Fixtures", "adversarial")]]
    with tempfile.TemporaryDirectory() as workdir:
        for paths in groups:
            ref_out, pp_out = os.path.join(workdir, "reference.tsv"), os.path.join(workdir, "pp.tsv")
            ref = subprocess.run([sys.executable, REFERENCE_PY, "--workers", "2", "--top", str(args.top),
                                  "--invalid-utf8", args.invalid_utf8, "--output", ref_out] + paths,
                                 capture_output=True)
            if ref.returncode != 0:
                raise RuntimeError("the reference failed on %s: %s" % (paths, ref.stderr.decode(errors="replace")))
            command = [sys.executable, os.path.abspath(__file__), "--chunksize", str(args.check_chunksize),
                       "--nodes", ",".join(args.nodes), "--top", str(args.top), "--invalid-utf8",
                       args.invalid_utf8, "--output", pp_out] + paths
            mine = subprocess.run(command, capture_output=True)
            if mine.returncode != 0:
                raise RuntimeError("pp_wordcount failed on %s: %s" % (paths, mine.stderr.decode(errors="replace")))
            with open(ref_out, "rb") as a, open(pp_out, "rb") as b:
                same_dump = a.read() == b.read()
            if not same_dump or ref.stdout != mine.stdout:
                raise RuntimeError("pp and the reference differ on %s (%s)"
                                   % (paths, "dump" if not same_dump else "top table"))
            log("check: pp == multiprocessing reference on %s (dump and top %d table, %d-byte chunks)"
                % (" ".join(paths), args.top, args.check_chunksize))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--check", action="store_true",
                        help="compare with the multiprocessing reference (default: Fixtures/corpus and "
                             "Fixtures/adversarial, each on its own), then exit")
    parser.add_argument("--check-chunksize", type=parse_size, default=parse_size("16K"))
    parser.add_argument("--setup", action="store_true", help="only install the venv; print its python")
    parser.add_argument("--nodes", default="127.0.0.2,127.0.0.3",
                        help="loopback addresses of the ppserver nodes (127.0.0.0/8 only)")
    parser.add_argument("--port", type=int, default=0, help="the nodes' port (default: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="ppserver -w (default 1)")
    parser.add_argument("--chunksize", type=parse_size, default=parse_size("4M"))
    parser.add_argument("--inflight", type=int, default=0,
                        help="jobs submitted but not yet merged (default: 2 per node worker)")
    parser.add_argument("--limit", type=parse_size, help="count only a prefix of this many bytes")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--output")
    parser.add_argument("--json", help="write the measurements here")
    parser.add_argument("--invalid-utf8", choices=["strict", "replace"], default="strict")
    args = parser.parse_args()
    args.nodes = [a.strip() for a in args.nodes.split(",") if a.strip()]
    for address in args.nodes:
        if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
            parser.error("--nodes: %s is not a loopback address (127.0.0.0/8)" % address)
    args.inflight = args.inflight or 2 * len(args.nodes) * args.workers

    python = ensure_venv()
    if args.setup:
        print(python)
        return
    if not in_venv():
        os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])

    # A TERM (from run.py's timeout or a user) must still run the finally that kills the nodes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.check:
        check(args)
        return
    if not args.paths:
        parser.error("no input paths")
    files = reference.expand(args.paths)
    try:
        run_once(args, files)
    except UnicodeError as error:
        print("pp_wordcount.py: invalid UTF-8: %s" % error, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
