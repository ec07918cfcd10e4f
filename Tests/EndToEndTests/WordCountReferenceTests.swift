import MapReduceTestSupport
import Testing

/// The dump and the top table of `mapreduce wordcount` are byte-identical to the Python reference's.
@Suite("Word count matches the Python reference", .enabled(if: TestEnvironment.hasPython, "needs python3"))
struct WordCountReferenceTests {
    /// Runs both on `paths` and compares the dump and standard output byte for byte.
    func expectIdentical(
        _ paths: [String],
        mapreduceFlags: [String],
        pythonFlags: [String] = [],
        top: Int = 20,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let scratch = try TemporaryDirectory("reference")
        defer { scratch.remove() }
        let expected = try TestEnvironment.pythonWordCount(
            ["--output", scratch.file("python.tsv"), "--top", "\(top)"] + pythonFlags + paths
        )
        try #require(expected.status == 0, "python reference failed: \(expected)", sourceLocation: sourceLocation)
        let actual = try TestEnvironment.mapreduce(
            ["wordcount", "--output", scratch.file("swift.tsv"), "--top", "\(top)"] + mapreduceFlags + paths
        )
        try #require(actual.status == 0, "mapreduce failed: \(actual)", sourceLocation: sourceLocation)
        let expectedDump = try Files.read(scratch.file("python.tsv"))
        let actualDump = try Files.read(scratch.file("swift.tsv"))
        #expect(!expectedDump.isEmpty || paths.isEmpty, sourceLocation: sourceLocation)
        if actualDump != expectedDump {
            let expectedLines = Set(String(decoding: expectedDump, as: UTF8.self).split(separator: "\n"))
            let actualLines = Set(String(decoding: actualDump, as: UTF8.self).split(separator: "\n"))
            let missing = expectedLines.subtracting(actualLines).sorted().prefix(10)
            let extra = actualLines.subtracting(expectedLines).sorted().prefix(10)
            Issue.record(
                "dumps differ: missing \(Array(missing)), unexpected \(Array(extra))",
                sourceLocation: sourceLocation
            )
        }
        #expect(actual.stdout == expected.stdout, sourceLocation: sourceLocation)
    }

    @Test(
        "the Fixtures corpus",
        arguments: [
            ["--workers", "1"], ["--workers", "2"], ["--workers", "2", "--chunksize", "4K"],
            ["--workers", "3", "--chunksize", "1M", "--reduce-chunksize", "100"],
            // A table budget far below the corpus's vocabulary: workers spill in mid-task, many times.
            ["--workers", "2", "--chunksize", "256K", "--worker-memory", "1M"],
        ]
    )
    func fixtureCorpus(flags: [String]) throws {
        try self.expectIdentical([TestEnvironment.corpus], mapreduceFlags: flags)
    }

    @Test("the hand-written adversarial fixtures", arguments: ["auto", "1", "7", "64", "1000"])
    func adversarialFixtures(chunksize: String) throws {
        try self.expectIdentical(
            ["\(TestEnvironment.fixtures)/adversarial"],
            mapreduceFlags: ["--workers", "2", "--chunksize", chunksize],
            top: 50
        )
    }

    @Test("generated ASCII corpora", arguments: [1, 2, 3] as [UInt64])
    func generatedASCII(seed: UInt64) throws {
        let scratch = try TemporaryDirectory("ascii")
        defer { scratch.remove() }
        try AdversarialCorpus.writeTree(into: scratch, seed: seed, unicode: false)
        for chunksize in ["auto", "333", "8K"] {
            try self.expectIdentical(
                [scratch.file("tree")],
                mapreduceFlags: ["--workers", "2", "--chunksize", chunksize],
                top: 30
            )
        }
    }

    @Test("generated Unicode corpora", arguments: [11, 12, 13, 14] as [UInt64])
    func generatedUnicode(seed: UInt64) throws {
        let scratch = try TemporaryDirectory("unicode")
        defer { scratch.remove() }
        try AdversarialCorpus.writeTree(into: scratch, seed: seed, unicode: true)
        for chunksize in ["auto", "501", "16K"] {
            try self.expectIdentical(
                [scratch.file("tree")],
                mapreduceFlags: ["--workers", "2", "--chunksize", chunksize],
                top: 30
            )
        }
    }

    @Test("one huge line and one huge token")
    func hugeLine() throws {
        let scratch = try TemporaryDirectory("huge")
        defer { scratch.remove() }
        var line = AdversarialCorpus.text(seed: 5, size: 3_000_000, unicode: true).map {
            $0 == 0x0A || $0 == 0x0D ? 0x20 : $0
        }
        line += Array(repeating: UInt8(ascii: "Q"), count: 2_000_000)
        try scratch.write("line.txt", line)
        // Long lines are cut into pieces that different workers count; one that starts with '..'
        // after Unicode whitespace is skipped in every piece.
        let skipped = Array("\u{3000} ..".utf8) + line.prefix(1_000_000) + Array("\r\nkept words\n".utf8)
        try scratch.write("skipped.txt", skipped)
        for chunksize in ["64K", "auto"] {
            try self.expectIdentical(
                [scratch.file("line.txt"), scratch.file("skipped.txt")],
                mapreduceFlags: ["--workers", "2", "--chunksize", chunksize]
            )
        }
    }

    @Test("invalid UTF-8 read with --invalid-utf8 replace")
    func invalidReplaced() throws {
        let scratch = try TemporaryDirectory("replace")
        defer { scratch.remove() }
        var bytes = Array("good words here\nbad\u{FF}word and caf".utf8)
        bytes += [0xC3]  // a truncated é
        bytes += Array(" more\n\u{E2}\u{82} half euro then text\n..skipped \u{FF} line\nend \u{F0}\u{9F} x\n".utf8)
        bytes += [0xED, 0xA0, 0x80] + Array(" surrogate ok\n".utf8)
        bytes += [0xC0, 0xAF] + Array(" overlong\n".utf8)
        try scratch.write("bad.txt", bytes)
        try self.expectIdentical(
            [scratch.file("bad.txt")],
            mapreduceFlags: ["--invalid-utf8", "replace"],
            pythonFlags: ["--invalid-utf8", "replace"]
        )
    }
}
