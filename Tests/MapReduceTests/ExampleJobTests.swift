import MapReduce
import MapReduceTestSupport
import Testing

/// No combiner: every value reaches the reducer, which sees the whole list.
struct LengthsByInitial: MapReduceJob {
    static let name = "lengths-by-initial"

    struct Map: Mapper {
        mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
            line.withUnsafeBytes { bytes in
                if let first = bytes.first { output.emit(ByteString([first]), bytes.count) }
            }
        }
    }

    struct Reduce: Reducer {
        mutating func reduce(_ key: ByteString, values: ReduceValues<Int>) -> [Int] {
            values.sorted()
        }
    }

    func makeMapper() -> Map { Map() }
    func makeReducer() -> Reduce { Reduce() }

    init() {}
    func encode(into writer: inout WireWriter) {}
    init(decoding reader: inout WireReader) throws {}
}

/// Integer keys, negative ones included, come out in numeric order.
struct NumberCounts: MapReduceJob {
    static let name = "number-counts"
    var modulus: Int

    struct Map: Mapper {
        let modulus: Int
        mutating func map(_ line: RawSpan, into output: inout Emitter<Int, Int>) throws {
            let text = line.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            guard let number = Int(text) else {
                throw MapReduceError(.invalidData, "not a number: \(text)")
            }
            output.emit(number % self.modulus, 1)
        }
    }

    func makeMapper() -> Map { Map(modulus: self.modulus) }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<Int, Int> { SumReducer() }

    init(modulus: Int) { self.modulus = modulus }
    func encode(into writer: inout WireWriter) { self.modulus.encode(into: &writer) }
    init(decoding reader: inout WireReader) throws { self.modulus = try Int(decoding: &reader) }
}

/// A mapper of the emitter tests: word counting, with a mapper made fresh by each worker.
protocol WordMapper: Mapper where Key == ByteString, Value == Int {
    init()
}

/// Counts the keys a ``WordMapper`` emits, with or without a combiner: the emitter tests differ only
/// in their mappers.
struct CountingJob<Map: WordMapper>: MapReduceJob {
    static var name: String { "counting-\(Map.self)" }
    var combining: Bool

    func makeMapper() -> Map { Map() }
    func makeCombiner() -> SumCombiner<Int>? { self.combining ? SumCombiner() : nil }
    func makeReducer() -> SumReducer<ByteString, Int> { SumReducer() }

    init(combining: Bool) { self.combining = combining }
    func encode(into writer: inout WireWriter) { writer.write(self.combining ? 1 : 0) }
    init(decoding reader: inout WireReader) throws { self.combining = try reader.readByte() == 1 }
}

/// The first sixteen bytes of `word` as two little-endian words, zero beyond its end.
func prefixWords(_ word: some Collection<UInt8>) -> (first: UInt64, second: UInt64) {
    var first: UInt64 = 0
    var second: UInt64 = 0
    for (offset, byte) in word.prefix(16).enumerated() {
        if offset < 8 {
            first |= UInt64(byte) << UInt64(8 * offset)
        } else {
            second |= UInt64(byte) << UInt64(8 * (offset - 8))
        }
    }
    return (first, second)
}

/// Emits every word of a line through the emitter's fast path, dropping the odd-length ones there:
/// with `keep: false` or, for words of one letter, with length -1.
/// Counts each line's text before its first `_`.
struct PrefixCounts: WordMapper {
    mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
        line.withUnsafeBytes { bytes in
            let end = bytes.firstIndex(of: UInt8(ascii: "_")) ?? bytes.count
            output.emit(ByteString(Array(bytes[..<end])), 1)
        }
    }
}

struct EvenWords: WordMapper {
    mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
        line.withUnsafeBytes { bytes in
            for word in bytes.split(separator: UInt8(ascii: " ")) {
                let destination = output.reserveKey(capacity: word.count)
                for (offset, byte) in word.enumerated() {
                    destination.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                }
                if word.count == 1 {
                    output.commitKey(length: -1, 1)
                    continue
                }
                let (first, second) = prefixWords(word)
                output.commitKey(length: word.count, first: first, second: second, 1, keep: word.count % 2 == 0)
            }
        }
    }
}

