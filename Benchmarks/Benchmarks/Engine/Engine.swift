import Benchmark
@_spi(Benchmarks) import MapReduce
import MapReduceJobs

/// Deterministic English-like text (a fixed word list, a fixed generator), so runs compare.
func sampleText(bytes: Int, unicode: Bool) -> [UInt8] {
    let ascii = [
        "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
        "not", "he", "i", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they",
        "Lord", "unto", "shall", "hacker", "program", "devil", "dictionary", "definition", "abbreviation",
        "characteristically", "Jerusalem", "whatsoever", "compiler", "documentation", "n", "s", "v",
    ]
    let accented = ["café", "naïve", "ΣΟΦΟΣ", "straße", "Ångström", "rôle", "façade", "δῶρον", "漢字"]
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var text: [UInt8] = []
    text.reserveCapacity(bytes + 64)
    var column = 0
    while text.count < bytes {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let pick = Int(truncatingIfNeeded: state >> 33)
        let word = unicode && pick % 5 == 0 ? accented[pick % accented.count] : ascii[pick % ascii.count]
        text += Array(word.utf8)
        column += word.utf8.count + 1
        if column > 70 {
            text += Array(".\n".utf8)
            column = 0
        } else {
            text.append(pick % 7 == 0 ? UInt8(ascii: ",") : UInt8(ascii: " "))
        }
    }
    return text
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1,
        maxDuration: .seconds(2),
        maxIterations: 200
    )

    let megabyte = 1 << 20
    let ascii = sampleText(bytes: 8 * megabyte, unicode: false)
    let unicode = sampleText(bytes: 8 * megabyte, unicode: true)

    // Tokenizer plus emitter plus combining table: one worker's map side. One iteration is 8 MiB, so
    // MB/s is 8.39 times the throughput (iterations per second).
    Benchmark("Word count map side, ASCII text (8 MiB per iteration)") { benchmark in
        for _ in benchmark.scaledIterations {
            try ascii.withUnsafeBytes { blackHole(try EngineBenchmarks.map(WordCount(), lines: $0)) }
        }
    }
    Benchmark("Word count map side, 20% Unicode words (8 MiB per iteration)") { benchmark in
        for _ in benchmark.scaledIterations {
            try unicode.withUnsafeBytes { blackHole(try EngineBenchmarks.map(WordCount(), lines: $0)) }
        }
    }

    // The combining table alone: 100 000 distinct keys, each counted 10 times.
    let keys = (0..<100_000).map { Array("key-\($0 &* 2_654_435_761 % 1_000_003)".utf8) }
    Benchmark("Key table, 1M lookups of 100K keys") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(EngineBenchmarks.combine(keys: keys, rounds: 10)) }
    }

    // The partition hash and the partitioner, per key.
    let words = (0..<10_000).map { Array("word\($0)".utf8) }
    Benchmark("MR64 hash and partition, 10K keys") { benchmark in
        let partitioner = HashPartitioner()
        for _ in benchmark.scaledIterations {
            var sum = 0
            for word in words {
                word.withUnsafeBytes {
                    sum &+= partitioner.partition(encodedKey: $0, hash: KeyHash.hash($0), count: 64)
                }
            }
            blackHole(sum)
        }
    }

    // Frames and records.
    Benchmark("Frames: map task + report round trips, 1K") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try EngineBenchmarks.roundTripFrames(count: 1000, splitsPerTask: 4))
        }
    }
    let values = (0..<100_000).map { ($0 &* 7919) % 1_000_000 - 500_000 }
    Benchmark("Records: 100K Int values encoded and decoded") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try EngineBenchmarks.roundTripRecords(values)) }
    }

    // The chunk-size tuner's decisions for 256 MiB on 2 slots at 300 MB/s: how many tasks, how large.
    Benchmark("Chunk tuner: plan 256 MiB for 2 slots") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(EngineBenchmarks.tunerDecisions(totalBytes: 256 * megabyte, slots: 2, bytesPerSecond: 300e6))
        }
    }
    let plan = EngineBenchmarks.tunerDecisions(totalBytes: 256 * megabyte, slots: 2, bytesPerSecond: 300e6)
    print(
        "chunk tuner, 256 MiB on 2 slots at 300 MB/s: \(plan.count) tasks, "
            + "first \(plan.prefix(6).map { $0 >> 10 }) KiB, largest \((plan.max() ?? 0) >> 20) MiB, "
            + "last \(plan.suffix(4).map { $0 >> 10 }) KiB"
    )
}
