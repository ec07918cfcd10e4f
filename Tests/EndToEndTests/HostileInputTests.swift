import MapReduceTestSupport
import Testing

/// The README's promises under hostile use: outputs that are not plain files, closed and full standard
/// output, streams that never end or never speak, signals, crashing workers and shrinking inputs. Each
/// case checks the exit status, that the error is one line, and that no process, temporary directory or
/// partial output is left behind.
@Suite("Hostile use", .serialized)
struct HostileInputTests {
    static let isRoot = geteuid() == 0

    /// The dump of the fixture corpus, as a plain `--output` writes it.
    static let baselineDump: [UInt8] = {
        guard let scratch = try? TemporaryDirectory("baseline") else { return [] }
        defer { scratch.remove() }
        let result = try? TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", scratch.file("dump.tsv"), TestEnvironment.corpus]
        )
        guard result?.status == 0 else { return [] }
        return (try? Files.read(scratch.file("dump.tsv"))) ?? []
    }()

    /// `scratch/tmp`, created: the job's TMPDIR, so that a test sees every file a job leaves behind.
    static func temporaryDirectory(in scratch: TemporaryDirectory) throws -> String {
        let temporary = scratch.file("tmp")
        _ = try ChildProcess.run("/bin/mkdir", ["-p", temporary])
        return temporary
    }

    /// Runs `mapreduce` through bash, for redirections and umask.
    func shell(_ script: String, environment: [String: String] = [:]) throws -> ProcessResult {
        try ChildProcess.run(
            "/bin/bash",
            ["-c", script],
            environment: ["MR": TestEnvironment.binary].merging(environment) { $1 }
        )
    }

    func mode(_ path: String, followingLinks: Bool = true) -> mode_t {
        var info = stat()
        let result = followingLinks ? stat(path, &info) : lstat(path, &info)
        return result == 0 ? info.st_mode : 0
    }

    func expectOneLine(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line of error: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("mapreduce: "), "\(result)", sourceLocation: sourceLocation)
    }

    // MARK: - Output destinations

    @Test("--output through a symbolic link replaces the target, keeps the link and the target's mode")
    func outputThroughLink() throws {
        let scratch = try TemporaryDirectory("out-link")
        defer { scratch.remove() }
        try scratch.write("target.tsv", "old\n")
        chmod(scratch.file("target.tsv"), 0o640)
        symlink("target.tsv", scratch.file("link.tsv"))
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", scratch.file("link.tsv"), TestEnvironment.corpus]
        )
        #expect(result.status == 0, "\(result)")
        #expect(self.mode(scratch.file("link.tsv"), followingLinks: false) & S_IFMT == S_IFLNK, "the link was replaced")
        #expect(try Files.read(scratch.file("target.tsv")) == Self.baselineDump)
        #expect(self.mode(scratch.file("target.tsv")) & 0o7777 == 0o640)
        #expect(Files.list(scratch.path) == ["link.tsv", "target.tsv"], "\(Files.list(scratch.path))")
    }

    @Test("files written over each other or over an input are refused before any work, in one line")
    func destinationConflicts() throws {
        let scratch = try TemporaryDirectory("destination-conflicts")
        defer { scratch.remove() }
        let text = Array("some words to count\n".utf8)
        let input = try scratch.write("texts/a.txt", text)
        let texts = scratch.file("texts")
        symlink(input, scratch.file("link-to-input"))
        symlink(scratch.file("out.tsv"), scratch.file("link-to-output"))
        let cases: [(arguments: [String], line: String)] = [
            (
                ["--output", scratch.file("out.tsv"), "--stats-json", scratch.file("link-to-output"), input],
                "--output and --stats-json name the same file, \(scratch.file("link-to-output"))"
            ),
            (
                ["--stats-json", scratch.file("s.json"), "--timeline", scratch.file("s.json"), input],
                "--stats-json and --timeline name the same file, \(scratch.file("s.json"))"
            ),
            (
                ["--output", scratch.file("link-to-input"), input],
                "--output names an input, \(input): the output would replace what it reads"
            ),
            (
                ["--output", "\(texts)/counts.tsv", texts],
                "--output \(texts)/counts.tsv is inside the input directory \(texts): it would be read as input; "
                    + "write it elsewhere"
            ),
        ]
        for (arguments, line) in cases {
            let result = try TestEnvironment.mapreduce(["wordcount"] + arguments)
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr == "mapreduce: \(line)\n", "\(result)")
            #expect(try Files.read(input) == text, "the input changed")
            #expect(Files.list(texts) == ["a.txt"], "\(Files.list(texts))")
            #expect(!Files.exists(scratch.file("out.tsv")) && !Files.exists(scratch.file("s.json")))
        }
        // A device twice is no conflict; nor is an output beside the inputs rather than among them.
        let fine = try TestEnvironment.mapreduce(
            ["wordcount", "--output", "/dev/null", "--stats-json", "/dev/null", "--timeline", "/dev/null", input]
        )
        #expect(fine.status == 0, "\(fine)")
        let beside = try TestEnvironment.mapreduce(["wordcount", "--output", scratch.file("out.tsv"), texts])
        #expect(beside.status == 0, "\(beside)")
    }

    @Test("a new output file's mode follows the umask", arguments: [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
    func newFileMode(umask: Int, expected: Int) throws {
        let scratch = try TemporaryDirectory("out-mode")
        defer { scratch.remove() }
        let result = try self.shell(
            "umask \(String(umask, radix: 8)); exec \"$MR\" wordcount --quiet --output '\(scratch.file("new.tsv"))' "
                + "'\(TestEnvironment.corpus)'"
        )
        #expect(result.status == 0, "\(result)")
        #expect(Int(self.mode(scratch.file("new.tsv")) & 0o7777) == expected)
    }

    @Test("--output to a FIFO writes into it, in order, and leaves the FIFO in place")
    func outputToFIFO() throws {
        let scratch = try TemporaryDirectory("out-fifo")
        defer { scratch.remove() }
        let fifo = scratch.file("dump.fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        // The reader copies to a file, so that nothing waits for this test to drain a pipe.
        let reader = try ChildProcess("/bin/bash", ["-c", "cat '\(fifo)' > '\(scratch.file("read.tsv"))'"])
        let result = try TestEnvironment.mapreduce(["wordcount", "--quiet", "--output", fifo, TestEnvironment.corpus])
        _ = reader.wait()
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(scratch.file("read.tsv")) == Self.baselineDump)
        #expect(self.mode(fifo) & S_IFMT == S_IFIFO, "the FIFO was replaced")
        #expect(Files.list(scratch.path) == ["dump.fifo", "read.tsv"])
    }

    @Test(
        "--output to standard output, by any of its names, writes the dump there and no table",
        arguments: [
            "-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1",
        ]
    )
    func outputToStandardOutput(name: String) throws {
        let result = try TestEnvironment.mapreduce(["wordcount", "--output", name, TestEnvironment.corpus])
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput == Self.baselineDump)
    }

    @Test("--output to a character device writes to it and leaves the node in place", .enabled(if: isRoot))
    func outputToDevice() throws {
        let scratch = try TemporaryDirectory("out-device")
        defer { scratch.remove() }
        // Our own nodes for the null and full devices, in the test's folder: the machine's are not touched.
        try #require(mknod(scratch.file("null"), S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0)
        try #require(mknod(scratch.file("full"), S_IFCHR | 0o666, dev_t(1 << 8 | 7)) == 0)
        let fine = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", scratch.file("null"), TestEnvironment.corpus]
        )
        #expect(fine.status == 0, "\(fine)")
        #expect(self.mode(scratch.file("null")) & S_IFMT == S_IFCHR)

        let full = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", scratch.file("full"), TestEnvironment.corpus]
        )
        #expect(full.status == 1, "\(full)")
        self.expectOneLine(full)
        #expect(full.stderr.contains("no space left on device"), "\(full)")
        #expect(self.mode(scratch.file("full")) & S_IFMT == S_IFCHR)

        let table = try self.shell("exec \"$MR\" wordcount '\(TestEnvironment.corpus)' > '\(scratch.file("full"))'")
        #expect(table.status == 1, "\(table)")
        self.expectOneLine(table)
        #expect(table.stderr.contains("cannot write to standard output: no space left on device"), "\(table)")
        #expect(Files.list(scratch.path) == ["full", "null"])
    }

    @Test("a full disk under the output file is an error, and the old file stays", .enabled(if: isRoot))
    func outputOnFullDisk() throws {
        let scratch = try TemporaryDirectory("out-full-disk")
        defer { scratch.remove() }
        // A 64 KiB file system of our own, in a mount namespace of our own.
        let result = try self.shell(
            """
            mkdir -p '\(scratch.file("small"))' && unshare --mount sh -c "mount -t tmpfs -o size=64k none \
            '\(scratch.file("small"))' && echo old > '\(scratch.file("small/out.tsv"))' && \
            \\"\\$MR\\" wordcount --quiet --output '\(scratch.file("small/out.tsv"))' '\(TestEnvironment.corpus)'; \
            status=\\$?; cat '\(scratch.file("small/out.tsv"))'; ls -a '\(scratch.file("small"))'; exit \\$status"
            """
        )
        try #require(!result.stderr.contains("unshare failed"), "no mount namespace here: \(result)")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("no space left on device"), "\(result)")
        self.expectOneLine(result)
        #expect(result.stdout == "old\n.\n..\nout.tsv\n", "the old file must stay, alone: \(result)")
    }

    @Test("a closed standard output ends the program quietly, as a Unix tool does")
    func closedStandardOutput() throws {
        let result = try self.shell(
            "\"$MR\" wordcount --top 1000000 '\(TestEnvironment.corpus)' | head -c 1 > /dev/null; exit ${PIPESTATUS[0]}"
        )
        #expect(result.status == 141, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    @Test("an unwritable --stats-json fails before any work, naming the statistics file")
    func unwritableStatistics() throws {
        let scratch = try TemporaryDirectory("stats-dest")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        let result = try TestEnvironment.mapreduce(
            [
                "wordcount", "--output", scratch.file("out.tsv"), "--stats-json", scratch.file("missing/stats.json"),
                TestEnvironment.corpus,
            ],
            environment: ["TMPDIR": temporary]
        )
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("statistics file"), "\(result)")
        #expect(result.stdout.isEmpty, "the job ran: \(result)")
        #expect(Files.list(scratch.path) == ["tmp"], "\(Files.list(scratch.path))")
        #expect(Files.list(temporary).isEmpty)
    }

    @Test("--output naming a directory is an error before any work")
    func outputIsDirectory() throws {
        let scratch = try TemporaryDirectory("out-dir")
        defer { scratch.remove() }
        let result = try TestEnvironment.mapreduce(["wordcount", "--output", scratch.path, TestEnvironment.corpus])
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("is a directory"), "\(result)")
    }

    // MARK: - Streamed input

    @Test("streamed input past the spool limit is one clear error naming the option, with flat memory")
    func spoolLimit() throws {
        let scratch = try TemporaryDirectory("spool-limit")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 3 << 20)
        let job = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--spool-limit", "1M", "-"],
            environment: ["TMPDIR": temporary],
            standardInput: input
        )
        let sampler = MemorySampler(job.processID)
        let result = job.wait()
        let peaks = sampler.stop()
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("spool limit of 1 MiB"), "\(result)")
        #expect(result.stderr.contains("--spool-limit"), "\(result)")
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
        #expect(peaks.process < 64 << 20, "coordinator peak \(peaks.process) bytes")
    }

    @Test("SIGINT stops a job whose producer is silent, at once, leaving nothing behind")
    func interruptSilentProducer() throws {
        let scratch = try TemporaryDirectory("silent-producer")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        let fifo = scratch.file("input.fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        // A producer that writes a little, then holds the FIFO open and says nothing for a long time.
        let producer = try ChildProcess("/bin/bash", ["-c", "echo some words > '\(fifo)'; exec sleep 120 > '\(fifo)'"])
        defer {
            producer.signal(SIGKILL)
            _ = producer.wait()
        }
        let job = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--output", scratch.file("out.tsv"), fifo],
            environment: ["TMPDIR": temporary]
        )
        // Wait until the job is copying the stream.
        for _ in 0..<3000 where Files.list(temporary).isEmpty { pause(milliseconds: 10) }
        try #require(!Files.list(temporary).isEmpty, "the job never started spooling")
        pause(milliseconds: 50)
        job.signal(SIGINT)
        let result = job.wait()
        #expect(result.status == 130, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("nothing written"), "\(result)")
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
        #expect(!Files.exists(scratch.file("out.tsv")))
    }

    @Test("a second SIGINT stops at once and still removes the temporary files")
    func secondInterrupt() throws {
        let scratch = try TemporaryDirectory("second-sigint")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        let job = try ChildProcess(
            "/bin/bash",
            [
                "-c",
                "head -c 3000000000 /dev/zero | exec \"$MR\" wordcount --workers 2 --output '\(scratch.file("out.tsv"))' -",
            ],
            environment: ["MR": TestEnvironment.binary, "TMPDIR": temporary]
        )
        // The coordinator once it runs mapreduce: the shell forked to exec it has its command line before.
        let name = "/" + (TestEnvironment.binary.split(separator: "/").last.map(String.init) ?? "mapreduce")
        var coordinator: pid_t?
        for _ in 0..<1000 where coordinator == nil {
            coordinator = ProcessTree.children(of: job.processID).first { pid in
                ProcessTree.executable(of: pid)?.hasSuffix(name) == true
            }
            pause(milliseconds: 5)
        }
        let pid = try #require(coordinator, "mapreduce never started")
        for _ in 0..<1000 where Files.list(temporary).isEmpty { pause(milliseconds: 10) }
        try #require(!Files.list(temporary).isEmpty, "the job never made its work directory")
        kill(pid, SIGINT)
        kill(pid, SIGINT)
        let result = job.wait()
        #expect(result.status == 130, "\(result)")
        // Two signals sent at once may reach the program as one: then the orderly stop answers.
        #expect(
            result.stderr == "mapreduce: interrupted by SIGINT again; stopped at once\n"
                || result.stderr == "mapreduce: interrupted by SIGINT; stopped, nothing written\n",
            "\(result)"
        )
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
        #expect(!Files.exists(scratch.file("out.tsv")))
        #expect(Files.list(scratch.path) == ["tmp"], "\(Files.list(scratch.path))")
    }

    @Test("a signal that lands after the output is committed says the output was written")
    func interruptAfterCommit() throws {
        let scratch = try TemporaryDirectory("after-commit")
        defer { scratch.remove() }
        // The table is far larger than a pipe holds, and nobody reads it until the end: once the dump is
        // in place, the program is either finishing its work or blocked writing the table.
        let job = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--top", "1000000", "--output", scratch.file("out.tsv"), TestEnvironment.corpus]
        )
        for _ in 0..<1000 where !Files.exists(scratch.file("out.tsv")) { pause(milliseconds: 5) }
        try #require(Files.exists(scratch.file("out.tsv")), "the dump never appeared")
        pause(milliseconds: 20)
        job.signal(SIGINT)
        let result = job.wait()
        #expect(result.status == 130, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("interrupted by SIGINT after writing the output file"), "\(result)")
        #expect(try Files.read(scratch.file("out.tsv")) == Self.baselineDump)
    }

    // MARK: - Limits

    @Test("too few file descriptors for the workers is one clear line, not a crash")
    func descriptorLimit() throws {
        let scratch = try TemporaryDirectory("fd-limit")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        let result = try self.shell(
            "ulimit -n 12 && ulimit -Hn 12 && exec \"$MR\" wordcount --workers 20 '\(TestEnvironment.corpus)'",
            environment: ["TMPDIR": temporary]
        )
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("too few file descriptors"), "\(result)")
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
    }

    /// Whether `nobody` can run the binary here (root, setpriv, and a build folder others may read).
    static let canRunAsNobody: Bool = {
        guard isRoot, Files.exists("/usr/bin/setpriv") else { return false }
        let probe = try? ChildProcess.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", TestEnvironment.binary, "--version"]
        )
        return probe?.status == 0
    }()

    @Test("a process limit too small for the workers is one clear line, not a trap", .enabled(if: canRunAsNobody))
    func processLimit() throws {
        let scratch = try TemporaryDirectory("nproc-limit")
        defer { scratch.remove() }
        let temporary = try Self.temporaryDirectory(in: scratch)
        chmod(scratch.path, 0o755)
        chmod(temporary, 0o1777)
        try scratch.write("input.txt", "words for a user with few processes\n")
        chmod(scratch.file("input.txt"), 0o644)
        // The limit counts this user's processes and threads; root is exempt, so run as nobody.
        let result = try self.shell(
            "exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "
                + "'ulimit -u 8 && exec \"$MR\" wordcount --workers 2 \(scratch.file("input.txt"))'",
            environment: ["TMPDIR": temporary]
        )
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("too few processes allowed"), "\(result)")
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
    }

    @Test(
        "an output file its user may write, in a directory that refuses new files, is one line saying so",
        .enabled(if: canRunAsNobody)
    )
    func outputInLockedDirectory() throws {
        let scratch = try TemporaryDirectory("locked-directory")
        defer { scratch.remove() }
        let directory = scratch.file("reports")
        _ = mkdir(directory, 0o755)
        let output = "\(directory)/out.tsv"
        try Files.write(output, Array("old\n".utf8))
        // The file is nobody's to write, its directory root's: the output cannot be renamed into place.
        chown(output, 65534, 65534)
        chmod(scratch.path, 0o755)
        try scratch.write("input.txt", "words for a locked directory\n")
        chmod(scratch.file("input.txt"), 0o644)
        let result = try self.shell(
            "exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \"$MR\" wordcount --output "
                + "'\(output)' '\(scratch.file("input.txt"))'"
        )
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stderr == "mapreduce: \(output): cannot replace the output file: a new file cannot be created in "
                + "\(directory) to take its place: permission denied\n",
            "\(result)"
        )
        #expect(try Files.read(output) == Array("old\n".utf8))
    }

    // MARK: - Workers that crash

    @Test("a worker that crashes prints no backtrace: the job fails with one line")
    func crashingWorker() throws {
        let scratch = try TemporaryDirectory("crash")
        defer { scratch.remove() }
        try scratch.write("input/crash.txt", "these words crash workers\n")
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--output", scratch.file("out.tsv"), scratch.file("input")],
            environment: ["MAPREDUCE_FAULT_INJECTION": "crash-on-map=crash.txt"]
        )
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("SIGSEGV"), "\(result)")
        #expect(!Files.exists(scratch.file("out.tsv")))
    }

    @Test("a file truncated under a running worker is reported as changed, in one line")
    func truncatedInput() throws {
        let scratch = try TemporaryDirectory("truncated")
        defer { scratch.remove() }
        var text: [UInt8] = []
        for _ in 0..<20_000 { text += Array("many words in a file that shrinks under the job\n".utf8) }
        try scratch.write("input/shrinking.txt", text)
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--output", scratch.file("out.tsv"), scratch.file("input")],
            environment: ["MAPREDUCE_FAULT_INJECTION": "truncate-on-map=shrinking.txt"]
        )
        #expect(result.status == 1, "\(result)")
        self.expectOneLine(result)
        #expect(result.stderr.contains("shrinking.txt: changed while the job ran"), "\(result)")
        #expect(!Files.exists(scratch.file("out.tsv")))
    }
}
