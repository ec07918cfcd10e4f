import MapReduce
import MapReduceTestSupport
import Testing

/// `--format tsv|csv|json|jsonl` and `--output -`: each format read back by Python's own parsers gives
/// the TSV dump's rows, and a reader that goes away ends the program quietly.
@Suite("Dump formats and pipes", .enabled(if: TestEnvironment.hasPython, "needs python3"))
struct OutputFormatTests {
    /// Reads a dump in `format` with Python's csv or json module and prints it back as TSV.
    static let reader = """
        import csv, json, sys
        fmt, path = sys.argv[1], sys.argv[2]
        out = sys.stdout
        if fmt == "csv":
            with open(path, newline="", encoding="utf-8") as f:
                raw = f.read()
            assert raw.endswith("\\r\\n") and "\\n" not in raw.replace("\\r\\n", ""), "rows must end with CRLF"
            rows = list(csv.reader(raw.splitlines(keepends=True)))
            assert rows[0] == ["word", "count"], rows[0]
            pairs = [(w, int(c)) for w, c in rows[1:]]
        elif fmt == "json":
            with open(path, encoding="utf-8") as f:
                obj = json.load(f)
            pairs = list(obj.items())
        else:
            with open(path, encoding="utf-8") as f:
                pairs = [(o["word"], o["count"]) for o in map(json.loads, f)]
        for w, c in pairs:
            out.write(f"{w}\\t{c}\\n")
        """

    @Test("each format read by Python's parsers gives the TSV rows, in order", arguments: ["csv", "json", "jsonl"])
    func formatsRoundTrip(format: String) throws {
        let scratch = try TemporaryDirectory("formats")
        defer { scratch.remove() }
        let inputs = [TestEnvironment.corpus, "\(TestEnvironment.fixtures)/adversarial"]
        let tsv = try TestEnvironment.mapreduce(["wordcount", "--quiet", "--output", "-"] + inputs)
        try #require(tsv.status == 0, "\(tsv)")
        let written = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--format", format, "--output", scratch.file("dump.\(format)")] + inputs
        )
        try #require(written.status == 0, "\(written)")
        let script = try scratch.write("read.py", Self.reader)
        let readBack = try ChildProcess.run(
            "/usr/bin/env",
            ["python3", script, format, scratch.file("dump.\(format)")]
        )
        try #require(readBack.status == 0, "\(readBack)")
        #expect(readBack.standardOutput == tsv.standardOutput)
    }

    @Test("keys with quotes, commas, line breaks, control bytes and invalid UTF-8 stay valid CSV and JSON")
    func awkwardKeys() throws {
        let keys: [[UInt8]] = [
            Array("plain".utf8), Array("com,ma".utf8), Array("quo\"te".utf8), Array("line\nbreak".utf8),
            Array("cr\rlf".utf8), Array("back\\slash".utf8), [0x01, 0x1F], [0xFF, 0x61], Array("naïve".utf8),
        ]
        var csv: [UInt8] = []
        var json: [UInt8] = Array("[".utf8)
        for (index, key) in keys.enumerated() {
            DumpWriter.appendCSVField(key, to: &csv)
            csv += [0x0D, 0x0A]
            if index > 0 { json.append(UInt8(ascii: ",")) }
            key.withUnsafeBytes { DumpWriter.appendJSONString($0, to: &json) }
        }
        json += Array("]".utf8)
        let scratch = try TemporaryDirectory("formats-keys")
        defer { scratch.remove() }
        try scratch.write("keys.csv", csv)
        try scratch.write("keys.json", json)
        let script = try scratch.write(
            "check.py",
            """
            import csv, json, sys
            rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8", errors="surrogateescape")))
            print(json.dumps([r[0] for r in rows]))
            print(json.dumps(json.load(open(sys.argv[2], encoding="utf-8"))))
            """
        )
        let result = try ChildProcess.run(
            "/usr/bin/env",
            ["python3", script, scratch.file("keys.csv"), scratch.file("keys.json")]
        )
        try #require(result.status == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n")
        let expectedCSV =
            #"["plain", "com,ma", "quo\"te", "line\nbreak", "cr\rlf", "back\\slash", "\u0001\u001f", "\udcffa", "na\u00efve"]"#
        let expectedJSON =
            #"["plain", "com,ma", "quo\"te", "line\nbreak", "cr\rlf", "back\\slash", "\u0001\u001f", "\ufffda", "na\u00efve"]"#
        #expect(lines.count == 2)
        #expect(lines.first.map(String.init) == expectedCSV)
        #expect(lines.last.map(String.init) == expectedJSON)
    }

    @Test(
        "a reader that goes away ends the program at once: status 141, nothing on stderr, no worker left",
        arguments: ["tsv", "csv", "json", "jsonl"]
    )
    func closedPipe(format: String) throws {
        // The mark is in the environment of mapreduce and its workers only: after the pipeline, any process
        // that still carries it outlived the job.
        let script = """
            MARK=$$-$RANDOM
            MR_TEST_MARK=$MARK "$MR" wordcount --workers 2 --format \(format) --output - '\(TestEnvironment.corpus)' \
                | head -n 2 > /dev/null
            status=${PIPESTATUS[0]}
            for attempt in 1 2 3 4 5 6 7 8 9 10; do
                left=$(grep -lsx "MR_TEST_MARK=$MARK" --null-data /proc/[0-9]*/environ)
                [ -z "$left" ] && break
                sleep 0.2
            done
            [ -n "$left" ] && echo "left behind: $left" >&2
            exit $status
            """
        let result = try ChildProcess.run("/bin/bash", ["-c", script], environment: ["MR": TestEnvironment.binary])
        #expect(result.status == 141, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
    }

    @Test("an unknown format is a usage error")
    func unknownFormat() throws {
        let result = try TestEnvironment.mapreduce(["wordcount", "--format", "xml", TestEnvironment.corpus])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--format must be one of tsv, csv, json, jsonl, not 'xml'."))
    }
}
