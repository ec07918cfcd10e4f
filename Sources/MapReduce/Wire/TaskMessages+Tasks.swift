// The tasks a coordinator hands out and what workers report back: the payloads of the messages in
// TaskMessages.swift.

/// A byte range of one input file, to be mapped.
@usableFromInline
package struct InputSplit: MessagePart, Equatable {
    /// Where the worker opens the file: bytes, as Linux paths need not be UTF-8.
    @usableFromInline package var path: [UInt8]
    /// How errors name the file when not by its path (standard input's spool file is `<stdin>`).
    @usableFromInline package var explicitDisplayName: String?
    /// The file's size when the job started; a different size later means the file changed.
    @usableFromInline package var fileSize: Int
    /// The file's modification time when the job started, in nanoseconds since the epoch.
    @usableFromInline package var modified: Int
    /// The range; the worker moves both ends forward to line starts.
    @usableFromInline package var start: Int
    @usableFromInline package var end: Int

    @usableFromInline package init(
        path: [UInt8],
        displayName: String? = nil,
        fileSize: Int,
        modified: Int = 0,
        start: Int,
        end: Int
    ) {
        self.path = path
        self.explicitDisplayName = displayName
        self.fileSize = fileSize
        self.modified = modified
        self.start = start
        self.end = end
    }

    /// How errors name the file: its display name, or its path with invalid UTF-8 escaped.
    @usableFromInline package var displayName: String {
        self.explicitDisplayName ?? PathName.display(self.path)
    }

    @usableFromInline package var byteCount: Int { self.end - self.start }

    /// Two length prefixes, three varints and a fixed-width time.
    @usableFromInline package static var minimumEncodedSize: Int { 13 }

    package func encode(into writer: inout WireWriter) {
        self.path.withUnsafeBytes { writer.writeLengthPrefixed($0) }
        // An empty display name stands for "the path".
        writer.writeLengthPrefixed(self.explicitDisplayName ?? "")
        writer.writeVarint(self.fileSize)
        writer.writeFixed(UInt64(bitPattern: Int64(self.modified)))
        writer.writeVarint(self.start)
        writer.writeVarint(self.end)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.path = Array(try reader.readLengthPrefixedBytes())
        let displayName = try reader.readLengthPrefixedString()
        self.explicitDisplayName = displayName.isEmpty ? nil : displayName
        self.fileSize = try reader.readCount()
        self.modified = Int(Int64(bitPattern: try reader.readFixed()))
        self.start = try reader.readCount()
        self.end = try reader.readCount()
        guard !self.path.isEmpty, !self.path.contains(0) else {
            throw MapReduceError(.protocolViolation, "an input split has an empty path or one with a NUL byte")
        }
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
    /// Whether each segment is sorted by key: spills written when the map side ends are; spills
    /// written under memory pressure, in the middle of the map phase, are not.
    @usableFromInline package var sorted: Bool

    @usableFromInline package init(path: String, segments: [SpillSegment], sorted: Bool = false) {
        self.path = path
        self.segments = segments
        self.sorted = sorted
    }

    @usableFromInline package var byteCount: Int { self.segments.reduce(0) { $0 + $1.length } }

    /// A length prefix, a flag and a count.
    @usableFromInline package static var minimumEncodedSize: Int { 3 }

    package func encode(into writer: inout WireWriter) {
        writer.writeLengthPrefixed(self.path)
        writer.write(self.sorted ? 1 : 0)
        writer.writeParts(self.segments)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.path = try reader.readLengthPrefixedString()
        self.sorted = try reader.readFlag()
        self.segments = try reader.readParts()
    }
}

/// What a worker reports after a map task.
@usableFromInline
package struct MapTaskReport: Sendable, Equatable {
    @usableFromInline package var taskID: Int
    @usableFromInline package var bytes: Int
    /// Pairs the mapper emitted, before combining.
    @usableFromInline package var records: Int
    @usableFromInline package var elapsedNanoseconds: Int
    /// Spills written since the last report; their presence commits every task done so far.
    @usableFromInline package var spills: [Spill]
    /// The task's counters, and those of any spill written since the last report.
    @usableFromInline package var counters: TaskCounters

    @usableFromInline package init(
        taskID: Int,
        bytes: Int,
        records: Int,
        elapsedNanoseconds: Int,
        spills: [Spill],
        counters: TaskCounters = TaskCounters()
    ) {
        self.taskID = taskID
        self.bytes = bytes
        self.records = records
        self.elapsedNanoseconds = elapsedNanoseconds
        self.spills = spills
        self.counters = counters
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.taskID)
        writer.writeVarint(self.bytes)
        writer.writeVarint(self.records)
        writer.writeVarint(self.elapsedNanoseconds)
        writer.writeParts(self.spills)
        self.counters.encode(into: &writer)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.taskID = try reader.readCount()
        self.bytes = try reader.readCount()
        self.records = try reader.readCount()
        self.elapsedNanoseconds = try reader.readCount()
        self.spills = try reader.readParts()
        self.counters = try TaskCounters(decoding: &reader)
    }
}

