import MapReduceTestSupport
import Testing

/// Runs `mapreduce JOB` and its Python reference on the same inputs, and compares the dumps and the
/// tables byte for byte.
func expectSameAsReference(
    job: String,
    reference: String,
    _ paths: [String],
    flags: [String],
    referenceFlags: [String] = [],
    scratch: TemporaryDirectory,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let pythonDump = scratch.file("python-\(job).tsv")
    let swiftDump = scratch.file("swift-\(job).tsv")
    let expected = try TestEnvironment.python(reference, ["--output", pythonDump] + referenceFlags + paths)
    try #require(expected.status == 0, "python reference failed: \(expected)", sourceLocation: sourceLocation)
    let actual = try TestEnvironment.mapreduce([job, "--output", swiftDump] + flags + paths)
    try #require(actual.status == 0, "mapreduce failed: \(actual)", sourceLocation: sourceLocation)
    let expectedDump = try Files.read(pythonDump)
    let actualDump = try Files.read(swiftDump)
    #expect(!expectedDump.isEmpty, sourceLocation: sourceLocation)
    if actualDump != expectedDump {
        let expectedLines = Set(String(decoding: expectedDump, as: UTF8.self).split(separator: "\n"))
        let actualLines = Set(String(decoding: actualDump, as: UTF8.self).split(separator: "\n"))
        let missing = expectedLines.subtracting(actualLines).sorted().prefix(5)
        let extra = actualLines.subtracting(expectedLines).sorted().prefix(5)
        Issue.record(
            "dumps differ: missing \(Array(missing)), unexpected \(Array(extra))",
            sourceLocation: sourceLocation
        )
    }
    #expect(actual.stdout == expected.stdout, sourceLocation: sourceLocation)
}

/// Writes a generated access log of about `size` bytes.
func generateAccessLog(_ path: String, seed: Int, size: Int, malformed: Double = 0.02) throws {
    let result = try TestEnvironment.python(
        "Scripts/generate-access-logs.py",
        ["--seed", "\(seed)", "--size", "\(size)", "--malformed", "\(malformed)", path]
    )
    guard result.status == 0 else { throw POSIXFailure("the log generator failed: \(result)") }
}

@Suite(
    "The index and logs jobs match their Python references",
    .enabled(if: TestEnvironment.hasPython, "needs python3")
)
struct JobReferenceTests {
    static let localFlags: [[String]] = [
        ["--workers", "1"], ["--workers", "2"], ["--workers", "2", "--chunksize", "1"],
        ["--workers", "2", "--chunksize", "64K", "--worker-memory", "1M", "--reduce-chunksize", "50"],
    ]

    @Test("index of the Fixtures corpus and the adversarial fixtures", arguments: localFlags)
    func indexFixtures(flags: [String]) throws {
        let scratch = try TemporaryDirectory("index")
        defer { scratch.remove() }
        try expectSameAsReference(
            job: "index",
            reference: "Fixtures/reference/index.py",
            [TestEnvironment.corpus, "\(TestEnvironment.fixtures)/adversarial"],
            flags: flags + ["--top", "30"],
            referenceFlags: ["--top", "30"],
            scratch: scratch
        )
    }

    @Test("index of many files whose names need escaping, cut in small tasks")
    func indexNames() throws {
        let scratch = try TemporaryDirectory("index-names")
        defer { scratch.remove() }
        let tree = scratch.file("tree")
        _ = mkdir(tree, 0o700)
        _ = mkdir("\(tree)/sub dir", 0o700)
        let names = ["a,b.txt", "c:d.txt", "50%.txt", "tab\there.txt", "é.txt", "sub dir/x.txt", "z.txt"]
        for (index, name) in names.enumerated() {
            let text =
                String(repeating: "alpha beta gamma \(index) delta\n", count: index + 1)
                + "Unique\(String(UnicodeScalar(UInt8(97 + index))))word ÉCOLE École\n"
            try Files.write("\(tree)/\(name)", Array(text.utf8))
        }
        try expectSameAsReference(
            job: "index",
            reference: "Fixtures/reference/index.py",
            [tree],
            flags: ["--workers", "2"],
            scratch: scratch
        )
        let dump = String(decoding: try Files.read(scratch.file("swift-index.tsv")), as: UTF8.self)
        #expect(dump.contains("/a%2Cb.txt:1,"), "\(dump)")
        #expect(dump.contains("/c%3Ad.txt:2,"), "\(dump)")
        #expect(dump.contains("/tab\\there.txt:"), "\(dump)")
    }

