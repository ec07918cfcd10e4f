import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Streaming text: escaping and numbers")
struct StreamingTextTests {
    func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var text: [UInt8] = []
        bytes.withUnsafeBytes { StreamingText.escape($0, into: &text) }
        return text
    }

    func unescaped(_ text: [UInt8]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try text.withUnsafeBytes { try StreamingText.unescape($0, into: &bytes) }
        return bytes
    }

    static let adversarialKeys: [[UInt8]] = [
        [], Array("plain".utf8), Array("tab\there".utf8), Array("new\nline".utf8), Array("carriage\rreturn".utf8),
        Array("crlf\r\n".utf8), Array("back\\slash".utf8), Array("\\".utf8), Array("\\\\t".utf8), Array("\\x41".utf8),
        [0], [0x1F, 0x7F, 0x20], Array("café 漢字 😀".utf8), [0xFF], [0xC3], [0xC3, 0x28], [0xE2, 0x82],
        [0xE2, 0x82, 0x41], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98],
        [0xF0, 0x9F, 0x98, 0x80, 0x80], [0x80, 0xBF], Array("\t\n\r\\".utf8) + [0xFE, 0x00],
    ]

    @Test("escaping is reversible and its text has no control byte, no tab and valid UTF-8", arguments: adversarialKeys)
    func roundTrip(key: [UInt8]) throws {
        let text = self.escaped(key)
        #expect(text.allSatisfy { $0 >= 0x20 && $0 != 0x7F }, "\(text)")
        #expect(String(validating: text, as: UTF8.self) != nil)
        #expect(try self.unescaped(text) == key)
    }

    @Test("random byte strings round-trip, and equal texts mean equal bytes")
    func randomRoundTrip() throws {
        var random = SeededGenerator(seed: 12)
        var seen: [[UInt8]: [UInt8]] = [:]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<12, using: &random)
            // Bytes drawn mostly from the interesting ranges: controls, ASCII, continuation and lead bytes.
            let key = (0..<length).map { _ -> UInt8 in
                let pool: [ClosedRange<UInt8>] = [0...0x20, 0x5C...0x5C, 0x61...0x7F, 0x80...0xBF, 0xC0...0xFF]
                return UInt8.random(in: pool.randomElement(using: &random)!, using: &random)
            }
            let text = self.escaped(key)
            #expect(try self.unescaped(text) == key)
            if let earlier = seen[text] { #expect(earlier == key) }
            seen[text] = key
        }
    }

    @Test(
        "only the one escaped text of each byte string is accepted",
        arguments: [
            "\\x41", "\\xFF", "\\xZZ", "\\x4", "\\", "a\\", "\\q", "\\xe2\\x82\\xac", "\\x09", "\\x5c", "tab\there",
            "\u{1}", "\u{7F}",
        ]
    )
    func nonCanonical(text: String) {
        #expect(throws: MapReduceError.self) { try self.unescaped(Array(text.utf8)) }
    }

    @Test("a raw byte that is not UTF-8 must be escaped")
    func rawInvalidByte() {
        #expect(throws: MapReduceError.self) { try self.unescaped([0x61, 0xFF]) }
        #expect(throws: MapReduceError.self) { try self.unescaped([0xE2, 0x82]) }
    }

    @Test("the escapes are the documented ones")
    func documentedForm() {
        #expect(self.escaped(Array("a\tb\nc\rd\\e".utf8)) == Array("a\\tb\\nc\\rd\\\\e".utf8))
        #expect(self.escaped([0x00, 0x1B, 0x7F, 0xFF, 0x80]) == Array("\\x00\\x1b\\x7f\\xff\\x80".utf8))
        #expect(self.escaped(Array("é".utf8)) == Array("é".utf8))
    }

    @Test("integers are canonical decimal text")
    func decimals() throws {
        func text(_ value: some StreamingTextCodable) -> String {
            var bytes: [UInt8] = []
            value.writeStreamingText(into: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        func parse<T: StreamingTextCodable>(_ text: String, as type: T.Type) throws -> T {
            try Array(text.utf8).withUnsafeBytes { try T(streamingText: $0) }
        }
        for value in [0, 1, -1, 42, Int.max, Int.min, 1_000_000] {
            #expect(try parse(text(value), as: Int.self) == value)
        }
        #expect(text(Int.min) == "-9223372036854775808")
        #expect(text(UInt64.max) == "18446744073709551615")
        #expect(try parse("18446744073709551615", as: UInt64.self) == .max)
        #expect(try parse("-2147483648", as: Int32.self) == .min)
        for bad in ["", "-", "+1", "01", "-0", "1a", " 1", "1 ", "9223372036854775808", "0x10", "1.0"] {
            #expect(throws: MapReduceError.self, "\(bad)") { try parse(bad, as: Int.self) }
        }
        #expect(throws: MapReduceError.self) { try parse("-1", as: UInt.self) }
        #expect(throws: MapReduceError.self) { try parse("2147483648", as: Int32.self) }
    }
}

/// A job whose keys are whole lines, whatever bytes they hold: the escaping must carry tabs, carriage
/// returns, backslashes, control bytes and invalid UTF-8 through map, sort and reduce unchanged.
struct LineKeys: MapReduceJob, Codable {
    static let name = "line-keys"

    struct Map: Mapper {
        mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
            line.withUnsafeBytes { output.emit(ByteString($0), 1) }
        }
    }

    func makeMapper() -> Map { Map() }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<ByteString, Int> { SumReducer() }
}

