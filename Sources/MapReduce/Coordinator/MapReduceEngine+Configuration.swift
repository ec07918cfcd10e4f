public import Logging

extension MapReduceEngine {
    /// How a job runs.
    public struct Configuration: Sendable {
        /// Where tasks run.
        public var execution: Execution
        /// Worker processes; the default is one per online core.
        public var workers: Int
        /// Input bytes per map task.
        public var mapChunkSize: ChunkSize
        /// The fewest input bytes a map task gets, whatever ``mapChunkSize`` says: a task costs a round
        /// trip to a worker, so `.fixed(1)` must not make a million tasks of a megabyte. The default is
        /// ``defaultMinimumMapChunk``; tests of how records are cut at task boundaries lower it.
        public var minimumMapChunk: Int
        /// Keys per reduce task.
        public var reduceChunkSize: ChunkSize
        /// Reduce partitions; nil picks 16 per worker, at least 64.
        public var partitions: Int?
        /// The size a worker's map-side table may reach before it is written out as a spill.
        public var workerMemoryBudget: Int
        /// How many workers one task may kill before the job fails.
        public var maxTaskAttempts: Int
        /// Where the job's temporary directory goes; nil uses `$TMPDIR`, then `/tmp`.
        public var temporaryDirectory: String?
        /// How many bytes of streamed input (standard input, pipes, FIFOs) may be copied to the temporary
        /// directory, in total; past it the job fails with code ``MapReduceError/Code/limitExceeded``.
        /// nil allows what the temporary directory's file system has free when the job starts, less a
        /// reserve of a tenth of its size (at least 1 GiB), so that a runaway stream never fills the disk.
        public var spoolLimit: Int?
        /// The executable of worker processes (this program, by default) and the arguments that make it
        /// one (see ``WorkerProcess``).
        public var workerExecutable: String
        /// The arguments a worker process is started with (by default ``WorkerProcess/argument``).
        public var workerArguments: [String]
        /// Where the engine logs.
        public var logger: Logger
        /// Peer nodes that take tasks too; nil runs the job on this machine only.
        public var cluster: Cluster?
        /// Called every ``progressInterval`` while the job runs, from a task of its own, with how far the
        /// job has come (for a progress line); nil, the default, reports nothing.
        public var progress: (@Sendable (JobProgress) -> Void)?
        /// How often ``progress`` is called.
        public var progressInterval: Duration = .milliseconds(250)

        /// A configuration; every parameter has a sensible default.
        public init(
            execution: Execution = .workerProcesses,
            workers: Int? = nil,
            mapChunkSize: ChunkSize = .auto,
            reduceChunkSize: ChunkSize = .auto,
            minimumMapChunk: Int = MapReduceEngine.defaultMinimumMapChunk,
            partitions: Int? = nil,
            workerMemoryBudget: Int = 24 << 20,
            maxTaskAttempts: Int = 3,
            temporaryDirectory: String? = nil,
            spoolLimit: Int? = nil,
            workerExecutable: String = "/proc/self/exe",
            workerArguments: [String] = [WorkerProcess.argument],
            logger: Logger = Logger(label: "mapreduce", factory: { _ in SwiftLogNoOpLogHandler() })
        ) {
            self.execution = execution
            self.workers = execution == .inProcess ? 1 : (workers ?? MapReduceEngine.onlineCores)
            self.mapChunkSize = mapChunkSize
            self.reduceChunkSize = reduceChunkSize
            self.minimumMapChunk = minimumMapChunk
            self.partitions = partitions
            self.workerMemoryBudget = workerMemoryBudget
            self.maxTaskAttempts = maxTaskAttempts
            self.temporaryDirectory = temporaryDirectory
            self.spoolLimit = spoolLimit
            self.workerExecutable = workerExecutable
            self.workerArguments = workerArguments
            self.logger = logger
            self.cluster = nil
        }
    }

    /// Peer nodes (`mapreduce serve`) that run tasks beside, or instead of, the local workers.
    ///
    /// Every peer must run the same binary (the build fingerprint checks it) and share its key file. Input
    /// bytes travel to peers LZ4-compressed and map output comes back to this machine's temporary
    /// directory, so no shared file system is needed and losing a peer loses no committed work.
    public struct Cluster: Sendable {
        /// `HOST:PORT` of each peer.
        public var peers: [String]
        /// The shared secret's file: at least 32 characters, readable by its owner only.
        public var secretFile: String
        /// The jobs this binary registers: the build fingerprint peers compare with their own.
        public var registry: JobRegistry
        /// Whether local workers take tasks too (as Parallel Python's local CPUs do).
        public var useLocalWorkers: Bool
        /// How often heartbeats go both ways, and how long a silent peer is waited for.
        public var heartbeatInterval: Duration
        /// How long a silent peer is waited for before it is dropped and its tasks run elsewhere.
        public var heartbeatTimeout: Duration
        /// How long connecting and authenticating may take.
        public var connectTimeout: Duration

        /// A cluster; `secretFile` is required, there is no default secret.
        public init(
            peers: [String],
            secretFile: String,
            registry: JobRegistry,
            useLocalWorkers: Bool = true,
            heartbeatInterval: Duration = .seconds(1),
            heartbeatTimeout: Duration = .seconds(10),
            connectTimeout: Duration = .seconds(5)
        ) {
            self.peers = peers
            self.secretFile = secretFile
            self.registry = registry
            self.useLocalWorkers = useLocalWorkers
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
            self.connectTimeout = connectTimeout
        }
    }
}
