import MapReduce
import MapReduceTestSupport
import Testing

/// Implements only the entry point with the record's origin: no stub of `map(_:into:)` needed.
struct RecordOrigins: MapReduceJob {
    static let name = "record-origins"

    struct Map: Mapper {
        mutating func map(_ record: RawSpan, at origin: InputOrigin, into output: inout Emitter<String, Int>) throws {
            output.emit(origin.description, record.byteCount)
        }
    }

    func makeMapper() -> Map { Map() }
    func makeReducer() -> SumReducer<String, Int> { SumReducer() }

    init() {}
    func encode(into writer: inout WireWriter) {}
    init(decoding reader: inout WireReader) throws {}
}

/// Parameters through `Codable`: no hand-written encoding.
struct LongWords: MapReduceJob, Codable {
    static let name = "long-words"
    var minimumLength: Int
    var label: String
    var weights: [String: Int]

    struct Map: Mapper {
        let job: LongWords
        mutating func map(_ record: RawSpan, into output: inout Emitter<String, Int>) throws {
            let line = record.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            for word in line.split(separator: " ") where word.count >= self.job.minimumLength {
                output.emit("\(self.job.label):\(word)", self.job.weights[String(word)] ?? 1)
            }
        }
    }

    func makeMapper() -> Map { Map(job: self) }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<String, Int> { SumReducer() }
}

/// Hand-written encoding whose two halves disagree: the fields are read back in the other order.
struct SwappedFields: MapReduceJob {
    static let name = "swapped-fields"
    var first: Int
    var second: Int

    struct Map: Mapper {
        mutating func map(_ record: RawSpan, into output: inout Emitter<Int, Int>) throws {}
    }

    func makeMapper() -> Map { Map() }
    func makeReducer() -> SumReducer<Int, Int> { SumReducer() }

    init(first: Int, second: Int) {
        self.first = first
        self.second = second
    }

    func encode(into writer: inout WireWriter) {
        self.first.encode(into: &writer)
        self.second.encode(into: &writer)
    }

    init(decoding reader: inout WireReader) throws {
        self.second = try Int(decoding: &reader)
        self.first = try Int(decoding: &reader)
    }
}

@Suite("Writing jobs: origins, Codable parameters, in-memory inputs")
struct JobErgonomicsTests {
    let engine = MapReduceEngine(
        configuration: .init(execution: .inProcess, mapChunkSize: .fixed(4), minimumMapChunk: 1)
    )

    @Test("a mapper gets each record's input and offset, under universal newlines and across tasks")
    func origins() async throws {
        var seen: [String: Int] = [:]
        _ = try await self.engine.run(
            RecordOrigins(),
            inputs: [
                .bytes(Array("ab\ncd\r\nefg\rh".utf8), name: "one.txt"),
                .bytes(Array("x\n\ny".utf8), name: "two.txt"),
            ]
        ) { origin, length in
            seen[origin] = length
        }
        #expect(
            seen == [
                "one.txt:0": 2, "one.txt:3": 2, "one.txt:7": 3, "one.txt:11": 1, "two.txt:0": 1, "two.txt:2": 0,
                "two.txt:3": 1,
            ]
        )
    }

    @Test("in-memory inputs name themselves in errors")
    func inMemoryErrors() async throws {
        await #expect {
            _ = try await self.engine.run(
                NumberCounts(modulus: 3),
                inputs: [.bytes(Array("1\n2\nthree\n".utf8), name: "numbers")]
            ) {
                _,
                _ in
            }
        } throws: { error in
            (error as? MapReduceError)?.description.hasPrefix("numbers:4: ") == true
        }
    }

    @Test("a Codable job's parameters reach the mapper through their encoding")
    func codableParameters() async throws {
        let job = LongWords(minimumLength: 5, label: "long", weights: ["mapreduce": 10])
        let decoded = try job.encodedBytes.withUnsafeBytes { try LongWords(encodedBytes: $0) }
        #expect(decoded.minimumLength == 5 && decoded.label == "long" && decoded.weights == ["mapreduce": 10])
        var counts: [String: Int] = [:]
        _ = try await self.engine.run(
            job,
            inputs: [.bytes(Array("a mapreduce swift engine\nmapreduce".utf8), name: "t")]
        ) { word, count in
            counts[word] = count
        }
        #expect(counts == ["long:engine": 1, "long:mapreduce": 20, "long:swift": 1])
    }

    @Test("hand-written encode(into:) and init(decoding:) that disagree fail the first run, in process too")
    func disagreeingEncoding() async throws {
        await #expect {
            _ = try await self.engine.run(SwappedFields(first: 1, second: 2), inputs: [.bytes([], name: "empty")]) {
                _,
                _ in
            }
        } throws: { error in
            let description = (error as? MapReduceError)?.description ?? ""
            return description.contains("SwappedFields's encode(into:) and init(decoding:) disagree")
        }
    }
}
