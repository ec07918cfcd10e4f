import MapReduce
import Testing

/// Every message decoder on the worker pipe is bounded: a payload cut short anywhere throws (it never
/// traps), and a count or length far beyond what the payload holds is refused before anything is
/// allocated for it.
@Suite("Message decoder bounds")
struct MessageBoundsTests {
    static let split = InputSplit(
        path: Array("/data/a.txt".utf8),
        displayName: "a",
        fileSize: 1 << 40,
        modified: 1_700_000_000_000_000_000,
        start: 300,
        end: 1 << 33
    )
    static let spills = [
        Spill(path: "/tmp/s", segments: [SpillSegment(offset: 0, length: 5, keys: 1)]),
        Spill(
            path: "/tmp/t",
            segments: [SpillSegment(offset: 0, length: 700, keys: 200), SpillSegment(offset: 700, length: 0, keys: 0)],
            sorted: true
        ),
    ]

    static let coordinatorMessages: [CoordinatorMessage] = [
        .hello(
            WorkerHello(
                jobName: "wordcount",
                jobParameters: [1, 2, 3],
                workDirectory: "/tmp/x",
                partitions: 64,
                memoryBudget: 1 << 30,
                workerIndex: 3
            )
        ),
        .map(MapTask(id: 7, splits: [Self.split, Self.split])),
        .reduce(
            ReduceTask(
                id: 2,
                partitions: 4..<9,
                inputs: [
                    .init(path: "/tmp/s", offset: 3, segmentLengths: [1, 0, 300]),
                    .init(path: "/tmp/t", offset: 0, segmentLengths: []),
                ],
                estimatedKeys: 10_000,
                sortedInputs: true
            )
        ),
    ]

    static let workerMessages: [WorkerMessage] = [
        .ready(protocolVersion: 3, processID: 123_456),
        .mapDone(
            MapTaskReport(
                taskID: 1,
                bytes: 1 << 20,
                records: 300,
                elapsedNanoseconds: 1 << 35,
                spills: Self.spills,
                counters: TaskCounters(records: 70, keysFiltered: 3, job: ["tokens": 500, "malformed lines": 2])
            )
        ),
        .flushed(Self.spills, TaskCounters(records: 0, keysFiltered: 12, job: ["é": 1 << 40])),
        .reduceDone(ReduceTaskReport(taskID: 1, runPath: "/tmp/r", keys: 5, inputBytes: 6, elapsedNanoseconds: 7)),
        .taskFailed(TaskFailure(taskID: 9, error: MapReduceError(.invalidData, "bad", input: "x:1"))),
        .taskFailed(TaskFailure(taskID: 9, error: MapReduceError(.io, "no input"))),
    ]

    /// A varint far beyond any payload: 2^62.
    static let huge: [UInt8] = {
        var writer = WireWriter()
        writer.writeVarint(UInt64(1) << 62)
        return writer.bytes
    }()

    /// Varints, written as the messages write them.
    static func varints(_ values: Int...) -> [UInt8] {
        var writer = WireWriter()
        for value in values { writer.writeVarint(value) }
        return writer.bytes
    }

    /// A length-prefixed string.
    static func string(_ text: String) -> [UInt8] {
        var writer = WireWriter()
        writer.writeLengthPrefixed(text)
        return writer.bytes
    }