    @Test("logs of the committed fixture", arguments: localFlags)
    func logsFixture(flags: [String]) throws {
        let scratch = try TemporaryDirectory("logs")
        defer { scratch.remove() }
        try expectSameAsReference(
            job: "logs",
            reference: "Fixtures/reference/logs.py",
            ["\(TestEnvironment.fixtures)/logs"],
            flags: flags,
            scratch: scratch
        )
    }

    @Test("logs of generated logs, several files, many malformed lines", arguments: [2, 3])
    func logsGenerated(seed: Int) throws {
        let scratch = try TemporaryDirectory("logs-generated")
        defer { scratch.remove() }
        let directory = scratch.file("logs")
        _ = mkdir(directory, 0o700)
        for part in 0..<3 {
            try generateAccessLog(
                "\(directory)/access-\(part).log",
                seed: seed * 10 + part,
                size: 1_500_000,
                malformed: 0.1
            )
        }
        for flags in [["--workers", "2"], ["--workers", "2", "--chunksize", "64K", "--worker-memory", "1M"]] {
            try expectSameAsReference(
                job: "logs",
                reference: "Fixtures/reference/logs.py",
                [directory],
                flags: flags,
                scratch: scratch
            )
        }
    }

    @Test("malformed lines are summed up on standard error, never fatal; --quiet silences it")
    func malformedSummary() throws {
        let scratch = try TemporaryDirectory("logs-malformed")
        defer { scratch.remove() }
        let log = scratch.file("bad.log")
        try Files.write(
            log,
            Array("garbage\n\u{1}\n127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n".utf8)
        )
        let result = try TestEnvironment.mapreduce(["logs", "--workers", "1", log])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("mapreduce: 2 malformed lines skipped (binary 1, syntax 1)"), "\(result.stderr)")
        #expect(result.stdout.contains("malformed lines: 2 (binary 1, syntax 1)"), "\(result.stdout)")
        #expect(result.stdout.contains("2026-01-01T00:00Z"), "\(result.stdout)")
        let quiet = try TestEnvironment.mapreduce(["logs", "--quiet", "--workers", "1", log])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty && quiet.stdout.isEmpty, "\(quiet)")
    }

    @Test("a file with no access log line in it fails the job in one line, with nothing written")
    func notAnAccessLog() throws {
        let scratch = try TemporaryDirectory("logs-none")
        defer { scratch.remove() }
        let text = scratch.file("notes.txt")
        try Files.write(text, Array("just some notes\n\nand a second line\n\u{1}\n".utf8))
        for extra in [[], ["--quiet"], ["--format", "json"]] {
            let output = scratch.file("report")
            let result = try TestEnvironment.mapreduce(["logs", "--workers", "2", "--output", output, text] + extra)
            #expect(result.status == 1, "\(result)")
            #expect(
                result.stderr == "mapreduce: \(text): not an access log: none of its 3 lines is in the Common or "
                    + "Combined Log Format (binary 1, syntax 2)\n",
                "\(result)"
            )
            #expect(result.stdout.isEmpty, "\(result)")
            #expect(!Files.exists(output))
        }
        let two = try TestEnvironment.mapreduce(["logs", text, text])
        #expect(
            two.stderr == "mapreduce: not access logs: none of the 6 lines of the 2 inputs is in the Common or "
                + "Combined Log Format (binary 2, syntax 4)\n",
            "\(two)"
        )
        // Nothing at all to read is no error: an empty report, as for any other job.
        let empty = scratch.file("empty.log")
        try Files.write(empty, [])
        let none = try TestEnvironment.mapreduce(["logs", empty])
        #expect(none.status == 0 && none.stderr.isEmpty, "\(none)")
        #expect(none.stdout.contains("malformed lines: 0"), "\(none)")
    }
}
