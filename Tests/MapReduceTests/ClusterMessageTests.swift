import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Cluster messages and blobs")
struct ClusterMessageTests {
    static let split = InputSplit(path: Array("/in/a".utf8), displayName: "a", fileSize: 100, start: 10, end: 50)
    static let spill = Spill(
        path: "/peer/s1",
        segments: [SpillSegment(offset: 0, length: 7, keys: 1), SpillSegment(offset: 7, length: 3, keys: 1)],
        sorted: true
    )

    static let messages: [ClusterMessage] = [
        .jobStart(
            JobStart(
                jobName: "wordcount",
                jobParameters: [1, 2],
                partitions: 64,
                memoryBudget: 24 << 20,
                heartbeatMilliseconds: 1000,
                timeoutMilliseconds: 10_000
            )
        ),
        .task(
            slot: 1,
            generation: 2,
            message: .map(MapTask(id: 7, splits: [split])),
            parts: [BlobPart(offset: 9, length: 60)]
        ),
        .task(slot: 0, generation: 0, message: .flush, parts: []),
        .jobEnd,
        .jobReady(slots: 4),
        .reply(
            slot: 3,
            generation: 1,
            message: .mapDone(
                MapTaskReport(
                    taskID: 7,
                    bytes: 40,
                    records: 9,
                    elapsedNanoseconds: 5,
                    spills: [spill],
                    counters: TaskCounters(records: 3, keysFiltered: 1, job: ["tokens": 9, "'..' lines skipped": 1])
                )
            ),
            parts: [BlobPart(offset: 0, length: 10)]
        ),
        .reply(
            slot: 0,
            generation: 0,
            message: .flushed([spill], TaskCounters(records: 0, keysFiltered: 5, job: [:])),
            parts: [BlobPart(offset: 0, length: 10)]
        ),
        .slotLost(slot: 2, generation: 5, reason: "worker 2 (pid 9) killed by SIGKILL"),
        .jobRefused(TaskFailure(taskID: 0, error: MapReduceError(.usage, "no job named x"))),
        .chunk(slot: 1, generation: 2, data: [4, 34, 77, 24]),
        .heartbeat,
    ]

    @Test("every message survives its encoding")
    func roundTrip() throws {
        for message in Self.messages {
            #expect(try ClusterMessage(frame: message.frame) == message)
        }
    }

    @Test("every truncated message is an error, never a crash; trailing bytes too")
    func truncated() {
        for message in Self.messages {
            let frame = message.frame
            // A chunk's data runs to the end of its frame: any prefix after the header fields is a chunk.
            if frame.kind == ClusterMessageKind.chunk { continue }
            for length in 0..<frame.payload.count {
                let cut = Frame(kind: frame.kind, payload: Array(frame.payload[0..<length]))
                #expect(throws: MapReduceError.self) { try ClusterMessage(frame: cut) }
            }
            let longer = Frame(kind: frame.kind, payload: frame.payload + [0])
            #expect(throws: MapReduceError.self) { try ClusterMessage(frame: longer) }
        }
        #expect(throws: MapReduceError.self) { try ClusterMessage(frame: Frame(kind: 99, payload: [])) }
    }

    @Test("counts, slots and sizes announced by a peer are bounded before anything is allocated")
    func bounds() throws {
        var many = WireWriter()
        many.writeVarint(0)
        many.writeVarint(0)
        let flush = CoordinatorMessage.flush.frame
        many.write(flush.kind)
        many.writeVarint(0)
        many.writeVarint(ClusterLimits.maximumParts + 1)
        for _ in 0...ClusterLimits.maximumParts {
            many.writeVarint(0)
            many.writeVarint(0)
        }
        #expect(throws: MapReduceError.self) {
            try ClusterMessage(frame: Frame(kind: ClusterMessageKind.task, payload: many.bytes))
        }
        let hugeParts = [BlobPart](repeating: BlobPart(offset: 0, length: 1 << 39), count: 3)
        #expect(throws: MapReduceError.self) { try hugeParts.validated() }
        let tooManySlots = ClusterMessage.jobReady(slots: ClusterLimits.maximumSlots + 1).frame
        #expect(throws: MapReduceError.self) { try ClusterMessage(frame: tooManySlots) }
    }

    @Test("a blob read from file ranges arrives at the same offsets, across chunks, holes before")
    func blobRoundTrip() throws {
        let directory = try TemporaryDirectory("blob")
        defer { directory.remove() }
        let big = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 12) }
        let source = try directory.write("source", big)
        let small = try directory.write("small", Array("hello, peer\n".utf8))
        let sources = [
            BlobFile(path: source, offset: 1000, length: big.count - 2000),
            BlobFile(path: small, offset: 0, length: 0),
            BlobFile(path: small, offset: 7, length: 5),
        ]
        var reader = BlobReader(sources: sources, scratch: ChunkBuffer())
        let destinations = zip(["a", "b", "c"], reader.parts).map { name, part in
            BlobFile(path: directory.file(name), offset: part.offset, length: part.length)
        }
        var writer = BlobWriter(destinations: destinations, scratch: ChunkBuffer())
        var chunks = 0
        while let chunk = try reader.nextChunk() {
            chunks += 1
            let complete = writer.isComplete
            #expect(!complete)
            try chunk.withUnsafeBytes { try writer.accept($0) }
        }
        #expect(chunks == 3)
        let complete = writer.isComplete
        #expect(complete)
        let (raw, compressed) = (reader.rawBytes, reader.compressedBytes)
        #expect(compressed < raw)
        let a = try Files.read(directory.file("a"))
        #expect(a.count == big.count - 1000)
        #expect(a[0..<1000].allSatisfy { $0 == 0 })
        #expect(a[1000...].elementsEqual(big[1000..<(big.count - 1000)]))
        #expect(try Files.read(directory.file("b")).isEmpty)
        #expect(try Files.read(directory.file("c")) == [UInt8](repeating: 0, count: 7) + Array("peer\n".utf8))
    }

    @Test("a chunk larger, smaller, corrupt or unannounced is refused")
    func badChunks() throws {
        let directory = try TemporaryDirectory("blob-bad")
        defer { directory.remove() }
        let destination = [BlobFile(path: directory.file("x"), offset: 0, length: 100)]
        let tooBig = try [UInt8](repeating: 1, count: 101).withUnsafeBytes { try LZ4Frame.compress($0) }
        let tooSmall = try [UInt8](repeating: 1, count: 99).withUnsafeBytes { try LZ4Frame.compress($0) }
        let exact = try [UInt8](repeating: 1, count: 100).withUnsafeBytes { try LZ4Frame.compress($0) }
        for chunk in [tooBig, tooSmall, Array(exact.dropLast(3)), exact + [0], [UInt8](repeating: 0xAB, count: 40)] {
            var writer = BlobWriter(destinations: destination, scratch: ChunkBuffer())
            #expect(throws: MapReduceError.self) { try chunk.withUnsafeBytes { try writer.accept($0) } }
        }
        var writer = BlobWriter(destinations: destination, scratch: ChunkBuffer())
        try exact.withUnsafeBytes { try writer.accept($0) }
        let complete = writer.isComplete
        #expect(complete)
        #expect(throws: MapReduceError.self) { try exact.withUnsafeBytes { try writer.accept($0) } }
    }
}
