import MapReduce
import MapReduceTestSupport
import Testing

/// Counts log lines by level, and counts the lines that have none as malformed.
struct CheckedLevels: MapReduceJob, Codable {
    static let name = "checked-levels"

    struct Map: Mapper {
        mutating func map(_ line: RawSpan, into output: inout Emitter<String, Int>) throws {
            let level = line.withUnsafeBytes { bytes in
                String(decoding: bytes.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
            }
            if ["INFO", "WARN", "ERROR"].contains(level) {
                output.emit(level, 1)
            } else {
                output.count("malformed lines")
            }
            output.count("line bytes", by: line.byteCount)
        }
    }

    func makeMapper() -> Map { Map() }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<String, Int> { SumReducer() }
}

@Suite("Counters of jobs run in process")
struct CounterJobTests {
    @Test(
        "a job's counters and the engine's, over tasks cut anywhere and every kind of line end",
        arguments: [64, 4096]
    )
    func counters(chunk: Int) async throws {
        let scratch = try TemporaryDirectory("counters")
        defer { scratch.remove() }
        let endings = ["\n", "\r\n", "\r"]
        var text = ""
        var lineBytes = 0
        for index in 0..<600 {
            let line = index % 5 == 4 ? "garbage \(index)" : ["INFO", "WARN", "ERROR"][index % 3] + " message \(index)"
            lineBytes += line.utf8.count
            text += line + endings[index % 3]
        }
        text += "no newline at the end"
        lineBytes += "no newline at the end".utf8.count
        try scratch.write("app.log", text)
        try scratch.write("empty.log", "")
        let engine = MapReduceEngine(
            configuration: .init(execution: .inProcess, mapChunkSize: .fixed(chunk), minimumMapChunk: 1)
        )
        var counted = 0
        let statistics = try await engine.run(CheckedLevels(), inputs: [.path(scratch.path)]) {
            (_: String, count: Int) in
            counted += count
        }
        let counters = statistics.counters
        #expect(counters.job == ["malformed lines": 121, "line bytes": lineBytes])
        #expect(counters.records == 601)
        #expect(counters.mapOutputPairs == 480)
        #expect(counted == 480)
        #expect(counters.inputBytes == text.utf8.count)
        #expect(counters.spills == statistics.spills)
        #expect(counters.combinedKeys >= 3)
        #expect(statistics.attempts.filter { $0.phase == .map }.count == statistics.mapTasks)
        #expect(statistics.attempts.allSatisfy { $0.outcome == .committed && $0.endSeconds >= $0.startSeconds })
        let json = statistics.json()
        #expect(json.contains("\"counters\": {\"job\": {\"line bytes\": \(lineBytes), \"malformed lines\": 121}"))
        #expect(json.contains("\"records\": 601"))
    }
}
