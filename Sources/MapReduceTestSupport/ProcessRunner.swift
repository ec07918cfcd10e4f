import Synchronization

/// What a finished process left behind.
public struct ProcessResult: Sendable, CustomStringConvertible {
    /// The exit status, or 128 + the signal that killed it.
    public var status: Int32
    public var standardOutput: [UInt8]
    public var standardError: [UInt8]

    public var stdout: String { String(decoding: self.standardOutput, as: UTF8.self) }
    public var stderr: String { String(decoding: self.standardError, as: UTF8.self) }

    public var description: String { "status \(self.status)\nstdout:\n\(self.stdout)\nstderr:\n\(self.stderr)" }
}

/// A child process started with pipes for its output, so a test can signal it while it runs.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: the descriptors and pid are set once in init; `wait()` is called by one test at a time.
    public let processID: pid_t
    private let stdoutRead: CInt
    private let stderrRead: CInt

    /// Starts `executable arguments…` with `environment` added to this process's environment.
    /// - Parameters:
    ///   - standardInput: Bytes fed to its standard input (then closed); nil gives it /dev/null.
    public convenience init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput: [UInt8]? = nil
    ) throws {
        try self.init(
            executable,
            rawArguments: arguments.map { Array($0.utf8) },
            environment: environment,
            standardInput: standardInput
        )
    }

    /// Starts `executable` with arguments given as bytes, which need not be UTF-8 (as paths need not).
    public init(
        _ executable: String,
        rawArguments arguments: [[UInt8]],
        environment: [String: String] = [:],
        standardInput: [UInt8]? = nil
    ) throws {
        // A child that exits before reading all its input must not kill the test process with SIGPIPE.
        ignoreBrokenPipes()
        var outPipe: [CInt] = [-1, -1]
        var errPipe: [CInt] = [-1, -1]
        var inPipe: [CInt] = [-1, -1]
        // Close-on-exec: tests run in parallel, and a child started meanwhile by another test must not
        // inherit these ends (a stray copy of the input's write end keeps this child from ever seeing the
        // end of its input). The spawn's dup2 gives the child its own copies without the flag. No spawn
        // runs between `pipe` and `fcntl`: both happen under the lock every spawn takes.
        let created = spawnLock.withLock { _ in
            guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, pipe(&inPipe) == 0 else { return false }
            for fd in outPipe + errPipe + inPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return true
        }
        guard created else { throw POSIXFailure("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if standardInput != nil {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1], inPipe[0], inPipe[1]] {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var env = [String: String]()
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                env[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        for (key, value) in environment { env[key] = value }
        let envStrings = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let argv: [UnsafeMutablePointer<CChar>?] =
            ([Array(executable.utf8)] + arguments).map { bytes in
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
                for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
                copy[bytes.count] = 0
                return copy
            } + [nil]
        defer {
            for pointer in envStrings { free(pointer) }
            for pointer in argv { pointer?.deallocate() }
        }
        var pid = pid_t()
        var argvCopy = argv
        var envCopy = envStrings
        let result = spawnLock.withLock { _ in
            argvCopy.withUnsafeMutableBufferPointer { a in
                envCopy.withUnsafeMutableBufferPointer { e in
                    posix_spawn(&pid, executable, &actions, &attributes, a.baseAddress!, e.baseAddress!)
                }
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        close(inPipe[0])
        guard result == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            close(inPipe[1])
            throw POSIXFailure("posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        self.processID = pid
        self.stdoutRead = outPipe[0]
        self.stderrRead = errPipe[0]
        let inWrite = inPipe[1]
        if let standardInput {
            // Feed standard input from a thread so a large input cannot deadlock against our reads.
            let box = UnsafeMutablePointer<(CInt, [UInt8])>.allocate(capacity: 1)
            box.initialize(to: (inWrite, standardInput))
            var thread = pthread_t()
            pthread_create(
                &thread,
                nil,
                { raw in
                    let box = raw!.assumingMemoryBound(to: (CInt, [UInt8]).self)
                    let (fd, bytes) = box.move()
                    box.deallocate()
                    bytes.withUnsafeBytes { buffer in
                        var offset = 0
                        while offset < buffer.count {
                            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                            if n <= 0 { break }
                            offset += n
                        }
                    }
                    close(fd)
                    return nil
                },
                box
            )
            pthread_detach(thread)
        } else {
            close(inWrite)
        }
    }

    /// Sends a signal.
    public func signal(_ signal: Int32) {
        kill(self.processID, signal)
    }

    /// Reads its output to the end and waits for it to exit.
    public func wait() -> ProcessResult {
        // Drain both pipes with poll so neither can fill up and block the child.
        var out: [UInt8] = []
        var err: [UInt8] = []
        var fds = [
            pollfd(fd: self.stdoutRead, events: Int16(POLLIN), revents: 0),
            pollfd(fd: self.stderrRead, events: Int16(POLLIN), revents: 0),
        ]
        var open = 2
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<2 where fds[index].fd >= 0 && fds[index].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if index == 0 {
                        out.append(contentsOf: buffer[0..<n])
                    } else {
                        err.append(contentsOf: buffer[0..<n])
                    }
                } else if n == 0 || errno != EINTR {
                    close(fds[index].fd)
                    fds[index].fd = -1
                    open -= 1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(self.processID, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessResult(status: code, standardOutput: out, standardError: err)
    }

    /// Runs a process, with arguments given as bytes, to completion.
    public static func run(
        _ executable: String,
        rawArguments: [[UInt8]],
        environment: [String: String] = [:]
    ) throws -> ProcessResult {
        try ChildProcess(executable, rawArguments: rawArguments, environment: environment).wait()
    }

    /// Runs a process to completion.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput: [UInt8]? = nil
    ) throws -> ProcessResult {
        try ChildProcess(executable, arguments, environment: environment, standardInput: standardInput).wait()
    }
}

/// A system call failed while setting up a test.
public struct POSIXFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Taken around every spawn, and around making pipes until they are close-on-exec.
private let spawnLock = Mutex<Void>(())

/// Ignores SIGPIPE; at file scope `signal` is the C library's.
private func ignoreBrokenPipes() {
    _ = signal(SIGPIPE, SIG_IGN)
}
