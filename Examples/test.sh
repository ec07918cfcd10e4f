#!/usr/bin/env bash
# Builds the Examples package and runs its own job, Bigrams, with its own binary: locally with 1 and 2
# workers, on two peers on loopback (its own `serve`), and as Hadoop Streaming steps. Every result must
# equal a Python count written from the job's rules. `make test` runs this after the tests.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release --product Bigrams
BIGRAMS="$(swift build -c release --show-bin-path)/Bigrams"
CORPUS=../Fixtures/corpus
WORK=$(mktemp -d /tmp/bigrams-example-XXXXXX)
PEERS=()
cleanup() {
    for pid in "${PEERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The rules, in Python: words are runs of ASCII letters, lowercased; a bigram is two adjacent words of
# a line (universal newlines); output sorted by bigram (code-point order).
python3 - "$CORPUS" > "$WORK/expected.tsv" <<'PY'
import collections, os, re, sys
counts = collections.Counter()
for root, dirs, names in os.walk(sys.argv[1]):
    for name in names:
        with open(os.path.join(root, name), encoding="utf-8", newline=None) as f:
            for line in f:
                words = [w.lower() for w in re.findall(r"[A-Za-z]+", line)]
                counts.update(a + " " + b for a, b in zip(words, words[1:]))
for bigram in sorted(counts):
    print("%s\t%d" % (bigram, counts[bigram]))
PY

check() {
    if cmp -s "$WORK/expected.tsv" "$WORK/$1.tsv"; then
        echo "examples: $1: $(wc -l < "$WORK/$1.tsv") bigrams, identical to the Python count"
    else
        echo "examples: $1 differs from the Python count:" >&2
        diff "$WORK/expected.tsv" "$WORK/$1.tsv" | head -5 >&2
        exit 1
    fi
}

"$BIGRAMS" --workers 1 "$CORPUS" > "$WORK/local-1.tsv" && check local-1
"$BIGRAMS" --workers 2 "$CORPUS" > "$WORK/local-2.tsv" && check local-2

# Two peers on loopback addresses, each the example's own binary serving on a free port.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/secret" && chmod 600 "$WORK/secret"
ADDRESSES=()
for host in 127.0.0.2 127.0.0.3; do
    "$BIGRAMS" serve "$host:0" "$WORK/secret" > "$WORK/peer-$host.log" 2>&1 &
    PEERS+=($!)
    for _ in $(seq 100); do grep -q 'serving' "$WORK/peer-$host.log" && break; sleep 0.1; done
    port=$(sed -n 's/.* listen=[0-9.]*:\([0-9]*\) .*serving.*/\1/p' "$WORK/peer-$host.log")
    [ -n "$port" ] || { echo "examples: the peer on $host did not start:" >&2; cat "$WORK/peer-$host.log" >&2; exit 1; }
    ADDRESSES+=("$host:$port")
done
CLUSTER=$(IFS=,; echo "${ADDRESSES[*]}")
"$BIGRAMS" --cluster "$CLUSTER" --secret-file "$WORK/secret" --no-local "$CORPUS" > "$WORK/peers.tsv" && check peers
"$BIGRAMS" --cluster "$CLUSTER" --secret-file "$WORK/secret" --workers 1 "$CORPUS" > "$WORK/peers-and-local.tsv" \
    && check peers-and-local

# The same job as Hadoop Streaming steps.
cat "$CORPUS"/* | "$BIGRAMS" streaming map | LC_ALL=C sort | "$BIGRAMS" streaming combine \
    | "$BIGRAMS" streaming reduce > "$WORK/streaming.tsv" && check streaming
