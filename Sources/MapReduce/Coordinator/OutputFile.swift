import SystemPackage

/// Where a job's output goes, opened before the work starts so that a destination that cannot be
/// written fails the job before any work is done.
///
/// What happens depends on what the path names:
/// - a regular file, or nothing yet: the bytes go to a temporary file in the same directory, which
///   ``commit()`` syncs and renames into place, then syncs the directory. The file appears whole or not
///   at all; a new file's mode follows the umask, a replaced file keeps its mode (and, for root, its
///   owner);
/// - a symbolic link: it is followed, and its target is written as above (the link stays);
/// - anything else (a character device such as `/dev/null`, a FIFO, a pipe or terminal given as
///   `/dev/stdout`, `/dev/fd/N` or `-`): the bytes are written to it directly, in order. A FIFO with no
///   reader yet is waited for (a cancelled task stops the wait).
///
/// If the writer is discarded or released uncommitted, the temporary file is removed and the
/// destination is left as it was; a direct destination may then have received part of the output
/// (see ``isDirect``).
public final class OutputFile {
    /// The path as given.
    public let destination: String
    /// What messages call this file, such as "output file".
    public let role: String
    /// Whether bytes go straight to the destination (a device, FIFO or pipe) rather than to a temporary
    /// file renamed into place.
    public var isDirect: Bool { self.temporaryPath == nil }
    /// Whether the bytes go to this process's standard output (`-`, `/dev/stdout`, `/dev/fd/1`).
    public let isStandardOutput: Bool
    /// Whether ``commit()`` has completed.
    public private(set) var isCommitted = false
    /// Bytes the destination has accepted so far (buffered bytes are not counted).
    public var bytesDelivered: Int { self.writer.delivered }

    /// The file the temporary file replaces: `destination`, or the end of its chain of links.
    private let finalPath: String
    private let temporaryPath: String?
    private let writer: BufferedFileWriter
    private var finished = false

    /// Opens the destination now: an unwritable one fails here, before any work is done.
    /// - Parameters:
    ///   - destination: A path, or `-` for standard output.
    ///   - role: What messages call it ("output file", "statistics file").
    /// - Throws: ``MapReduceError`` with code `io` naming the destination; code `cancelled` if the task
    ///   was cancelled while waiting for a FIFO's reader.
    public init(destination: String, role: String = "output file") throws {
        self.destination = destination
        self.role = role
        let target: OutputTarget
        do {
            target = try OutputTarget.resolve(destination)
        } catch let error as MapReduceError {
            throw error
        } catch {
            throw MapReduceError(.io, "cannot open the \(role): \(describeError(error))", input: destination)
        }
        let fd: CInt
        if case .descriptor(STDOUT_FILENO, _) = target {
            self.isStandardOutput = true
        } else {
            self.isStandardOutput = false
        }
        switch target {
        case .descriptor(let inherited, let name):
            do {
                fd = try Syscall.duplicate(inherited)
            } catch {
                throw MapReduceError(.io, "cannot write the \(role): \(name) is \(error.message)", input: destination)
            }
            self.finalPath = destination
            self.temporaryPath = nil
        case .special(let path):
            fd = try Self.openSpecial(path, destination: destination, role: role)
            self.finalPath = path
            self.temporaryPath = nil
        case .regular(let path, let existing):
            let (temporaryFD, temporaryPath) = try Self.createTemporary(
                beside: path,
                replacing: existing != nil,
                role: role,
                input: destination
            )
            if let existing {
                // Keep the replaced file's permissions, and its owner where we may set it (root).
                _ = fchmod(temporaryFD, existing.st_mode & 0o7777)
                if geteuid() == 0 { _ = fchown(temporaryFD, existing.st_uid, existing.st_gid) }
            }
            fd = temporaryFD
            self.finalPath = path
            self.temporaryPath = temporaryPath
            EmergencyCleanup.shared.add(file: temporaryPath)
        }
        self.writer = BufferedFileWriter(descriptor: fd, name: destination)
    }

