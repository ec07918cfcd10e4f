import ArgumentParser
import Logging
import MapReduce

/// The flags every job shares: how many workers, how big the tasks, what to report.
struct EngineOptions: ParsableArguments {
    @Option(help: "Worker processes (default: one per core).")
    var workers: Int?

    @Option(help: "Input bytes per map task: 'auto', or a size such as 4M (at least 64K: smaller ones are raised).")
    var chunksize: String = "auto"

    @Option(name: .customLong("reduce-chunksize"), help: "Keys per reduce task: 'auto' or a number.")
    var reduceChunksize: String = "auto"

    @Option(
        name: .customLong("worker-memory"),
        help: """
            What a worker's tables may hold before they are written out, on the map and the reduce side: a \
            size such as 24M (at least 1M). A key longer than a quarter of it is an error.
            """
    )
    var workerMemory: String = "24M"

    @Option(
        name: .customLong("spool-limit"),
        help: """
            How much streamed input (standard input, pipes, FIFOs) may be copied to the temporary directory: \
            a size such as 10G (default: what its disk has free, less a tenth of the disk).
            """
    )
    var spoolLimit: String?

    @Option(
        help: """
            Peer nodes (mapreduce serve) that take tasks too: HOST:PORT[,HOST:PORT...]. Needs --secret-file.
            """
    )
    var cluster: String?

    @Option(name: .customLong("secret-file"), help: "The cluster's shared secret (see mapreduce secret).")
    var secretFile: String?

    @Flag(name: .customLong("no-local"), help: "With --cluster: run every task on the peers, none on this machine.")
    var noLocal = false

    @Option(name: .customLong("heartbeat"), help: "With --cluster: seconds between heartbeats.")
    var heartbeat: Double = 1

    @Option(
        name: .customLong("heartbeat-timeout"),
        help: "With --cluster: seconds of silence after which a peer is dropped."
    )
    var heartbeatTimeout: Double = 10

    @Option(
        name: .customLong("connect-timeout"),
        help: "With --cluster: seconds to reach and authenticate a peer."
    )
    var connectTimeout: Double = 5

    @Flag(help: "Print per-worker and job statistics to standard error.")
    var stats = false

    @Option(name: .customLong("stats-json"), help: "Write the statistics as JSON to this file.")
    var statsJSON: String?

    @Option(help: "Write a timeline of the task attempts, one lane per worker or peer, as an SVG image to this file.")
    var timeline: String?

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    @Option(
        help: """
            A live progress line on standard error: 'auto' (on a terminal, for jobs longer than half a \
            second), 'always' or 'never'.
            """
    )
    var progress: String = "auto"

    @Flag(name: .shortAndLong, help: "Log what the engine does to standard error.")
    var verbose = false

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1.") }
        if ChunkSize(parsing: self.chunksize) == nil {
            throw ValidationError("--chunksize must be 'auto' or a positive size such as 4M, not '\(self.chunksize)'.")
        }
        guard case .fixed(let memory) = ChunkSize(parsing: self.workerMemory), memory >= 1 << 20 else {
            throw ValidationError(
                "--worker-memory must be a size of at least 1M, such as 24M, not '\(self.workerMemory)'."
            )
        }
        if let spoolLimit {
            guard case .fixed = ChunkSize(parsing: spoolLimit) else {
                throw ValidationError("--spool-limit must be a size such as 10G, not '\(spoolLimit)'.")
            }
        }
        if self.cluster != nil && self.secretFile == nil {
            throw ValidationError("--cluster needs --secret-file: there is no default secret.")
        }
        if self.cluster == nil && (self.noLocal || self.secretFile != nil) {
            throw ValidationError("--no-local and --secret-file go with --cluster.")
        }
        for (name, value) in [
            ("--heartbeat", self.heartbeat), ("--heartbeat-timeout", self.heartbeatTimeout),
            ("--connect-timeout", self.connectTimeout),
        ] where !(value > 0 && value <= 3600) {
            throw ValidationError("\(name) must be a number of seconds above 0, not \(value).")
        }
        if self.heartbeatTimeout <= self.heartbeat {
            throw ValidationError("--heartbeat-timeout must be longer than --heartbeat.")
        }
        if !["auto", "always", "never"].contains(self.progress) {
            throw ValidationError("--progress must be 'auto', 'always' or 'never', not '\(self.progress)'.")
        }
        if ChunkSize(parsing: self.reduceChunksize) == nil {
            throw ValidationError(
                "--reduce-chunksize must be 'auto' or a positive number, not '\(self.reduceChunksize)'."
            )
        }
    }

    /// The progress line the options ask for, if any.
    func makeProgressLine() -> ProgressLine? {
        ProgressLine.wanted(self.progress, quiet: self.quiet) ? ProgressLine() : nil
    }

    func engineConfiguration(registry: JobRegistry, progress: ProgressLine? = nil) -> MapReduceEngine.Configuration {
        var logger = Logger(label: "mapreduce") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = self.verbose ? .debug : (self.quiet ? .error : .warning)
        var configuration = MapReduceEngine.Configuration(
            workers: self.workers,
            mapChunkSize: ChunkSize(parsing: self.chunksize) ?? .auto,
            reduceChunkSize: ChunkSize(parsing: self.reduceChunksize) ?? .auto,
            workerMemoryBudget: {
                if case .fixed(let bytes) = ChunkSize(parsing: self.workerMemory) { return bytes }
                return 24 << 20
            }(),
            spoolLimit: self.spoolLimit.flatMap {
                if case .fixed(let bytes) = ChunkSize(parsing: $0) { return bytes }
                return nil
            },
            logger: logger
        )
        if let progress { configuration.progress = { progress.report($0) } }
        if let cluster, let secretFile {
            configuration.cluster = MapReduceEngine.Cluster(
                peers: cluster.split(separator: ",").map { String($0.filter { $0 != " " }) },
                secretFile: secretFile,
                registry: registry,
                useLocalWorkers: !self.noLocal,
                heartbeatInterval: .milliseconds(Int(self.heartbeat * 1000)),
                heartbeatTimeout: .milliseconds(Int(self.heartbeatTimeout * 1000)),
                connectTimeout: .milliseconds(Int(self.connectTimeout * 1000))
            )
        }
        return configuration
    }

    /// Prints the statistics table on standard error, if asked for.
    func reportTable(_ statistics: JobStatistics) {
        if self.stats && !self.quiet {
            printToStandardError(statistics.formattedTable())
        }
    }
}
