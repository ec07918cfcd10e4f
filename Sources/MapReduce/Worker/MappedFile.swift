import SystemPackage

/// A whole input file mapped read-only into memory.
///
/// Mapped pages belong to the page cache, not to the worker's anonymous memory, so a worker maps a
/// gigabyte-sized file, or a file that is one enormous line, without its memory growing.
@usableFromInline
final class MappedFile {
    /// How the file is named: an intermediate file's path, or an input's path with invalid UTF-8 escaped.
    @usableFromInline let path: String
    @usableFromInline let displayName: String
    /// An input's path as bytes, as the coordinator sent it; nil for the job's own files.
    @usableFromInline let inputPath: [UInt8]?
    @usableFromInline private(set) var bytes: UnsafeRawBufferPointer
    private var mapping: UnsafeMutableRawPointer?
    /// An input stays open so that each split can check that the file has not changed since the job
    /// started; -1 for the job's own files.
    private let descriptor: CInt
    private let expectedSize: Int
    private let expectedModification: Int

    /// Maps an input file, checking that it still has the size and modification time it had when the
    /// job started.
    @usableFromInline
    init(input split: InputSplit) throws {
        let displayName = split.displayName
        self.path = split.explicitDisplayName == nil ? displayName : PathName.display(split.path)
        self.displayName = displayName
        self.inputPath = split.path
        self.expectedSize = split.fileSize
        self.expectedModification = split.modified
        let fd: CInt
        do {
            fd = try Syscall.openForReading(path: split.path)
        } catch {
            throw MapReduceError(.badInput, "cannot open: \(error.message)", input: displayName)
        }
        self.descriptor = fd
        // From here on, deinit closes the descriptor, also when the mapping fails.
        self.mapping = nil
        self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        try self.checkUnchanged()
        try self.map(fd, count: split.fileSize, code: .badInput)
    }

    /// Maps a file the job wrote itself, such as a spill: its errors are I/O errors, not bad input.
    @usableFromInline
    init(intermediate path: String) throws {
        self.path = path
        self.displayName = path
        self.inputPath = nil
        self.descriptor = -1
        self.expectedSize = 0
        self.expectedModification = 0
        self.mapping = nil
        self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        let fd: CInt
        do {
            fd = try Syscall.openForReading(path)
        } catch {
            throw MapReduceError(.io, "cannot open: \(error.message)", input: path)
        }
        defer { Syscall.close(fd) }
        let size: Int
        do {
            size = try Syscall.fileSize(fd)
        } catch {
            throw MapReduceError(.io, "cannot stat: \(error.message)", input: path)
        }
        try self.map(fd, count: size, code: .io)
    }

    private func map(_ fd: CInt, count size: Int, code: MapReduceError.Code) throws {
        guard size > 0 else { return }
        let address: UnsafeMutableRawPointer
        do {
            address = try Syscall.mapReadOnly(fd, count: size)
        } catch {
            throw MapReduceError(code, "cannot map into memory: \(error.message)", input: self.displayName)
        }
        self.mapping = address
        self.bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// Checks that an input still has the size and modification time it had when the job started: the
    /// job reads the bytes present then, and a file that grew, shrank or was rewritten fails the job
    /// rather than be read in part. Workers check as they read each split (one `fstat`).
    @usableFromInline
    func checkUnchanged() throws {
        guard self.descriptor >= 0 else { return }
        let (size, modified): (Int, Int)
        do {
            (size, modified) = try Syscall.sizeAndModificationTime(self.descriptor)
        } catch {
            throw MapReduceError(.badInput, "cannot stat: \(error.message)", input: self.displayName)
        }
        let change = InputChange(
            expectedSize: self.expectedSize,
            size: size,
            expectedModification: self.expectedModification,
            modification: modified
        )
        if let error = change.error(input: self.displayName) { throw error }
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
        if self.descriptor >= 0 { Syscall.close(self.descriptor) }
    }
}
