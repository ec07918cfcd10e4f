// The README's "Writing your own job" program, whole: `Tests/EndToEndTests/ReadmeExampleTests.swift`
// checks that the README shows exactly this code, and runs it.

import MapReduce

/// Counts log lines by level: the first word of each line ("INFO", "WARN", "ERROR", …).
struct LogLevels: MapReduceJob, Codable {
    static let name = "log-levels"

    struct Map: Mapper {
        mutating func map(_ line: RawSpan, into output: inout Emitter<String, Int>) throws {
            let level = line.withUnsafeBytes { bytes in
                String(decoding: bytes.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
            }
            if !level.isEmpty { output.emit(level, 1) }
        }
    }

    func makeMapper() -> Map { Map() }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<String, Int> { SumReducer() }
}

@main
struct LogReport {
    static func main() async throws {
        var registry = JobRegistry()
        registry.register(LogLevels.self)
        if CommandLine.arguments.dropFirst().first == WorkerProcess.argument {
            WorkerProcess.run(registry: registry)  // never returns
        }
        let directory = CommandLine.arguments.dropFirst().first ?? "/var/log/app"
        let engine = MapReduceEngine()  // one worker per core
        let stats = try await engine.run(LogLevels(), inputs: [.path(directory)]) { level, count in
            print(level, count)  // in key order
        }
        print(stats.formattedTable())
    }
}
