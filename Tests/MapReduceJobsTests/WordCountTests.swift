import MapReduce
import MapReduceJobs
import MapReduceTestSupport
import Testing

@Suite("Word count, in process")
struct WordCountTests {
    /// Counts `text` in process with the real mapper, combiner and reducer.
    func count(
        _ text: [UInt8],
        invalidUTF8: WordCount.InvalidUTF8 = .strict,
        chunk: Int = 1 << 20
    ) async throws -> [String: Int] {
        let scratch = try TemporaryDirectory("words")
        defer { scratch.remove() }
        try scratch.write("in.txt", text)
        let engine = MapReduceEngine(
            configuration: .init(execution: .inProcess, mapChunkSize: .fixed(chunk), minimumMapChunk: 1)
        )
        var counts: [String: Int] = [:]
        _ = try await engine.run(WordCount(invalidUTF8: invalidUTF8), inputs: [.path(scratch.file("in.txt"))]) {
            counts[$0.description] = $1
        }
        return counts
    }

    func count(_ text: String) async throws -> [String: Int] {
        try await self.count(Array(text.utf8))
    }

    @Test("punctuation splits, case folds, stop words and non-letters go")
    func basics() async throws {
        #expect(
            try await self.count("The cat's hat, THE CAT'S HAT! a an AND 42 x1 don't\n") == [
                "cat": 2, "s": 2, "hat": 2, "don": 1, "t": 1,
            ]
        )
    }

    @Test("'..' lines are skipped after leading whitespace, Unicode whitespace included")
    func dotDot() async throws {
        let counts = try await self.count(".. skip\n  .. skip\n\u{3000}.. skip\n\u{0C}..skip\nkeep.. this\n. keep\n")
        #expect(counts == ["keep": 2, "this": 1])
    }

    @Test("universal newlines: CR ends a line for the '..' rule")
    func carriageReturn() async throws {
        #expect(try await self.count("one\r.. two\r\nthree\r\n..four\nfive") == ["one": 1, "three": 1, "five": 1])
    }

    @Test("Unicode: final sigma, dotted capital I, sharp s, Unicode spaces, combining marks")
    func unicode() async throws {
        let counts = try await self.count("ΟΔΟΣ ΣΑΣ İstanbul Straße\u{A0}CAFÉ cafe\u{301} 漢字\u{3000}zero\u{200B}width")
        #expect(counts == ["οδος": 1, "σας": 1, "straße": 1, "café": 1, "漢字": 1])
    }

    @Test("the split points of the input do not change the counts", arguments: [1, 5, 64, 4096])
    func splitPoints(chunk: Int) async throws {
        let text = AdversarialCorpus.text(seed: 77, size: 20_000, unicode: true)
        let whole = try await self.count(text, chunk: 1 << 20)
        #expect(try await self.count(text, chunk: chunk) == whole)
        #expect(!whole.isEmpty)
    }

    /// Lines of about 100 KB, longer than ``LineScanner/longLine``, so tasks cut them: the
    /// adversarial text with most line ends made spaces (its `..` line starts land in the middle of
    /// lines, after whitespace), plus long lines that start with `..` after ASCII and Unicode
    /// whitespace, and must be skipped whole.
    static func longLines(seed: UInt64) -> [UInt8] {
        var text = AdversarialCorpus.text(seed: seed, size: 500_000, unicode: true)
        var kept = 0
        for index in text.indices where text[index] == 0x0A || text[index] == 0x0D {
            kept += 1
            if kept % 1_500 != 0 { text[index] = 0x20 }
        }
        let skipped = Array("tail words counted\n  ..".utf8) + text[100_000..<220_000] + Array("\n".utf8)
        let unicodeSkipped =
            Array("\u{3000}\u{A0} ..".utf8) + text[300_000..<380_000] + Array("\r\nafter words counted\n".utf8)
        return text + skipped + unicodeSkipped
    }

    @Test("long lines cut into pieces count the same at every chunk size", arguments: [997, 4096, 65_536, 100_003])
    func longLinesCut(chunk: Int) async throws {
        let text = Self.longLines(seed: 5)
        let whole = try await self.count(text, chunk: 1 << 24)
        #expect(whole["counted"] == 2)
        #expect(try await self.count(text, chunk: chunk) == whole)
    }

    @Test("a long skipped line is checked as UTF-8 in every piece, as Python decodes it whole")
    func longSkippedLineInvalid() async throws {
        var line = Array("..".utf8) + Array(repeating: UInt8(ascii: "w"), count: 10) + [0x20]
        for _ in 0..<30_000 { line += Array("word ".utf8) }
        let bad = line.count
        line += [0xC3, 0x20] + Array(repeating: UInt8(ascii: " "), count: 200) + Array("\nkept\n".utf8)
        do {
            _ = try await self.count(line, chunk: 4096)
            Issue.record("expected an invalid UTF-8 error")
        } catch let error as MapReduceError {
            #expect(error.code == .invalidData)
            #expect(error.message.contains("byte offset \(bad)"), "\(error)")
        }
        #expect(try await self.count(line, invalidUTF8: .replace, chunk: 4096) == ["kept": 1])
    }

    @Test("invalid UTF-8: strict fails naming the offset, replace drops the damaged word")
    func invalid() async throws {
        let bytes = Array("fine wo".utf8) + [0xFF] + Array("rd again\n".utf8)
        await #expect(throws: MapReduceError.self) { try await self.count(bytes) }
        do {
            _ = try await self.count(bytes)
        } catch let error as MapReduceError {
            #expect(error.code == .invalidData)
            #expect(error.message.contains("byte offset 7"), "\(error)")
        }
        #expect(try await self.count(bytes, invalidUTF8: .replace) == ["fine": 1, "again": 1])
    }

    @Test("the job's parameters survive the trip to a worker")
    func parameters() throws {
        for mode in WordCount.InvalidUTF8.allCases {
            let bytes = WordCount(invalidUTF8: mode).encodedBytes
            #expect(try bytes.withUnsafeBytes { try WordCount(encodedBytes: $0) }.invalidUTF8 == mode)
        }
        #expect(throws: MapReduceError.self) {
            try ([7] as [UInt8]).withUnsafeBytes { try WordCount(encodedBytes: $0) }
        }
    }

    @Test("the built-in registry has word count, the index and the logs report")
    func registry() {
        #expect(JobRegistry.builtIn.jobNames == ["index", "logs", "wordcount"])
    }
}