/// Emits words of up to sixteen bytes as short keys (two words, no key buffer), longer ones as bytes.
struct ShortKeyWords: WordMapper {
    mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
        line.withUnsafeBytes { bytes in
            for word in bytes.split(separator: UInt8(ascii: " ")) {
                guard word.count <= 16 else {
                    output.emit(keyBytes: UnsafeRawBufferPointer(rebasing: word), 1)
                    continue
                }
                let (first, second) = prefixWords(word)
                output.emit(shortKey: first, second, length: word.count, 1)
            }
        }
    }
}

/// Emits every word; its key filter keeps the words that start with `x` from leaving the map side.
struct WordsWithoutX: WordMapper {
    mutating func map(_ line: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
        line.withUnsafeBytes { bytes in
            for word in bytes.split(separator: UInt8(ascii: " ")) {
                output.emit(keyBytes: UnsafeRawBufferPointer(rebasing: word), 1)
            }
        }
    }

    func keepsKey(_ key: RawSpan) -> Bool {
        key.withUnsafeBytes { $0.first != UInt8(ascii: "x") }
    }
}

/// A reducer that reads its key (through the protocol's default, which decodes it): each residue's
/// output names it.
struct LabelledResidues: MapReduceJob {
    static let name = "labelled-residues"

    struct Reduce: Reducer {
        mutating func reduce(_ key: Int, values: ReduceValues<Int>) -> String {
            "\(key) mod 3: \(values.reduce(0, +))"
        }
    }

    func makeMapper() -> NumberCounts.Map { NumberCounts.Map(modulus: 3) }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> Reduce { Reduce() }

    init() {}
    func encode(into writer: inout WireWriter) {}
    init(decoding reader: inout WireReader) throws {}
}

@Suite("Jobs run in process")
struct ExampleJobTests {
    let engine = MapReduceEngine(
        configuration: .init(execution: .inProcess, mapChunkSize: .fixed(64), minimumMapChunk: 1)
    )

    @Test("a job without a combiner gets every value")
    func noCombiner() async throws {
        let scratch = try TemporaryDirectory("no-combiner")
        defer { scratch.remove() }
        try scratch.write("a.txt", "apple\navocado\nbanana\nblueberry\nb\ncherry\n")
        try scratch.write("b.txt", "apricot\n\nbean\n")
        var result: [String: [Int]] = [:]
        _ = try await self.engine.run(LengthsByInitial(), inputs: [.path(scratch.path)]) { key, lengths in
            result[key.description] = lengths
        }
        #expect(result == ["a": [5, 7, 7], "b": [1, 4, 6, 9], "c": [6]])
    }

    @Test("spills made under a small memory budget merge back exactly, with and without a combiner")
    func manySpills() async throws {
        let scratch = try TemporaryDirectory("many-spills")
        defer { scratch.remove() }
        // About 7 MB of lines whose first bytes spread over many keys: several spills each way.
        var random = SeededGenerator(seed: 5)
        var text = ""
        var lengths: [String: [Int]] = [:]
        var words: [String: Int] = [:]
        for _ in 0..<600_000 {
            let initial = Character(UnicodeScalar(UInt8.random(in: 97...122, using: &random)))
            let word = String(initial) + String(Int.random(in: 0..<3_000, using: &random))
            let line = word + String(repeating: "_", count: Int.random(in: 0...8, using: &random))
            text += line + "\n"
            lengths[String(initial), default: []].append(line.utf8.count)
            words[word, default: 0] += 1
        }
        try scratch.write("in.txt", text)
        let engine = MapReduceEngine(
            configuration: .init(execution: .inProcess, mapChunkSize: .fixed(256 << 10), workerMemoryBudget: 1 << 20)
        )
        var gathered: [String: [Int]] = [:]
        let listStatistics = try await engine.run(LengthsByInitial(), inputs: [.path(scratch.path)]) { key, values in
            gathered[key.description] = values
        }
        #expect(listStatistics.spills > 2)
        let listsMatch = gathered == lengths.mapValues { $0.sorted() }
        #expect(listsMatch)

        var counts: [String: Int] = [:]
        var order: [String] = []
        let countStatistics = try await engine.run(
            CountingJob<PrefixCounts>(combining: true),
            inputs: [.path(scratch.path)]
        ) { key, count in
            counts[key.description] = count
            order.append(key.description)
        }
        #expect(countStatistics.spills > 1)
        let countsMatch = counts == words
        #expect(countsMatch)
        let ordered = order == order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(ordered)
    }

