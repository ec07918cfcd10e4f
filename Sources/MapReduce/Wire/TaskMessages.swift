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
package let workerProtocolVersion = 4

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
    /// Reads a byte that must be 0 (false) or 1 (true).
    mutating func readFlag() throws -> Bool {
        switch try self.readByte() {
        case 0: return false
        case 1: return true
        case let byte: throw MapReduceError(.protocolViolation, "a flag byte is \(byte), not 0 or 1")
        }
    }

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
    /// The spills of a flush, and the counters of the spills (keys filtered while writing them).
    case flushed([Spill], TaskCounters)
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
        case .flushed(let spills, let counters):
            kind = MessageKind.flushed
            writer.writeParts(spills)
            counters.encode(into: &writer)
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
            case MessageKind.flushed:
                message = .flushed(try reader.readParts(), try TaskCounters(decoding: &reader))
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