@Suite("Top words")
struct TopWordsTests {
    @Test("ranks by count, then by word, and keeps only the best")
    func ranking() {
        var top = TopWords(limit: 3)
        for (word, count) in [("b", 5), ("a", 5), ("z", 9), ("c", 1), ("d", 5), ("é", 9)] {
            top.add(ByteString(word), count: count)
        }
        #expect(top.ranked.map { $0.word.description } == ["z", "é", "a"])
        #expect(TopWords(limit: 0).formattedTable() == "\nTOP 0 WORDS BY FREQUENCY\n\n")
    }

    @Test("the table pads words by characters, like Python's format")
    func table() {
        var top = TopWords(limit: 2)
        top.add(ByteString("σοφος"), count: 3)
        top.add(ByteString("ab"), count: 123_456)
        #expect(top.formattedTable() == "\nTOP 2 WORDS BY FREQUENCY\n\nab    : 123456\nσοφος :     3\n")
    }
}

@Suite("Output without a value per key")
struct KeyBytesOutputTests {
    @Test("consumeKeyBytes hands over the same keys, in the same order, as consume")
    func sameOutput() async throws {
        let scratch = try TemporaryDirectory("key-bytes")
        defer { scratch.remove() }
        try scratch.write("in.txt", AdversarialCorpus.text(seed: 11, size: 200_000, unicode: true))
        let engine = MapReduceEngine(
            configuration: .init(execution: .inProcess, mapChunkSize: .fixed(4096), minimumMapChunk: 1)
        )
        var byValue: [(String, Int)] = []
        _ = try await engine.run(WordCount(), inputs: [.path(scratch.file("in.txt"))]) {
            byValue.append(($0.description, $1))
        }
        var byBytes: [(String, Int)] = []
        _ = try await engine.run(WordCount(), inputs: [.path(scratch.file("in.txt"))]) { (word: RawSpan, count) in
            byBytes.append((word.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, count))
        }
        #expect(byValue.count > 100)
        #expect(byBytes.map(\.0) == byValue.map(\.0))
        #expect(byBytes.map(\.1) == byValue.map(\.1))
    }

    @Test("TopWords keeps the same words whether offered bytes or values", arguments: [1, 3, 20])
    func topWordsFromBytes(limit: Int) {
        var fromValues = TopWords(limit: limit)
        var fromBytes = TopWords(limit: limit)
        var state: UInt64 = 42
        for index in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Few distinct counts, so ties on the count are decided by the word.
            let count = Int(state >> 60)
            let word = ByteString("w\((index &* 7_919) % 5_003)")
            fromValues.add(word, count: count)
            word.bytes.withUnsafeBytes { fromBytes.add(RawSpan(_unsafeBytes: $0), count: count) }
        }
        #expect(fromBytes.ranked.map(\.word) == fromValues.ranked.map(\.word))
        #expect(fromBytes.ranked.map(\.count) == fromValues.ranked.map(\.count))
    }
}

@Suite("Unicode tables", .enabled(if: TestEnvironment.hasPython, "needs python3"))
struct UnicodeTableTests {
    @Test("were read off a Python with the same Unicode version as the one here")
    func version() throws {
        let result = try ChildProcess.run(
            "/usr/bin/env",
            ["python3", "-c", "import unicodedata; print(unicodedata.unidata_version)"]
        )
        let table = try String(contentsOfGeneratedTables())
        #expect(table.contains("Unicode \(result.stdout.trimmingCharacters())"), "python3 has Unicode \(result.stdout)")
    }

    func contentsOfGeneratedTables() throws -> String {
        String(
            decoding: try Files.read(
                "\(TestEnvironment.packageRoot)/Sources/MapReduceJobs/WordCount/UnicodeTables.swift"
            ).prefix(200),
            as: UTF8.self
        )
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
