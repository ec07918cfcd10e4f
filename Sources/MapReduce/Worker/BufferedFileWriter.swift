import SystemPackage

/// Writes a file through a large buffer; tracks the offset of the next byte. The engine's one buffered
/// writer: output files, standard output, spills and runs (through ``SpillWriter``) all go through it.
///
/// The buffer is raw memory filled with plain copies, so that a small write (a word and its count)
/// costs a bounds check and a copy. Its fields skip dynamic exclusivity checks: a writer is used by one
/// thread.
@usableFromInline
final class BufferedFileWriter {
    @usableFromInline let path: String
    let fd: CInt
    @usableFromInline let buffer: UnsafeMutableRawPointer
    @usableFromInline let capacity: Int
    @usableFromInline @exclusivity(unchecked) var used = 0
    @usableFromInline @exclusivity(unchecked) var offset = 0
    /// Bytes the system has accepted: `offset` less what is buffered or was lost to a failed write.
    private(set) var delivered = 0
    private var closed = false

    /// Creates (or truncates) `path`, readable only by its owner.
    @usableFromInline
    init(path: String, bufferSize: Int = 256 * 1024) throws {
        self.path = path
        do {
            self.fd = try Syscall.createForWriting(path)
        } catch {
            throw MapReduceError(.io, "cannot create: \(error.message)", input: path)
        }
        self.capacity = bufferSize
        self.buffer = .allocate(byteCount: max(bufferSize, 1), alignment: 16)
    }

    /// Writes to a descriptor that is already open; the writer closes it. `name` is what errors name.
    @usableFromInline
    init(descriptor: CInt, name: String, bufferSize: Int = 256 * 1024) {
        self.path = name
        self.fd = descriptor
        self.capacity = bufferSize
        self.buffer = .allocate(byteCount: max(bufferSize, 1), alignment: 16)
    }

    /// The descriptor written to.
    var descriptor: CInt { self.fd }

    @inlinable
    func write(_ raw: UnsafeRawBufferPointer) throws {
        if _slowPath(self.used &+ raw.count > self.capacity) {
            try self.flush()
            if raw.count >= self.capacity {
                try self.writeThrough(raw)
                return
            }
        }
        if let base = raw.baseAddress { copyBytes(from: base, to: self.buffer + self.used, count: raw.count) }
        self.used &+= raw.count
        self.offset &+= raw.count
    }

    /// Room for `count` bytes at the end of the buffer, flushing it first if need be, for the caller to
    /// fill and then ``commit(_:)``; nil if the buffer is smaller than `count`.
    @inlinable
    func reserve(_ count: Int) throws -> UnsafeMutableRawPointer? {
        if _slowPath(self.used &+ count > self.capacity) {
            try self.flush()
            if count > self.capacity { return nil }
        }
        return self.buffer + self.used
    }

    /// Counts `count` bytes stored at the room ``reserve(_:)`` returned as written.
    @inlinable
    func commit(_ count: Int) {
        self.used &+= count
        self.offset &+= count
    }

    @inlinable
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try self.write($0) }
    }

    @usableFromInline
    func writeThrough(_ raw: UnsafeRawBufferPointer) throws {
        do {
            try Syscall.writeFully(self.fd, raw)
        } catch {
            throw MapReduceError(.io, "cannot write: \(error.message)", input: self.path, underlying: error)
        }
        self.offset += raw.count
        self.delivered += raw.count
    }

    @usableFromInline
    func flush() throws {
        guard self.used > 0 else { return }
        let used = self.used
        self.used = 0
        do {
            try Syscall.writeFully(self.fd, UnsafeRawBufferPointer(start: self.buffer, count: used))
            self.delivered += used
        } catch {
            throw MapReduceError(.io, "cannot write: \(describeError(error))", input: self.path, underlying: error)
        }
    }

    @usableFromInline
    func close() throws {
        guard !self.closed else { return }
        try self.flush()
        self.closed = true
        Syscall.close(self.fd)
    }

    /// Closes the descriptor without writing what is still buffered.
    func abandon() {
        guard !self.closed else { return }
        self.closed = true
        self.used = 0
        Syscall.close(self.fd)
    }

    deinit {
        if !self.closed { Syscall.close(self.fd) }
        self.buffer.deallocate()
    }
}
