/// The messages between a coordinator and a worker (or, later, a peer node).
///
/// Every message encodes to a ``Frame``; decoding checks every length and count against what the payload
/// can hold, so a malformed frame is an error, never a crash or a huge allocation.
package enum MessageKind {
    // Coordinator to worker.
    package static let hello: UInt8 = 1
    package static let map: UInt8 = 2
    package static let flush: UInt8 = 3
    package static let reduce: UInt8 = 4
    package static let shutdown: UInt8 = 5
    // Worker to coordinator.
    package static let ready: UInt8 = 64
    package static let mapDone: UInt8 = 65
    package static let flushed: UInt8 = 66
    package static let reduceDone: UInt8 = 67
    package static let taskFailed: UInt8 = 68
}

/// The version of the worker protocol; both ends must agree.
package let workerProtocolVersion = 1

/// A piece of a message that delimits itself, so that several can stand in a row.
package protocol MessagePart: Sendable {
    /// The fewest bytes an encoding takes; bounds a decoded count before anything is allocated.
    static var minimumEncodedSize: Int { get }
    func encode(into writer: inout WireWriter)
    init(decoding reader: inout WireReader) throws
}

extension WireWriter {
    /// Writes the count, then each part.
    mutating func writeParts(_ parts: [some MessagePart]) {
        self.writeVarint(parts.count)
        for part in parts { part.encode(into: &self) }
    }
}

extension WireReader {
    /// Reads what ``WireWriter/writeParts(_:)`` wrote.
    mutating func readParts<Part: MessagePart>(_ type: Part.Type = Part.self) throws -> [Part] {
        let count = try self.readCount(limit: self.remaining / Part.minimumEncodedSize)
        var parts: [Part] = []
        parts.reserveCapacity(count)
        for _ in 0..<count { parts.append(try Part(decoding: &self)) }
        return parts
    }
}

/// What a worker needs to know before its first task.
@usableFromInline
package struct WorkerHello: Sendable, Equatable {
    @usableFromInline package var protocolVersion: Int = workerProtocolVersion
    @usableFromInline package var jobName: String
    @usableFromInline package var jobParameters: [UInt8]
    @usableFromInline package var workDirectory: String
    @usableFromInline package var partitions: Int
    @usableFromInline package var memoryBudget: Int
    @usableFromInline package var workerIndex: Int

    @usableFromInline package init(
        jobName: String,
        jobParameters: [UInt8],
        workDirectory: String,
        partitions: Int,
        memoryBudget: Int,
        workerIndex: Int
    ) {
        self.jobName = jobName
        self.jobParameters = jobParameters
        self.workDirectory = workDirectory
        self.partitions = partitions
        self.memoryBudget = memoryBudget
        self.workerIndex = workerIndex
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.protocolVersion)
        writer.writeLengthPrefixed(self.jobName)
        self.jobParameters.withUnsafeBytes { writer.writeLengthPrefixed($0) }
        writer.writeLengthPrefixed(self.workDirectory)
        writer.writeVarint(self.partitions)
        writer.writeVarint(self.memoryBudget)
        writer.writeVarint(self.workerIndex)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.protocolVersion = try reader.readCount()
        self.jobName = try reader.readLengthPrefixedString()
        self.jobParameters = Array(try reader.readLengthPrefixedBytes())
        self.workDirectory = try reader.readLengthPrefixedString()
        self.partitions = try reader.readCount(limit: 1 << 20)
        self.memoryBudget = try reader.readCount()
        self.workerIndex = try reader.readCount()
    }
}