    @Test("every coordinator message cut short at every length throws", arguments: coordinatorMessages)
    func truncatedCoordinatorMessage(_ message: CoordinatorMessage) throws {
        let frame = message.frame
        #expect(try CoordinatorMessage(frame: frame) == message)
        for count in 0..<frame.payload.count {
            #expect(throws: MapReduceError.self, "cut to \(count) of \(frame.payload.count) bytes") {
                try CoordinatorMessage(frame: Frame(kind: frame.kind, payload: Array(frame.payload.prefix(count))))
            }
        }
    }

    @Test("every worker message cut short at every length throws", arguments: workerMessages)
    func truncatedWorkerMessage(_ message: WorkerMessage) throws {
        let frame = message.frame
        #expect(try WorkerMessage(frame: frame) == message)
        for count in 0..<frame.payload.count {
            #expect(throws: MapReduceError.self, "cut to \(count) of \(frame.payload.count) bytes") {
                try WorkerMessage(frame: Frame(kind: frame.kind, payload: Array(frame.payload.prefix(count))))
            }
        }
    }

    @Test("a huge varint spliced in anywhere never traps: each message either decodes or throws")
    func hugeVarintAnywhere() throws {
        for message in Self.coordinatorMessages {
            let frame = message.frame
            for position in 0..<frame.payload.count {
                for replaced in [0, 1] where position + replaced <= frame.payload.count {
                    var payload = frame.payload
                    payload.replaceSubrange(position..<(position + replaced), with: Self.huge)
                    _ = try? CoordinatorMessage(frame: Frame(kind: frame.kind, payload: payload))
                }
            }
        }
        for message in Self.workerMessages {
            let frame = message.frame
            for position in 0..<frame.payload.count {
                for replaced in [0, 1] where position + replaced <= frame.payload.count {
                    var payload = frame.payload
                    payload.replaceSubrange(position..<(position + replaced), with: Self.huge)
                    _ = try? WorkerMessage(frame: Frame(kind: frame.kind, payload: payload))
                }
            }
        }
    }

    @Test("huge counts and lengths in coordinator messages are refused before allocating")
    func hugeCoordinatorCounts() throws {
        let hello = CoordinatorMessage.hello(
            WorkerHello(
                jobName: "j",
                jobParameters: [],
                workDirectory: "/",
                partitions: 1,
                memoryBudget: 1,
                workerIndex: 0
            )
        ).frame.kind
        let map = CoordinatorMessage.map(MapTask(id: 1, splits: [])).frame.kind
        let reduce = CoordinatorMessage.reduce(ReduceTask(id: 1, partitions: 0..<1, inputs: [], estimatedKeys: 0))
            .frame.kind
        let payloads: [(kind: UInt8, payload: [UInt8], what: String)] = [
            (hello, Self.varints(3) + Self.huge, "the job name's length"),
            (hello, Self.varints(3) + Self.string("j") + Self.huge, "the job parameters' length"),
            (hello, Self.varints(3) + Self.string("j") + [0] + Self.huge, "the work directory's length"),
            (hello, Self.varints(3) + Self.string("j") + [0] + Self.string("/") + Self.huge + [1, 0], "partitions"),
            (map, Self.varints(1) + Self.huge, "the split count"),
            (map, Self.varints(1, 1) + Self.huge, "a split's path length"),
            (map, Self.varints(1, 1, 0) + Self.huge, "a split's display name length"),
            (reduce, Self.varints(1, 0, 2, 1) + [0] + Self.huge, "the input count"),
            (reduce, Self.varints(1, 0, 2, 1) + [0] + Self.varints(1) + Self.huge, "an input's path length"),
            (reduce, Self.varints(1, 0, 2, 1) + [0] + Self.varints(1) + Self.string("s") + [0] + Self.huge, "segments"),
        ]
        for (kind, payload, what) in payloads {
            #expect(throws: MapReduceError.self, "\(what)") {
                try CoordinatorMessage(frame: Frame(kind: kind, payload: payload + [0, 0, 0, 0]))
            }
        }
    }

    @Test("huge counts and lengths in worker messages are refused before allocating")
    func hugeWorkerCounts() throws {
        let flushed = WorkerMessage.flushed([], TaskCounters()).frame.kind
        let mapDone = WorkerMessage.mapDone(
            MapTaskReport(taskID: 1, bytes: 0, records: 0, elapsedNanoseconds: 0, spills: [])
        ).frame.kind
        let reduceDone = WorkerMessage.reduceDone(
            ReduceTaskReport(taskID: 1, runPath: "r", keys: 0, inputBytes: 0, elapsedNanoseconds: 0)
        ).frame.kind
        let failed = WorkerMessage.taskFailed(TaskFailure(taskID: 1, error: MapReduceError(.io, "x"))).frame.kind
        let payloads: [(kind: UInt8, payload: [UInt8], what: String)] = [
            (flushed, Self.huge, "the spill count"),
            (flushed, Self.varints(1) + Self.huge, "a spill's path length"),
            (flushed, Self.varints(1) + Self.string("s") + [1] + Self.huge, "a spill's segment count"),
            (mapDone, Self.varints(1, 0, 0, 0) + Self.huge, "the report's spill count"),
            (mapDone, Self.varints(1, 0, 0, 0, 1) + Self.string("s") + [0] + Self.huge, "a report's segment count"),
            (mapDone, Self.varints(1, 0, 0, 0, 0, 0, 0) + Self.huge, "the counter name count"),
            (mapDone, Self.varints(1, 0, 0, 0, 0, 0, 0, 1) + Self.huge, "a counter name's length"),
            (flushed, Self.varints(0, 0, 0) + Self.huge, "the counter name count of a flush"),
            (flushed, Self.varints(0, 0, 0, 1) + Self.huge, "a counter name's length in a flush"),
            (reduceDone, Self.varints(1) + Self.huge, "the run path's length"),
            (failed, Self.varints(1) + [4] + Self.huge, "the failure message's length"),
            (failed, Self.varints(1) + [4] + Self.string("m") + [1] + Self.huge, "the failed input's length"),
        ]
        for (kind, payload, what) in payloads {
            #expect(throws: MapReduceError.self, "\(what)") {
                try WorkerMessage(frame: Frame(kind: kind, payload: payload + [0, 0, 0, 0]))
            }
        }
    }

    @Test("a varint longer than ten bytes or past 64 bits is refused")
    func varintBounds() throws {
        let cases: [[UInt8]] = [
            Array(repeating: 0x80, count: 10) + [0],  // eleven bytes
            Array(repeating: 0xFF, count: 9) + [0x02],  // bit 64
            Array(repeating: 0xFF, count: 5),  // truncated
            [],
        ]
        for bytes in cases {
            #expect(throws: MapReduceError.self, "\(bytes)") {
                try bytes.withUnsafeBytes { raw in
                    var reader = WireReader(raw)
                    _ = try reader.readVarint()
                }
            }
        }
        let largest = [UInt8](repeating: 0xFF, count: 9) + [0x01]
        #expect(
            try largest.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                return try reader.readVarint()
            } == .max
        )
    }
}

