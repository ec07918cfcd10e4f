import NIOCore

/// Entry points into the engine's decoders for the libFuzzer targets in `Fuzz/` (a separate package,
/// so only public declarations reach it). Not part of the engine's API: the names and signatures may
/// change with the fuzz targets. Each entry point runs the engine's own code; the targets hold the
/// checks and the slow reference versions.
@_spi(Fuzzing)
public enum EngineFuzzing {
    // MARK: Frames and messages

    /// What ``decodeFrames(_:limit:pieceSizes:)`` made of a byte stream.
    public struct DecodedFrames: Equatable, Sendable {
        /// The frames, in order: kind and payload.
        public var frames: [[UInt8]]
        /// The kind byte of each frame, in the same order as ``frames``.
        public var kinds: [UInt8]
        /// Whether the decoder threw (a length over the limit, or the stream ending inside a frame).
        public var failed: Bool

        /// Creates a result; the defaults are an empty stream that decoded.
        public init(frames: [[UInt8]] = [], kinds: [UInt8] = [], failed: Bool = false) {
            self.frames = frames
            self.kinds = kinds
            self.failed = failed
        }
    }

    /// Runs ``FrameDecoder`` over `stream`, handed to it in pieces of the given sizes (cycled; the
    /// rest in one piece if there are none), then the end of the stream.
    public static func decodeFrames(_ stream: [UInt8], limit: Int, pieceSizes: [Int]) -> DecodedFrames {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: limit))
        var result = DecodedFrames(frames: [], kinds: [], failed: false)
        let collect = { (frame: Frame) in
            result.kinds.append(frame.kind)
            result.frames.append(frame.payload)
        }
        do {
            var offset = 0
            var piece = 0
            while offset < stream.count {
                let size = pieceSizes.isEmpty ? stream.count : max(1, pieceSizes[piece % pieceSizes.count])
                let end = min(stream.count, offset + size)
                try processor.process(buffer: ByteBuffer(bytes: stream[offset..<end])) { collect($0) }
                offset = end
                piece += 1
            }
            try processor.finishProcessing(seenEOF: true) { collect($0) }
        } catch {
            result.failed = true
        }
        return result
    }

    /// How a frame decoded as a message.
    public enum MessageOutcome: Equatable, Sendable {
        /// Not a valid message of either direction.
        case rejected
        /// A valid message whose re-encoding decodes to the same message.
        case roundTrips
        /// A valid message whose re-encoding decodes to something else, or not at all: a bug.
        case mismatch(String)
    }

    /// Decodes a frame as a ``CoordinatorMessage`` and, if that works, re-encodes and decodes it again.
    public static func decodeCoordinatorMessage(kind: UInt8, payload: [UInt8]) -> MessageOutcome {
        let frame = Frame(kind: kind, payload: payload)
        guard let message = try? CoordinatorMessage(frame: frame) else { return .rejected }
        let again = try? CoordinatorMessage(frame: message.frame)
        return again == message ? .roundTrips : .mismatch("\(message) became \(String(describing: again))")
    }

    /// Decodes a frame as a ``WorkerMessage`` and, if that works, re-encodes and decodes it again.
    public static func decodeWorkerMessage(kind: UInt8, payload: [UInt8]) -> MessageOutcome {
        let frame = Frame(kind: kind, payload: payload)
        guard let message = try? WorkerMessage(frame: frame) else { return .rejected }
        let again = try? WorkerMessage(frame: message.frame)
        return again == message ? .roundTrips : .mismatch("\(message) became \(String(describing: again))")
    }

    // MARK: Records

    /// One `keyLength key valueLength value` record.
    public struct Record: Equatable, Sendable {
        /// The key's bytes.
        public var key: [UInt8]
        /// The value's bytes.
        public var value: [UInt8]

        /// Creates a record.
        public init(key: [UInt8], value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    /// The records of a spill segment as the reduce side's hash path reads them (``WireReader``), or
    /// nil if it throws.
    public static func readRecordsWithWireReader(_ bytes: UnsafeRawBufferPointer) -> [Record]? {
        var reader = WireReader(bytes)
        var records: [Record] = []
        do {
            while !reader.isAtEnd {
                let key = try reader.readLengthPrefixedBytes()
                let value = try reader.readLengthPrefixedBytes()
                records.append(Record(key: Array(key), value: Array(value)))
            }
        } catch {
            return nil
        }
        return records
    }

    /// The records of a sorted spill segment as the reduce side's merge reads them (``SegmentCursor``),
    /// or nil if it throws (truncated, corrupt or not sorted).
    public static func readRecordsWithSegmentCursor(_ bytes: UnsafeRawBufferPointer) -> [Record]? {
        var cursor = SegmentCursor(bytes, path: "<fuzz>")
        var records: [Record] = []
        do {
            while try cursor.advance() {
                records.append(Record(key: Array(cursor.key), value: Array(cursor.value)))
            }
        } catch {
            return nil
        }
        return records
    }

    /// The records of a buffered partition as the spill sorter reads and sorts them, or nil if it throws.
    public static func sortRecordsWithSpillSorter(_ bytes: UnsafeRawBufferPointer) -> [Record]? {
        var sorter = SpillSorter()
        do {
            try sorter.add(bytes)
        } catch {
            return nil
        }
        let records = sorter.records
        PrefixSort.sort(&sorter.order) { lhs, rhs in
            let order = compareBytes(SpillSorter.key(of: records[Int(lhs)]), SpillSorter.key(of: records[Int(rhs)]))
            return order != 0 ? order < 0 : lhs < rhs
        }
        return sorter.order.map { entry in
            let record = records[Int(entry.slot)]
            return self.readRecordsWithWireReader(record)?.first ?? Record(key: [], value: [])
        }
    }

    // MARK: LZ4

    /// ``LZ4Frame/decompress(_:limit:)``.
    public static func lz4Decompress(_ frame: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        try LZ4Frame.decompress(frame, limit: limit)
    }

    /// ``LZ4Frame/compress(_:)``.
    public static func lz4Compress(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        try LZ4Frame.compress(bytes)
    }

    // MARK: Mappers

    /// Runs `job`'s mapper over `bytes` (whole lines) as a worker does, and returns every key it emits
    /// that its ``Mapper/keepsKey(_:)`` keeps, in emission order, with its encoded value.
    /// - Parameter cut: 0, or where a piece of a long line starts: then the mapper gets `bytes[cut...]`
    ///   as a piece after `bytes[..<cut]`, which must not hold a line end.
    public static func mapKeys<J: MapReduceJob>(
        _ job: J,
        lines bytes: UnsafeRawBufferPointer,
        cut: Int = 0
    ) throws -> [Record] {
        var mapper = try job.makeMapper()
        let filter = try job.makeMapper()
        var records: [Record] = []
        var emitter = Emitter<J.Key, J.Value>(
            target: EmitTarget(
                drain: { batch in
                    for index in 0..<batch.count where !batch.pending[index].isDropped {
                        let key = batch.key(at: index)
                        guard filter.keepsKey(RawSpan(_unsafeBytes: key)) else { continue }
                        records.append(Record(key: Array(key), value: batch.values[index].encodedBytes))
                    }
                },
                prefetchHint: { .none }
            )
        )
        let origin = InputOrigin(path: "<fuzz>", offset: 0)
        if cut > 0 {
            try mapper.map(
                piece: RawSpan(_unsafeBytes: UnsafeRawBufferPointer(rebasing: bytes[cut...])),
                after: RawSpan(_unsafeBytes: UnsafeRawBufferPointer(rebasing: bytes[..<cut])),
                at: origin.advanced(by: cut),
                into: &emitter
            )
        } else {
            try mapper.map(lines: RawSpan(_unsafeBytes: bytes), at: origin, into: &emitter)
        }
        emitter.drain()
        return records
    }
}
