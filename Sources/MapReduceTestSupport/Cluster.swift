/// A `mapreduce serve` process on a loopback address, for tests. Its log goes to a file the test reads.
public final class PeerProcess: @unchecked Sendable {
    // @unchecked: set once in init; a test uses it from one task at a time.
    public let process: ChildProcess
    /// `HOST:PORT` it listens on.
    public let address: String
    public let logPath: String

    /// Starts a peer and waits until it listens.
    /// - Parameters:
    ///   - host: A loopback address (127.0.0.2, 127.0.0.3, …).
    ///   - port: 0 for any free port.
    ///   - binary: The `mapreduce` to run (another build, for fingerprint tests).
    public init(
        host: String,
        port: Int = 0,
        secretFile: String,
        workers: Int = 1,
        arguments: [String] = [],
        environment: [String: String] = [:],
        binary: String = TestEnvironment.binary,
        logDirectory: String
    ) throws {
        let log = "\(logDirectory)/peer-\(host)-\(port)-\(UInt32.random(in: 0...UInt32.max)).log"
        self.logPath = log
        // Job directories go under the test's folder, so that a peer the test kills leaves nothing behind.
        let temporary = arguments.contains("--temporary-directory") ? [] : ["--temporary-directory", logDirectory]
        let command =
            ([binary, "serve", "--listen", "\(host):\(port)", "--secret-file", secretFile, "--workers", "\(workers)"]
            + temporary + arguments).map(shellQuoted).joined(separator: " ")
        self.process = try ChildProcess(
            "/bin/sh",
            ["-c", "exec \(command) 2> \(shellQuoted(log))"],
            environment: environment
        )
        var found: String?
        for _ in 0..<1000 {
            let text = String(decoding: (try? Files.read(log)) ?? [], as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.contains("listen=") }),
                let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") })
            {
                found = String(field.dropFirst("listen=".count))
                break
            }
            if !ProcessTree.isAlive(self.process.processID) { break }
            pause(milliseconds: 10)
        }
        guard let found else {
            let text = String(decoding: (try? Files.read(log)) ?? [], as: UTF8.self)
            self.process.signal(SIGKILL)
            _ = self.process.wait()
            throw POSIXFailure("the peer did not start listening: \(text)")
        }
        self.address = found
    }

    /// What it logged so far.
    public var log: String { String(decoding: (try? Files.read(self.logPath)) ?? [], as: UTF8.self) }

    /// The port it listens on.
    public var port: Int { Int(self.address.split(separator: ":").last ?? "") ?? 0 }

    /// Waits until its log contains `text`, up to `milliseconds`.
    @discardableResult
    public func waitForLog(_ text: String, milliseconds: Int = 10_000) -> Bool {
        for _ in 0..<(milliseconds / 10) {
            if self.log.contains(text) { return true }
            pause(milliseconds: 10)
        }
        return self.log.contains(text)
    }

    /// Its worker processes now.
    public var workers: [pid_t] { ProcessTree.children(of: self.process.processID) }

    /// Stops it with SIGTERM and waits for it.
    @discardableResult
    public func stop() -> ProcessResult {
        self.process.signal(SIGTERM)
        return self.process.wait()
    }

    /// Kills it (for cleanup after a test that stopped it with SIGSTOP, say).
    public func kill() {
        self.process.signal(SIGCONT)
        self.process.signal(SIGKILL)
        _ = self.process.wait()
    }
}

/// A cluster secret file for tests, made by `mapreduce secret`.
public func makeSecretFile(in directory: TemporaryDirectory, name: String = "cluster.secret") throws -> String {
    let path = directory.file(name)
    let result = try TestEnvironment.mapreduce(["secret", path])
    guard result.status == 0 else { throw POSIXFailure("mapreduce secret failed: \(result)") }
    return path
}

/// A TCP connection made by hand, to speak garbage to a peer.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: one test uses it from one task.
    let descriptor: CInt

    /// Connects to `host:port` (loopback only in tests).
    public init(host: String, port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw POSIXFailure("bad address \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXFailure("connect to \(host):\(port): errno \(errno)")
        }
        self.descriptor = fd
    }

    /// Sends bytes; false if the other side closed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { sendBytes(self.descriptor, $0.baseAddress, $0.count) } == bytes.count
    }

    /// Reads until the other side closes the connection or `milliseconds` pass; returns the bytes read and
    /// whether it closed.
    public func readUntilClosed(milliseconds: Int) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = milliseconds
        var waited = 0
        while waited < deadline {
            var fds = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, 50)
            waited += 50
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (received, true) }
            received += buffer[0..<n]
        }
        return (received, false)
    }

    deinit {
        close(self.descriptor)
    }
}

/// `text` quoted for /bin/sh.
public func shellQuoted(_ text: String) -> String {
    "'" + text.replacing("'", with: "'\\''") + "'"
}

private func sendBytes(_ fd: CInt, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    send(fd, bytes, count, Int32(MSG_NOSIGNAL))
}
