import SystemPackage

/// Writes a file that appears whole or not at all: bytes go to a temporary file beside the destination,
/// which ``commit()`` renames into place. If the writer is discarded or released uncommitted, the
/// temporary file is removed and the destination is untouched.
public final class AtomicFileWriter {
    /// The file that ``commit()`` creates or replaces.
    public let destination: String
    private let temporaryPath: String
    private let writer: BufferedFileWriter
    private var finished = false

    /// Creates the temporary file now, so that an unwritable destination fails before any work is done.
    /// - Throws: ``MapReduceError`` with code `io` naming the destination.
    public init(destination: String) throws {
        self.destination = destination
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[...$0]) } ?? ""
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        do {
            self.temporaryPath = try Syscall.makeTemporaryFile(template: "\(directory).\(name).tmp-XXXXXX")
        } catch {
            throw MapReduceError(.io, "cannot create the output file: \(error.message)", input: destination)
        }
        do {
            self.writer = try BufferedFileWriter(path: self.temporaryPath)
        } catch {
            Syscall.unlink(self.temporaryPath)
            throw error
        }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try self.writer.write(bytes)
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try self.writer.write(bytes)
    }

    /// Appends a string's UTF-8 bytes.
    public func write(_ string: String) throws {
        var string = string
        try string.withUTF8 { try self.writer.write(UnsafeRawBufferPointer($0)) }
    }

    /// Flushes, syncs and renames the file into place.
    public func commit() throws {
        guard !self.finished else { return }
        do {
            try self.writer.close()
            let fd = try Syscall.openForReading(self.temporaryPath)
            defer { Syscall.close(fd) }
            try Syscall.fsync(fd)
            try Syscall.rename(self.temporaryPath, self.destination)
            self.finished = true
        } catch {
            self.discard()
            throw MapReduceError(.io, "cannot write the output file: \(describeError(error))", input: self.destination)
        }
    }

    /// Removes the temporary file; the destination is left as it was.
    public func discard() {
        guard !self.finished else { return }
        self.finished = true
        try? self.writer.close()
        Syscall.unlink(self.temporaryPath)
    }

    deinit {
        self.discard()
    }
}
