import MapReduceTestSupport
import Testing

/// `--format csv|json|jsonl` for `index` and `logs`: each format, read back by Python's own parsers,
/// holds exactly the rows of the TSV dump of the same input, parsed into the same structure.
@Suite("Index and logs dump formats", .enabled(if: TestEnvironment.hasPython, "needs python3"))
struct JobOutputFormatTests {
    /// Reads an index dump (`tsv`, the job's escaped text, or `csv`, `json`, `jsonl`) and prints it as
    /// JSON: `[[word, [[file, count], ...]], ...]`, in the dump's order.
    static let indexReader = #"""
        import csv, json, re, sys
        fmt, path = sys.argv[1], sys.argv[2]

        def unescape(name):
            name = re.sub("%(25|2C|3A)", lambda m: {"25": "%", "2C": ",", "3A": ":"}[m.group(1)], name)
            raw, out, i = name.encode("utf-8"), bytearray(), 0
            while i < len(raw):
                if raw[i] == 0x5C and raw[i + 1] == ord("x"):
                    out.append(int(raw[i + 2:i + 4], 16))
                    i += 4
                elif raw[i] == 0x5C:
                    out += {ord("\\"): b"\\", ord("t"): b"\t", ord("n"): b"\n", ord("r"): b"\r"}[raw[i + 1]]
                    i += 2
                else:
                    out.append(raw[i])
                    i += 1
            return out.decode("utf-8")

        def counted(count):
            assert type(count) is int, repr(count)
            return count

        words = []
        if fmt == "tsv":
            text = open(path, "rb").read().decode("utf-8")
            for line in text.split("\n")[:-1]:
                word, files = line.split("\t")
                entries = [entry.rsplit(":", 1) for entry in files.split(",")]
                words.append([word, [[unescape(name), int(count)] for name, count in entries]])
        elif fmt == "csv":
            with open(path, newline="", encoding="utf-8") as f:
                raw = f.read()
            assert raw.startswith("word,file,count\r\n") and raw.endswith("\r\n"), "rows must end with CRLF"
            rows = list(csv.reader(raw.splitlines(keepends=True)))
            assert rows[0] == ["word", "file", "count"], rows[0]
            for word, name, count in rows[1:]:
                if not words or words[-1][0] != word:
                    words.append([word, []])
                words[-1][1].append([name, int(count)])
        elif fmt == "json":
            with open(path, encoding="utf-8") as f:
                pairs = json.load(f, object_pairs_hook=lambda members: members)
            for word, files in pairs:
                words.append([word, [[name, counted(count)] for name, count in files]])
        else:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    members = json.loads(line, object_pairs_hook=lambda members: members)
                    assert [name for name, _ in members] == ["word", "files"], members
                    word, files = members[0][1], members[1][1]
                    words.append([word, [[name, counted(count)] for name, count in files]])
        print(json.dumps(words))
        """#

    /// Reads a logs dump and prints it as JSON: `[[kind, key, {field: number}], ...]`, in the dump's order.
    static let logsReader = #"""
        import csv, json, sys
        fmt, path = sys.argv[1], sys.argv[2]
        columns = ["kind", "key", "requests", "bytes", "clients", "lines"]

        def numbers(fields):
            assert all(type(value) is int for value in fields.values()), fields
            return fields