/// A reduce task: a range of partitions and the spill segments that hold them.
@usableFromInline
package struct ReduceTask: Sendable, Equatable {
    @usableFromInline
    package struct Input: MessagePart, Equatable {
        @usableFromInline package var path: String
        @usableFromInline package var offset: Int
        /// The lengths of the partitions' segments, laid end to end from `offset`.
        @usableFromInline package var segmentLengths: [Int]

        @usableFromInline package init(path: String, offset: Int, segmentLengths: [Int]) {
            self.path = path
            self.offset = offset
            self.segmentLengths = segmentLengths
        }

        /// Bytes from `offset`: the segments' lengths added up.
        @usableFromInline package var length: Int { self.segmentLengths.reduce(0, +) }

        @usableFromInline package static var minimumEncodedSize: Int { 3 }

        package func encode(into writer: inout WireWriter) {
            writer.writeLengthPrefixed(self.path)
            writer.writeVarint(self.offset)
            writer.writeVarint(self.segmentLengths.count)
            for length in self.segmentLengths { writer.writeVarint(length) }
        }

        @usableFromInline package init(decoding reader: inout WireReader) throws {
            self.path = try reader.readLengthPrefixedString()
            self.offset = try reader.readCount()
            let count = try reader.readCount(limit: reader.remaining)
            var lengths: [Int] = []
            lengths.reserveCapacity(count)
            var total = 0
            for _ in 0..<count {
                // Bounded so that the lengths add up without overflowing.
                let length = try reader.readCount(limit: Int.max - total)
                lengths.append(length)
                total += length
            }
            self.segmentLengths = lengths
        }
    }

    @usableFromInline package var id: Int
    @usableFromInline package var partitions: Range<Int>
    @usableFromInline package var inputs: [Input]
    @usableFromInline package var estimatedKeys: Int
    /// Whether every input segment is sorted by key, so that the task can merge them.
    @usableFromInline package var sortedInputs: Bool

    @usableFromInline package init(
        id: Int,
        partitions: Range<Int>,
        inputs: [Input],
        estimatedKeys: Int,
        sortedInputs: Bool = false
    ) {
        self.id = id
        self.partitions = partitions
        self.inputs = inputs
        self.estimatedKeys = estimatedKeys
        self.sortedInputs = sortedInputs
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.id)
        writer.writeVarint(self.partitions.lowerBound)
        writer.writeVarint(self.partitions.upperBound)
        writer.writeVarint(self.estimatedKeys)
        writer.write(self.sortedInputs ? 1 : 0)
        writer.writeParts(self.inputs)
    }

    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.id = try reader.readCount()
        let lower = try reader.readCount()
        let upper = try reader.readCount()
        guard lower <= upper else { throw MapReduceError(.protocolViolation, "a reduce task has an empty range") }
        self.partitions = lower..<upper
        self.estimatedKeys = try reader.readCount()
        self.sortedInputs = try reader.readFlag()
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
