import MapReduce
import Testing

@Suite("Frames, messages and LZ4")
struct FrameTests {
    static let split = InputSplit(
        path: Array("/data/a\u{FF}.txt".utf8) + [0xFF],
        displayName: "a.txt",
        fileSize: 100,
        modified: -1_000_000_007,
        start: 10,
        end: 90
    )
    static let spill = Spill(path: "/tmp/s", segments: [SpillSegment(offset: 0, length: 5, keys: 1)])
    static let sortedSpill = Spill(
        path: "/tmp/t",
        segments: [SpillSegment(offset: 0, length: 7, keys: 2)],
        sorted: true
    )

    @Test("every coordinator message round-trips through a frame")
    func coordinatorMessages() throws {
        let messages: [CoordinatorMessage] = [
            .hello(
                WorkerHello(
                    jobName: "wordcount",
                    jobParameters: [1],
                    workDirectory: "/tmp/x",
                    partitions: 64,
                    memoryBudget: 1 << 20,
                    workerIndex: 3
                )
            ),
            .map(MapTask(id: 7, splits: [Self.split, Self.split])),
            .flush,
            .reduce(
                ReduceTask(
                    id: 2,
                    partitions: 4..<9,
                    inputs: [.init(path: "/tmp/s", offset: 3, segmentLengths: [1, 0, 3])],
                    estimatedKeys: 10,
                    sortedInputs: true
                )
            ),
            .shutdown,
        ]
        for message in messages {
            #expect(try CoordinatorMessage(frame: message.frame) == message)
        }
    }

    @Test("every worker message round-trips through a frame")
    func workerMessages() throws {
        let messages: [WorkerMessage] = [
            .ready(protocolVersion: 1, processID: 1234),
            .mapDone(MapTaskReport(taskID: 1, bytes: 2, records: 3, elapsedNanoseconds: 4, spills: [Self.spill])),
            .flushed([Self.spill, Self.sortedSpill], TaskCounters(records: 0, keysFiltered: 4, job: ["x": 1])),
            .reduceDone(ReduceTaskReport(taskID: 1, runPath: "/tmp/r", keys: 5, inputBytes: 6, elapsedNanoseconds: 7)),
            .taskFailed(TaskFailure(taskID: 9, error: MapReduceError(.invalidData, "bad", input: "x:1"))),
        ]
        for message in messages {
            #expect(try WorkerMessage(frame: message.frame) == message)
        }
    }

    @Test("malformed frames are errors: unknown kinds, truncation, trailing bytes, impossible ranges")
    func malformed() throws {
        let good = CoordinatorMessage.map(MapTask(id: 7, splits: [Self.split])).frame
        #expect(throws: MapReduceError.self) { try CoordinatorMessage(frame: Frame(kind: 99, payload: [])) }
        #expect(throws: MapReduceError.self) {
            try CoordinatorMessage(frame: Frame(kind: good.kind, payload: Array(good.payload.dropLast())))
        }
        #expect(throws: MapReduceError.self) {
            try CoordinatorMessage(frame: Frame(kind: good.kind, payload: good.payload + [0]))
        }
        let backwards = InputSplit(path: Array("p".utf8), fileSize: 10, start: 8, end: 2)
        #expect(throws: MapReduceError.self) {
            try CoordinatorMessage(frame: CoordinatorMessage.map(MapTask(id: 1, splits: [backwards])).frame)
        }
        // A reduce input's segment count far beyond what the payload can hold is refused before allocating:
        // task 1, partitions 0..<2, 1 key, unsorted, one input "s" at offset 0, then the count.
        let reduceKind = CoordinatorMessage.reduce(
            ReduceTask(id: 1, partitions: 0..<2, inputs: [], estimatedKeys: 1)
        ).frame.kind
        let reduce = Frame(kind: reduceKind, payload: [1, 0, 2, 1, 0, 1, 1, 0x73, 0, 0xFF, 0xFF, 0x03, 1])
        #expect(throws: MapReduceError.self) { try CoordinatorMessage(frame: reduce) }
        // A flag byte is 0 or 1.
        var flushed = WorkerMessage.flushed([Self.sortedSpill], TaskCounters()).frame
        let flag = 2 + Self.sortedSpill.path.utf8.count  // after the spill count and the path
        try #require(flushed.payload[flag] == 1)
        flushed.payload[flag] = 2
        #expect(throws: MapReduceError.self) { try WorkerMessage(frame: flushed) }
        // A split count far beyond what the payload can hold is refused before allocating.
        #expect(throws: MapReduceError.self) {
            try CoordinatorMessage(frame: Frame(kind: good.kind, payload: [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))
        }
    }

    @Test("frame headers are bounded before anything is allocated")
    func headerLimit() throws {
        let header = Frame.header(kind: 2, payloadCount: 1000)
        #expect(try Frame.parseHeader(header, limit: 1000) == (2, 1000))
        #expect(throws: MapReduceError.self) { try Frame.parseHeader(header, limit: 999) }
        #expect(throws: MapReduceError.self) { try Frame.parseHeader([0xFF, 0xFF, 0xFF, 0xFF, 1], limit: 1 << 26) }
    }

    @Test("LZ4 frames round-trip, and decompression is bounded and checked")
    func lz4() throws {
        var random = SeededGeneratorLite(seed: 3)
        let text = Array(String(repeating: "compressible text, compressible text. ", count: 5000).utf8)
        let noise = (0..<100_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for input in [[], text, noise, text + noise] as [[UInt8]] {
            let compressed = try input.withUnsafeBytes { try LZ4Frame.compress($0) }
            let restored = try compressed.withUnsafeBytes { try LZ4Frame.decompress($0, limit: input.count) }
            #expect(restored == input)
        }
        let compressed = try text.withUnsafeBytes { try LZ4Frame.compress($0) }
        #expect(compressed.count < text.count / 10)
        #expect(throws: MapReduceError.self) {
            try compressed.withUnsafeBytes { try LZ4Frame.decompress($0, limit: text.count - 1) }
        }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        corrupt[corrupt.count / 3] ^= 0x55
        #expect(throws: MapReduceError.self) {
            try corrupt.withUnsafeBytes { try LZ4Frame.decompress($0, limit: text.count) }
        }
        #expect(throws: MapReduceError.self) {
            try Array(compressed.prefix(compressed.count / 2)).withUnsafeBytes {
                try LZ4Frame.decompress($0, limit: text.count)
            }
        }
    }
}
