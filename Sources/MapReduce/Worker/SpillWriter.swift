/// Writes one spill file: partition after partition, each a run of `keyLength key valueLength value`
/// records, and returns where each partition's segment is.
@usableFromInline
struct SpillWriter: ~Copyable {
    @usableFromInline let file: BufferedFileWriter
    @usableFromInline var segments: [SpillSegment]
    @usableFromInline var segmentStart: Int
    @usableFromInline var segmentKeys: Int

    @usableFromInline
    init(path: String) throws {
        self.file = try BufferedFileWriter(path: path)
        self.segments = []
        self.segmentStart = 0
        self.segmentKeys = 0
    }

    /// Appends one record to the current partition's segment.
    @inlinable
    mutating func writeRecord(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        try self.file.writeVarint(key.count)
        try self.file.write(key)
        try self.file.writeVarint(value.count)
        try self.file.write(value)
        self.segmentKeys += 1
    }

    /// Appends already encoded records to the current partition's segment.
    @usableFromInline
    mutating func writeEncodedRecords(_ records: [UInt8], count: Int) throws {
        try self.file.write(records)
        self.segmentKeys += count
    }

    /// Ends the current partition's segment and starts the next.
    @usableFromInline
    mutating func endPartition() {
        self.segments.append(
            SpillSegment(
                offset: self.segmentStart,
                length: self.file.offset - self.segmentStart,
                keys: self.segmentKeys
            )
        )
        self.segmentStart = self.file.offset
        self.segmentKeys = 0
    }

    @usableFromInline
    consuming func finish() throws -> Spill {
        try self.file.close()
        return Spill(path: self.file.path, segments: self.segments)
    }
}

/// Names the files a worker writes, unique per worker process.
@usableFromInline
struct WorkFileNamer {
    @usableFromInline let directory: String
    @usableFromInline let prefix: String
    @usableFromInline var sequence = 0

    @usableFromInline
    init(directory: String, workerIndex: Int, processID: Int) {
        self.directory = directory
        self.prefix = "w\(workerIndex)-p\(processID)"
    }

    @usableFromInline
    mutating func next(_ kind: String) -> String {
        self.sequence += 1
        return "\(self.directory)/\(kind)-\(self.prefix)-\(self.sequence)"
    }
}