    @Test(
        "a reduce task with far more keys than a 1 MiB budget holds merges partial runs back exactly",
        arguments: [true, false]
    )
    func reduceTaskOverBudget(combining: Bool) async throws {
        let scratch = try TemporaryDirectory("reduce-over-budget")
        defer { scratch.remove() }
        // 150,000 distinct keys, some of them several times, in one reduce task: a table of them all
        // would take about 15 MiB, so the task writes partial runs and merges them.
        var random = SeededGenerator(seed: 9)
        var text = ""
        var expected: [String: Int] = [:]
        for index in 0..<200_000 {
            let key = "k\(index < 150_000 ? index : Int.random(in: 0..<150_000, using: &random))"
            text += key + "_\n"
            expected[key, default: 0] += 1
        }
        try scratch.write("in.txt", text)
        let engine = MapReduceEngine(
            configuration: .init(
                execution: .inProcess,
                mapChunkSize: .fixed(256 << 10),
                reduceChunkSize: .fixed(1 << 30),
                workerMemoryBudget: 1 << 20
            )
        )
        var counts: [String: Int] = [:]
        var order: [String] = []
        let statistics = try await engine.run(
            CountingJob<PrefixCounts>(combining: combining),
            inputs: [.path(scratch.path)]
        ) { key, count in
            counts[key.description] = count
            order.append(key.description)
        }
        #expect(statistics.reduceTasks == 1)
        let countsMatch = counts == expected
        #expect(countsMatch)
        let ordered = order == order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(ordered)
    }

    @Test("a key longer than a quarter of the worker's budget fails the job, naming where it is")
    func keyTooLong() async throws {
        let scratch = try TemporaryDirectory("key-too-long")
        defer { scratch.remove() }
        try scratch.write("in.txt", "short\n" + String(repeating: "x", count: 300_000) + "\nafter\n")
        let engine = MapReduceEngine(configuration: .init(execution: .inProcess, workerMemoryBudget: 1 << 20))
        var caught: MapReduceError?
        do {
            let job = CountingJob<PrefixCounts>(combining: true)
            _ = try await engine.run(job, inputs: [.path(scratch.path)], consume: { _, _ in })
        } catch let error as MapReduceError {
            caught = error
        }
        let error = try #require(caught)
        #expect(error.code == .tooLarge)
        #expect(error.description.contains("a key of 300000 bytes"), "\(error)")
        #expect(error.description.contains("262144") && error.description.contains("--worker-memory"), "\(error)")
        #expect(error.input?.contains("in.txt") == true, "\(error)")
    }

    /// Runs ``CountingJob`` with mapper `Map` over `text`: the counts by key, and the statistics.
    func count<Map: WordMapper>(
        _: Map.Type,
        combining: Bool,
        text: String
    ) async throws -> (counts: [String: Int], statistics: JobStatistics) {
        let scratch = try TemporaryDirectory("counting")
        defer { scratch.remove() }
        try scratch.write("in.txt", text)
        var counts: [String: Int] = [:]
        let statistics = try await self.engine.run(
            CountingJob<Map>(combining: combining),
            inputs: [.path(scratch.path)]
        ) {
            counts[$0.description] = $1
        }
        return (counts, statistics)
    }

    @Test("keys dropped on the emitter's fast path never arrive, nor count as emitted", arguments: [true, false])
    func droppedKeys(combining: Bool) async throws {
        // Long and short words, dropped ones between kept ones, in batches larger than the emitter's.
        let line = "ab abc a abcdefghijklmnopqrstuvwxyz0123 abcd abcdefghijklmnopqrstuvwxyz012 x yz"
        let text = Array(repeating: line, count: 500).joined(separator: "\n")
        let (counts, statistics) = try await self.count(EvenWords.self, combining: combining, text: text)
        #expect(counts == ["ab": 500, "abcd": 500, "abcdefghijklmnopqrstuvwxyz0123": 500, "yz": 500])
        #expect(statistics.pairsEmitted == 2_000)
    }

