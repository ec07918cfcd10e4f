import MapReduce
import Testing

@Suite("Chunk sizes, task cutting and reduce planning")
struct TuningTests {
    @Test("chunk sizes parse auto, plain numbers and binary suffixes")
    func parsing() {
        #expect(ChunkSize(parsing: "auto") == .auto)
        #expect(ChunkSize(parsing: " AUTO ") == .auto)
        #expect(ChunkSize(parsing: "65536") == .fixed(65536))
        #expect(ChunkSize(parsing: "64K") == .fixed(65536))
        #expect(ChunkSize(parsing: "4m") == .fixed(4 << 20))
        #expect(ChunkSize(parsing: "1GiB") == .fixed(1 << 30))
        for bad in ["", "0", "-4", "4X", "K", "99999999999999999999G"] {
            #expect(ChunkSize(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("a fixed chunk size is honoured")
    func fixed() {
        var tuner = MapChunkTuner(setting: .fixed(12345), slots: 2, totalBytes: 1 << 30)
        tuner.record(bytes: 1 << 20, nanoseconds: 1_000_000)
        #expect(tuner.nextChunk(remaining: 1 << 30) == 12345)
        #expect(tuner.nextChunk(remaining: 100) == 12345)
    }

    @Test("a fixed chunk size below the floor is raised to it")
    func chunkFloor() {
        #expect(ChunkSize.fixed(1).atLeast(MapReduceEngine.defaultMinimumMapChunk) == .fixed(64 << 10))
        #expect(ChunkSize.fixed(1 << 20).atLeast(64 << 10) == .fixed(1 << 20))
        #expect(ChunkSize.auto.atLeast(64 << 10) == .auto)
    }

    @Test("auto starts small, grows toward the target task time, and shrinks at the end")
    func auto() {
        let total = 1 << 30
        var tuner = MapChunkTuner(setting: .auto, slots: 2, totalBytes: total, targetTaskSeconds: 0.05)
        let first = tuner.nextChunk(remaining: total)
        #expect(first <= 4 << 20)
        // The workers run at 500 MB/s: 50 ms is 25 MB, reached by doubling at most once per task.
        var chunk = first
        for _ in 0..<10 {
            tuner.record(bytes: chunk, nanoseconds: Int(Double(chunk) / 500e6 * 1e9))
            let next = tuner.nextChunk(remaining: total)
            #expect(next <= 2 * chunk)
            chunk = next
        }
        #expect(abs(Double(chunk) - 25e6) / 25e6 < 0.05)
        // Near the end, tasks shrink so that both slots finish together, but not below the floor.
        #expect(tuner.nextChunk(remaining: 8 << 20) == 1 << 20)
        #expect(tuner.nextChunk(remaining: 1000) == tuner.minimumChunk)
    }

    func files(_ sizes: [Int]) -> InputList {
        var list = InputList()
        for (index, size) in sizes.enumerated() {
            list.append(path: Array("/f\(index)".utf8), size: size, modified: index)
        }
        return list
    }

    @Test("tasks cover every byte of every file exactly once", arguments: [1, 100, 4096, 1 << 20])
    func coverage(chunk: Int) {
        let sizes = [0, 1, 10, 5000, 70_000, 0, 3, 250_000]
        var source = MapTaskSource(files: self.files(sizes))
        var covered: [String: [Range<Int>]] = [:]
        var ids = Set<Int>()
        while !source.isExhausted {
            let task = source.task(for: source.next(chunkBytes: chunk))
            #expect(ids.insert(task.id).inserted)
            #expect(!task.splits.isEmpty)
            for split in task.splits {
                covered[split.displayName, default: []].append(split.start..<split.end)
                #expect(split.modified == Int(split.displayName.dropFirst(2))!)
            }
        }
        #expect(source.remainingBytes == 0)
        for (index, size) in sizes.enumerated() where size > 0 {
            let ranges = (covered["/f\(index)"] ?? []).sorted { $0.lowerBound < $1.lowerBound }
            var next = 0
            for range in ranges {
                #expect(range.lowerBound == next)
                next = range.upperBound
            }
            #expect(next == size)
        }
        #expect(covered["/f0"] == nil && covered["/f5"] == nil)
    }

    @Test("small files are grouped into one task, a big file is cut into several")
    func grouping() {
        var source = MapTaskSource(files: self.files(Array(repeating: 1000, count: 50)))
        #expect(source.next(chunkBytes: 64_000).splitCount == 50)
        var big = MapTaskSource(files: self.files([10_000_000]))
        var tasks = 0
        while !big.isExhausted {
            _ = big.next(chunkBytes: 1_000_000)
            tasks += 1
        }
        #expect(tasks == 10)
    }

    @Test("reduce tasks group whole partitions to about the wanted number of keys")
    func reducePlanning() {
        let keys = [10, 0, 5, 20, 0, 0, 7, 1]
        let ranges = ReduceChunkPlanner.plan(keysPerPartition: keys, setting: .fixed(15), slots: 2)
        #expect(ranges == [0..<3, 3..<4, 4..<8])
        #expect(ReduceChunkPlanner.plan(keysPerPartition: keys, setting: .fixed(1000), slots: 2) == [0..<8])
        #expect(ReduceChunkPlanner.plan(keysPerPartition: [0, 0], setting: .auto, slots: 2) == [0..<2])
        let many = ReduceChunkPlanner.plan(
            keysPerPartition: Array(repeating: 10_000, count: 64),
            setting: .auto,
            slots: 2
        )
        #expect(many.count == 8)
        #expect(many.first?.lowerBound == 0 && many.last?.upperBound == 64)
    }
}