/// A byte range of one input file, to be mapped.
@usableFromInline
package struct InputSplit: MessagePart, Equatable {
    /// Where the worker opens the file.
    @usableFromInline package var path: String
    /// How errors name the file.
    @usableFromInline package var displayName: String
    /// The file's size when the job started; a different size later means the file changed.
    @usableFromInline package var fileSize: Int
    /// The range; the worker moves both ends forward to line starts.
    @usableFromInline package var start: Int
    @usableFromInline package var end: Int

    @usableFromInline package init(path: String, displayName: String, fileSize: Int, start: Int, end: Int) {
        self.path = path
        self.displayName = displayName
        self.fileSize = fileSize
        self.start = start
        self.end = end
    }

    @usableFromInline package var byteCount: Int { self.end - self.start }

    /// Two length prefixes and three integers.
    @usableFromInline package static var minimumEncodedSize: Int { 5 }

    package func encode(into writer: inout WireWriter) {
        writer.writeLengthPrefixed(self.path)
        writer.writeLengthPrefixed(self.displayName)
        writer.writeVarint(self.fileSize)
        writer.writeVarint(self.start)
        writer.writeVarint(self.end)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.path = try reader.readLengthPrefixedString()
        self.displayName = try reader.readLengthPrefixedString()
        self.fileSize = try reader.readCount()
        self.start = try reader.readCount()
        self.end = try reader.readCount()
        guard self.start <= self.end, self.end <= self.fileSize else {
            throw MapReduceError(.protocolViolation, "an input split has the range \(self.start)..<\(self.end)")
        }
    }
}

/// A map task: some splits, mapped into the worker's table.
@usableFromInline
package struct MapTask: Sendable, Equatable {
    @usableFromInline package var id: Int
    @usableFromInline package var splits: [InputSplit]

    @usableFromInline package init(id: Int, splits: [InputSplit]) {
        self.id = id
        self.splits = splits
    }

    @usableFromInline package var byteCount: Int { self.splits.reduce(0) { $0 + $1.byteCount } }

    /// `path:offset` of the task's first byte, for error messages.
    @usableFromInline package var firstInput: String {
        guard let first = self.splits.first else { return "(no input)" }
        return "\(first.displayName):\(first.start)"
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.id)
        writer.writeParts(self.splits)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.id = try reader.readCount()
        self.splits = try reader.readParts()
    }
}

/// Where one partition's records are in a spill file.
@usableFromInline
package struct SpillSegment: MessagePart, Equatable {
    @usableFromInline package var offset: Int
    @usableFromInline package var length: Int
    @usableFromInline package var keys: Int

    @usableFromInline package init(offset: Int, length: Int, keys: Int) {
        self.offset = offset
        self.length = length
        self.keys = keys
    }

    @usableFromInline package static var minimumEncodedSize: Int { 3 }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.offset)
        writer.writeVarint(self.length)
        writer.writeVarint(self.keys)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.offset = try reader.readCount()
        self.length = try reader.readCount()
        self.keys = try reader.readCount()
    }
}

/// A file of map output written by a worker: one segment per partition.
@usableFromInline
package struct Spill: MessagePart, Equatable {
    @usableFromInline package var path: String
    @usableFromInline package var segments: [SpillSegment]

    @usableFromInline package init(path: String, segments: [SpillSegment]) {
        self.path = path
        self.segments = segments
    }

    @usableFromInline package var byteCount: Int { self.segments.reduce(0) { $0 + $1.length } }

    /// A length prefix and a count.
    @usableFromInline package static var minimumEncodedSize: Int { 2 }

    package func encode(into writer: inout WireWriter) {
        writer.writeLengthPrefixed(self.path)
        writer.writeParts(self.segments)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.path = try reader.readLengthPrefixedString()
        self.segments = try reader.readParts()
    }
}

/// What a worker reports after a map task.
@usableFromInline
package struct MapTaskReport: Sendable, Equatable {
    @usableFromInline package var taskID: Int
    @usableFromInline package var bytes: Int
    @usableFromInline package var records: Int
    @usableFromInline package var elapsedNanoseconds: Int
    /// Spills written since the last report; their presence commits every task done so far.
    @usableFromInline package var spills: [Spill]

    @usableFromInline package init(taskID: Int, bytes: Int, records: Int, elapsedNanoseconds: Int, spills: [Spill]) {
        self.taskID = taskID
        self.bytes = bytes
        self.records = records
        self.elapsedNanoseconds = elapsedNanoseconds
        self.spills = spills
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.taskID)
        writer.writeVarint(self.bytes)
        writer.writeVarint(self.records)
        writer.writeVarint(self.elapsedNanoseconds)
        writer.writeParts(self.spills)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.taskID = try reader.readCount()
        self.bytes = try reader.readCount()
        self.records = try reader.readCount()
        self.elapsedNanoseconds = try reader.readCount()
        self.spills = try reader.readParts()
    }
}

