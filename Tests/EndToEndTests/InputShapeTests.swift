import MapReduceTestSupport
import Testing

/// Inputs of unusual shapes: names that are not UTF-8, special files, files that change while the job
/// runs, many (mostly empty) files, tiny chunk sizes.
@Suite("Input shapes")
struct InputShapeTests {
    /// `café.txt` in Latin-1: the é is the byte 0xE9, which is not UTF-8.
    static let latin1Name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)

    /// The number after `"key": ` in the statistics JSON.
    func statistic(_ key: String, in json: String) -> Int? {
        let marker = "\"\(key)\": "
        for line in json.split(separator: "\n") {
            guard let start = line.firstIndex(of: "\"") else { continue }
            let rest = line[start...]
            if rest.hasPrefix(marker) { return Int(rest.dropFirst(marker.count).prefix { $0.isNumber }) }
        }
        return nil
    }

    @Test("a name that is not UTF-8 is read, named on the command line or found in a directory")
    func nonUTF8Name() throws {
        let scratch = try TemporaryDirectory("latin1")
        defer { scratch.remove() }
        try scratch.write("dir/plain.txt", "beta gamma\n")
        let directory = Array(scratch.file("dir").utf8)
        try Files.write(rawPath: directory + Array("/".utf8) + Self.latin1Name, Array("alpha beta alpha\n".utf8))

        let named = try TestEnvironment.mapreduce(
            rawArguments: [
                Array("wordcount".utf8), Array("--output".utf8), Array(scratch.file("named.tsv").utf8),
                directory + Array("/".utf8) + Self.latin1Name,
            ]
        )
        #expect(named.status == 0, "\(named)")
        #expect(try Files.read(scratch.file("named.tsv")) == Array("alpha\t2\nbeta\t1\n".utf8))

        let walked = try TestEnvironment.mapreduce([
            "wordcount", "--output", scratch.file("walked.tsv"), "--stats-json", scratch.file("stats.json"),
            scratch.file("dir"),
        ])
        #expect(walked.status == 0, "\(walked)")
        #expect(try Files.read(scratch.file("walked.tsv")) == Array("alpha\t2\nbeta\t2\ngamma\t1\n".utf8))
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        #expect(self.statistic("input_files", in: stats) == 2, "\(stats)")
    }

    @Test("a path that is not UTF-8 and reads like another argument is refused, not guessed")
    func ambiguousNonUTF8Argument() throws {
        let scratch = try TemporaryDirectory("latin1-ambiguous")
        defer { scratch.remove() }
        // `cafè.txt` and `café.txt` in Latin-1 both read as `caf\u{FFFD}.txt` once repaired.
        let other = Array(scratch.file("caf").utf8) + [0xE8] + Array(".txt".utf8)
        let input = Array(scratch.file("").utf8) + Self.latin1Name
        try Files.write(rawPath: input, Array("words\n".utf8))
        let result = try TestEnvironment.mapreduce(
            rawArguments: [Array("wordcount".utf8), Array("--output".utf8), other, input]
        )
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("Cannot tell which argument"), "\(result)")
        #expect(!Files.exists(scratch.file("caf\u{FFFD}.txt")))
    }

    @Test("a name that is not UTF-8 is shown escaped in an error")
    func nonUTF8NameInError() throws {
        let scratch = try TemporaryDirectory("latin1-error")
        defer { scratch.remove() }
        try scratch.write("dir/fine.txt", "words\n")
        let link = Array(scratch.file("dir/").utf8) + Self.latin1Name
        try Files.symlink(target: scratch.file("gone.txt"), rawPath: link)
        for argument in [link, Array(scratch.file("dir").utf8)] {
            let result = try TestEnvironment.mapreduce(rawArguments: [Array("wordcount".utf8), argument])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("caf\\xe9.txt: dangling symbolic link"), "\(result)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        }
    }

    @Test("sockets and FIFOs in a directory are skipped with a warning each; a FIFO named is read")
    func specialFiles() throws {
        let scratch = try TemporaryDirectory("special")
        defer { scratch.remove() }
        try scratch.write("dir/words.txt", "alpha beta\n")
        try #require(mkfifo(scratch.file("dir/pipe"), 0o600) == 0)
        let socket = try UnixSocket(path: scratch.file("dir/socket"))
        defer { socket.close() }

        let result = try TestEnvironment.mapreduce([
            "wordcount", "--output", scratch.file("out.tsv"), scratch.file("dir"),
        ])
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(scratch.file("out.tsv")) == Array("alpha\t1\nbeta\t1\n".utf8))
        let warnings = result.stderr.split(separator: "\n")
        #expect(warnings.count == 2, "\(result)")
        #expect(warnings.contains { $0.contains("dir/pipe: skipped, a FIFO is not a regular file") }, "\(result)")
        #expect(warnings.contains { $0.contains("dir/socket: skipped, a socket is not a regular file") }, "\(result)")
        let quiet = try TestEnvironment.mapreduce(["wordcount", "--quiet", scratch.file("dir")])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet)")

        // Named explicitly, the FIFO is read: a writer feeds it while the job runs.
        let writer = try ChildProcess("/bin/sh", ["-c", "printf 'gamma gamma\\n' > \"$0\"", scratch.file("dir/pipe")])
        let fed = try TestEnvironment.mapreduce([
            "wordcount", "--output", scratch.file("fifo.tsv"), scratch.file("dir/pipe"),
        ])
        #expect(writer.wait().status == 0)
        #expect(fed.status == 0, "\(fed)")
        #expect(try Files.read(scratch.file("fifo.tsv")) == Array("gamma\t2\n".utf8))
    }

    @Test("a file that grows while the job runs fails the job, naming it")
    func growingFile() throws {
        let scratch = try TemporaryDirectory("growing")
        defer { scratch.remove() }
        let path = try scratch.write("growing.txt", String(repeating: "a line of words\n", count: 1000))
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--output", scratch.file("out.tsv"), path],
            environment: ["MAPREDUCE_FAULT_INJECTION": "grow-on-map=growing.txt"]
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("growing.txt: changed while the job ran (it had 16000 bytes, now"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(!Files.exists(scratch.file("out.tsv")))
    }

    @Test("twenty thousand files, most of them empty, are all counted")
    func manyFiles() throws {
        let scratch = try TemporaryDirectory("many")
        defer { scratch.remove() }
        try scratch.write("tree/seed.txt", "")
        for directory in 0..<20 {
            _ = try ChildProcess.run("/bin/mkdir", ["-p", scratch.file("tree/\(directory)")])
            for file in 0..<1000 {
                let words = file % 100 == 0 ? "word\(directory) common\n" : ""
                try Files.write(scratch.file("tree/\(directory)/\(file).txt"), Array(words.utf8))
            }
        }
        let result = try TestEnvironment.mapreduce([
            "wordcount", "--workers", "2", "--output", scratch.file("out.tsv"), "--stats-json",
            scratch.file("stats.json"), scratch.file("tree"),
        ])
        #expect(result.status == 0, "\(result)")
        // `word0` … `word19` hold digits, so only `common` is a word: 10 files in each of 20 directories.
        #expect(try Files.read(scratch.file("out.tsv")) == Array("common\t200\n".utf8))
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        #expect(self.statistic("input_files", in: stats) == 20_001, "\(stats)")
        #expect(self.statistic("map_tasks", in: stats) == 1, "\(stats)")
    }

    @Test("--chunksize 1 gives the same output in a bounded number of tasks")
    func tinyChunkSize() throws {
        let scratch = try TemporaryDirectory("tiny-chunks")
        defer { scratch.remove() }
        let auto = try TestEnvironment.mapreduce([
            "wordcount", "--output", scratch.file("auto.tsv"), TestEnvironment.corpus,
        ])
        let tiny = try TestEnvironment.mapreduce([
            "wordcount", "--chunksize", "1", "--output", scratch.file("tiny.tsv"), "--stats-json",
            scratch.file("stats.json"), TestEnvironment.corpus,
        ])
        #expect(auto.status == 0 && tiny.status == 0, "\(auto)\n\(tiny)")
        #expect(try Files.read(scratch.file("tiny.tsv")) == Files.read(scratch.file("auto.tsv")))
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        let bytes = try #require(self.statistic("input_bytes", in: stats))
        let files = try #require(self.statistic("input_files", in: stats))
        let tasks = try #require(self.statistic("map_tasks", in: stats))
        // At least 64 KiB per task, except the last piece of each file.
        #expect(tasks <= bytes / (64 << 10) + files, "\(stats)")
        #expect(self.statistic("smallest_map_task_bytes", in: stats).map { $0 > 1 } == true, "\(stats)")
        let help = try TestEnvironment.mapreduce(["wordcount", "--help"])
        let helpText = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(helpText.contains("at least 64K"), "\(help)")
    }
}

/// A listening Unix socket, to put one in an input directory.
struct UnixSocket {
    let descriptor: CInt

    init(path: String) throws {
        self.descriptor = socket(AF_UNIX, CInt(SOCK_STREAM.rawValue), 0)
        try #require(self.descriptor >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
    }

    func close() {
        closeDescriptor(self.descriptor)
    }
}

/// `close`; at file scope the name is the C library's.
private func closeDescriptor(_ fd: CInt) {
    _ = close(fd)
}