@Suite("Task counters on the wire")
struct TaskCounterBoundsTests {
    static func decode(_ bytes: [UInt8]) throws -> TaskCounters {
        try bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            return try TaskCounters(decoding: &reader)
        }
    }

    @Test("counters round-trip, names in order whatever the dictionary's")
    func roundTrip() throws {
        let counters = TaskCounters(records: 9, keysFiltered: 2, job: ["b": 1, "a": 0, "ünïcödé": Int.max])
        var writer = WireWriter()
        counters.encode(into: &writer)
        #expect(try Self.decode(writer.bytes) == counters)
        var again = WireWriter()
        TaskCounters(records: 9, keysFiltered: 2, job: ["ünïcödé": Int.max, "a": 0, "b": 1]).encode(into: &again)
        #expect(again.bytes == writer.bytes)
    }

    @Test("more names than allowed, or a longer name, is refused even when the payload holds them")
    func limits() throws {
        var many = WireWriter()
        many.writeVarint(0)
        many.writeVarint(0)
        many.writeVarint(TaskCounters.maximumNames + 1)
        for index in 0...TaskCounters.maximumNames {
            many.writeLengthPrefixed("c\(index)")
            many.writeVarint(1)
        }
        #expect(throws: MapReduceError.self) { try Self.decode(many.bytes) }

        var long = WireWriter()
        long.writeVarint(0)
        long.writeVarint(0)
        long.writeVarint(1)
        long.writeLengthPrefixed(String(repeating: "x", count: TaskCounters.maximumNameBytes + 1))
        long.writeVarint(1)
        #expect(throws: MapReduceError.self) { try Self.decode(long.bytes) }

        var twice = WireWriter()
        twice.writeVarint(0)
        twice.writeVarint(0)
        twice.writeVarint(2)
        for _ in 0..<2 {
            twice.writeLengthPrefixed("same")
            twice.writeVarint(1)
        }
        #expect(throws: MapReduceError.self) { try Self.decode(twice.bytes) }

        var invalid = WireWriter()
        invalid.writeVarint(0)
        invalid.writeVarint(0)
        invalid.writeVarint(1)
        [UInt8]([0xC3, 0x28]).withUnsafeBytes { invalid.writeLengthPrefixed($0) }
        invalid.writeVarint(1)
        #expect(throws: MapReduceError.self) { try Self.decode(invalid.bytes) }
    }

    @Test("the worker refuses to send counters past the limits, with a message that says which")
    func workerSideLimits() throws {
        var names: [String: Int] = [:]
        for index in 0...TaskCounters.maximumNames { names["c\(index)"] = 1 }
        #expect(TaskCounters(job: names).limitViolation?.contains("counter names") == true)
        let long = String(repeating: "x", count: TaskCounters.maximumNameBytes + 1)
        #expect(TaskCounters(job: [long: 1]).limitViolation?.contains("bytes long") == true)
        #expect(TaskCounters(job: ["fine": 1]).limitViolation == nil)
    }
}
