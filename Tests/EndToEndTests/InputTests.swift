import MapReduceTestSupport
import Testing

/// Inputs the user can give, good and bad: every bad one gets one clear line, a non-zero exit, and no
/// output file.
@Suite("Inputs")
struct InputTests {
    /// Runs `mapreduce wordcount --output … arguments` and expects a failure that writes nothing.
    func expectFailure(
        _ arguments: [String],
        mentioning fragments: [String],
        status: Int32 = 1,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let scratch = try TemporaryDirectory("bad-input")
        defer { scratch.remove() }
        let output = scratch.file("out.tsv")
        let result = try TestEnvironment.mapreduce(["wordcount", "--output", output] + arguments)
        #expect(result.status == status, "\(result)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "expected one line on stderr: \(result.stderr)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(
                result.stderr.contains(fragment),
                "stderr lacks \(fragment): \(result.stderr)",
                sourceLocation: sourceLocation
            )
        }
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(
            Files.list(scratch.path).isEmpty,
            "something was written: \(Files.list(scratch.path))",
            sourceLocation: sourceLocation
        )
    }

    @Test("a missing path")
    func missingPath() throws {
        try self.expectFailure(["/nonexistent/words.txt"], mentioning: ["/nonexistent/words.txt", "no such file"])
    }

    @Test("a dangling symbolic link")
    func danglingLink() throws {
        let scratch = try TemporaryDirectory("dangling")
        defer { scratch.remove() }
        _ = try ChildProcess.run("/bin/ln", ["-s", scratch.file("gone.txt"), scratch.file("link.txt")])
        try self.expectFailure([scratch.file("link.txt")], mentioning: ["link.txt", "dangling symbolic link"])
        // Inside a directory too: no file may be skipped silently.
        try scratch.write("dir/real.txt", "some words\n")
        _ = try ChildProcess.run("/bin/ln", ["-s", scratch.file("gone.txt"), scratch.file("dir/broken.txt")])
        try self.expectFailure([scratch.file("dir")], mentioning: ["broken.txt", "dangling symbolic link"])
    }

    @Test("a directory with no files")
    func emptyDirectory() throws {
        let scratch = try TemporaryDirectory("empty-dir")
        defer { scratch.remove() }
        _ = try ChildProcess.run("/bin/mkdir", ["-p", scratch.file("nothing/inside")])
        try self.expectFailure([scratch.file("nothing")], mentioning: ["nothing", "no files"])
    }

    @Test(
        "an unreadable file",
        .enabled(if: (try? ChildProcess.run("/usr/bin/setpriv", ["--help"]).status) == 0, "needs setpriv")
    )
    func unreadableFile() throws {
        let scratch = try TemporaryDirectory("unreadable")
        defer { scratch.remove() }
        let secret = try scratch.write("secret.txt", "hidden words\n")
        _ = try ChildProcess.run("/bin/chmod", ["0000", secret])
        _ = try ChildProcess.run("/bin/chmod", ["0777", scratch.path])
        // Root reads anything, so run as nobody; the binary's directories must be searchable for that user.
        let result = try ChildProcess.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.binary, "wordcount", secret]
        )
        try #require(result.status != 126 && result.status != 127, "user nobody cannot run the binary: \(result)")
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr.contains("secret.txt") && result.stderr.lowercased().contains("permission denied"),
            "\(result)"
        )
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test("invalid UTF-8 names the file and the byte offset")
    func invalidUTF8() throws {
        let scratch = try TemporaryDirectory("invalid")
        defer { scratch.remove() }
        var bytes = Array(String(repeating: "fine words on a line\n", count: 1000).utf8)
        bytes += Array("caf\u{E9} s".utf8)
        let offset = bytes.count
        bytes += [0xFF] + Array(" rest\n".utf8)
        let path = try scratch.write("binary.txt", bytes)
        try self.expectFailure([path], mentioning: ["binary.txt", "invalid UTF-8", "byte offset \(offset)"])
    }

    @Test("invalid UTF-8 inside a skipped '..' line is still an error, as in Python")
    func invalidUTF8InSkippedLine() throws {
        let scratch = try TemporaryDirectory("invalid-skip")
        defer { scratch.remove() }
        let path = try scratch.write("skip.txt", Array("words\n.. comment ".utf8) + [0xC3, 0x28] + Array("\n".utf8))
        try self.expectFailure([path], mentioning: ["skip.txt", "byte offset 17"])
    }

    @Test("binary data is refused, not counted")
    func binaryData() throws {
        let scratch = try TemporaryDirectory("binary")
        defer { scratch.remove() }
        var random = SeededGenerator(seed: 7)
        let path = try scratch.write("data.bin", (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) })
        try self.expectFailure([path], mentioning: ["data.bin", "invalid UTF-8"])
    }

    @Test("an output file in a directory that does not exist fails before any work")
    func unwritableOutput() throws {
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--output", "/nonexistent/dir/out.tsv", TestEnvironment.corpus]
        )
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/dir/out.tsv"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test("bad flags are usage errors")
    func badFlags() throws {
        for arguments in [
            ["--workers", "0"], ["--chunksize", "huge"], ["--top", "-1"], ["--invalid-utf8", "ignore"],
        ] {
            let result = try TestEnvironment.mapreduce(["wordcount"] + arguments + [TestEnvironment.corpus])
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("standard input, piped or named '-'", .enabled(if: TestEnvironment.hasPython, "needs python3"))
    func standardInput() throws {
        let text = AdversarialCorpus.text(seed: 21, size: 200_000, unicode: true)
        let scratch = try TemporaryDirectory("stdin")
        defer { scratch.remove() }
        let file = try scratch.write("input.txt", text)
        let expected = try TestEnvironment.pythonWordCount([file])
        let piped = try TestEnvironment.mapreduce(["wordcount", "--workers", "2"], standardInput: text)
        let dashed = try TestEnvironment.mapreduce(["wordcount", "-"], standardInput: text)
        #expect(piped.status == 0 && dashed.status == 0, "\(piped)\n\(dashed)")
        #expect(piped.stdout == expected.stdout)
        #expect(dashed.stdout == expected.stdout)
    }

    @Test("an empty input counts nothing and succeeds")
    func emptyInput() throws {
        let scratch = try TemporaryDirectory("empty")
        defer { scratch.remove() }
        let file = try scratch.write("empty.txt", [])
        let result = try TestEnvironment.mapreduce(["wordcount", "--output", scratch.file("out.tsv"), file])
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(scratch.file("out.tsv")).isEmpty)
        #expect(result.stdout == "\nTOP 20 WORDS BY FREQUENCY\n\n")
    }
}
