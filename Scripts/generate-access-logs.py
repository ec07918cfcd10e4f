#!/usr/bin/env python3
"""Writes a seeded, reproducible web server access log for tests and benchmarks of `mapreduce logs`.

Usage: generate-access-logs.py --seed N --size BYTES [--malformed FRACTION] OUTPUT

Lines are in the Common and the Combined Log Format, from a few hundred clients over a few days, with
time zones from -12:00 to +14:00, escaped quotes in requests, '-' sizes, CRLF line ends now and then and
empty lines; about FRACTION of them (default 0.02) are malformed: truncated, with impossible dates,
bad status codes, binary garbage (NUL and bytes above 0x7F) or enormous (over 8192 bytes). The same
seed and size always give the same bytes.
"""
import argparse
import datetime
import random

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
ZONES = ["+0000", "+0000", "-0700", "+0100", "+0530", "-1200", "+1400", "+0945"]
STATUSES = [200] * 30 + [206, 301, 302, 304, 304, 400, 401, 403, 404, 404, 404, 418, 500, 502, 503]
METHODS = ["GET"] * 8 + ["POST", "HEAD", "PUT", "DELETE"]
AGENTS = ['Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', 'Wget/1.21', 'bot \\"quoted\\" 1.0', '-']
START = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)
WORDS = ["index", "about", "img", "css", "api", "v1", "users", "search", "static", "blog", "2026", "a b"]


def client(rng):
    kind = rng.random()
    if kind < 0.8:
        return "%d.%d.%d.%d" % (rng.choice([10, 172, 192, 203]), rng.randrange(4), rng.randrange(16), rng.randrange(256))
    if kind < 0.9:
        return "2001:db8::%x" % rng.randrange(64)
    return "host%d.example.org" % rng.randrange(40)


def timestamp(rng, seconds):
    """A local time for `seconds` after 2026-11-28T00:00Z in a random zone, formatted for the log."""
    zone = rng.choice(ZONES)
    offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (-1 if zone[0] == "-" else 1)
    local = (START + datetime.timedelta(seconds=seconds)).astimezone(datetime.timezone(datetime.timedelta(minutes=offset)))
    return "%02d/%s/%d:%02d:%02d:%02d %s" % (
        local.day, MONTHS[local.month - 1], local.year, local.hour, local.minute, local.second, zone)


def request(rng):
    path = "/" + "/".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))
    if rng.random() < 0.05:
        path += '?q=\\"x\\"'
    return "%s %s HTTP/1.%d" % (rng.choice(METHODS), path.replace(" ", "%20"), rng.randrange(2))


def good_line(rng, seconds, hosts):
    line = '%s - %s [%s] "%s" %d %s' % (
        rng.choice(hosts), rng.choice(["-", "-", "frank", "admin"]), timestamp(rng, seconds), request(rng),
        rng.choice(STATUSES), "-" if rng.random() < 0.1 else str(rng.randrange(0, 200000)))
    if rng.random() < 0.5:
        line += ' "%s" "%s"' % (rng.choice(["-", "http://example.org/", "https://a.example/x?y=1"]), rng.choice(AGENTS))
    return line.encode("ascii")


def bad_line(rng, seconds, hosts):
    line = good_line(rng, seconds, hosts)
    kind = rng.randrange(6)
    if kind == 0:  # truncated
        return line[: rng.randrange(1, len(line))]
    if kind == 1:  # impossible or malformed dates
        date = rng.choice(["30/Feb/2026:10:00:00 +0000", "31/Apr/2026:10:00:00 +0000", "01/Foo/2026:10:00:00 +0000",
                           "01/Dec/2026:24:00:00 +0000", "01/Dec/1969:10:00:00 +0000", "1/Dec/2026:10:00:00 +0000",
                           "01/Dec/2026:10:00:60 +0000", "01/Dec/2026:10:00:00 +1500", "29/Feb/2025:00:00:00 +0000"])
        start = line.index(b"[") + 1
        return line[:start] + date.encode() + line[line.index(b"]"):]
    if kind == 2:  # bad status codes
        status = rng.choice([b"999", b"2OO", b"20", b"2000", b"099", b"-"])
        parts = line.split(b'" ', 1)
        rest = parts[1].split(b" ", 1)
        return parts[0] + b'" ' + status + b" " + rest[1]
    if kind == 3:  # binary garbage
        return bytes(rng.choice([0, 1, 0x7F, 0x80, 0xC3, 0xFF, 0x41, 0x20]) for _ in range(rng.randrange(1, 60)))
    if kind == 4:  # enormous
        return line.replace(b" HTTP/1.", b"/" + b"x" * rng.randrange(8200, 20000) + b" HTTP/1.", 1)
    return line + rng.choice([b" trailing", b' "only-referer"', b" 12 13"])  # extra fields


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--malformed", type=float, default=0.02)
    parser.add_argument("output")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hosts = [client(rng) for _ in range(300)]
    written = 0
    seconds = rng.randrange(3600)
    with open(args.output, "wb") as out:
        while written < args.size:
            seconds += rng.randrange(0, 40)
            if rng.random() < 0.002:
                line = b""
            elif rng.random() < args.malformed:
                line = bad_line(rng, seconds, hosts)
            else:
                line = good_line(rng, seconds, hosts)
            line += b"\r\n" if rng.random() < 0.01 else b"\n"
            out.write(line)
            written += len(line)


if __name__ == "__main__":
    main()