/// A reduce task: a range of partitions and the spill segments that hold them.
@usableFromInline
package struct ReduceTask: Sendable, Equatable {
    @usableFromInline
    package struct Input: MessagePart, Equatable {
        @usableFromInline package var path: String
        @usableFromInline package var offset: Int
        @usableFromInline package var length: Int

        @usableFromInline package init(path: String, offset: Int, length: Int) {
            self.path = path
            self.offset = offset
            self.length = length
        }

        @usableFromInline package static var minimumEncodedSize: Int { 3 }

        package func encode(into writer: inout WireWriter) {
            writer.writeLengthPrefixed(self.path)
            writer.writeVarint(self.offset)
            writer.writeVarint(self.length)
        }

        @usableFromInline package init(decoding reader: inout WireReader) throws {
            self.path = try reader.readLengthPrefixedString()
            self.offset = try reader.readCount()
            self.length = try reader.readCount()
        }
    }

    @usableFromInline package var id: Int
    @usableFromInline package var partitions: Range<Int>
    @usableFromInline package var inputs: [Input]
    @usableFromInline package var estimatedKeys: Int

    @usableFromInline package init(id: Int, partitions: Range<Int>, inputs: [Input], estimatedKeys: Int) {
        self.id = id
        self.partitions = partitions
        self.inputs = inputs
        self.estimatedKeys = estimatedKeys
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.id)
        writer.writeVarint(self.partitions.lowerBound)
        writer.writeVarint(self.partitions.upperBound)
        writer.writeVarint(self.estimatedKeys)
        writer.writeParts(self.inputs)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.id = try reader.readCount()
        let lower = try reader.readCount()
        let upper = try reader.readCount()
        guard lower <= upper else { throw MapReduceError(.protocolViolation, "a reduce task has an empty range") }
        self.partitions = lower..<upper
        self.estimatedKeys = try reader.readCount()
        self.inputs = try reader.readParts()
    }
}

/// What a worker reports after a reduce task: a run of outputs sorted by key.
@usableFromInline
package struct ReduceTaskReport: Sendable, Equatable {
    @usableFromInline package var taskID: Int
    @usableFromInline package var runPath: String
    @usableFromInline package var keys: Int
    @usableFromInline package var inputBytes: Int
    @usableFromInline package var elapsedNanoseconds: Int

    @usableFromInline package init(taskID: Int, runPath: String, keys: Int, inputBytes: Int, elapsedNanoseconds: Int) {
        self.taskID = taskID
        self.runPath = runPath
        self.keys = keys
        self.inputBytes = inputBytes
        self.elapsedNanoseconds = elapsedNanoseconds
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.taskID)
        writer.writeLengthPrefixed(self.runPath)
        writer.writeVarint(self.keys)
        writer.writeVarint(self.inputBytes)
        writer.writeVarint(self.elapsedNanoseconds)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.taskID = try reader.readCount()
        self.runPath = try reader.readLengthPrefixedString()
        self.keys = try reader.readCount()
        self.inputBytes = try reader.readCount()
        self.elapsedNanoseconds = try reader.readCount()
    }
}

/// A task the job's own code or data made fail; retrying it would fail the same way.
package struct TaskFailure: Sendable, Equatable {
    @usableFromInline package var taskID: Int
    @usableFromInline package var code: UInt8
    @usableFromInline package var message: String
    @usableFromInline package var input: String?

    @usableFromInline package init(taskID: Int, error: MapReduceError) {
        self.taskID = taskID
        self.code = error.code.storage.rawValue
        self.message = error.message
        self.input = error.input
    }

    @usableFromInline package var error: MapReduceError {
        let code =
            MapReduceError.Code.Storage(rawValue: self.code).map { MapReduceError.Code(storage: $0) } ?? .jobFailed
        return MapReduceError(code, self.message, input: self.input)
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.taskID)
        writer.write(self.code)
        writer.writeLengthPrefixed(self.message)
        writer.write(self.input == nil ? 0 : 1)
        if let input = self.input { writer.writeLengthPrefixed(input) }
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.taskID = try reader.readCount()
        self.code = try reader.readByte()
        self.message = try reader.readLengthPrefixedString()
        self.input = try reader.readByte() == 0 ? nil : try reader.readLengthPrefixedString()
    }
}

