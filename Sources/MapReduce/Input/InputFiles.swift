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
    package static func spool(path: String?, displayName: String, to destination: String) throws -> Int {
        let input: CInt
        if let path {
            do {
                input = try Syscall.open(path, O_RDONLY)
            } catch {
                throw MapReduceError(
                    .badInput,
                    "cannot open: \(describeError(error))",
                    input: displayName
                )
            }
        } else {
            input = STDIN_FILENO
        }
        defer { if path != nil { Syscall.close(input) } }
        let writer = try BufferedFileWriter(path: destination, bufferSize: 0)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try Syscall.read(input, $0) }
            } catch {
                throw MapReduceError(
                    .badInput,
                    "cannot read: \(describeError(error))",
                    input: displayName
                )
            }
            if count == 0 { break }
            try buffer.withUnsafeBytes { try writer.writeThrough(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += count
        }
        try writer.close()
        return total
    }
}
