// The messages between a coordinator and a peer node, after the handshake. Every frame is authenticated
// (a MAC with a sequence number, see `FrameAuthentication.swift`); a message that carries bytes (input,
// spill segments, runs) announces their layout, and the bytes follow as LZ4-compressed chunks.

/// Frame kinds of the cluster protocol after the handshake.
package enum ClusterMessageKind {
    // Coordinator to peer.
    package static let jobStart: UInt8 = 100
    package static let task: UInt8 = 101
    package static let jobEnd: UInt8 = 102
    // Peer to coordinator.
    package static let jobReady: UInt8 = 120
    package static let reply: UInt8 = 121
    package static let slotLost: UInt8 = 122
    package static let jobRefused: UInt8 = 123
    // Both ways.
    package static let chunk: UInt8 = 140
    package static let heartbeat: UInt8 = 141
}

/// The limits of the cluster protocol: every length a peer announces is checked against them before
/// anything is allocated.
package enum ClusterLimits {
    /// Raw bytes per compressed chunk of a blob.
    package static let chunkBytes = 4 << 20
    /// The largest frame payload on a cluster connection: a chunk compressed in the worst case, plus its
    /// header. Sixteen times lower than a local worker pipe's.
    package static let payloadLimit = (4 << 20) + (64 << 10)
    /// The most parts a message's blob may have (a map task's splits, a reply's spills).
    package static let maximumParts = 4096
    /// The most bytes one blob may carry (1 TiB): a bound on arithmetic, not on memory, since blobs are
    /// streamed to disk chunk by chunk.
    package static let maximumBlobBytes = 1 << 40
    /// The most slots a peer may offer.
    package static let maximumSlots = 1024
}

/// One part of a blob: `length` bytes that go at `offset` of their own file.
package struct BlobPart: MessagePart, Equatable {
    package var offset: Int
    package var length: Int

    package init(offset: Int, length: Int) {
        self.offset = offset
        self.length = length
    }

    package static var minimumEncodedSize: Int { 2 }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.offset)
        writer.writeVarint(self.length)
    }

    package init(decoding reader: inout WireReader) throws {
        self.offset = try reader.readCount(limit: ClusterLimits.maximumBlobBytes)
        self.length = try reader.readCount(limit: ClusterLimits.maximumBlobBytes)
    }
}

extension [BlobPart] {
    /// The bytes of all parts.
    package var totalLength: Int { self.reduce(0) { $0 + $1.length } }

    /// How many chunks carry these parts.
    package var chunkCount: Int { (self.totalLength + ClusterLimits.chunkBytes - 1) / ClusterLimits.chunkBytes }

    /// Checks what a peer announced: few enough parts, a bounded total.
    package func validated() throws -> [BlobPart] {
        guard self.count <= ClusterLimits.maximumParts else {
            throw MapReduceError(.protocolViolation, "a message announces \(self.count) blob parts")
        }
        var total = 0
        for part in self {
            total += part.length
            guard total <= ClusterLimits.maximumBlobBytes else {
                throw MapReduceError(.protocolViolation, "a message announces over 1 TiB of data")
            }
        }
        return self
    }
}

