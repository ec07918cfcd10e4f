import MapReduceTestSupport
import Testing

/// A job whose map side spilled many times under memory pressure says so in its statistics and suggests
/// a budget, and the suggested budget spares it those spills.
@Suite("Spill hint", .serialized)
struct SpillHintTests {
    /// Runs word count (or `job`) with one worker and `memory`; returns the run, its `--stats-json` and
    /// its output.
    func wordCount(
        _ input: String,
        memory: String,
        job: String = "wordcount",
        in scratch: TemporaryDirectory
    ) throws -> (
        result: ProcessResult, statistics: StatisticsJSON, output: [UInt8]
    ) {
        let stats = scratch.file("stats-\(memory).json")
        let output = scratch.file("out-\(memory).tsv")
        let result = try TestEnvironment.mapreduce(
            [
                job, "--workers", "1", "--worker-memory", memory, "--stats", "--stats-json", stats,
                "--output", output, input,
            ]
        )
        try #require(result.status == 0, "\(result)")
        return (result, try StatisticsJSON(path: stats), try Files.read(output))
    }

    @Test("a tiny --worker-memory gets a suggested size, which spares the spills under pressure")
    func suggestionRemovesPressureSpills() throws {
        let scratch = try TemporaryDirectory("spill-hint")
        defer { scratch.remove() }
        // 300,000 nearly distinct words: a 1 MiB table holds about 12,000 keys.
        let input = try scratch.write("words.txt", MemoryTests.randomWords(count: 300_000, seed: 3))
        let tiny = try self.wordCount(input, memory: "1M", in: scratch)
        let pressure = try #require(tiny.statistics.integer("pressure_spills"))
        let spills = try #require(tiny.statistics.integer("spills"))
        // One worker: every spill but one was written under pressure.
        #expect(pressure > 2 && spills == pressure + 1, "\(tiny.statistics.text)")
        let suggested = try #require(tiny.statistics.integer("suggested_worker_memory"), "\(tiny.statistics.text)")
        // A power of two mebibytes, more than the budget that was too small.
        #expect(suggested > 1 << 20 && suggested % (1 << 20) == 0 && (suggested >> 20).nonzeroBitCount == 1)
        let line = tiny.result.stderr.split(separator: "\n").first { $0.contains("hint:") }
        #expect(
            line.map(String.init)
                == " hint: \(pressure) of \(spills) spills were written under memory pressure; "
                + "--worker-memory \(suggested >> 20)M would likely avoid them",
            "\(tiny.result.stderr)"
        )

        let rerun = try self.wordCount(input, memory: "\(suggested >> 20)M", in: scratch)
        #expect(rerun.statistics.integer("pressure_spills") == 0, "\(rerun.statistics.text)")
        #expect(rerun.statistics.integer("spills") == 1, "\(rerun.statistics.text)")
        #expect(rerun.statistics.text.contains("\"suggested_worker_memory\": null"), "\(rerun.statistics.text)")
        #expect(!rerun.result.stderr.contains("hint:"), "\(rerun.result.stderr)")
        #expect(rerun.output == tiny.output, "the output depends on the budget")
    }

    @Test("over a small vocabulary the suggestion is what its keys need, not every spill as one table")
    func suggestionForRepeatedKeys() throws {
        let scratch = try TemporaryDirectory("spill-hint-vocabulary")
        defer { scratch.remove() }
        // 20,000 words, each 20 times: a 1 MiB table holds about 12,000 of them, so it spills about every
        // 12,000 words, 30-odd times, each time with keys it spilled before.
        let vocabulary = MemoryTests.randomWords(count: 20_000, seed: 5)
        let input = try scratch.write("words.txt", Array((0..<20).map { _ in vocabulary }.joined()))
        let tiny = try self.wordCount(input, memory: "1M", in: scratch)
        let spills = try #require(tiny.statistics.integer("spills"))
        let suggested = try #require(tiny.statistics.integer("suggested_worker_memory"), "\(tiny.statistics.text)")
        #expect(spills > 16, "\(tiny.statistics.text)")
        // Spills times the budget would be 32 MiB or more; 20,000 keys need a few.
        #expect(suggested <= 8 << 20, "\(tiny.statistics.text)")
        let rerun = try self.wordCount(input, memory: "\(suggested >> 20)M", in: scratch)
        #expect(rerun.statistics.integer("pressure_spills") == 0, "\(rerun.statistics.text)")
        #expect(rerun.output == tiny.output, "the output depends on the budget")
    }

    @Test("values that grow with the input (the index's lists of files) get a suggestion that holds them")
    func suggestionForGrowingValues() throws {
        let scratch = try TemporaryDirectory("spill-hint-index")
        defer { scratch.remove() }
        // 150 files over the same 3,000 words: each word's list of files grows with every file read.
        let vocabulary = MemoryTests.randomWords(count: 3_000, seed: 8)
        let directory = scratch.file("files")
        _ = mkdir(directory, 0o700)
        for file in 0..<150 { try Files.write("\(directory)/file-\(file).txt", vocabulary) }
        let tiny = try self.wordCount(directory, memory: "1M", job: "index", in: scratch)
        let suggested = try #require(tiny.statistics.integer("suggested_worker_memory"), "\(tiny.statistics.text)")
        let rerun = try self.wordCount(directory, memory: "\(suggested >> 20)M", job: "index", in: scratch)
        #expect(rerun.statistics.integer("pressure_spills") == 0, "\(rerun.statistics.text)")
        #expect(rerun.output == tiny.output, "the output depends on the budget")
    }

    @Test("a run that fits its budget gets no hint")
    func noHintWithoutPressure() throws {
        let scratch = try TemporaryDirectory("no-spill-hint")
        defer { scratch.remove() }
        let run = try self.wordCount(TestEnvironment.corpus, memory: "24M", in: scratch)
        #expect(run.statistics.integer("pressure_spills") == 0, "\(run.statistics.text)")
        #expect(run.statistics.text.contains("\"suggested_worker_memory\": null"), "\(run.statistics.text)")
        #expect(!run.result.stderr.contains("hint:"), "\(run.result.stderr)")
    }
}
