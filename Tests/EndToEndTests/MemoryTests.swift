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

    /// Writes `files` files of `wordsPerFile` words each, drawn from a vocabulary of `vocabulary` random
    /// words, from a fixed seed: each word is in a good share of the files, so the index's lists of files,
    /// not its keys, take the memory.
    static func writeIndexCorpus(in directory: String, files: Int, wordsPerFile: Int, vocabulary: Int) throws {
        let words = Self.randomWords(count: vocabulary, seed: 5).split { $0 == 0x20 || $0 == 0x0A }
        var state: UInt64 = 17
        for file in 0..<files {
            var text: [UInt8] = []
            text.reserveCapacity(wordsPerFile * 10)
            for index in 0..<wordsPerFile {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += words[Int(state >> 33) % words.count]
                text.append(index % 10 == 9 ? 0x0A : 0x20)
            }
            try Files.write("\(directory)/file\(1000 + file).txt", text)
        }
    }

    @Test(
        "with --worker-memory 4M, the index's lists of files keep a worker within its budget",
        .enabled(if: TestEnvironment.hasPython, "needs python3")
    )
    func indexListsWithinBudget() throws {
        let scratch = try TemporaryDirectory("index-memory")
        defer { scratch.remove() }
        let corpus = scratch.file("corpus")
        _ = mkdir(corpus, 0o700)
        // About 18 MB in 2,000 files, 2 million (word, file) pairs of a 20,000-word vocabulary: unbounded,
        // the lists of files take some 60 MiB in one worker, in a table whose keys take under 2 MiB.
        try Self.writeIndexCorpus(in: corpus, files: 2_000, wordsPerFile: 1_000, vocabulary: 20_000)
        let small = try self.runSampled(
            [
                "index", "--workers", "1", "--worker-memory", "4M", "--stats-json", scratch.file("small.json"),
                "--output", scratch.file("small.tsv"), corpus,
            ]
        )
        try #require(small.result.status == 0, "\(small.result)")
        try #require(small.workers.count == 1, "workers seen: \(small.workers)")
        // The budget, the fixed overhead, and as much again for what the budget does not count: the file
        // names a list's entries point to, shared on the map side but each its own once decoded for a
        // reduce task.
        for peak in small.workers {
            #expect(peak <= 2 * (4 << 20) + Self.fixedOverhead, "a worker peaked at \(peak >> 20) MiB")
        }
        let statistics = try StatisticsJSON(path: scratch.file("small.json"))
        #expect((statistics.integer("pressure_spills") ?? 0) > 0, "\(statistics.text)")

        let large = try TestEnvironment.mapreduce(
            ["index", "--workers", "1", "--worker-memory", "1G", "--output", scratch.file("large.tsv"), corpus]
        )
        try #require(large.status == 0, "\(large)")
        let dump = try Files.read(scratch.file("small.tsv"))
        #expect(dump == (try Files.read(scratch.file("large.tsv"))), "the output depends on the budget")
        let reference = try TestEnvironment.python(
            "Fixtures/reference/index.py",
            ["--output", scratch.file("python.tsv"), corpus]
        )
        try #require(reference.status == 0, "\(reference)")
        #expect(dump == (try Files.read(scratch.file("python.tsv"))), "the output differs from the reference")
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