@Suite("Streaming steps in process")
struct StreamingStepTests {
    /// Runs a step from one file to another and returns what it wrote.
    func run(_ step: (CInt, CInt) throws -> Void, input: [UInt8], in scratch: TemporaryDirectory) throws -> [UInt8] {
        let inputPath = try scratch.write("in", input)
        let outputPath = scratch.file("out")
        let inputFD = open(inputPath, O_RDONLY)
        let outputFD = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(inputFD >= 0 && outputFD >= 0)
        defer { close(inputFD) }
        try step(inputFD, outputFD)
        return try Files.read(outputPath)
    }

    /// Sorts `KEY<TAB>VALUE` lines by their bytes, as `LC_ALL=C sort` does.
    func sortLines(_ text: [UInt8]) -> [UInt8] {
        let lines = text.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map(Array.init)
        return lines.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 + [0x0A] }
    }

    @Test("keys holding tabs, line breaks, backslashes, control bytes and invalid UTF-8 survive map, sort, reduce")
    func adversarialKeys() throws {
        let scratch = try TemporaryDirectory("streaming-keys")
        defer { scratch.remove() }
        // Lines (under universal newlines, so no line holds \n or \r) with every other awkward byte.
        var random = SeededGenerator(seed: 99)
        let alphabet: [UInt8] = [
            0x00, 0x01, 0x09, 0x1B, 0x20, 0x5C, 0x61, 0x62, 0x78, 0x7F, 0x80, 0xC3, 0xA9, 0xE2, 0xFF,
        ]
        var expected: [[UInt8]: Int] = [:]
        var input: [UInt8] = []
        for _ in 0..<3000 {
            let line = (0..<Int.random(in: 0..<6, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            expected[line, default: 0] += 1
            var terminator: [UInt8] = [[0x0A], [0x0D, 0x0A], [0x0D]].randomElement(using: &random)!
            // After a `\r`, an empty line ended by `\n` would make one `\r\n` of the two.
            if line.isEmpty && input.last == 0x0D && terminator == [0x0A] { terminator = [0x0D] }
            input += line + terminator
        }
        let mapped = try self.run({ try Streaming.map(LineKeys(), input: $0, output: $1) }, input: input, in: scratch)
        let reduced = try self.run(
            { try Streaming.reduce(LineKeys(), input: $0, output: $1) },
            input: self.sortLines(mapped),
            in: scratch
        )
        var actual: [[UInt8]: Int] = [:]
        for line in reduced.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            let tab = try #require(line.firstIndex(of: 0x09))
            var key: [UInt8] = []
            try Array(line[..<tab]).withUnsafeBytes { try StreamingText.unescape($0, into: &key) }
            let count = try #require(Int(String(decoding: line[(tab + 1)...], as: UTF8.self)))
            #expect(actual[key] == nil, "a key came out twice")
            actual[key] = count
        }
        let wrong = expected.filter { actual[$0.key] != $0.value }.prefix(5).map {
            "\($0.key): \($0.value) lines, counted \(actual[$0.key] ?? 0)"
        }
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(actual.count == expected.count)
    }

    @Test("the map step writes its table out when full and the reduce step still sums every part")
    func smallBudget() throws {
        let scratch = try TemporaryDirectory("streaming-budget")
        defer { scratch.remove() }
        var input: [UInt8] = []
        for i in 0..<120_000 { input += Array("key number \(i % 40_000)\n".utf8) }
        let mapped = try self.run(
            { try Streaming.map(LineKeys(), input: $0, output: $1, options: .init(memoryBudget: 1 << 20)) },
            input: input,
            in: scratch
        )
        let mappedLines = mapped.split(separator: 0x0A).count
        #expect(mappedLines > 40_000, "a table that never filled up would write each key once")
        let reduced = try self.run(
            { try Streaming.reduce(LineKeys(), input: $0, output: $1) },
            input: self.sortLines(mapped),
            in: scratch
        )
        let lines = reduced.split(separator: 0x0A)
        #expect(lines.count == 40_000)
        #expect(lines.allSatisfy { $0.suffix(2) == Array("\t3".utf8)[...] })
    }
}