/// A message from the coordinator to a worker.
package enum CoordinatorMessage: Sendable, Equatable {
    case hello(WorkerHello)
    case map(MapTask)
    case flush
    case reduce(ReduceTask)
    case shutdown

    @usableFromInline package var frame: Frame {
        var writer = WireWriter()
        let kind: UInt8
        switch self {
        case .hello(let hello):
            kind = MessageKind.hello
            hello.encode(into: &writer)
        case .map(let task):
            kind = MessageKind.map
            task.encode(into: &writer)
        case .flush: kind = MessageKind.flush
        case .reduce(let task):
            kind = MessageKind.reduce
            task.encode(into: &writer)
        case .shutdown: kind = MessageKind.shutdown
        }
        return Frame(kind: kind, payload: writer.bytes)
    }

    @usableFromInline package init(frame: Frame) throws {
        self = try frame.payload.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let message: CoordinatorMessage
            switch frame.kind {
            case MessageKind.hello: message = .hello(try WorkerHello(decoding: &reader))
            case MessageKind.map: message = .map(try MapTask(decoding: &reader))
            case MessageKind.flush: message = .flush
            case MessageKind.reduce: message = .reduce(try ReduceTask(decoding: &reader))
            case MessageKind.shutdown: message = .shutdown
            default: throw MapReduceError(.protocolViolation, "unknown coordinator message kind \(frame.kind)")
            }
            guard reader.isAtEnd else {
                throw MapReduceError(.protocolViolation, "a message of kind \(frame.kind) has trailing bytes")
            }
            return message
        }
    }
}

/// A message from a worker to the coordinator.
package enum WorkerMessage: Sendable, Equatable {
    case ready(protocolVersion: Int, processID: Int)
    case mapDone(MapTaskReport)
    case flushed([Spill])
    case reduceDone(ReduceTaskReport)
    case taskFailed(TaskFailure)

    @usableFromInline package var frame: Frame {
        var writer = WireWriter()
        let kind: UInt8
        switch self {
        case .ready(let version, let pid):
            kind = MessageKind.ready
            writer.writeVarint(version)
            writer.writeVarint(pid)
        case .mapDone(let report):
            kind = MessageKind.mapDone
            report.encode(into: &writer)
        case .flushed(let spills):
            kind = MessageKind.flushed
            writer.writeParts(spills)
        case .reduceDone(let report):
            kind = MessageKind.reduceDone
            report.encode(into: &writer)
        case .taskFailed(let failure):
            kind = MessageKind.taskFailed
            failure.encode(into: &writer)
        }
        return Frame(kind: kind, payload: writer.bytes)
    }

    @usableFromInline package init(frame: Frame) throws {
        self = try frame.payload.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let message: WorkerMessage
            switch frame.kind {
            case MessageKind.ready:
                message = .ready(protocolVersion: try reader.readCount(), processID: try reader.readCount())
            case MessageKind.mapDone: message = .mapDone(try MapTaskReport(decoding: &reader))
            case MessageKind.flushed: message = .flushed(try reader.readParts())
            case MessageKind.reduceDone: message = .reduceDone(try ReduceTaskReport(decoding: &reader))
            case MessageKind.taskFailed: message = .taskFailed(try TaskFailure(decoding: &reader))
            default: throw MapReduceError(.protocolViolation, "unknown worker message kind \(frame.kind)")
            }
            guard reader.isAtEnd else {
                throw MapReduceError(.protocolViolation, "a message of kind \(frame.kind) has trailing bytes")
            }
            return message
        }
    }
}
