import MapReduceTestSupport
import Testing

/// `mapreduce streaming map|combine|reduce`: Unix pipelines of the real binary give the local dump, and
/// input that breaks the contract is a one-line error.
@Suite("Streaming steps")
struct StreamingTests {
    /// Runs a bash pipeline with `$MR` set to the binary; `pipefail`, so any step's failure shows.
    func pipeline(_ script: String, input: [UInt8]? = nil) throws -> ProcessResult {
        try ChildProcess.run(
            "/bin/bash",
            ["-c", "set -o pipefail; export LC_ALL=C; \(script)"],
            environment: ["MR": TestEnvironment.binary],
            standardInput: input
        )
    }

    /// The local dump of `wordcount` on `paths`.
    func localDump(_ paths: [String], flags: [String] = [], in scratch: TemporaryDirectory) throws -> [UInt8] {
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", scratch.file("local.tsv")] + flags + paths
        )
        try #require(result.status == 0, "local run failed: \(result)")
        return try Files.read(scratch.file("local.tsv"))
    }

    static let shapes = [
        // The README's pipeline.
        "cat $FILES | \"$MR\" streaming map wordcount $JOB | sort | \"$MR\" streaming reduce wordcount",
        // A combiner step on sorted map output, as Hadoop runs it.
        "cat $FILES | \"$MR\" streaming map wordcount $JOB | sort | \"$MR\" streaming combine wordcount "
            + "| \"$MR\" streaming reduce wordcount",
        // Several map tasks (one per file), each combined, then one sort: a shuffle in miniature.
        "for f in $FILES; do \"$MR\" streaming map wordcount $JOB < \"$f\" | \"$MR\" streaming combine wordcount; "
            + "done | sort | \"$MR\" streaming reduce wordcount",
        // A map table far smaller than the vocabulary: it is written out many times.
        "cat $FILES | \"$MR\" streaming map wordcount --worker-memory 1M $JOB | sort | \"$MR\" streaming reduce wordcount",
    ]

    func expectPipelinesMatchLocal(files: [String], flags: [String] = []) throws {
        let scratch = try TemporaryDirectory("streaming")
        defer { scratch.remove() }
        let expected = try self.localDump(files, flags: flags, in: scratch)
        #expect(!expected.isEmpty)
        // The paths are the test's own: no spaces, no quotes.
        let fileList = files.joined(separator: " ")
        for shape in Self.shapes {
            let script = "FILES='\(fileList)'; JOB='\(flags.joined(separator: " "))'; \(shape)"
            let result = try self.pipeline(script)
            try #require(result.status == 0, "\(shape): \(result)")
            #expect(result.standardOutput == expected, "\(shape) differs from the local dump")
            #expect(result.standardError.isEmpty, "\(shape): \(result)")
        }
    }

    @Test("the Fixtures corpus gives the local dump byte for byte")
    func fixtureCorpus() throws {
        let files = Files.list(TestEnvironment.corpus).sorted().map { "\(TestEnvironment.corpus)/\($0)" }
        try self.expectPipelinesMatchLocal(files: files)
    }

    @Test("a generated Unicode corpus with every line ending gives the local dump", arguments: ["strict", "replace"])
    func unicodeCorpus(mode: String) throws {
        let scratch = try TemporaryDirectory("streaming-unicode")
        defer { scratch.remove() }
        let files = try (0..<3).map { index in
            try scratch.write(
                "part\(index).txt",
                AdversarialCorpus.text(seed: 41 + UInt64(index), size: 600_000, unicode: true, finalNewline: index != 2)
            )
        }
        try self.expectPipelinesMatchLocal(files: files, flags: ["--invalid-utf8", mode])
    }

    @Test("the adversarial fixtures give the local dump")
    func adversarialFixtures() throws {
        let directory = "\(TestEnvironment.fixtures)/adversarial"
        let files = Files.list(directory).sorted().map { "\(directory)/\($0)" }
        try self.expectPipelinesMatchLocal(files: files)
    }

    @Test(
        "invalid UTF-8 fails the map step in strict mode with one line naming the offset, and is read in replace mode"
    )
    func invalidUTF8() throws {
        var bytes = Array("good words here\nbad ".utf8)
        bytes += [0xFF]
        bytes += Array(" byte\n".utf8)
        let strict = try TestEnvironment.mapreduce(["streaming", "map", "wordcount"], standardInput: bytes)
        #expect(strict.status == 1)
        let lines = strict.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(strict)")
        #expect(strict.stderr.contains("mapreduce: <stdin>"))
        #expect(strict.stderr.contains("invalid UTF-8"))
        #expect(strict.stderr.contains("--invalid-utf8 replace"))
        let replace = try TestEnvironment.mapreduce(
            ["streaming", "map", "wordcount", "--invalid-utf8", "replace"],
            standardInput: bytes
        )
        #expect(replace.status == 0, "\(replace)")
        #expect(replace.stdout == "bad\t1\nbyte\t1\ngood\t1\nhere\t1\nwords\t1\n")
    }

    @Test(
        "the reduce step refuses input that breaks the contract, naming the line",
        arguments: [
            ("b\t1\na\t2\n", "line 2 is out of order"),
            ("a\t1\nb\t2\na\t3\n", "line 3 is out of order"),
            ("a 1\n", "line 1 has no tab"),
            ("a\tone\n", "line 1 has a bad value: 'one' is not a decimal Int"),
            ("a\t01\n", "line 1 has a bad value"),
            ("a\t99999999999999999999\n", "line 1 has a bad value"),
            ("\\x41\t1\n", "line 1 has a bad key"),
            ("a\\q\t1\n", "line 1 has a bad key: malformed escaped text: unknown escape"),
            ("\u{1}\t1\n", "line 1 has a bad key"),
        ]
    )
    func reduceRefuses(input: String, message: String) throws {
        let result = try TestEnvironment.mapreduce(
            ["streaming", "reduce", "wordcount"],
            standardInput: Array(input.utf8)
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("mapreduce: <stdin>: \(message)"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test("binary garbage on the reduce step is an error, not a crash")
    func reduceGarbage() throws {
        var random = SeededGenerator(seed: 7)
        let garbage = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let result = try TestEnvironment.mapreduce(["streaming", "reduce", "wordcount"], standardInput: garbage)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("mapreduce: <stdin>: line "), "\(result)")
    }

    @Test("the combine step keeps order, combines runs of equal keys, and needs no sorted input")
    func combineRuns() throws {
        let result = try TestEnvironment.mapreduce(
            ["streaming", "combine", "wordcount"],
            standardInput: Array("b\t1\nb\t2\na\t3\nb\t4\r\nb\t5".utf8)
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "b\t3\na\t3\nb\t9\n")
    }

    @Test("a line longer than --max-record is an error that says where it starts and how to raise the limit")
    func longLine() throws {
        let input = Array("short line\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 3 << 20) + [0x0A]
        let result = try TestEnvironment.mapreduce(
            ["streaming", "map", "wordcount", "--max-record", "1M"],
            standardInput: input
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("mapreduce: <stdin>:11: a line longer than 1 MiB"), "\(result)")
        #expect(result.stderr.contains("--max-record"))
        let raised = try TestEnvironment.mapreduce(
            ["streaming", "map", "wordcount", "--max-record", "4M"],
            standardInput: input
        )
        #expect(raised.status == 0, "\(raised)")
        #expect(raised.stdout.hasSuffix("short\t1\n"))
    }

    @Test("an unknown job or a bad job option is a usage error")
    func usage() throws {
        let unknown = try TestEnvironment.mapreduce(["streaming", "map", "nosuch"], standardInput: [])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("No job named 'nosuch'; the jobs are: wordcount"))
        let bad = try TestEnvironment.mapreduce(
            ["streaming", "map", "wordcount", "--invalid-utf8", "maybe"],
            standardInput: []
        )
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--invalid-utf8 must be 'strict' or 'replace'"))
    }

    @Test("empty input gives empty output on every step")
    func emptyInput() throws {
        for step in ["map", "combine", "reduce"] {
            let result = try TestEnvironment.mapreduce(["streaming", step, "wordcount"], standardInput: [])
            #expect(result.status == 0, "\(step): \(result)")
            #expect(result.standardOutput.isEmpty)
        }
    }
}
