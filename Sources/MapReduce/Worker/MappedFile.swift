import SystemPackage

/// A whole input file mapped read-only into memory.
///
/// Mapped pages belong to the page cache, not to the worker's anonymous memory, so a worker maps a
/// gigabyte-sized file, or a file that is one enormous line, without its memory growing.
@usableFromInline
final class MappedFile {
    @usableFromInline let path: String
    @usableFromInline let displayName: String
    @usableFromInline let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    /// Maps an input file, checking that it still has the size it had when the job started.
    @usableFromInline
    convenience init(path: String, displayName: String, expectedSize: Int) throws {
        try self.init(path: path, displayName: displayName, expectedSize: expectedSize, code: .badInput)
    }

    /// Maps a file the job wrote itself, such as a spill: its errors are I/O errors, not bad input.
    @usableFromInline
    convenience init(intermediate path: String) throws {
        try self.init(path: path, displayName: path, expectedSize: nil, code: .io)
    }

    init(path: String, displayName: String, expectedSize: Int?, code: MapReduceError.Code) throws {
        self.path = path
        self.displayName = displayName
        let fd: CInt
        do {
            fd = try Syscall.openForReading(path)
        } catch {
            throw MapReduceError(code, "cannot open: \(error.message)", input: displayName)
        }
        defer { Syscall.close(fd) }
        let size: Int
        do {
            size = try Syscall.fileSize(fd)
        } catch {
            throw MapReduceError(code, "cannot stat: \(error.message)", input: displayName)
        }
        if let expectedSize, size != expectedSize {
            throw MapReduceError(
                code,
                "changed while the job ran (it had \(expectedSize) bytes, now \(size))",
                input: displayName
            )
        }
        if size == 0 {
            self.mapping = nil
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address: UnsafeMutableRawPointer
        do {
            address = try Syscall.mapReadOnly(fd, count: size)
        } catch {
            throw MapReduceError(code, "cannot map into memory: \(error.message)", input: displayName)
        }
        self.mapping = address
        self.bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// Asks the kernel to read a range ahead of use.
    @usableFromInline
    func willNeed(_ range: Range<Int>) {
        guard let mapping, !range.isEmpty else { return }
        let pageSize = 4096
        let start = range.lowerBound & ~(pageSize - 1)
        Syscall.adviseWillNeed(mapping + start, count: range.upperBound - start)
    }

    deinit {
        if let mapping { Syscall.unmap(mapping, count: self.bytes.count) }
    }
}

/// Writes a file through a large buffer; tracks the offset of the next byte.
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
