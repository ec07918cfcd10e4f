import ArgumentParser
import Logging
import MapReduce
import MapReduceJobs

/// `mapreduce serve`: a peer node of a cluster, the counterpart of Parallel Python's `ppserver.py`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve tasks to coordinators on the network: a peer node of a cluster.",
        discussion: """
            Listens on HOST:PORT, authenticates each coordinator with the shared secret (mutual \
            HMAC-SHA256, then a MAC on every message), and runs its tasks on this machine's worker \
            processes, one coordinator at a time. It runs only the jobs compiled into this binary; nothing \
            it receives is run as code. Data travels LZ4-compressed but not encrypted: use it on a network \
            you trust. Logs one line per job and per refused connection; SIGTERM or Ctrl-C stops it.

            Examples:
              mapreduce secret cluster.secret
              mapreduce serve --listen peer1.example:7420 --secret-file cluster.secret
              mapreduce wordcount big/ --cluster peer1.example:7420,peer2.example:7420 --secret-file cluster.secret
            """
    )

    @Option(help: "The address and port to listen on, such as peer1.example:7420 (port 0: any free port).")
    var listen: String

    @Option(
        name: .customLong("secret-file"),
        help: "The shared secret: at least 32 characters, readable by its owner only (mapreduce secret writes one)."
    )
    var secretFile: String

    @Option(help: "Worker processes, one task slot each (default: one per core).")
    var workers: Int?

    @Option(name: .customLong("temporary-directory"), help: "Where jobs' temporary files go (default: $TMPDIR).")
    var temporaryDirectory: String?

    @Option(
        name: .customLong("handshake-timeout"),
        help: "Seconds a new connection may take to authenticate before it is closed (default 5)."
    )
    var handshakeTimeout: Double = 5

    @Flag(name: .shortAndLong, help: "Log each connection and task too.")
    var verbose = false

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1.") }
        if !(self.handshakeTimeout > 0 && self.handshakeTimeout <= 3600) {
            throw ValidationError("--handshake-timeout must be a number of seconds above 0.")
        }
        do {
            _ = try PeerAddress(parsing: self.listen, allowingAnyPort: true)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
    }

    func run() async throws {
        let address = try PeerAddress(parsing: self.listen, allowingAnyPort: true)
        var logger = Logger(label: "mapreduce-serve") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = self.verbose ? .debug : .info
        let server = PeerServer(
            configuration: .init(
                host: address.host,
                port: address.port,
                secretFile: self.secretFile,
                workers: self.workers,
                registry: .builtIn,
                temporaryDirectory: self.temporaryDirectory,
                handshakeTimeout: .milliseconds(Int(self.handshakeTimeout * 1000)),
                logger: logger
            )
        )
        do {
            try await TerminationSignals.run { try await server.run() }
        } catch let signal as TerminationSignals.Received {
            logger.info(
                "\(signal.description.replacing("interrupted", with: "stopped")); workers and temporary files gone"
            )
        } catch let error as MapReduceError {
            printToStandardError("mapreduce serve: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `mapreduce secret FILE`: a fresh random secret for a cluster.
struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Write a fresh random cluster secret to FILE, readable by its owner only.",
        discussion: """
            Copy the file to every node of the cluster (keeping it mode 600), then pass it to mapreduce serve \
            and to the coordinator with --secret-file. An existing file is never overwritten.
            """
    )

    @Argument(help: "The file to create.")
    var file: String

    func run() throws {
        do {
            try ClusterSecret.generate(path: self.file)
        } catch let error as MapReduceError {
            printToStandardError("mapreduce: \(error)")
            throw ExitCode(1)
        }
    }
}