    /// The regular file writing to `destination` would create or replace, as an absolute path with
    /// every link resolved as ``init(destination:role:)`` follows them; nil for standard output, an
    /// inherited descriptor, a device, FIFO or socket, or a path that cannot be resolved.
    package static func finalFile(of destination: String) -> String? {
        guard case .regular(let path, let existing)? = try? OutputTarget.resolve(destination) else { return nil }
        if existing != nil { return canonicalPath(path) }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty, let resolved = canonicalPath(directory) else { return nil }
        return resolved == "/" ? "/" + name : resolved + "/" + name
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try self.writer.write(bytes)
        } catch {
            throw self.writeError(error)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try self.write($0) }
    }

    /// Appends a string's UTF-8 bytes.
    public func write(_ string: String) throws {
        var string = string
        try string.withUTF8 { try self.write(UnsafeRawBufferPointer($0)) }
    }

    /// Flushes what is buffered; for a regular file, syncs it, renames it into place and syncs its
    /// directory.
    /// - Throws: ``MapReduceError`` with code `io`; the destination is then left as it was (a direct
    ///   destination may have received part of the output).
    public func commit() throws {
        guard !self.finished else { return }
        do {
            try self.writer.flush()
        } catch {
            self.discard()
            throw self.writeError(error)
        }
        do {
            if let temporaryPath {
                try Syscall.fsync(self.writer.descriptor)
                try self.writer.close()
                try Syscall.rename(temporaryPath, self.finalPath)
                EmergencyCleanup.shared.remove(file: temporaryPath)
                Self.syncDirectory(of: self.finalPath)
            } else {
                try self.writer.close()
            }
            self.finished = true
            self.isCommitted = true
        } catch {
            self.discard()
            throw MapReduceError(
                .io,
                "cannot write the \(self.role): \(describeError(error))",
                input: self.destination,
                underlying: error
            )
        }
    }

    /// Removes the temporary file; the destination is left as it was.
    public func discard() {
        guard !self.finished else { return }
        self.finished = true
        self.writer.abandon()
        if let temporaryPath {
            Syscall.unlink(temporaryPath)
            EmergencyCleanup.shared.remove(file: temporaryPath)
        }
    }

    deinit {
        self.discard()
    }

    private func writeError(_ error: any Error) -> MapReduceError {
        let errno = (error as? MapReduceError)?.underlying as? Errno ?? error as? Errno
        return MapReduceError(
            .io,
            "cannot write the \(self.role): \(errno?.message ?? describeError(error))",
            input: self.destination,
            underlying: errno ?? error
        )
    }

    /// Opens a device, FIFO or socket for writing. A FIFO without a reader is waited for in short
    /// naps, so that cancellation (Ctrl-C) still stops the program.
    private static func openSpecial(_ path: String, destination: String, role: String) throws -> CInt {
        while true {
            switch Syscall.openOrError(path, O_WRONLY | O_NOCTTY | O_NONBLOCK) {
            case .success(let fd):
                Syscall.setBlocking(fd)
                return fd
            case .failure(let error) where error == .noSuchAddressOrDevice:
                // A FIFO with no reader yet; Linux also says this for a socket, which never gets one.
                let mode = (try? Syscall.stat(path, followingLinks: false))?.st_mode ?? 0
                if mode & S_IFMT == S_IFSOCK {
                    throw MapReduceError(.io, "cannot write the \(role): it is a socket", input: destination)
                }
                if Task.isCancelled { throw MapReduceError(.cancelled, "cancelled while waiting for a reader") }
                usleep(10_000)
            case .failure(let error):
                throw MapReduceError(.io, "cannot open the \(role): \(error.message)", input: destination)
            }
        }
    }

    /// Creates `.name.tmp-XXXXXX` beside `path` with mode 0666 less the umask, as any new file gets.
    /// A new file beside `path`, to be renamed over it; `replacing`: whether `path` exists, so that the
    /// error can say why an existing file cannot be written.
    private static func createTemporary(
        beside path: String,
        replacing: Bool,
        role: String,
        input: String
    ) throws -> (CInt, String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let suffix = String(generator.next() & 0xff_ffff_ffff, radix: 36)
            let candidate = "\(directory).\(name).tmp-\(suffix)"
            switch Syscall.openOrError(candidate, O_WRONLY | O_CREAT | O_EXCL, 0o666) {
            case .success(let fd):
                return (fd, candidate)
            case .failure(let error) where error == .fileExists:
                continue
            case .failure(let error) where replacing:
                // The file exists: it is the directory that refuses the new file written beside it.
                let place =
                    directory.isEmpty ? "the current directory" : directory == "/" ? "/" : String(directory.dropLast())
                throw MapReduceError(
                    .io,
                    "cannot replace the \(role): a new file cannot be created in \(place) to take its place: "
                        + error.message,
                    input: input
                )
            case .failure(let error):
                throw MapReduceError(.io, "cannot create the \(role): \(error.message)", input: input)
            }
        }
        throw MapReduceError(.io, "cannot create the \(role): no free temporary name", input: input)
    }

    /// Makes the rename durable; a directory that cannot be synced (some file systems) is not an error.
    private static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        guard let fd = try? Syscall.open(directory, O_RDONLY | O_DIRECTORY) else { return }
        _ = try? Syscall.fsync(fd)
        Syscall.close(fd)
    }
}

/// What an output path names, once its links are followed.
enum OutputTarget {
    /// A descriptor this process already has: `-`, `/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`.
    /// Reopening those would start at offset 0 of a redirected file, or fail for a pipe.
    case descriptor(CInt, name: String)
    /// A device, FIFO or socket, written to directly.
    case special(String)
    /// A regular file to replace (with its status), or a new one.
    case regular(String, existing: stat?)

    /// Follows `path`'s links (at most 40, as the kernel does) to what it finally names.
    static func resolve(_ path: String) throws -> OutputTarget {
        if path == "-" { return .descriptor(STDOUT_FILENO, name: "standard output") }
        var current = path
        for _ in 0..<40 {
            if let fd = self.inheritedDescriptor(current) {
                return .descriptor(fd, name: fd == STDOUT_FILENO ? "standard output" : "descriptor \(fd)")
            }
            guard let info = try Syscall.statIfExists(current, followingLinks: false) else {
                return .regular(current, existing: nil)
            }
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                let target = try Syscall.readLink(current)
                if target.hasPrefix("/") {
                    current = target
                } else {
                    let slash = current.lastIndex(of: "/")
                    current = (slash.map { String(current[...$0]) } ?? "") + target
                }
            case S_IFREG:
                return .regular(current, existing: info)
            case S_IFDIR:
                throw Errno.isDirectory
            default:
                return .special(current)
            }
        }
        throw Errno.tooManySymbolicLinkLevels
    }

    /// The descriptor a path of the form `/dev/fd/N`, `/proc/self/fd/N` or `/dev/stdout` names.
    static func inheritedDescriptor(_ path: String) -> CInt? {
        switch path {
        case "/dev/stdin": return STDIN_FILENO
        case "/dev/stdout": return STDOUT_FILENO
        case "/dev/stderr": return STDERR_FILENO
        default: break
        }
        for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "/proc/\(getpid())/fd/"]
        where path.hasPrefix(prefix) {
            return CInt(path.dropFirst(prefix.count))
        }
        return nil
    }
}

/// The old name of ``OutputFile``.
@available(*, deprecated, renamed: "OutputFile")
public typealias AtomicFileWriter = OutputFile
