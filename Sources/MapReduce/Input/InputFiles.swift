import SystemPackage

/// Where a job reads from.
public enum InputSource: Sendable, Hashable {
    /// A file, or a directory whose files are read recursively, in sorted order.
    case path(String)
    /// The same, with the path as bytes: Linux paths need not be UTF-8, and a `String` cannot hold one
    /// that is not (a command-line tool gets these bytes from `CommandLine.unsafeArgv`).
    case rawPath([UInt8])
    /// Standard input, copied to the job's temporary directory first.
    case standardInput
    /// Bytes held in memory, called `name` in errors and in each record's ``InputOrigin``: for tests
    /// and small inputs made by the program itself, with no file to write and remove. They are written
    /// to the job's temporary directory first, as standard input is.
    case bytes([UInt8], name: String)
}

/// Turns what the user named into the list of files to read, or a clear error about the first bad one.
package enum InputResolver {
    /// A pipe, FIFO or other stream that must be copied to a file first (stdin when `path` is nil).
    package struct Stream: Sendable, Equatable {
        package var path: [UInt8]?
        package var displayName: String
    }

    /// What the sources turned out to be: files to read in place, and streams to copy first.
    package struct Resolved: Sendable {
        package var files = InputList()
        package var streams: [Stream] = []
        /// In-memory inputs, to be written out like streams.
        package var buffers: [(name: String, bytes: [UInt8])] = []
    }

    /// Resolves sources in order; directories expand to their files, recursively and sorted by the bytes
    /// of their names. Sockets, FIFOs and devices found inside a directory are not data files: each is
    /// skipped with a one-line `warn`; one named explicitly is read as a stream.
    package static func resolve(_ sources: [InputSource], warn: (String) -> Void = { _ in }) throws -> Resolved {
        var resolved = Resolved()
        for source in sources {
            switch source {
            case .standardInput:
                resolved.streams.append(Stream(path: nil, displayName: "<stdin>"))
            case .path(let path):
                try self.resolve(path: Array(path.utf8), into: &resolved, warn: warn)
            case .rawPath(let path):
                try self.resolve(path: path, into: &resolved, warn: warn)
            case .bytes(let bytes, let name):
                resolved.buffers.append((name, bytes))
            }
        }
        resolved.files.shrinkToFit()
        return resolved
    }

    static func resolve(path: [UInt8], into resolved: inout Resolved, warn: (String) -> Void) throws {
        guard !path.isEmpty, !path.contains(0) else {
            throw MapReduceError(.badInput, "not a path", input: PathName.display(path))
        }
        let info = try Syscall.withCString(path) { try self.status(in: AT_FDCWD, name: $0, path: path) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            let fd: CInt
            do {
                fd = try Syscall.open(path: path, O_RDONLY | O_DIRECTORY)
            } catch {
                throw MapReduceError(
                    .badInput,
                    "cannot list directory: \(error.message)",
                    input: PathName.display(path)
                )
            }
            var visited: Set<FileID> = []
            let before = resolved.files.fileCount
            var prefix = path
            if prefix.last != UInt8(ascii: "/") { prefix.append(UInt8(ascii: "/")) }
            try self.walk(directory: fd, prefix: &prefix, info: info, visited: &visited, into: &resolved, warn: warn)
            if resolved.files.fileCount == before {
                throw MapReduceError(.badInput, "directory holds no files", input: PathName.display(path))
            }
        case S_IFREG:
            try Syscall.withCString(path) { try self.checkReadable(in: AT_FDCWD, name: $0, path: path) }
            resolved.files.append(path: path, size: Int(info.st_size), modified: Syscall.modificationTime(info))
        case S_IFIFO, S_IFCHR, S_IFSOCK:
            // Checked without opening it: opening a FIFO and closing it again would let its writer in,
            // then break its pipe.
            try Syscall.withCString(path) { try self.checkReadable(in: AT_FDCWD, name: $0, path: path) }
            resolved.streams.append(Stream(path: path, displayName: PathName.display(path)))
        default:
            throw MapReduceError(.badInput, "not a file or directory", input: PathName.display(path))
        }
    }

    /// A directory's identity, so that a symbolic link leading back up the tree is not followed twice.
    struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// Adds the files under the open directory `fd` (which this call closes), whose path with a final
    /// slash is `prefix`. Names are read and sorted as bytes, and every file is looked at relative to its
    /// directory's descriptor: one `fstatat` per file (and a `faccessat` when its mode does not already
    /// say that we may read it), no path walked again from the root.
    static func walk(
        directory fd: CInt,
        prefix: inout [UInt8],
        info: stat,
        visited: inout Set<FileID>,
        into resolved: inout Resolved,
        warn: (String) -> Void
    ) throws {
        guard visited.insert(FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted else {
            Syscall.close(fd)
            return
        }
        guard let directory = fdopendir(fd) else {
            let error = Errno(rawValue: errno)
            Syscall.close(fd)
            throw MapReduceError(.badInput, "cannot list directory: \(error.message)", input: PathName.display(prefix))
        }
        defer { closedir(directory) }
        let names: DirectoryNames
        do {
            names = try DirectoryNames(directory)
        } catch {
            throw MapReduceError(.badInput, "cannot list directory: \(error.message)", input: PathName.display(prefix))
        }
        let parent = dirfd(directory)
        let stored = resolved.files.addDirectory(prefix)
        let base = prefix.count
        defer { prefix.removeSubrange(base...) }
        for index in names.order.indices {
            prefix.removeSubrange(base...)
            try names.withName(at: index) { name, bytes in
                prefix.append(contentsOf: bytes)
                let child = try self.status(in: parent, name: name, path: prefix)
                switch child.st_mode & S_IFMT {
                case S_IFDIR:
                    let sub: CInt
                    do {
                        sub = try Syscall.retrying { openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                    } catch let error as Errno {
                        throw MapReduceError(
                            .badInput,
                            "cannot list directory: \(error.message)",
                            input: PathName.display(prefix)
                        )
                    }
                    prefix.append(UInt8(ascii: "/"))
                    try self.walk(
                        directory: sub,
                        prefix: &prefix,
                        info: child,
                        visited: &visited,
                        into: &resolved,
                        warn: warn
                    )
                case S_IFREG:
                    try self.checkReadable(in: parent, name: name, path: prefix, info: child)
                    resolved.files.append(
                        name: bytes,
                        inDirectory: stored,
                        size: Int(child.st_size),
                        modified: Syscall.modificationTime(child)
                    )
                default:
                    // Sockets, FIFOs and devices inside a directory are not data files (`find -type f` skips
                    // them too); a FIFO might never end. Skipped, but not silently.
                    warn("\(PathName.display(prefix)): skipped, \(self.kind(child)) is not a regular file")
                }
            }
        }
    }

    /// The names in a directory, without `.` and `..`, read as bytes into one buffer (each followed by a
    /// NUL, so that it can be handed to the C library as it is) and sorted by their bytes.
    struct DirectoryNames {
        var bytes: [UInt8] = []
        var order: [(start: Int, count: Int)] = []

        init(_ directory: OpaquePointer) throws(Errno) {
            while true {
                errno = 0
                guard let entry = readdir(directory) else {
                    if errno != 0 { throw Errno(rawValue: errno) }
                    break
                }
                let start = self.bytes.count
                withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    let name = raw.prefix { $0 != 0 }
                    if name.count == 1 && name[0] == UInt8(ascii: ".") { return }
                    if name.count == 2 && name[0] == UInt8(ascii: ".") && name[1] == UInt8(ascii: ".") { return }
                    self.bytes.append(contentsOf: name)
                    self.bytes.append(0)
                    self.order.append((start, name.count))
                }
            }
            self.bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                self.order.sort { a, b in
                    let common = memcmp(base + a.start, base + b.start, min(a.count, b.count))
                    return common != 0 ? common < 0 : a.count < b.count
                }
            }
        }

        /// Hands the name at `index` over as a C string and as bytes.
        func withName<R>(
            at index: Int,
            _ body: (UnsafePointer<CChar>, UnsafeBufferPointer<UInt8>) throws -> R
        ) throws -> R {
            let (start, count) = self.order[index]
            return try self.bytes.withUnsafeBufferPointer { buffer in
                let name = UnsafeBufferPointer(rebasing: buffer[start..<(start + count)])
                return try UnsafeRawPointer(buffer.baseAddress! + start).withMemoryRebound(
                    to: CChar.self,
                    capacity: count + 1
                ) {
                    try body($0, name)
                }
            }
        }
    }

    static func kind(_ info: stat) -> String {
        switch info.st_mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "it"
        }
    }

    /// `stat` through links, telling a dangling link apart from a missing file.
    static func status(in directory: CInt, name: UnsafePointer<CChar>, path: [UInt8]) throws -> stat {
        do {
            return try Syscall.stat(in: directory, name: name)
        } catch {
            if error == .noSuchFileOrDirectory,
                (try? Syscall.stat(in: directory, name: name, followingLinks: false)) != nil
            {
                throw MapReduceError(.badInput, "dangling symbolic link", input: PathName.display(path))
            }
            throw MapReduceError(.badInput, error.message, input: PathName.display(path))
        }
    }

    static func checkReadable(in directory: CInt, name: UnsafePointer<CChar>, path: [UInt8], info: stat) throws {
        // Most files say in their mode that we may read them, which saves a system call per file (a
        // million files: about a second). An ACL that denies us anyway is still caught by the worker
        // that opens the file, with the same message.
        if info.st_uid == self.effectiveUserID {
            if info.st_mode & S_IRUSR != 0 { return }
        } else if info.st_mode & (S_IRGRP | S_IROTH) == S_IRGRP | S_IROTH {
            return
        }
        try self.checkReadable(in: directory, name: name, path: path)
    }

    static let effectiveUserID = geteuid()

    static func checkReadable(in directory: CInt, name: UnsafePointer<CChar>, path: [UInt8]) throws {
        do {
            try Syscall.checkReadable(in: directory, name: name)
        } catch {
            throw MapReduceError(.badInput, "cannot open: \(error.message)", input: PathName.display(path))
        }
    }

    /// Copies a stream (standard input when `path` is nil) into `destination`; returns the byte count.
    ///
    /// The copy waits for data in short polls, so that a cancelled task (Ctrl-C) stops it within a tenth
    /// of a second even while the producer is silent, and it stops with a clear error once more than
    /// `limit` bytes have arrived (`totalLimit` is the limit the message names), or when the disk is full.
    package static func spool(
        path: [UInt8]?,
        displayName: String,
        to destination: String,
        limit: Int,
        totalLimit: Int
    ) throws -> Int {
        let input: CInt
        if let path {
            do {
                // Non-blocking, so that opening a FIFO whose writer has not come yet does not hang.
                input = try Syscall.open(path: path, O_RDONLY | O_NONBLOCK)
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
    /// The "changed while the job ran" error for the first of the task's files whose size or modification
    /// time is not the one recorded when the job started, or nil. For a worker that died mapping the task:
    /// a mapping of a file that shrank kills its reader with SIGBUS before the worker can say why.
    static func changedInput(_ task: MapTask) -> MapReduceError? {
        for split in task.splits {
            guard let fd = try? Syscall.open(path: split.path, O_RDONLY) else {
                return MapReduceError(.badInput, "was removed while the job ran", input: split.displayName)
            }
            defer { Syscall.close(fd) }
            guard let (size, modified) = try? Syscall.sizeAndModificationTime(fd) else { continue }
            let change = InputChange(
                expectedSize: split.fileSize,
                size: size,
                expectedModification: split.modified,
                modification: modified
            )
            if let error = change.error(input: split.displayName) { return error }
        }
        return nil
    }
}

/// An input's size and modification time, as recorded when the job started and as found now.
struct InputChange {
    var expectedSize: Int
    var size: Int
    var expectedModification: Int
    var modification: Int

    /// The "changed while the job ran" error, or nil if the file is as it was.
    func error(input: String) -> MapReduceError? {
        if self.size != self.expectedSize {
            return MapReduceError(
                .badInput,
                "changed while the job ran (it had \(self.expectedSize) bytes, now \(self.size))",
                input: input
            )
        }
        if self.modification != self.expectedModification {
            return MapReduceError(
                .badInput,
                "changed while the job ran (it was modified after the job started)",
                input: input
            )
        }
        return nil
    }
}