    @Test("keys the mapper's filter rejects never arrive, but count as emitted", arguments: [true, false])
    func filteredKeys(combining: Bool) async throws {
        let line = "x xa a b xyzxyzxyzxyzxyzxyzxyz b abcdefghijklmnopqrstuvwxyz"
        let text = Array(repeating: line, count: 300).joined(separator: "\n")
        let (counts, statistics) = try await self.count(WordsWithoutX.self, combining: combining, text: text)
        #expect(counts == ["a": 300, "b": 600, "abcdefghijklmnopqrstuvwxyz": 300])
        #expect(statistics.pairsEmitted == 2_100)
        #expect(statistics.outputKeys == 3)
    }

    @Test("short keys given as two words arrive whole, among longer keys", arguments: [true, false])
    func shortKeys(combining: Bool) async throws {
        // Every length from 1 to 18, so keys of exactly 8 and 16 bytes and the first longer ones mix.
        let words = (1...18).map { String(repeating: String(UnicodeScalar(UInt8(96 + $0))), count: $0) }
        var random = SeededGenerator(seed: 7)
        let lines = (0..<400).map { _ in words.shuffled(using: &random).joined(separator: " ") }
        let (counts, statistics) = try await self.count(
            ShortKeyWords.self,
            combining: combining,
            text: lines.joined(separator: "\n")
        )
        #expect(counts == Dictionary(uniqueKeysWithValues: words.map { ($0, 400) }))
        #expect(statistics.pairsEmitted == 18 * 400)
    }

    @Test("integer keys come out in numeric order, negatives first")
    func integerKeys() async throws {
        let scratch = try TemporaryDirectory("numbers")
        defer { scratch.remove() }
        let numbers = (-300...300).map(String.init).joined(separator: "\n")
        try scratch.write("n.txt", numbers)
        var keys: [Int] = []
        var total = 0
        _ = try await self.engine.run(NumberCounts(modulus: 7), inputs: [.path(scratch.path)]) { key, count in
            keys.append(key)
            total += count
        }
        #expect(keys == Array(-6...6))
        #expect(total == 601)
    }

    @Test("a reducer that reads its key gets it decoded")
    func keyedReducer() async throws {
        let scratch = try TemporaryDirectory("residues")
        defer { scratch.remove() }
        try scratch.write("n.txt", (0..<100).map(String.init).joined(separator: "\n"))
        var outputs: [String] = []
        _ = try await self.engine.run(LabelledResidues(), inputs: [.path(scratch.path)]) { _, output in
            outputs.append(output)
        }
        #expect(outputs == ["0 mod 3: 34", "1 mod 3: 33", "2 mod 3: 33"])
    }

    @Test("an error thrown by the mapper fails the job, naming the record")
    func mapperError() async throws {
        let scratch = try TemporaryDirectory("bad-number")
        defer { scratch.remove() }
        try scratch.write("n.txt", "1\n2\nthree\n4\n")
        await #expect(throws: MapReduceError.self) {
            _ = try await self.engine.run(NumberCounts(modulus: 2), inputs: [.path(scratch.path)]) { _, _ in }
        }
        do {
            _ = try await self.engine.run(NumberCounts(modulus: 2), inputs: [.path(scratch.path)]) { _, _ in }
        } catch let error as MapReduceError {
            #expect(error.code == .invalidData)
            #expect(error.description.contains("not a number: three"))
            #expect(error.input?.hasSuffix("n.txt:4") == true, "\(error)")
        }
    }

    @Test("the temporary directory is removed after a job, failed or not")
    func cleanup() async throws {
        let scratch = try TemporaryDirectory("cleanup")
        defer { scratch.remove() }
        try scratch.write("in/n.txt", "1\nx\n")
        let engine = MapReduceEngine(
            configuration: .init(execution: .inProcess, temporaryDirectory: scratch.file("tmp"))
        )
        _ = try ChildProcess.run("/bin/mkdir", ["-p", scratch.file("tmp")])
        _ = try? await engine.run(NumberCounts(modulus: 2), inputs: [.path(scratch.file("in"))]) { _, _ in }
        #expect(Files.list(scratch.file("tmp")).isEmpty)
    }
}
