import CMapReduceShims
import SystemPackage

// The one place the engine names its C library. The engine relies on `/proc`, `MADV_HUGEPAGE`,
// `mallopt`, `SOCK_CLOEXEC` and `__RLIMIT_NPROC`: its platform is Linux with glibc (the musl branch is
// kept for the static SDK but is not built or tested yet: `__RLIMIT_NPROC` is a glibc name). The C library
// is re-exported, as NIOPosix does, so that no other file repeats this chain; other files call the
// ``Syscall`` wrappers where an error number matters.
#if !os(Linux)
#error("swift-mapreduce runs on Linux only: it relies on /proc, MADV_HUGEPAGE, mallopt and Linux's limits.")
#elseif canImport(Glibc)
@_exported @preconcurrency public import Glibc
#elseif canImport(Musl)
@_exported @preconcurrency public import Musl
#else
#error("swift-mapreduce needs glibc or musl.")
#endif

/// A file's status, as `stat` fills it in.
typealias FileStatus = stat

/// Thin wrappers over the system calls the engine makes: each retries `EINTR` and throws the `Errno`.
enum Syscall {
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ body: () -> T) throws(Errno) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw Errno(rawValue: code)
        }
    }

    static func open(_ path: String, _ flags: CInt, _ mode: mode_t = 0) throws(Errno) -> CInt {
        try retrying { sysOpen(path, flags | O_CLOEXEC, mode) }
    }

    /// Opens a path given as bytes, which need not be UTF-8.
    static func open(path: some Collection<UInt8>, _ flags: CInt, _ mode: mode_t = 0) throws(Errno) -> CInt {
        try withCString(path) { (cPath) throws(Errno) -> CInt in
            try retrying { sysOpen(cPath, flags | O_CLOEXEC, mode) }
        }
    }

    /// Runs `body` with the bytes as a NUL-terminated C string.
    static func withCString<R, E: Error>(
        _ bytes: some Collection<UInt8>,
        _ body: (UnsafePointer<CChar>) throws(E) -> R
    ) throws(E) -> R {
        var terminated = ContiguousArray<CChar>()
        terminated.reserveCapacity(bytes.count + 1)
        for byte in bytes { terminated.append(CChar(bitPattern: byte)) }
        terminated.append(0)
        let result: Result<R, E> = terminated.withUnsafeBufferPointer { buffer in
            do throws(E) {
                return .success(try body(buffer.baseAddress!))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// `fstatat` relative to a directory, following symbolic links unless told not to.
    static func stat(
        in directory: CInt,
        name: UnsafePointer<CChar>,
        followingLinks: Bool = true
    ) throws(Errno) -> FileStatus {
        var info = FileStatus()
        _ = try retrying { sysFstatat(directory, name, &info, followingLinks ? 0 : AT_SYMLINK_NOFOLLOW) }
        return info
    }

    /// Whether this process may read `name` in `directory`, by its effective ids: one system call
    /// where opening and closing the file would be two.
    static func checkReadable(in directory: CInt, name: UnsafePointer<CChar>) throws(Errno) {
        _ = try retrying { sysFaccessat(directory, name, R_OK, AT_EACCESS) }
    }

    /// A file's modification time in nanoseconds since the epoch.
    static func modificationTime(_ info: FileStatus) -> Int {
        Int(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtim.tv_nsec)
    }

    static func close(_ fd: CInt) {
        // Never retry close: on Linux the descriptor is released even when it reports EINTR.
        _ = sysClose(fd)
    }

    static func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retrying { sysRead(fd, buffer.baseAddress, buffer.count) }
    }

    static func pread(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) throws(Errno) -> Int {
        try retrying { sysPread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Reads until `buffer` is full or the end of the file; returns how many bytes were read.
    static func readFully(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try read(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `buffer.count` bytes at `offset` unless the file ends first; returns how many were read.
    static func preadFully(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer, _ offset: Int) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let n = try pread(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), offset + done)
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func writeFully(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < buffer.count {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[done...])
            done += try retrying { sysWrite(fd, rest.baseAddress, rest.count) }
        }
    }

    /// Opens a file for reading.
    static func openForReading(_ path: String) throws(Errno) -> CInt {
        try open(path, O_RDONLY)
    }

    /// Opens an existing file for appending.
    static func openForAppending(path: some Collection<UInt8>) throws(Errno) -> CInt {
        try open(path: path, O_WRONLY | O_APPEND)
    }

    /// Creates or truncates a file for writing, readable only by its owner.
    static func createForWriting(_ path: String) throws(Errno) -> CInt {
        try open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }

    /// Creates a file only if it does not exist yet; false if it did.
    static func createExclusively(_ path: String) -> Bool {
        let fd = sysOpen(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        sysClose(fd)
        return true
    }

    /// Creates a fresh empty file from a template ending in `XXXXXX`; returns its path.
    static func makeTemporaryFile(template: String) throws(Errno) -> String {
        var bytes = Array(template.utf8CString)
        let fd = bytes.withUnsafeMutableBufferPointer { sysMkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Errno(rawValue: errno) }
        sysClose(fd)
        return String(decoding: bytes.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Maps `count` bytes of an open file read-only and privately, advised for sequential reading.
    static func mapReadOnly(_ fd: CInt, count: Int) throws(Errno) -> UnsafeMutableRawPointer {
        let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else { throw Errno(rawValue: errno) }
        _ = madvise(address, count, MADV_SEQUENTIAL)
        return address
    }

    static func unmap(_ address: UnsafeMutableRawPointer, count: Int) {
        _ = munmap(address, count)
    }

    /// Asks the kernel to read a mapped range ahead of use.
    static func adviseWillNeed(_ address: UnsafeMutableRawPointer, count: Int) {
        _ = madvise(address, count, MADV_WILLNEED)
    }

    /// This process's id.
    static var processID: Int32 { getpid() }

    /// Online cores.
    static var onlineCores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The size and modification time (nanoseconds since the epoch) of an open file.
    static func sizeAndModificationTime(_ fd: CInt) throws(Errno) -> (size: Int, modified: Int) {
        let info = try fstat(fd)
        return (Int(info.st_size), modificationTime(info))
    }

    /// Opens a path given as bytes for reading.
    static func openForReading(path: some Collection<UInt8>) throws(Errno) -> CInt {
        try open(path: path, O_RDONLY)
    }

    /// The size of an open file.
    static func fileSize(_ fd: CInt) throws(Errno) -> Int {
        Int(try fstat(fd).st_size)
    }

    static func fstat(_ fd: CInt) throws(Errno) -> FileStatus {
        var info = FileStatus()
        _ = try retrying { sysFstat(fd, &info) }
        return info
    }

    /// `stat` (following symbolic links) or `lstat`.
    static func stat(_ path: String, followingLinks: Bool = true) throws(Errno) -> FileStatus {
        var info = FileStatus()
        if followingLinks {
            _ = try retrying { statFile(path, &info) }
        } else {
            _ = try retrying { lstatFile(path, &info) }
        }
        return info
    }

    /// `stat` or `lstat`, or nil if nothing is there.
    static func statIfExists(_ path: String, followingLinks: Bool = true) throws(Errno) -> FileStatus? {
        var info = FileStatus()
        while true {
            let result = followingLinks ? statFile(path, &info) : lstatFile(path, &info)
            if result == 0 { return info }
            if errno == EINTR { continue }
            if errno == ENOENT { return nil }
            throw Errno(rawValue: errno)
        }
    }

    /// Opens a file, or returns the error number: for callers that handle some errors themselves.
    static func openOrError(_ path: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        while true {
            let fd = sysOpen(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return .success(fd) }
            if errno != EINTR { return .failure(Errno(rawValue: errno)) }
        }
    }

    static func fsync(_ fd: CInt) throws(Errno) {
        _ = try retrying { sysFsync(fd) }
    }

    /// Sets an open file's permission bits, whatever the umask took away when it was created.
    static func fchmod(_ fd: CInt, _ mode: mode_t) throws(Errno) {
        _ = try retrying { sysFchmod(fd, mode) }
    }

    static func rename(_ from: String, _ to: String) throws(Errno) {
        _ = try retrying { sysRename(from, to) }
    }

    /// Empties a file; errors are ignored (fault injection only).
    static func truncate(path: some Collection<UInt8>) {
        withCString(path) { _ = sysTruncate($0, 0) }
    }

    static func unlink(_ path: String) {
        _ = sysUnlink(path)
    }

    static func mkdir(_ path: String, _ mode: mode_t = 0o700) throws(Errno) {
        _ = try retrying { sysMkdir(path, mode) }
    }

    /// Creates a fresh private directory from a template ending in `XXXXXX`.
    static func makeTemporaryDirectory(template: String) throws(Errno) -> String {
        var bytes = Array(template.utf8CString)
        let result = bytes.withUnsafeMutableBufferPointer { sysMkdtemp($0.baseAddress!) }
        guard result != nil else { throw Errno(rawValue: errno) }
        return String(decoding: bytes.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory, without `.` and `..`.
    static func listDirectory(_ path: String) throws(Errno) -> [String] {
        guard let dir = sysOpendir(path) else { throw Errno(rawValue: errno) }
        defer { sysClosedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = sysReaddir(dir) else {
                if errno != 0 { throw Errno(rawValue: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a directory tree; errors are ignored, as cleanup must not mask the job's own outcome.
    static func removeTree(_ path: String) {
        var info = FileStatus()
        guard sysLstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? listDirectory(path)) ?? [] {
                removeTree(path + "/" + name)
            }
            _ = sysRmdir(path)
        } else {
            _ = sysUnlink(path)
        }
    }

    /// The bytes an unprivileged user may still write on the file system holding `path`, and its size.
    static func fileSystemSpace(_ path: String) throws(Errno) -> (available: Int, size: Int) {
        var info = statvfs()
        _ = try retrying { statvfs(path, &info) }
        let unit = Int(info.f_frsize)
        return (
            Int(info.f_bavail).multipliedReportingOverflow(by: unit).partialValue,
            Int(info.f_blocks).multipliedReportingOverflow(by: unit).partialValue
        )
    }

    /// Raises the soft limit on open descriptors to the hard limit, as far as allowed; returns the soft
    /// limit now in force.
    static func raiseDescriptorLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return .max }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// Raises the soft limit on this user's processes and threads to the hard limit, as far as allowed;
    /// returns the soft limit now in force, or nil when it does not apply (unlimited, or root).
    static func raiseProcessLimit() -> UInt64? {
        guard geteuid() != 0 else { return nil }
        var limit = rlimit()
        guard getrlimit(Int32(__RLIMIT_NPROC.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(__RLIMIT_NPROC.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? nil : UInt64(limit.rlim_cur)
    }

    /// How many descriptors this process has open (an estimate if `/proc` cannot be read).
    static var openDescriptorCount: Int {
        (try? listDirectory("/proc/self/fd").count).map { max(0, $0 - 1) } ?? 16
    }

    /// A close-on-exec copy of a descriptor.
    static func duplicate(_ fd: CInt) throws(Errno) -> CInt {
        try retrying { sysFcntl(fd, F_DUPFD_CLOEXEC, 3) }
    }

    /// Clears `O_NONBLOCK`.
    static func setBlocking(_ fd: CInt) {
        let flags = sysFcntl(fd, F_GETFL)
        if flags >= 0 { _ = sysFcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }

    /// Where a symbolic link points.
    static func readLink(_ path: String) throws(Errno) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try retrying { sysReadlink(path, &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func socketPair() throws(Errno) -> (CInt, CInt) {
        var fds: [CInt] = [-1, -1]
        _ = try retrying {
            sysSocketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (fds[0], fds[1])
    }

    /// Sends a signal to the calling thread: it is handled before this returns.
    static func raise(_ signal: CInt) {
        _ = sysRaise(signal)
    }

    static func kill(_ pid: pid_t, _ signal: CInt) {
        _ = sysKill(pid, signal)
    }

    /// Waits for `pid`; with `block: false` returns nil while it still runs.
    static func wait(_ pid: pid_t, block: Bool) throws(Errno) -> CInt? {
        var status: CInt = 0
        let result = try retrying { sysWaitpid(pid, &status, block ? 0 : WNOHANG) }
        return result == 0 ? nil : status
    }

}

/// How a child process ended, from a `waitpid` status.
package enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(CInt)
    case signalled(CInt)

    package init(waitStatus status: CInt) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signalled(status & 0x7f)
        }
    }

    package var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signalled(let signal): "killed by \(signalName(signal))"
        }
    }
}

/// Signals the engine sends.
enum Signal {
    static let kill = SIGKILL
    static let terminate = SIGTERM
    static let segmentationFault = SIGSEGV
}

/// `SIGKILL`, `SIGSEGV`, … for a signal number.
package func signalName(_ signal: CInt) -> String {
    switch signal {
    case SIGKILL: "SIGKILL"
    case SIGSEGV: "SIGSEGV"
    case SIGBUS: "SIGBUS"
    case SIGABRT: "SIGABRT"
    case SIGILL: "SIGILL"
    case SIGTRAP: "SIGTRAP"
    case SIGTERM: "SIGTERM"
    case SIGINT: "SIGINT"
    case SIGFPE: "SIGFPE"
    case SIGPIPE: "SIGPIPE"
    case SIGHUP: "SIGHUP"
    case SIGQUIT: "SIGQUIT"
    case SIGUSR1: "SIGUSR1"
    case SIGUSR2: "SIGUSR2"
    case SIGXCPU: "SIGXCPU"
    case SIGXFSZ: "SIGXFSZ"
    case SIGALRM: "SIGALRM"
    default: "signal \(signal)"
    }
}

extension Errno {
    /// The C library's message for this error, first letter lowercased to follow a colon: "cannot open: no
    /// such file or directory".
    var message: String {
        let text = String(cString: strerror(self.rawValue))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}

/// `memcmp`, for byte comparisons outside the hot loops.
@usableFromInline
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int {
    Int(memcmp(a, b, count))
}

/// Nanoseconds on the monotonic clock.
@usableFromInline
func monotonicNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int(now.tv_sec) * 1_000_000_000 + Int(now.tv_nsec)
}

/// The value of an environment variable.
/// The absolute path `path` names, every link and `.` or `..` resolved; nil if it does not exist.
package func canonicalPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

package func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// The C library's message for an error number, lower-cased as in our messages: "connection refused".
func errnoMessage(_ code: CInt) -> String {
    Errno(rawValue: code).message
}

/// The C library's message for an `Errno`, or the error's own description.
func describeError(_ error: any Error) -> String {
    if let errno = error as? Errno { return errno.message }
    return "\(error)"
}

// At file scope the names resolve to the C functions rather than to the `stat` struct or to ``Syscall``'s
// own methods of the same names: these let ``Syscall`` call the C library without naming its module.
private func statFile(_ path: String, _ info: inout stat) -> CInt { stat(path, &info) }
private func lstatFile(_ path: String, _ info: inout stat) -> CInt { lstat(path, &info) }
private func sysOpen(_ path: UnsafePointer<CChar>, _ flags: CInt, _ mode: mode_t) -> CInt { open(path, flags, mode) }
private func sysFstatat(_ fd: CInt, _ name: UnsafePointer<CChar>, _ info: inout FileStatus, _ flags: CInt) -> CInt {
    fstatat(fd, name, &info, flags)
}
private func sysFaccessat(_ fd: CInt, _ name: UnsafePointer<CChar>, _ mode: CInt, _ flags: CInt) -> CInt {
    faccessat(fd, name, mode, flags)
}
@discardableResult private func sysClose(_ fd: CInt) -> CInt { close(fd) }
private func sysFchmod(_ fd: CInt, _ mode: mode_t) -> CInt { fchmod(fd, mode) }
private func sysPwrite(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    pwrite(fd, buffer, count, offset)
}
private func sysFtruncate(_ fd: CInt, _ size: off_t) -> CInt { ftruncate(fd, size) }
private func sysRead(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func sysPread(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    pread(fd, buffer, count, offset)
}
private func sysWrite(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func sysMkstemp(_ template: UnsafeMutablePointer<CChar>) -> CInt { mkstemp(template) }
private func sysFstat(_ fd: CInt, _ info: inout FileStatus) -> CInt { fstat(fd, &info) }
private func sysFsync(_ fd: CInt) -> CInt { fsync(fd) }
private func sysRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> CInt { rename(from, to) }
private func sysTruncate(_ path: UnsafePointer<CChar>, _ length: off_t) -> CInt { truncate(path, length) }
private func sysUnlink(_ path: UnsafePointer<CChar>) -> CInt { unlink(path) }
private func sysMkdir(_ path: UnsafePointer<CChar>, _ mode: mode_t) -> CInt { mkdir(path, mode) }
private func sysMkdtemp(_ template: UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<CChar>? { mkdtemp(template) }
private func sysOpendir(_ path: UnsafePointer<CChar>) -> OpaquePointer? { opendir(path) }
@discardableResult private func sysClosedir(_ dir: OpaquePointer) -> CInt { closedir(dir) }
private func sysReaddir(_ dir: OpaquePointer) -> UnsafeMutablePointer<dirent>? { readdir(dir) }
private func sysLstat(_ path: UnsafePointer<CChar>, _ info: inout FileStatus) -> CInt { lstat(path, &info) }
private func sysRmdir(_ path: UnsafePointer<CChar>) -> CInt { rmdir(path) }
private func sysFcntl(_ fd: CInt, _ command: CInt) -> CInt { fcntl(fd, command) }
private func sysFcntl(_ fd: CInt, _ command: CInt, _ argument: CInt) -> CInt { fcntl(fd, command, argument) }
private func sysReadlink(_ path: UnsafePointer<CChar>, _ buffer: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
    readlink(path, buffer, count)
}
private func sysSocketpair(_ domain: CInt, _ type: CInt, _ proto: CInt, _ fds: UnsafeMutablePointer<CInt>) -> CInt {
    socketpair(domain, type, proto, fds)
}
private func sysRaise(_ signal: CInt) -> CInt { raise(signal) }
private func sysKill(_ pid: pid_t, _ signal: CInt) -> CInt { kill(pid, signal) }
private func sysWaitpid(_ pid: pid_t, _ status: inout CInt, _ options: CInt) -> pid_t { waitpid(pid, &status, options) }

/// Allocates `byteCount` bytes for a large, randomly probed table: 2 MiB aligned and marked for
/// transparent huge pages when it is that big, so that random probes miss the TLB far less often.
@usableFromInline
func allocateTableMemory(byteCount: Int) -> UnsafeMutableRawPointer {
    let hugePage = 2 << 20
    guard byteCount >= hugePage else { return .allocate(byteCount: byteCount, alignment: 64) }
    let memory = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: hugePage)
    _ = madvise(memory, byteCount, MADV_HUGEPAGE)
    return memory
}

/// The offset of the last `byte` in `count` bytes at `start`, with the C library's `memrchr`.
func findLastByte(_ byte: UInt8, in start: UnsafeRawPointer, count: Int) -> Int? {
    guard count > 0, let found = mapreduce_memrchr(start, Int32(byte), UInt(count)) else { return nil }
    return UnsafeRawPointer(found) - start
}

/// The offset of the first `byte` in `count` bytes at `start`, with the C library's `memchr`.
func findByte(_ byte: UInt8, in start: UnsafeRawPointer, count: Int) -> Int? {
    guard count > 0, let found = memchr(start, Int32(byte), count) else { return nil }
    return UnsafeRawPointer(found) - start
}

extension Syscall {
    /// Writes all of `buffer` at `offset`.
    static func pwriteFully(_ fd: CInt, _ buffer: UnsafeRawBufferPointer, _ offset: Int) throws(Errno) {
        var done = 0
        while done < buffer.count {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[done...])
            done += try retrying { sysPwrite(fd, rest.baseAddress, rest.count, off_t(offset + done)) }
        }
    }

    /// Keeps freed chunk-sized blocks in this process's heap (see `mapreduce_keep_chunk_blocks`): for the
    /// processes that ship chunks to and from peers, never for workers.
    static func keepChunkBlocks() {
        mapreduce_keep_chunk_blocks()
    }

    /// Whether a process with this id exists (it may belong to another user).
    static func processExists(_ pid: pid_t) -> Bool {
        sysKill(pid, 0) == 0 || errno != ESRCH
    }

    /// Blocks the calling thread (fault injection in tests only).
    static func sleep(milliseconds: Int) {
        _ = usleep(useconds_t(milliseconds * 1000))
    }

    /// The size of the file at `path`.
    static func fileSize(path: String) throws(Errno) -> Int {
        Int(try stat(path).st_size)
    }

    /// Sets a file's size, leaving a hole where it grows.
    static func setFileSize(_ fd: CInt, _ size: Int) throws(Errno) {
        _ = try retrying { sysFtruncate(fd, off_t(size)) }
    }
}