        rows = []
        if fmt == "tsv":
            for line in open(path, encoding="utf-8").read().split("\n")[:-1]:
                f = line.split("\t")
                names = ["lines"] if f[0] == "malformed" else ["requests", "bytes", "clients"]
                assert len(f) == 2 + len(names), f
                rows.append([f[0], f[1], dict(zip(names, map(int, f[2:])))])
        elif fmt == "csv":
            with open(path, newline="", encoding="utf-8") as f:
                raw = f.read()
            assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", ""), "rows must end with CRLF"
            table = list(csv.reader(raw.splitlines(keepends=True)))
            assert table[0] == columns, table[0]
            for r in table[1:]:
                rows.append([r[0], r[1], {name: int(v) for name, v in zip(columns[2:], r[2:]) if v != ""}])
        elif fmt == "json":
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
            for kind, keys in report.items():
                for key, fields in keys.items():
                    rows.append([kind, key, numbers(fields)])
        else:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    fields = json.loads(line)
                    kind, key = fields.pop("kind"), fields.pop("key")
                    assert type(key) is str, key
                    rows.append([kind, key, numbers(fields)])
        print(json.dumps(rows, sort_keys=True))
        """#

    /// Runs `reader` on `path` read as `format`; returns what it printed.
    static func readBack(
        _ reader: String,
        _ format: String,
        _ path: String,
        scratch: TemporaryDirectory
    ) throws -> String {
        let script = try scratch.write("read.py", reader)
        let result = try ChildProcess.run("/usr/bin/env", ["python3", script, format, path])
        try #require(result.status == 0, "\(result)")
        return result.stdout
    }

    /// A tree whose file names need quoting in CSV and escaping in JSON: a comma, a double quote, a line
    /// feed, a colon, a percent sign, a backslash and a byte that is not UTF-8.
    static func awkwardTree(in scratch: TemporaryDirectory) throws -> String {
        let tree = scratch.file("tree")
        _ = mkdir(tree, 0o700)
        let names: [[UInt8]] = [
            Array("com,ma.txt".utf8), Array("quo\"te.txt".utf8), Array("new\nline.txt".utf8),
            Array("c:50%.txt".utf8), Array("back\\slash.txt".utf8), Array("caf".utf8) + [0xE9] + Array(".txt".utf8),
            Array("plain.txt".utf8),
        ]
        for (index, name) in names.enumerated() {
            let text = String(repeating: "alpha beta \(index) gamma\n", count: index + 1) + "only\(index)x Word\n"
            try Files.write(rawPath: Array("\(tree)/".utf8) + name, Array(text.utf8))
        }
        return tree
    }

    @Test(
        "index: each format read back by Python gives the TSV dump's words, files and counts",
        arguments: [
            "csv", "json", "jsonl",
        ]
    )
    func indexFormats(format: String) throws {
        let scratch = try TemporaryDirectory("index-formats")
        defer { scratch.remove() }
        let inputs = [try Self.awkwardTree(in: scratch), TestEnvironment.corpus]
        let tsv = try TestEnvironment.mapreduce(["index", "--quiet", "--output", scratch.file("dump.tsv")] + inputs)
        try #require(tsv.status == 0, "\(tsv)")
        let written = try TestEnvironment.mapreduce(
            ["index", "--quiet", "--workers", "2", "--format", format, "--output", scratch.file("dump.\(format)")]
                + inputs
        )
        try #require(written.status == 0, "\(written)")
        let expected = try Self.readBack(Self.indexReader, "tsv", scratch.file("dump.tsv"), scratch: scratch)
        let actual = try Self.readBack(Self.indexReader, format, scratch.file("dump.\(format)"), scratch: scratch)
        #expect(actual == expected)
        // The names arrive as they are (json.dumps escapes them again), not as the TSV's %-escapes.
        for name in [#"/com,ma.txt""#, #"/quo\"te.txt""#, #"/new\nline.txt""#, #"/c:50%.txt""#, #"/caf\\xe9.txt""#] {
            #expect(expected.contains(name), "\(name) missing from \(expected.prefix(2000))")
        }
        #expect(expected.contains(#"["alpha", ["#))
    }

    @Test("logs: each format read back by Python gives the TSV dump's rows", arguments: ["csv", "json", "jsonl"])
    func logsFormats(format: String) throws {
        let scratch = try TemporaryDirectory("logs-formats")
        defer { scratch.remove() }
        let logs = "\(TestEnvironment.fixtures)/logs"
        let tsv = try TestEnvironment.mapreduce(["logs", "--quiet", "--output", scratch.file("dump.tsv"), logs])
        try #require(tsv.status == 0, "\(tsv)")
        let written = try TestEnvironment.mapreduce(
            ["logs", "--quiet", "--workers", "2", "--format", format, "--output", scratch.file("dump.\(format)"), logs]
        )
        try #require(written.status == 0, "\(written)")
        let expected = try Self.readBack(Self.logsReader, "tsv", scratch.file("dump.tsv"), scratch: scratch)
        let actual = try Self.readBack(Self.logsReader, format, scratch.file("dump.\(format)"), scratch: scratch)
        #expect(actual == expected)
        for kind in [#"["status", "200", {"#, #"["hour", "#, #"["malformed", "#] {
            #expect(expected.contains(kind), "no \(kind) row in \(expected.prefix(2000))")
        }
    }

    @Test("logs --format json --output - writes the JSON alone on standard output")
    func logsJSONToStandardOutput() throws {
        let scratch = try TemporaryDirectory("logs-json-stdout")
        defer { scratch.remove() }
        let logs = "\(TestEnvironment.fixtures)/logs"
        let piped = try TestEnvironment.mapreduce(["logs", "--format", "json", "--output", "-", logs])
        try #require(piped.status == 0, "\(piped)")
        let written = try TestEnvironment.mapreduce(
            ["logs", "--quiet", "--format", "json", "--output", scratch.file("dump.json"), logs]
        )
        try #require(written.status == 0, "\(written)")
        #expect(piped.standardOutput == (try Files.read(scratch.file("dump.json"))))
        try scratch.write("piped.json", piped.standardOutput)
        let rows = try Self.readBack(Self.logsReader, "json", scratch.file("piped.json"), scratch: scratch)
        #expect(rows.hasPrefix(#"[["status", "#), "\(rows.prefix(200))")
        #expect(!piped.stdout.contains("REQUESTS BY STATUS"))
    }

    @Test("an unknown format is a usage error naming the formats", arguments: ["index", "logs"])
    func unknownFormat(job: String) throws {
        let result = try TestEnvironment.mapreduce([job, "--format", "xml", TestEnvironment.corpus])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--format must be one of tsv, csv, json, jsonl, not 'xml'."), "\(result)")
        #expect(result.stdout.isEmpty)
    }
}
