/// Writes one spill file: partition after partition, each a run of records in ``RecordFormat``, and
/// remembers where each partition's segment is.
///
/// Records go into a large buffer with plain stores, written out with one system call per megabyte.
/// Its fields skip dynamic exclusivity checks: a writer belongs to one spill of one worker.
@usableFromInline
final class SpillWriter {
    @usableFromInline let path: String
    @usableFromInline let fd: CInt
    @usableFromInline let buffer: UnsafeMutableRawPointer
    @usableFromInline let capacity: Int
    @usableFromInline @exclusivity(unchecked) var used = 0
    @usableFromInline @exclusivity(unchecked) var flushed = 0
    @usableFromInline @exclusivity(unchecked) var segments: [SpillSegment] = []
    @usableFromInline @exclusivity(unchecked) var segmentStart = 0
    @usableFromInline @exclusivity(unchecked) var segmentKeys = 0
    private var closed = false

    @usableFromInline
    init(path: String, capacity: Int = 1 << 20) throws {
        self.path = path
        do {
            self.fd = try Syscall.createForWriting(path)
        } catch {
            throw MapReduceError(.io, "cannot create: \(error.message)", input: path)
        }
        self.capacity = capacity
        self.buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        if !self.closed { Syscall.close(self.fd) }
        self.buffer.deallocate()
    }

    /// Bytes written so far, buffered or not.
    @inlinable var offset: Int { self.flushed &+ self.used }

    /// Appends one record to the current partition's segment.
    @inlinable
    func writeRecord(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        let needed = RecordFormat.maximumSize(keyCount: key.count, valueCount: value.count)
        if _slowPath(self.used &+ needed > self.capacity) {
            try self.flush()
            if needed > self.capacity {
                try self.writeLarge(key: key, value: value)
                return
            }
        }
        self.used = RecordFormat.put(key: key, value: value, into: self.buffer, at: self.used)
        self.segmentKeys &+= 1
    }

    /// A record larger than the buffer, written straight through.
    @usableFromInline
    func writeLarge(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        var header = [UInt8](repeating: 0, count: 20)
        try header.withUnsafeMutableBytes { raw in
            let keyHeader = RecordFormat.putVarint(key.count, raw.baseAddress!, 0)
            try self.writeThrough(UnsafeRawBufferPointer(rebasing: raw[0..<keyHeader]))
            try self.writeThrough(key)
            let valueHeader = RecordFormat.putVarint(value.count, raw.baseAddress!, 0)
            try self.writeThrough(UnsafeRawBufferPointer(rebasing: raw[0..<valueHeader]))
            try self.writeThrough(value)
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
        guard let base = records.baseAddress, !records.isEmpty else { return }
        if self.used &+ records.count <= self.capacity {
            copyBytes(from: base, to: self.buffer + self.used, count: records.count)
            self.used &+= records.count
        } else {
            try self.flush()
            try self.writeThrough(records)
        }
    }

    @usableFromInline
    func writeThrough(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try Syscall.writeFully(self.fd, bytes)
        } catch {
            throw MapReduceError(.io, "cannot write: \(error.message)", input: self.path)
        }
        self.flushed += bytes.count
    }

    @usableFromInline
    func flush() throws {
        guard self.used > 0 else { return }
        let used = self.used
        self.used = 0
        try self.writeThrough(UnsafeRawBufferPointer(start: self.buffer, count: used))
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
        try self.flush()
        self.closed = true
        Syscall.close(self.fd)
        return Spill(path: self.path, segments: self.segments, sorted: sorted)
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
