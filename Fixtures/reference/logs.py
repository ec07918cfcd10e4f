#!/usr/bin/env python3
"""The reference access log report: Python's multiprocessing MapReduce, written from the project's rules.

`Pool.map` of a map function over the input files (each line parsed, then totals per status code and
per hour with the set of clients: the combiner), a partition step that groups them by (dimension,
bucket) in the parent process, and `Pool.map` of a reduce function that adds the totals and unites the
client sets. `mapreduce logs` must print exactly what this prints, and write exactly the same dump.

Usage: logs.py [--workers N] [--output FILE] PATH...

The rules (Common and Combined Log Formats). Lines end at \\n, \\r or \\r\\n; an empty line is skipped. A
line is malformed for the first of these it breaks, in this order:
  too-long    more than 8192 bytes
  binary      a byte outside printable ASCII (0x20-0x7E)
  syntax      not 'host ident authuser [' (three fields of non-space bytes, one space after each),
              or no ']' after it
  bad-date    between the brackets is not DD/Mon/YYYY:HH:MM:SS +HHMM with a real date (English month
              abbreviations, years 1970-9999, seconds 00-59, a zone of at most +/-14:59)
  syntax      not a space, a quoted request (a backslash escapes the next byte) and a space
  bad-status  the next field (up to a space or the end) is not three digits from 100 to 599
  syntax      not a space and a size ('-' or 1 to 12 digits), then the end of the line, or a space, a
              quoted referer, a space, a quoted user agent and the end of the line
A well-formed line counts one request, its size in bytes ('-' is 0) and its client (the first field,
as written) in its status code's row and in its hour's row (the time converted to UTC).

The dump: 'status<TAB>CODE<TAB>requests<TAB>bytes<TAB>clients' by code, then
'hour<TAB>YYYY-MM-DDTHH:00Z<TAB>requests<TAB>bytes<TAB>clients' by hour, then
'malformed<TAB>REASON<TAB>lines' in the order above, for the reasons seen.
"""
import argparse
import collections
import multiprocessing
import os
import re
import sys

REASONS = ["too-long", "binary", "syntax", "bad-date", "bad-status"]
MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"]
LINE_END = re.compile(rb"\r\n|\r|\n")
NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")
HEAD = re.compile(rb"([^ ]+) [^ ]+ [^ ]+ \[")
REQUEST = re.compile(rb' "(?:[^"\\]|\\.)*" ')
FIELD = re.compile(rb"[^ ]*")
TAIL = re.compile(rb' ([^ ]+)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?')
DATE = re.compile(rb"([0-9]{2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})")


def days_from_civil(year, month, day):
    y = year - 1 if month <= 2 else year
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def days_in(month, year):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_hour(text):
    match = DATE.fullmatch(text)
    if not match or match.group(2) not in MONTHS:
        return None
    day, year, hour, minute, second, zone_hours, zone_minutes = (int(match.group(i)) for i in (1, 3, 4, 5, 6, 8, 9))
    month = MONTHS.index(match.group(2)) + 1
    if not (1970 <= year <= 9999 and 1 <= day <= days_in(month, year) and hour <= 23 and minute <= 59):
        return None
    if not (second <= 59 and zone_hours <= 14 and zone_minutes <= 59):
        return None
    zone = (zone_hours * 3600 + zone_minutes * 60) * (-1 if match.group(7) == b"-" else 1)
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - zone
    return seconds // 3600


def format_hour(hour):
    days, hour_of_day = divmod(hour, 24)
    z = days + 719468
    era = z // 146097
    day_of_era = z - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return "%d-%02d-%02dT%02d:00Z" % (year, month, day, hour_of_day)


def parse(line):
    """A (host, status, hour, size) tuple, a malformation reason, or None for an empty line."""
    if not line:
        return None
    if len(line) > 8192:
        return "too-long"
    if NOT_PRINTABLE.search(line):
        return "binary"
    head = HEAD.match(line)
    if not head:
        return "syntax"
    close = line.find(b"]", head.end())
    if close < 0:
        return "syntax"
    hour = parse_hour(line[head.end() : close])
    if hour is None:
        return "bad-date"
    request = REQUEST.match(line, close + 1)
    if not request:
        return "syntax"
    status = FIELD.match(line, request.end()).group(0)
    if not re.fullmatch(rb"[0-9]{3}", status) or not 100 <= int(status) <= 599:
        return "bad-status"
    tail = TAIL.fullmatch(line, request.end() + 3)
    if not tail:
        return "syntax"
    size = tail.group(1)
    if size == b"-":
        size = 0
    elif re.fullmatch(rb"[0-9]{1,12}", size):
        size = int(size)
    else:
        return "syntax"
    return (head.group(1), int(status), hour, size)


def file_to_totals(filename):
    """Map (and combine): one file to ((dimension, bucket), [requests, bytes, clients]) pairs."""
    totals = {}
    malformed = collections.Counter()
    with open(filename, "rb") as f:
        data = f.read()
    for line in LINE_END.split(data):
        parsed = parse(line)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            malformed[parsed] += 1
            continue
        host, status, hour, size = parsed
        for key in ((1, status), (2, hour)):
            entry = totals.setdefault(key, [0, 0, set()])
            entry[0] += 1
            entry[1] += size
            entry[2].add(host)
    pairs = list(totals.items())
    pairs += [((3, REASONS.index(reason)), [lines, 0, set()]) for reason, lines in malformed.items()]
    return pairs


def merge_totals(item):
    """Reduce: a (dimension, bucket) and its totals to their sum and the union of their clients."""
    key, totals = item
    requests = sum(t[0] for t in totals)
    size = sum(t[1] for t in totals)
    clients = set().union(*(t[2] for t in totals))
    return (key, (requests, size, len(clients)))


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


def table(header, rows):
    width = max([len(header)] + [len(label) for label, *_ in rows])
    text = "%s  %10s  %15s  %8s\n" % (header.ljust(width), "requests", "bytes", "clients")
    for label, requests, size, clients in rows:
        text += "%s  %10d  %15d  %8d\n" % (label.ljust(width), requests, size, clients)
    return text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--output")
    args = parser.parse_args()

    pool = multiprocessing.Pool(args.workers)
    mapped = pool.map(file_to_totals, expand(args.paths), chunksize=1)
    partitioned = collections.defaultdict(list)
    for pairs in mapped:
        for key, totals in pairs:
            partitioned[key].append(totals)
    reduced = sorted(pool.map(merge_totals, partitioned.items()))
    pool.close()
    pool.join()

    statuses = [(str(bucket), *totals) for (dimension, bucket), totals in reduced if dimension == 1]
    hours = [(format_hour(bucket), *totals) for (dimension, bucket), totals in reduced if dimension == 2]
    malformed = [(REASONS[bucket], totals[0]) for (dimension, bucket), totals in reduced if dimension == 3]
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            for name, rows in (("status", statuses), ("hour", hours)):
                for row in rows:
                    out.write("%s\t%s\t%d\t%d\t%d\n" % ((name,) + row))
            for reason, lines in malformed:
                out.write("malformed\t%s\t%d\n" % (reason, lines))

    reasons = ", ".join("%s %d" % row for row in malformed)
    text = "\nREQUESTS BY STATUS\n\n" + table("status", statuses)
    text += "\nREQUESTS BY HOUR (UTC)\n\n" + table("hour", hours)
    text += "\nmalformed lines: %d%s\n" % (sum(n for r, n in malformed), " (%s)" % reasons if reasons else "")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
