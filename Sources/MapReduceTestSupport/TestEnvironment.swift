/// Where things are: the package, the built `mapreduce`, the fixtures, the Python reference.
public enum TestEnvironment {
    /// The package's root directory, found from this source file's path.
    public static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<3 {
            guard let slash = path.lastIndex(of: "/") else { break }
            path = String(path[..<slash])
        }
        return path
    }()

    /// The `mapreduce` binary under test: `$MAPREDUCE_BINARY`, else the release build, else the debug build.
    public static let binary: String = {
        if let path = getenv("MAPREDUCE_BINARY").map({ String(cString: $0) }), !path.isEmpty { return path }
        for configuration in ["release", "debug"] {
            let candidate = "\(packageRoot)/.build/\(configuration)/mapreduce"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return "\(packageRoot)/.build/debug/mapreduce"
    }()

    public static var fixtures: String { "\(packageRoot)/Fixtures" }
    public static var corpus: String { "\(fixtures)/corpus" }
    public static var pythonReference: String { "\(fixtures)/reference/wordcount.py" }

    /// Whether `python3` can be run.
    public static let hasPython: Bool = {
        (try? ChildProcess.run("/usr/bin/env", ["python3", "--version"]).status) == 0
    }()

    /// Runs `mapreduce` with arguments.
    public static func mapreduce(
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput: [UInt8]? = nil
    ) throws -> ProcessResult {
        try ChildProcess.run(binary, arguments, environment: environment, standardInput: standardInput)
    }

    /// Runs `mapreduce` with arguments given as bytes, such as paths that are not UTF-8.
    public static func mapreduce(rawArguments: [[UInt8]], environment: [String: String] = [:]) throws -> ProcessResult {
        try ChildProcess.run(binary, rawArguments: rawArguments, environment: environment)
    }

    /// Runs the Python reference word count.
    public static func pythonWordCount(_ arguments: [String]) throws -> ProcessResult {
        try ChildProcess.run("/usr/bin/env", ["python3", pythonReference] + arguments)
    }

    /// Runs a Python script of the package (`Fixtures/reference/index.py`, `Scripts/…`), by its path
    /// from the package's root.
    public static func python(_ script: String, _ arguments: [String]) throws -> ProcessResult {
        try ChildProcess.run("/usr/bin/env", ["python3", "\(packageRoot)/\(script)"] + arguments)
    }
}

/// A fresh directory under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "test") throws {
        var template = Array("/tmp/mapreduce-tests-\(label)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw POSIXFailure("mkdtemp")
        }
        self.path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path/name`.
    public func file(_ name: String) -> String { "\(self.path)/\(name)" }

    /// Writes bytes to `path/name` (creating subdirectories) and returns the full path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let full = self.file(name)
        var directory = full
        if let slash = directory.lastIndex(of: "/") { directory = String(directory[..<slash]) }
        _ = try ChildProcess.run("/bin/mkdir", ["-p", directory])
        try Files.write(full, bytes)
        return full
    }

    /// Writes a string to `path/name`.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try self.write(name, Array(text.utf8))
    }

    public func remove() {
        _ = try? ChildProcess.run("/bin/rm", ["-rf", self.path])
    }
}

/// Small file helpers for tests.
public enum Files {
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw POSIXFailure("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { readDescriptor(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return bytes
    }

    public static func write(_ path: String, _ bytes: [UInt8]) throws {
        // Close-on-exec: a child spawned meanwhile by a parallel test must not hold the file open for
        // writing (an executable written here would then fail to start with "text file busy").
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXFailure("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = writeDescriptor(fd, raw.baseAddress! + offset, raw.count - offset)
                guard n > 0 else { throw POSIXFailure("write \(path)") }
                offset += n
            }
        }
    }

    /// Writes a file whose path is given as bytes, which need not be UTF-8.
    public static func write(rawPath path: [UInt8], _ bytes: [UInt8]) throws {
        let fd = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
            open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw POSIXFailure("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { writeDescriptor(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw POSIXFailure("write \(path)") }
    }

    /// Makes a symbolic link whose own path is given as bytes.
    public static func symlink(target: String, rawPath path: [UInt8]) throws {
        let result = (path.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
            makeSymbolicLink(target, $0.baseAddress!)
        }
        guard result == 0 else { throw POSIXFailure("symlink \(path): \(String(cString: strerror(errno)))") }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in a directory (empty if it does not exist).
    public static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// The process tree, read from /proc.
public enum ProcessTree {
    /// The direct children of `pid`.
    public static func children(of pid: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        for task in Files.list("/proc/\(pid)/task") {
            guard let bytes = try? Files.read("/proc/\(pid)/task/\(task)/children") else { continue }
            result += String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap { pid_t($0) }
        }
        return result
    }

    /// Whether a process exists and is not a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let bytes = try? Files.read("/proc/\(pid)/stat") else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X"
    }

    /// The file `pid` runs (what `/proc/PID/exe` links to), or nil if it cannot be read. Unlike the
    /// command line, it changes only when the process execs: a shell forked to exec a program still
    /// shows the shell.
    public static func executable(of pid: pid_t) -> String? {
        self.link("/proc/\(pid)/exe")
    }

    /// What each open descriptor of `pid` refers to (a path, `pipe:[…]`, `socket:[…]`), by number.
    public static func openFiles(of pid: pid_t) -> [CInt: String] {
        var files: [CInt: String] = [:]
        for name in Files.list("/proc/\(pid)/fd") {
            guard let fd = CInt(name), let target = self.link("/proc/\(pid)/fd/\(name)") else { continue }
            files[fd] = target
        }
        return files
    }

    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every process whose command line contains `needle`, by pid.
    public static func processes(commandLineContaining needle: String) -> [pid_t] {
        Files.list("/proc").compactMap { pid_t($0) }.filter { pid in
            guard let bytes = try? Files.read("/proc/\(pid)/cmdline") else { return false }
            return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(needle)
        }
    }
}

/// Sleeps for `milliseconds`.
public func pause(milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}

// At file scope these names are the C library's, not ``Files``'s own methods.
private func readDescriptor(_ fd: CInt, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
private func writeDescriptor(_ fd: CInt, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, buffer, count) }
private func makeSymbolicLink(_ target: String, _ path: UnsafePointer<CChar>) -> CInt { symlink(target, path) }
