/// Writes one spill file: partition after partition, each a run of records in ``RecordFormat``, and
/// remembers where each partition's segment is.
///
/// Records go straight into the buffer of a ``BufferedFileWriter`` with plain stores, written out with
/// one system call per megabyte. Its fields skip dynamic exclusivity checks: a writer belongs to one
/// spill of one worker.
@usableFromInline
final class SpillWriter {
    @usableFromInline let file: BufferedFileWriter
    @usableFromInline @exclusivity(unchecked) var segments: [SpillSegment] = []
    @usableFromInline @exclusivity(unchecked) var segmentStart = 0
    @usableFromInline @exclusivity(unchecked) var segmentKeys = 0

    @usableFromInline
    init(path: String, capacity: Int = 1 << 20) throws {
        self.file = try BufferedFileWriter(path: path, bufferSize: capacity)
    }

    /// Bytes written so far, buffered or not.
    @inlinable var offset: Int { self.file.offset }

    /// Appends one record to the current partition's segment.
    @inlinable
    func writeRecord(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        let needed = RecordFormat.maximumSize(keyCount: key.count, valueCount: value.count)
        guard let room = try self.file.reserve(needed) else {
            try self.writeLarge(key: key, value: value)
            return
        }
        self.file.commit(RecordFormat.put(key: key, value: value, into: room, at: 0))
        self.segmentKeys &+= 1
    }

    /// A record larger than the buffer, written straight through.
    @usableFromInline
    func writeLarge(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        try withUnsafeTemporaryAllocation(byteCount: RecordFormat.maximumVarintSize, alignment: 1) { header in
            let keyHeader = RecordFormat.putVarint(key.count, header.baseAddress!, 0)
            try self.file.write(UnsafeRawBufferPointer(rebasing: header[..<keyHeader]))
            try self.file.write(key)
            let valueHeader = RecordFormat.putVarint(value.count, header.baseAddress!, 0)
            try self.file.write(UnsafeRawBufferPointer(rebasing: header[..<valueHeader]))
            try self.file.write(value)
        }
        self.segmentKeys += 1
    }

    /// Appends records that are already encoded.
    @usableFromInline
    func writeEncodedRecords(_ records: [UInt8], count: Int) throws {
        try records.withUnsafeBytes { try self.writeEncodedRecords($0, count: count) }
    }

    /// Appends `count` records that are already encoded: buffered if they fit, else written through.
    @usableFromInline
    func writeEncodedRecords(_ records: UnsafeRawBufferPointer, count: Int) throws {
        self.segmentKeys &+= count
        try self.file.write(records)
    }

    /// Ends the current partition's segment and starts the next.
    @usableFromInline
    func endPartition() {
        self.segments.append(
            SpillSegment(offset: self.segmentStart, length: self.offset - self.segmentStart, keys: self.segmentKeys)
        )
        self.segmentStart = self.offset
        self.segmentKeys = 0
    }

    /// Flushes and closes the file; `sorted` says whether every segment was written in key order.
    @usableFromInline
    func finish(sorted: Bool = false) throws -> Spill {
        try self.file.close()
        return Spill(path: self.file.path, segments: self.segments, sorted: sorted)
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

/// Removes files a worker wrote and no longer needs, such as a reduce task's partial runs; a file that
/// is already gone is no error (the job's temporary directory goes at the end anyway).
@usableFromInline
func removeWorkFiles(_ paths: [String]) {
    for path in paths { Syscall.unlink(path) }
}
