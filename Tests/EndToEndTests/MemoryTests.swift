import MapReduceTestSupport
import Testing

/// A worker's memory stays within `--worker-memory` plus a fixed overhead whatever the vocabulary, and a
/// key too long for it is an error that says where it is, not a worker that grows until it dies.
@Suite("Memory", .serialized)
struct MemoryTests {
    /// What a worker holds besides its budget: the Swift runtime and the binary, the spill writer's and
    /// the emitter's buffers, one partition's sort.
    static let fixedOverhead = 16 << 20

    /// `count` words of 6 to 11 random letters, ten to a line, from a fixed seed: nearly all distinct.
    static func randomWords(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 10)
        for index in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = 6 + Int(state >> 61) % 6
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(ascii: "a") + UInt8((state >> 33) % 26))
            }
            bytes.append(index % 10 == 9 ? UInt8(ascii: "\n") : UInt8(ascii: " "))
        }
        return bytes
    }

    /// Runs `mapreduce` while sampling the anonymous memory of its process tree.
    func runSampled(_ arguments: [String]) throws -> (result: ProcessResult, coordinator: Int, workers: [Int]) {
        let child = try ChildProcess(TestEnvironment.binary, arguments)
        let sampler = MemorySampler(child.processID)
        let result = child.wait()
        let peaks = sampler.stop()
        return (result, peaks.process, Array(peaks.children.values))
    }

    @Test("with --worker-memory 1M, two million distinct words keep every worker within its budget")
    func manyDistinctKeys() throws {
        let scratch = try TemporaryDirectory("many-keys")
        defer { scratch.remove() }
        // About 17 MB: every map-side table spills unsorted, and each reduce task has far more keys than
        // a 1 MiB table holds (in one table, a quarter of a million keys take about 25 MiB).
        let input = try scratch.write("words.txt", Self.randomWords(count: 2_000_000, seed: 11))
        let small = try self.runSampled(
            ["wordcount", "--workers", "2", "--worker-memory", "1M", "--output", scratch.file("small.tsv"), input]
        )
        try #require(small.result.status == 0, "\(small.result)")
        try #require(small.workers.count == 2, "workers seen: \(small.workers)")
        for peak in small.workers {
            #expect(peak <= (1 << 20) + Self.fixedOverhead, "a worker peaked at \(peak >> 20) MiB")
        }
        let large = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--worker-memory", "1G", "--output", scratch.file("large.tsv"), input]
        )
        try #require(large.status == 0, "\(large)")
        let counts = try Files.read(scratch.file("small.tsv"))
        #expect(counts == (try Files.read(scratch.file("large.tsv"))), "the output depends on the budget")
        #expect(counts.count { $0 == UInt8(ascii: "\n") } > 1_900_000)
    }

    @Test(
        "a word longer than a worker holds for one key fails the job, naming its file and offset",
        arguments: [
            "a", "é",
        ]
    )
    func wordTooLong(letter: String) throws {
        let scratch = try TemporaryDirectory("long-word")
        defer { scratch.remove() }
        // 2 MiB of one letter, far past the 256 KiB a 1 MiB worker takes as one key.
        let word = Array(String(repeating: letter, count: (2 << 20) / letter.utf8.count).utf8)
        let input = try scratch.write("long.txt", Array("some words first\n".utf8) + word + Array(" and after\n".utf8))
        let run = try self.runSampled(
            ["wordcount", "--workers", "2", "--worker-memory", "1M", "--output", scratch.file("out.tsv"), input]
        )
        #expect(run.result.status == 1, "\(run.result)")
        let lines = run.result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(run.result.stderr)")
        let line = String(lines.first ?? "")
        #expect(line.contains("\(input):17: a key of \(word.count) bytes"), "\(line)")
        #expect(line.contains("262144 bytes") && line.contains("--worker-memory"), "\(line)")
        #expect(!Files.exists(scratch.file("out.tsv")))
        for peak in run.workers {
            #expect(peak <= (1 << 20) + Self.fixedOverhead, "a worker peaked at \(peak >> 20) MiB")
        }
    }

    @Test("a word just within the limit is counted like any other")
    func longWordWithinLimit() throws {
        let scratch = try TemporaryDirectory("long-word-ok")
        defer { scratch.remove() }
        let word = String(repeating: "x", count: 200_000)
        let input = try scratch.write("long.txt", "\(word) some words \(word)\n")
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--worker-memory", "1M", "--output", scratch.file("out.tsv"), input]
        )
        try #require(result.status == 0, "\(result)")
        let counts = String(decoding: try Files.read(scratch.file("out.tsv")), as: UTF8.self)
        #expect(counts == "some\t1\nwords\t1\n\(word)\t2\n")
    }
}
