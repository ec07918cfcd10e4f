public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A peer node: `mapreduce serve`. It listens on one port, authenticates each coordinator with the shared
/// secret, and runs the tasks it is given on its own pool of local worker processes, one coordinator at a
/// time, for as long as it runs.
///
/// A peer runs only jobs compiled into its own binary, rebuilt from their encoded parameters: nothing it
/// receives is executed as code. It holds nothing between jobs: a job's temporary directory and workers
/// are gone when the job ends, when its coordinator goes away, or when the peer is stopped.
public struct PeerServer: Sendable {
    /// How a peer serves.
    public struct Configuration: Sendable {
        /// Where it listens.
        public var host: String
        /// The TCP port it listens on; 0 picks a free one (see ``PeerServer/run(onListening:)``).
        public var port: Int
        /// The path of the shared secret (at least 32 characters, readable by its owner only).
        public var secretFile: String
        /// Worker processes, one slot each; the default is one per core.
        public var workers: Int
        /// The jobs this binary runs (the build fingerprint names them).
        public var registry: JobRegistry
        /// Where jobs' temporary directories go; nil uses `$TMPDIR`, then `/tmp`.
        public var temporaryDirectory: String?
        /// How long a new connection may take to authenticate.
        public var handshakeTimeout: Duration
        /// The executable of worker processes and the arguments that make it one.
        public var workerExecutable: String
        /// The arguments a worker process is started with (by default ``WorkerProcess/argument``).
        public var workerArguments: [String]
        /// Where the peer logs: one line per job and per refused connection.
        public var logger: Logger

        /// A configuration; `secretFile` is required, there is no default secret.
        public init(
            host: String,
            port: Int,
            secretFile: String,
            workers: Int? = nil,
            registry: JobRegistry,
            temporaryDirectory: String? = nil,
            handshakeTimeout: Duration = .seconds(5),
            workerExecutable: String = "/proc/self/exe",
            workerArguments: [String] = [WorkerProcess.argument],
            logger: Logger
        ) {
            self.host = host
            self.port = port
            self.secretFile = secretFile
            self.workers = workers ?? MapReduceEngine.onlineCores
            self.registry = registry
            self.temporaryDirectory = temporaryDirectory
            self.handshakeTimeout = handshakeTimeout
            self.workerExecutable = workerExecutable
            self.workerArguments = workerArguments
            self.logger = logger
        }
    }

    /// The configuration it serves with.
    public var configuration: Configuration

    /// A peer.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Serves until the task is cancelled (SIGTERM or SIGINT, through ``TerminationSignals``).
    /// - Parameter onListening: Called once the port is bound, with the port (useful when asked for 0).
    /// - Throws: ``MapReduceError`` when the secret file is unfit or the port cannot be bound.
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        let configuration = self.configuration
        let secret = try ClusterSecret.load(path: configuration.secretFile)
        let fingerprint = try BuildFingerprint.current(jobs: configuration.registry.jobNames)
        guard configuration.workers >= 1 else { throw MapReduceError(.usage, "at least one worker is needed") }
        try MapReduceEngine.reserveDescriptors(workers: configuration.workers)
        try MapReduceEngine.reserveProcesses(workers: configuration.workers)
        Syscall.keepChunkBlocks()
        PeerSession.removeStaleDirectories(configuration, logger: configuration.logger)
        let server: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let limit = FrameLimit()
                        let wrapped = try ClusterConnection.configure(channel, limit: limit)
                        return AcceptedConnection(channel: wrapped, limit: limit)
                    }
                }
        } catch {
            throw MapReduceError(
                .io,
                "cannot listen on \(configuration.host):\(configuration.port): \(describeError(error))",
                underlying: error
            )
        }
        let port = server.channel.localAddress?.port ?? configuration.port
        configuration.logger.info(
            "serving",
            metadata: [
                "listen": "\(configuration.host):\(port)", "workers": "\(configuration.workers)",
                "build": "\(fingerprint.build)",
            ]
        )
        onListening(port)
        let busy = BusyFlag()
        try await withTaskCancellationHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask {
                            await self.serve(connection, secret: secret, fingerprint: fingerprint, busy: busy)
                        }
                    }
                }
            }
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }

    struct AcceptedConnection: Sendable {
        let channel: ClusterConnection.Channel
        let limit: FrameLimit
    }

    /// One connection: the handshake, then one job, or a refusal.
    func serve(
        _ connection: AcceptedConnection,
        secret: ClusterSecret,
        fingerprint: BuildFingerprint,
        busy: BusyFlag
    ) async {
        let logger = self.configuration.logger
        let remote = connection.channel.channel.remoteAddress.map(Self.describe) ?? "unknown"
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                var machine = HandshakeStateMachine(
                    role: .peer,
                    secret: secret,
                    fingerprint: fingerprint,
                    nonce: HandshakeStateMachine.makeNonce(),
                    busyReason: busy.holder.withLock { $0 }.map { "busy with a job for coordinator \($0)" }
                )
                _ = try await ClusterConnection.handshake(
                    &machine,
                    channel: connection.channel.channel,
                    frames: &frames,
                    outbound: outbound,
                    limit: connection.limit,
                    remote: remote,
                    deadline: self.configuration.handshakeTimeout
                )
                // One coordinator at a time: the second of two that authenticated together is refused here.
                let claimed = busy.holder.withLock { current -> Bool in
                    guard current == nil else { return false }
                    current = remote
                    return true
                }
                guard claimed else {
                    let refusal = TaskFailure(
                        taskID: 0,
                        error: MapReduceError(.incompatiblePeer, "the peer is busy with another coordinator's job")
                    )
                    try? await outbound.write(ClusterMessage.jobRefused(refusal).frame)
                    throw MapReduceError(.incompatiblePeer, "busy with another coordinator's job", peer: remote)
                }
                defer { busy.holder.withLock { $0 = nil } }
                let session = PeerSession(configuration: self.configuration, remote: remote, logger: logger)
                await session.run(frames: &frames, outbound: outbound, channel: connection.channel.channel)
            }
        } catch {
            logger.warning("refused connection from \(remote): \(describeError(error))")
        }
    }

    static func describe(_ address: SocketAddress) -> String {
        if let ip = address.ipAddress, let port = address.port {
            return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        return "\(address)"
    }
}

/// Which coordinator the peer works for now, if any.
final class BusyFlag: Sendable {
    let holder = Mutex<String?>(nil)
}
