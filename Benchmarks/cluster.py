"""The cluster section of the benchmark (run.py --cluster, on by default in `make bench`).

`mapreduce wordcount --cluster` with two peers on loopback addresses against Parallel Python 1.7.0
(reference/pp_wordcount.py) with two ppserver nodes, and against the C reference measured in the
same rounds:

  1. verify: pp_wordcount.py --check (pp == the multiprocessing reference on Fixtures/), and a local
     `mapreduce wordcount --workers 2 --output` dump of the shape, which every cluster and pp run
     must reproduce byte for byte;
  2. unless `mapreduce serve --help` fails (or does not show serve's own usage), write a secret with
     `mapreduce secret FILE`, start `mapreduce serve --listen 127.0.0.2:P1 --secret-file FILE
     --workers 1` and the same on 127.0.0.3, and wait until both ports accept connections;
  3. rounds, each run between two runs of the C reference (as in run.py): `mapreduce wordcount PATH
     --cluster 127.0.0.2:P1,127.0.0.3:P2 --secret-file FILE --no-local --workers 1 --output OUT
     --stats-json STATS` (wall time around the process; peak memory of its process tree and of each
     peer's, sampled during the run), and pp_wordcount.py (its own timing: from connecting to the
     nodes to the dump written, the same span as the cluster run, whose peers are started beforehand
     too; its peaks: the coordinator process and each ppserver's tree);
  4. the targets: >= 30x Parallel Python's throughput, >= 0.6x C, wire bytes / input bytes < 0.55
     (compressedBytes in both directions, from the stats JSON), peak RssAnon <= 64 MiB for the
     coordinator and for each peer.

Every peer and ppserver runs in its own process group, killed (TERM, 5 s, KILL) on any exit.
"""
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import run as bench

HERE = os.path.dirname(os.path.abspath(__file__))
PP_WORDCOUNT = os.path.join(HERE, "reference", "pp_wordcount.py")
PEER_ADDRESSES = ("127.0.0.2", "127.0.0.3")

TARGET_VS_PP = 30.0
TARGET_VS_C = 0.6
TARGET_WIRE_RATIO = 0.55
TARGET_PEAK_MIB = 64.0


# ---------------------------------------------------------------------------------------------------
# Peers