/// What a peer needs to run a job's tasks.
package struct JobStart: Sendable, Equatable {
    package var jobName: String
    package var jobParameters: [UInt8]
    package var partitions: Int
    package var memoryBudget: Int
    /// How often the coordinator sends heartbeats, and how long the peer waits before it gives up.
    package var heartbeatMilliseconds: Int
    package var timeoutMilliseconds: Int

    package init(
        jobName: String,
        jobParameters: [UInt8],
        partitions: Int,
        memoryBudget: Int,
        heartbeatMilliseconds: Int,
        timeoutMilliseconds: Int
    ) {
        self.jobName = jobName
        self.jobParameters = jobParameters
        self.partitions = partitions
        self.memoryBudget = memoryBudget
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// The chunks of a blob, the bulk of what travels: encoded and decoded without copying their data.
package enum ChunkFrame {
    /// The bytes in front of a chunk's data.
    package static func prefix(slot: Int, generation: Int) -> [UInt8] {
        var writer = WireWriter()
        writer.writeVarint(slot)
        writer.writeVarint(generation)
        return writer.bytes
    }

    /// A chunk frame: the next chunk of `reader`, compressed behind its prefix, with room for its tag.
    package static func next(from reader: inout BlobReader, slot: Int, generation: Int) throws -> Frame? {
        let prefix = Self.prefix(slot: slot, generation: generation)
        guard let payload = try reader.nextChunk(after: prefix, reserving: FrameTag.size) else { return nil }
        return Frame(kind: ClusterMessageKind.chunk, payload: payload)
    }

    /// The slot and generation of a chunk frame, and where its data starts in the payload.
    package static func header(of frame: Frame) throws -> (slot: Int, generation: Int, dataOffset: Int) {
        try frame.payload.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let slot = try reader.readCount(limit: ClusterLimits.maximumSlots)
            let generation = try reader.readCount()
            return (slot, generation, raw.count - reader.remaining)
        }
    }
}

/// A message of the cluster protocol.
package enum ClusterMessage: Sendable, Equatable {
    case jobStart(JobStart)
    /// A task for one of the peer's slots; its blob's chunks follow.
    case task(slot: Int, generation: Int, message: CoordinatorMessage, parts: [BlobPart])
    /// The job is over, or cancelled: stop its workers and forget it.
    case jobEnd
    case jobReady(slots: Int)
    /// A slot's reply; its blob's chunks follow.
    case reply(slot: Int, generation: Int, message: WorkerMessage, parts: [BlobPart])
    /// A peer's worker died; the slot comes back with the next generation.
    case slotLost(slot: Int, generation: Int, reason: String)
    /// The peer cannot run the job.
    case jobRefused(TaskFailure)
    /// `data` is one LZ4 frame of a blob.
    case chunk(slot: Int, generation: Int, data: [UInt8])
    case heartbeat

    package var frame: Frame {
        var writer = WireWriter()
        let kind: UInt8
        switch self {
        case .jobStart(let start):
            kind = ClusterMessageKind.jobStart
            writer.writeLengthPrefixed(start.jobName)
            start.jobParameters.withUnsafeBytes { writer.writeLengthPrefixed($0) }
            writer.writeVarint(start.partitions)
            writer.writeVarint(start.memoryBudget)
            writer.writeVarint(start.heartbeatMilliseconds)
            writer.writeVarint(start.timeoutMilliseconds)
        case .task(let slot, let generation, let message, let parts):
            kind = ClusterMessageKind.task
            Self.writeEnvelope(into: &writer, slot: slot, generation: generation, inner: message.frame, parts: parts)
        case .jobEnd:
            kind = ClusterMessageKind.jobEnd
        case .jobReady(let slots):
            kind = ClusterMessageKind.jobReady
            writer.writeVarint(slots)
        case .reply(let slot, let generation, let message, let parts):
            kind = ClusterMessageKind.reply
            Self.writeEnvelope(into: &writer, slot: slot, generation: generation, inner: message.frame, parts: parts)
        case .slotLost(let slot, let generation, let reason):
            kind = ClusterMessageKind.slotLost
            writer.writeVarint(slot)
            writer.writeVarint(generation)
            writer.writeLengthPrefixed(reason)
        case .jobRefused(let failure):
            kind = ClusterMessageKind.jobRefused
            failure.encode(into: &writer)
        case .chunk(let slot, let generation, let data):
            kind = ClusterMessageKind.chunk
            writer.writeVarint(slot)
            writer.writeVarint(generation)
            data.withUnsafeBytes { writer.write($0) }
        case .heartbeat:
            kind = ClusterMessageKind.heartbeat
        }
        return Frame(kind: kind, payload: writer.bytes)
    }

    package init(frame: Frame) throws {
        self = try frame.payload.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let message: ClusterMessage
            switch frame.kind {
            case ClusterMessageKind.jobStart:
                message = .jobStart(
                    JobStart(
                        jobName: try reader.readLengthPrefixedString(),
                        jobParameters: Array(try reader.readLengthPrefixedBytes()),
                        partitions: try reader.readCount(limit: 1 << 20),
                        memoryBudget: try reader.readCount(limit: 1 << 40),
                        heartbeatMilliseconds: try reader.readCount(limit: 3_600_000),
                        timeoutMilliseconds: try reader.readCount(limit: 3_600_000)
                    )
                )
            case ClusterMessageKind.task:
                let envelope = try Self.readEnvelope(&reader)
                message = .task(
                    slot: envelope.slot,
                    generation: envelope.generation,
                    message: try CoordinatorMessage(frame: envelope.inner),
                    parts: envelope.parts
                )
            case ClusterMessageKind.jobEnd:
                message = .jobEnd
            case ClusterMessageKind.jobReady:
                message = .jobReady(slots: try reader.readCount(limit: ClusterLimits.maximumSlots))
            case ClusterMessageKind.reply:
                let envelope = try Self.readEnvelope(&reader)
                message = .reply(
                    slot: envelope.slot,
                    generation: envelope.generation,
                    message: try WorkerMessage(frame: envelope.inner),
                    parts: envelope.parts
                )
            case ClusterMessageKind.slotLost:
                message = .slotLost(
                    slot: try reader.readCount(limit: ClusterLimits.maximumSlots),
                    generation: try reader.readCount(),
                    reason: try reader.readLengthPrefixedString()
                )
            case ClusterMessageKind.jobRefused:
                message = .jobRefused(try TaskFailure(decoding: &reader))
            case ClusterMessageKind.chunk:
                let (slot, generation, offset) = try ChunkFrame.header(of: frame)
                _ = try reader.readBytes(count: offset)
                message = .chunk(slot: slot, generation: generation, data: Array(reader.readRemainingBytes()))
            case ClusterMessageKind.heartbeat:
                message = .heartbeat
            default:
                throw MapReduceError(.protocolViolation, "unknown cluster message kind \(frame.kind)")
            }
            guard reader.isAtEnd else {
                throw MapReduceError(.protocolViolation, "a cluster message of kind \(frame.kind) has trailing bytes")
            }
            return message
        }
    }
}

extension ClusterMessage {
    /// A task or a reply: the slot and generation it is for, the worker message it carries, and the
    /// layout of the bytes that follow it.
    struct Envelope {
        var slot: Int
        var generation: Int
        var inner: Frame
        var parts: [BlobPart]
    }

    static func writeEnvelope(
        into writer: inout WireWriter,
        slot: Int,
        generation: Int,
        inner: Frame,
        parts: [BlobPart]
    ) {
        writer.writeVarint(slot)
        writer.writeVarint(generation)
        writer.write(inner.kind)
        inner.payload.withUnsafeBytes { writer.writeLengthPrefixed($0) }
        writer.writeParts(parts)
    }

    static func readEnvelope(_ reader: inout WireReader) throws -> Envelope {
        let slot = try reader.readCount(limit: ClusterLimits.maximumSlots)
        let generation = try reader.readCount()
        let kind = try reader.readByte()
        let inner = Frame(kind: kind, payload: Array(try reader.readLengthPrefixedBytes()))
        let parts: [BlobPart] = try reader.readParts()
        return Envelope(slot: slot, generation: generation, inner: inner, parts: try parts.validated())
    }
}
