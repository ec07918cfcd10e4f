import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#else
#error("The MapReduce engine needs a POSIX C library (Glibc, Musl or Darwin).")
#endif

/// Where a job reads from.
public enum InputSource: Sendable, Hashable {
    /// A file, or a directory whose files are read recursively, in sorted order.
    case path(String)
    /// Standard input, copied to the job's temporary directory first.
    case standardInput
}

/// One input file as the engine sees it.
public struct InputFile: Sendable, Hashable {
    /// Where workers open it.
    public var path: String
    /// How messages name it: the path as the user wrote it, or `<stdin>`.
    public var displayName: String
    /// Its size when the job started.
    public var size: Int

    /// Creates an input file entry.
    public init(path: String, displayName: String, size: Int) {
        self.path = path
        self.displayName = displayName
        self.size = size
    }
}

/// Turns what the user named into the list of files to read, or a clear error about the first bad one.
package enum InputResolver {
    /// What a path turned out to be.
    package enum Entry: Sendable, Equatable {
        /// A regular file to read in place.
        case file(InputFile)
        /// A pipe, FIFO or other stream that must be copied to a file first (stdin included).
        case stream(path: String?, displayName: String)
    }

    /// Resolves sources in order; directories expand to their files, recursively and sorted.
    package static func resolve(_ sources: [InputSource]) throws -> [Entry] {
        var entries: [Entry] = []
        for source in sources {
            switch source {
            case .standardInput:
                entries.append(.stream(path: nil, displayName: "<stdin>"))
            case .path(let path):
                try self.resolve(path: path, into: &entries)
            }
        }
        return entries
    }

    static func resolve(path: String, into entries: inout [Entry]) throws {
        let info = try self.status(path)
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            var visited: Set<[UInt64]> = []
            let before = entries.count
            try self.walk(directory: path, info: info, visited: &visited, into: &entries)
            if entries.count == before {
                throw MapReduceError(.badInput, "directory holds no files", input: path)
            }
        case S_IFREG:
            try checkReadable(path)
            entries.append(.file(InputFile(path: path, displayName: path, size: Int(info.st_size))))
        case S_IFIFO, S_IFCHR, S_IFSOCK:
            try checkReadable(path)
            entries.append(.stream(path: path, displayName: path))
        default:
            throw MapReduceError(.badInput, "not a file or directory", input: path)
        }
    }

    static func walk(directory: String, info: stat, visited: inout Set<[UInt64]>, into entries: inout [Entry]) throws {
        // Symbolic links may lead back up the tree; never enter a directory twice.
        guard visited.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { return }
        let names: [String]
        do {
            names = try Syscall.listDirectory(directory).sorted {
                Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
            }
        } catch {
            throw MapReduceError(
                .badInput,
                "cannot list directory: \(describeError(error))",
                input: directory
            )
        }
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            let child = try self.status(path)
            switch child.st_mode & S_IFMT {
            case S_IFDIR:
                try self.walk(directory: path, info: child, visited: &visited, into: &entries)
            case S_IFREG:
                try checkReadable(path)
                entries.append(.file(InputFile(path: path, displayName: path, size: Int(child.st_size))))
            default:
                // Sockets, FIFOs and devices inside a directory are not data files; `find -type f` skips them too.
                continue
            }
        }
    }

    /// `stat` through links, telling a dangling link apart from a missing file.
    static func status(_ path: String) throws -> stat {
        do {
            return try Syscall.stat(path)
        } catch {
            if error == .noSuchFileOrDirectory, (try? Syscall.stat(path, followingLinks: false)) != nil {
                throw MapReduceError(.badInput, "dangling symbolic link", input: path)
            }
            throw MapReduceError(.badInput, error.message, input: path)
        }
    }

    static func checkReadable(_ path: String) throws {
        do {
            let fd = try Syscall.open(path, O_RDONLY | O_NONBLOCK)
            Syscall.close(fd)
        } catch {
            throw MapReduceError(.badInput, "cannot open: \(describeError(error))", input: path)
        }
    }

    /// Copies a stream (standard input when `path` is nil) into `destination`; returns the byte count.
    ///
    /// The copy waits for data in short polls, so that a cancelled task (Ctrl-C) stops it within a tenth
    /// of a second even while the producer is silent, and it stops with a clear error once more than
    /// `limit` bytes have arrived (`totalLimit` is the limit the message names), or when the disk is full.
    package static func spool(
        path: String?,
        displayName: String,
        to destination: String,
        limit: Int,
        totalLimit: Int
    ) throws -> Int {
        let input: CInt
        if let path {
            do {
                // Non-blocking, so that opening a FIFO whose writer has not come yet does not hang.
                input = try Syscall.open(path, O_RDONLY | O_NONBLOCK)
            } catch {
                throw MapReduceError(.badInput, "cannot open: \(describeError(error))", input: displayName)
            }
        } else {
            input = STDIN_FILENO
        }
        defer { if path != nil { Syscall.close(input) } }
        let writer = try BufferedFileWriter(path: destination, bufferSize: 0)
        defer { try? writer.close() }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            if Task.isCancelled { throw MapReduceError(.cancelled, "cancelled while reading", input: displayName) }
            var poller = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 && errno != EINTR {
                throw MapReduceError(.badInput, "cannot read: \(Errno(rawValue: errno).message)", input: displayName)
            }
            if ready <= 0 { continue }
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try Syscall.read(input, $0) }
            } catch Errno.resourceTemporarilyUnavailable {
                continue
            } catch {
                throw MapReduceError(.badInput, "cannot read: \(describeError(error))", input: displayName)
            }
            // Linux reports a FIFO's hang-up only once a writer has come and gone, so after a poll an
            // empty read is the end of the stream, not a writer that has not come yet.
            if count == 0 { break }
            guard total + count <= limit else {
                throw MapReduceError(
                    .limitExceeded,
                    "streamed input is larger than the spool limit of \(formatByteCount(totalLimit)); "
                        + "it is copied to the job's temporary directory first",
                    input: displayName
                )
            }
            do {
                try buffer.withUnsafeBytes { try writer.writeThrough(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            } catch let error as MapReduceError {
                if (error.underlying as? Errno) == .noSpace {
                    throw MapReduceError(
                        .limitExceeded,
                        "the temporary directory's disk is full after \(formatByteCount(total)) of streamed input",
                        input: displayName
                    )
                }
                throw error
            }
            total += count
        }
        try writer.close()
        return total
    }
}

/// `512 KiB`, `10 MiB`, `1.5 GiB`: a byte count for messages.
package func formatByteCount(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(bytes) bytes" }
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[unit])" : "\(rounded) \(units[unit])"
}

/// Checks, outside the hot path, that input files still are what the job started with.
enum InputCheck {
    /// The "changed while the job ran" error for the first of the task's files whose size is not the one
    /// recorded when the job started, or nil.
    static func changedInput(_ task: MapTask) -> MapReduceError? {
        for split in task.splits {
            guard let info = try? Syscall.stat(split.path) else {
                return MapReduceError(.badInput, "was removed while the job ran", input: split.displayName)
            }
            if Int(info.st_size) != split.fileSize {
                return MapReduceError(
                    .badInput,
                    "changed while the job ran (it had \(split.fileSize) bytes, now \(info.st_size))",
                    input: split.displayName
                )
            }
        }
        return nil
    }
}