def serve_available(mapreduce):
    """(True, "") if this mapreduce has `serve` and `secret`, else (False, why). An unknown subcommand
    with --help prints the root help and exits 0, so the usage line is checked too."""
    for sub in ("serve", "secret"):
        try:
            result = subprocess.run([mapreduce, sub, "--help"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as error:
            return False, "`mapreduce %s --help` failed: %s" % (sub, error)
        if result.returncode != 0:
            return False, "`mapreduce %s --help` exited %d" % (sub, result.returncode)
        if not re.search(r"USAGE: mapreduce %s\b" % sub, result.stdout + result.stderr):
            return False, "`mapreduce %s --help` does not show its usage (no %s subcommand in this build)" % (sub, sub)
    return True, ""


def free_port(address):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def wait_listening(address, port, process, log_file, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            bench.fail("peer %s:%d exited %d: %s" % (address, port, process.returncode, log_text(log_file)))
        try:
            with socket.create_connection((address, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                bench.fail("peer %s:%d not listening after %.0f s: %s" % (address, port, timeout, log_text(log_file)))
            time.sleep(0.05)


def log_text(log_file):
    log_file.seek(0)
    return log_file.read().decode(errors="replace").strip()[-2000:]


def stop_group(process, grace=5.0):
    """SIGTERM to the process group `process` leads, `grace` seconds, SIGKILL, then waits until the
    group is empty (its workers are reaped by init)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    for _ in range(200):
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    bench.log("process group %d still has processes after SIGKILL" % process.pid)


class Peers:
    """Two `mapreduce serve` peers; a context manager that always stops them."""

    def __init__(self, mapreduce, workdir):
        self.mapreduce, self.workdir = mapreduce, workdir
        self.secret_file = os.path.join(workdir, "cluster.secret")
        self.peers = []   # (address, port, process, log file)

    def __enter__(self):
        bench.check_call([self.mapreduce, "secret", self.secret_file])
        try:
            for address in PEER_ADDRESSES:
                port = free_port(address)
                log_file = tempfile.TemporaryFile()
                command = [self.mapreduce, "serve", "--listen", "%s:%d" % (address, port), "--secret-file",
                           self.secret_file, "--workers", "1"]
                bench.log("$ " + " ".join(command))
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                           start_new_session=True)
                self.peers.append((address, port, process, log_file))
            for address, port, process, log_file in self.peers:
                wait_listening(address, port, process, log_file)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for address, port, process, log_file in self.peers:
            stop_group(process)
            if exc and exc[0] is not None:
                text = log_text(log_file)
                if text:
                    bench.log("peer %s:%d said:\n%s" % (address, port, text))
            log_file.close()
        self.peers = []

    @property
    def endpoints(self):
        return ",".join("%s:%d" % (address, port) for address, port, _, _ in self.peers)

    @property
    def pids(self):
        return {"peer %s" % address: process.pid for address, port, process, _ in self.peers}


# ---------------------------------------------------------------------------------------------------
# The stats JSON: its wire figures are not final yet, so they are looked for by name.


def _norm(key):
    return str(key).replace("_", "").replace("-", "").lower()


def _walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            label = str(index)
            if isinstance(value, dict):   # a list of peers: name them by their own name/peer field
                for field in ("peer", "name", "address", "endpoint"):
                    if isinstance(value.get(field), str):
                        label = value[field]
                        break
            yield from _walk(value, path + (label,))
    else:
        yield path, node


def _kind(key):
    """"compressedbytes" for compressedBytes, compressed_bytes, sentCompressedBytes...; "rawbytes"
    likewise; None otherwise (uncompressedBytes included)."""
    key = _norm(key)
    if key.endswith("compressedbytes") and not key.endswith("uncompressedbytes"):
        return "compressedbytes"
    if key.endswith("rawbytes"):
        return "rawbytes"
    return None


ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+|:\d+$")


def wire_bytes(stats):
    """{compressed, raw, peers: {name: {compressed, raw}}, source, note} from every numeric
    `compressedBytes` and `rawBytes` (any case, _ or -, or with a prefix such as totalCompressedBytes) in
    the stats JSON. Within one object a plain compressedBytes/rawBytes wins over its directional
    siblings (sent*/received*), which it already counts. Totals come from the values with "total" in
    their path when there are any, else from the top-level ones, else from the sum of all values (per
    peer, per direction); None when there is no compressedBytes."""
    found = {"compressedbytes": [], "rawbytes": []}
    for path, value in _walk(stats):
        kind = _kind(path[-1]) if path else None
        if kind and isinstance(value, (int, float)) and not isinstance(value, bool):
            found[kind].append((path, value))
    if not found["compressedbytes"]:
        return None

    def is_total(path):
        return any("total" in _norm(part) for part in path)

    def peer_of(path):
        for part in path[:-1]:
            if ADDRESS.search(part):
                return part
        for index, part in enumerate(path[:-1]):
            if _norm(part).startswith("peer") and index + 1 < len(path) - 1:
                return "%s[%s]" % (part, path[index + 1])
        return None

    # One figure per object: a plain `compressedBytes` / `rawBytes` already counts both directions, so
    # where an object has one, its directional siblings (sentCompressedBytes, receivedCompressedBytes,
    # ...) are not added again.
    def deduplicated(entries):
        plain = {p[:-1] for p, _ in entries if _norm(p[-1]) in ("compressedbytes", "rawbytes")}
        return [(p, v) for p, v in entries if p[:-1] not in plain or _norm(p[-1]) in ("compressedbytes", "rawbytes")]

    def total_of(entries):
        entries = deduplicated(entries)
        # The totals: values with "total" in their path, else top-level ones, else the sum of all.
        totals = [(p, v) for p, v in entries if is_total(p)] or [(p, v) for p, v in entries if len(p) == 1]
        chosen = totals or entries
        return sum(v for _, v in chosen), [".".join(p) for p, _ in chosen]

    compressed, sources = total_of(found["compressedbytes"])
    raw = total_of(found["rawbytes"])[0] if found["rawbytes"] else None
    peers = {}
    for kind, entries in found.items():
        for path, value in deduplicated(entries):
            peer = None if is_total(path) or len(path) == 1 else peer_of(path)
            if peer is not None:
                slot = peers.setdefault(peer, {"compressed": 0, "raw": 0})
                slot["compressed" if kind == "compressedbytes" else "raw"] += value
    per_peer_sum = sum(p["compressed"] for p in peers.values())
    note = None
    if peers and per_peer_sum != compressed:
        note = "per-peer compressedBytes sum to %d, the total says %d" % (per_peer_sum, compressed)
    return {"compressed": compressed, "raw": raw, "peers": peers, "source": sources, "note": note}


# ---------------------------------------------------------------------------------------------------
# The section


def pp_setup():
    """The venv python with pp 1.7.0 (pp_wordcount.py installs it on first use)."""
    result = subprocess.run([sys.executable, PP_WORDCOUNT, "--setup"], capture_output=True, text=True)
    if result.returncode != 0:
        bench.fail("pp_wordcount.py --setup exited %d: %s" % (result.returncode, result.stderr.strip()[-2000:]))
    return result.stdout.strip().splitlines()[-1]


def same_file(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def section(*args):
    """Runs the cluster section; prints its table and targets and returns its JSON-able report. A
    SIGTERM meanwhile exits through the `finally`s that stop the peers."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return _section(*args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _section(mapreduce, wc, corpus, shape, rounds, pp_rounds, pp_limit, quiet_timeout):
    path = os.path.join(corpus, shape)
    size = bench.input_bytes(path)
    print_header = "\n== cluster: %s, %.1f MB; two peers (127.0.0.2, 127.0.0.3), one worker each ==" % (shape, size / 1e6)
    available, why = serve_available(mapreduce)
    if not available:
        bench.log("cluster: mapreduce's own half SKIPPED: %s; measuring Parallel Python only" % why)

    with tempfile.TemporaryDirectory() as workdir:
        # 1. Verify.
        python_pp = pp_setup()
        bench.check_call([python_pp, PP_WORDCOUNT, "--check"])
        local = os.path.join(workdir, "local.tsv")
        bench.dump([mapreduce, "wordcount", "--quiet", "--workers", "2"], path, local)
        bench.log("cluster: local dump of %s written (every cluster and pp run must equal it)" % shape)
        bench.warm_page_cache([path])

        out, stats_json = os.path.join(workdir, "cluster.tsv"), os.path.join(workdir, "stats.json")
        pp_out, pp_json = os.path.join(workdir, "pp.tsv"), os.path.join(workdir, "pp.json")
        c_command = [wc, "--top", "0", path]
        pp_command = [python_pp, PP_WORDCOUNT, "--top", "0", "--output", pp_out, "--json", pp_json, path]
        if pp_limit:
            pp_command[-1:-1] = ["--limit", pp_limit]

        samples = {"C reference": [], "mapreduce cluster": [], "Parallel Python": []}

        def timed(command, extra=None):
            waited = bench.wait_for_quiet_machine(quiet_timeout) if quiet_timeout > 0 else 0.0
            if waited >= quiet_timeout > 0:
                bench.log("machine still busy after %.0f s of waiting; measuring anyway" % waited)
            result = bench.measure(command, extra=extra)
            result["waited_for_quiet_seconds"] = round(waited, 2)
            return result

        def paired(sequence):
            """Runs C, X, C, Y, C...; gives each X the mean of the C runs around it."""
            c_before = timed(c_command)
            c_before["mb_per_s"] = size / 1e6 / c_before["seconds"]
            samples["C reference"].append(c_before)
            for name, run_one in sequence:
                result = run_one()
                c_after = timed(c_command)
                c_after["mb_per_s"] = size / 1e6 / c_after["seconds"]
                samples["C reference"].append(c_after)
                result["paired_c_mb_per_s"] = (c_before["mb_per_s"] + c_after["mb_per_s"]) / 2
                result["ratio_to_c"] = result["mb_per_s"] / result["paired_c_mb_per_s"]
                samples[name].append(result)
                c_before = c_after

        def run_pp():
            result = timed(pp_command)
            with open(pp_json) as f:
                pp = json.load(f)
            if not pp_limit and not same_file(pp_out, local):
                bench.fail("Parallel Python's dump differs from mapreduce's local dump on %s: %s" % (
                    shape, bench.first_difference(open(pp_out, "rb").read(), open(local, "rb").read())))
            # pp's own span (connect, count, write), like the cluster run; the wall time of the script
            # (ppserver start included) is kept too.
            result.update({"wall_seconds": result["seconds"], "seconds": pp["seconds"],
                           "input_bytes": pp["input_bytes"], "mb_per_s": pp["mb_per_s"], "jobs": pp["jobs"],
                           "peaks": pp["peaks"], "coordinator_maxrss_mib": pp["coordinator_maxrss_mib"]})
            return result

        def run_cluster(peers):
            def run_one():
                for stale in (out, stats_json):
                    if os.path.exists(stale):
                        os.remove(stale)
                command = [mapreduce, "wordcount", path, "--cluster", peers.endpoints, "--secret-file",
                           peers.secret_file, "--no-local", "--workers", "1", "--output", out,
                           "--stats-json", stats_json]
                result = timed(command, extra=peers.pids)
                if not same_file(out, local):
                    bench.fail("the cluster dump differs from the local one on %s: %s" % (
                        shape, bench.first_difference(open(out, "rb").read(), open(local, "rb").read())))
                result["input_bytes"] = size
                result["mb_per_s"] = size / 1e6 / result["seconds"]
                try:
                    with open(stats_json) as f:
                        result["wire"] = wire_bytes(json.load(f))
                except (OSError, ValueError) as error:
                    bench.log("cluster: no usable --stats-json (%s)" % error)
                    result["wire"] = None
                return result
            return run_one

        # 2. and 3. Peers, rounds.
        started = time.perf_counter()

        def all_rounds(peers):
            for index in range(max(rounds if peers else 0, pp_rounds)):
                sequence = []
                if peers and index < rounds:
                    sequence.append(("mapreduce cluster", run_cluster(peers)))
                if index < pp_rounds:
                    sequence.append(("Parallel Python", run_pp))
                paired(sequence)
                bench.log("cluster: round %d done (%.0f s)" % (index + 1, time.perf_counter() - started))

        if available:
            with Peers(mapreduce, workdir) as peers:
                all_rounds(peers)
        else:
            all_rounds(None)

    # 4. Report.
    rows = {}
    for name, runs in samples.items():
        if not runs:
            continue
        rows[name] = {
            "contender": name, "rounds": len(runs),
            "mb_per_s": statistics.median(r["mb_per_s"] for r in runs),
            "ratio_to_c": statistics.median(r["ratio_to_c"] for r in runs) if name != "C reference" else 1.0,
            "seconds_median": statistics.median(r["seconds"] for r in runs),
            "samples": runs,
        }
    report = {"shape": shape, "input_bytes": size, "mapreduce_skipped": None if available else why,
              "pp_limit": pp_limit, "rows": list(rows.values()), "targets": []}
    targets = report["targets"]

    def target(name, value, goal, passed, detail):
        targets.append({"target": name, "value": value, "goal": goal, "pass": passed, "detail": detail})

    mr, pp, c = rows.get("mapreduce cluster"), rows.get("Parallel Python"), rows["C reference"]
    print(print_header)
    print("  %-20s %7s %10s %8s %9s   %s" % ("contender", "rounds", "MB/s", "x C", "x pp", "peak MiB, RssAnon+RssFile (RssAnon)"))
    for row in rows.values():
        runs = row["samples"]
        vs_pp = "%9.1f" % (row["ratio_to_c"] / pp["ratio_to_c"]) if pp and row is not pp else "%9s" % "-"
        if row is mr:
            sides = {"coordinator": (max(r["peak_anon_plus_file_mib"] for r in runs),
                                     max(r["peak_anon_mib"] for r in runs))}
            for peer in runs[0]["extra_peaks"]:
                sides[peer] = (max(r["extra_peaks"][peer]["peak_anon_plus_file_mib"] for r in runs),
                               max(r["extra_peaks"][peer]["peak_anon_mib"] for r in runs))
        elif row is pp:
            sides = {side: (max(r["peaks"][side]["peak_anon_plus_file_mib"] for r in runs),
                            max(r["peaks"][side]["peak_anon_mib"] for r in runs)) for side in runs[0]["peaks"]}
        else:
            sides = {"": (max(r["peak_anon_plus_file_mib"] for r in runs), max(r["peak_anon_mib"] for r in runs))}
        row["peaks"] = {side: {"anon_plus_file_mib": round(t, 1), "anon_mib": round(a, 1)} for side, (t, a) in sides.items()}
        memory = ", ".join(("%s %.1f (%.1f)" % (side, t, a)).strip() for side, (t, a) in sides.items())
        ratio = "%8.2f" % row["ratio_to_c"] if row is not c else "%8s" % "-"
        print("  %-20s %7d %10.2f %s %s   %s" % (row["contender"], row["rounds"], row["mb_per_s"], ratio, vs_pp, memory))
    if pp and pp_limit:
        print("  (Parallel Python counted only a %s prefix of the shape; MB/s and ratios are per byte)" % pp_limit)
    if pp:
        wall = statistics.median(r["wall_seconds"] for r in pp["samples"])
        print("  Parallel Python: %d jobs, its span %.1f s, the whole script %.1f s (ppserver start included)"
              % (pp["samples"][0]["jobs"], pp["seconds_median"], wall))

    if mr:
        if pp:
            ratio = mr["ratio_to_c"] / pp["ratio_to_c"]
            target(">= 30x Parallel Python", round(ratio, 1), TARGET_VS_PP, ratio >= TARGET_VS_PP,
                   "cluster %.1f MB/s vs pp %.2f MB/s (medians; the ratio goes through the paired C runs)"
                   % (mr["mb_per_s"], pp["mb_per_s"]))
        target(">= 0.6x C", round(mr["ratio_to_c"], 3), TARGET_VS_C, mr["ratio_to_c"] >= TARGET_VS_C,
               "cluster %.1f MB/s, C %.1f MB/s" % (mr["mb_per_s"], c["mb_per_s"]))
        wires = [r["wire"] for r in mr["samples"] if r.get("wire")]
        if wires:
            ratio = statistics.median(w["compressed"] for w in wires) / size
            target("wire / input < 0.55", round(ratio, 3), TARGET_WIRE_RATIO, ratio < TARGET_WIRE_RATIO,
                   "compressedBytes %d (from %s), rawBytes %s, input %d%s" % (
                       wires[0]["compressed"], " + ".join(wires[0]["source"][:6]), wires[0]["raw"], size,
                       "; " + wires[0]["note"] if wires[0]["note"] else ""))
        else:
            target("wire / input < 0.55", None, TARGET_WIRE_RATIO, False,
                   "no compressedBytes in --stats-json: cannot tell")
        for side, peak in mr["peaks"].items():
            # Judged on RssAnon, as the local section's memory target is: RssFile is page cache (the
            # binary's own pages, counted again in every process, and the files a worker maps).
            target("peak <= 64 MiB (%s)" % side, peak["anon_mib"], TARGET_PEAK_MIB,
                   peak["anon_mib"] <= TARGET_PEAK_MIB,
                   "RssAnon of its process tree, max over rounds (with RssFile %.1f)" % peak["anon_plus_file_mib"])
    print("\nCluster targets")
    if not mr:
        print("  SKIPPED: %s" % (why or "no cluster runs"))
    for t in targets:
        print("  %-4s %-36s %10s (goal %s)  %s" % ("PASS" if t["pass"] else "FAIL", t["target"], t["value"], t["goal"],
                                                 t["detail"]))
    if targets:
        print("  %d of %d cluster targets met" % (sum(t["pass"] for t in targets), len(targets)))
    return report
