import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Input lists and path names")
struct InputListTests {
    @Test(
        "paths that are not UTF-8 show their invalid bytes escaped",
        arguments: [
            (Array("plain/name.txt".utf8), "plain/name.txt"),
            (Array("caf\u{E9}".utf8), "caf\u{E9}"),
            (Array("caf".utf8) + [0xE9], "caf\\xe9"),
            ([0xFF, 0x41, 0x0A], "\\xffA\n"),
            // A sequence cut short, an overlong slash, a surrogate, a code point past U+10FFFF.
            ([0xC3], "\\xc3"),
            ([0xC0, 0xAF], "\\xc0\\xaf"),
            ([0xED, 0xA0, 0x80], "\\xed\\xa0\\x80"),
            ([0xF4, 0x90, 0x80, 0x80], "\\xf4\\x90\\x80\\x80"),
            ([0xE2, 0x82] + Array("x".utf8), "\\xe2\\x82x"),
            ([0x01], "\u{01}"),
        ] as [([UInt8], String)]
    )
    func display(bytes: [UInt8], shown: String) {
        #expect(PathName.display(bytes) == shown)
    }

    @Test("empty files are counted, not kept; paths come back as their bytes")
    func compactList() {
        var list = InputList()
        let odd: [UInt8] = Array("/in/".utf8) + [0xFF]
        list.append(path: Array("/in/a".utf8), size: 10, modified: 7)
        for _ in 0..<1000 { list.append(path: Array("/in/empty".utf8), size: 0, modified: 0) }
        list.append(path: odd, size: 5, modified: -3)
        list.append(path: Array("/spool/0".utf8), size: 1, modified: 0, displayName: "<stdin>")
        list.shrinkToFit()
        #expect(list.count == 3)
        #expect(list.fileCount == 1003)
        #expect(list.emptyFiles == 1000)
        #expect(list.totalBytes == 16)
        #expect(list.path(at: 0) == Array("/in/a".utf8))
        #expect(list.path(at: 1) == odd)
        #expect(list.modified(at: 1) == -3)
        #expect(list.displayName(at: 1) == "/in/\\xff")
        #expect(list.displayName(at: 2) == "<stdin>")

        // Files of a directory share its path.
        let directory = list.addDirectory(Array("/data/logs/".utf8))
        list.append(name: Array("x.log".utf8), inDirectory: directory, size: 2, modified: 1)
        list.append(name: Array("y.log".utf8), inDirectory: directory, size: 0, modified: 1)
        #expect(list.count == 4 && list.emptyFiles == 1001)
        #expect(list.path(at: 3) == Array("/data/logs/x.log".utf8))
        #expect(list.path(at: 2) == Array("/spool/0".utf8))

        let source = MapTaskSource(files: list)
        var cutter = source
        let task = source.task(for: cutter.next(chunkBytes: 1 << 20))
        #expect(
            task.splits.map(\.path) == [
                Array("/in/a".utf8), odd, Array("/spool/0".utf8), Array("/data/logs/x.log".utf8),
            ]
        )
        #expect(task.splits.map(\.displayName) == ["/in/a", "/in/\\xff", "<stdin>", "/data/logs/x.log"])
        #expect(task.firstInput == "/in/a:0")
    }

    @Test("many tiny files make a bounded number of tasks")
    func tinyFiles() {
        var list = InputList()
        for index in 0..<100_000 { list.append(path: Array("/in/\(index)".utf8), size: 3, modified: 0) }
        var source = MapTaskSource(files: list)
        var tasks = 0
        while !source.isExhausted {
            _ = source.next(chunkBytes: 64 << 10)
            tasks += 1
        }
        #expect(tasks == 100_000 / 512 + 1)
    }

    @Test("a directory's FIFOs are skipped with a warning; names are sorted and kept as bytes")
    func resolveDirectory() throws {
        let scratch = try TemporaryDirectory("resolve")
        defer { scratch.remove() }
        try scratch.write("dir/b.txt", "b\n")
        try scratch.write("dir/sub/a.txt", "a\n")
        try scratch.write("dir/empty.txt", "")
        let odd: [UInt8] = Array(scratch.file("dir/").utf8) + [0xFF]
        try Files.write(rawPath: odd, Array("odd\n".utf8))
        _ = try ChildProcess.run("/usr/bin/mkfifo", [scratch.file("dir/fifo")])
        var warnings: [String] = []
        let resolved = try InputResolver.resolve([.path(scratch.file("dir"))]) { warnings.append($0) }
        #expect(warnings == ["\(scratch.file("dir/fifo")): skipped, a FIFO is not a regular file"])
        #expect(resolved.streams.isEmpty)
        let files = resolved.files
        #expect(files.fileCount == 4)
        #expect(
            (0..<files.count).map { files.path(at: $0) } == [
                Array(scratch.file("dir/b.txt").utf8), Array(scratch.file("dir/sub/a.txt").utf8), odd,
            ]
        )
        // Named explicitly, a FIFO is a stream to copy, and a name that is not UTF-8 is found by its bytes.
        let named = try InputResolver.resolve([.path(scratch.file("dir/fifo")), .rawPath(odd)])
        #expect(named.streams.map(\.path) == [Array(scratch.file("dir/fifo").utf8)])
        #expect(named.files.count == 1 && named.files.path(at: 0) == odd)
    }
}
