public import Logging
import Synchronization

/// Runs MapReduce jobs on a pool of local worker processes.
///
/// ```swift
/// let engine = MapReduceEngine(configuration: .init(workers: 4))
/// let stats = try await engine.run(WordCount(), inputs: [.path("corpus/")]) { word, count in
///     print(word, count)
/// }
/// ```
///
/// The coordinator (this process) holds task metadata only: workers read their input ranges themselves,
/// combine and partition in memory, write map output to a private temporary directory, and reduce it
/// there; the coordinator merges the sorted reduce outputs and hands each key to you in key order. The
/// temporary directory is removed when the job ends, also when it fails or is cancelled, and no worker
/// process outlives the call.
public struct MapReduceEngine: Sendable {
    /// Where tasks run.
    public enum Execution: Sendable, Hashable {
        /// In worker processes of ``Configuration/workerExecutable``: the normal mode.
        case workerProcesses
        /// Every task in the calling process, one at a time: for unit tests of a job and for debugging.
        /// The job need not be registered anywhere.
        case inProcess
    }

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
        public var workerArguments: [String]
        /// Where the engine logs.
        public var logger: Logger

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
        }
    }

    /// The configuration jobs run with.
    public var configuration: Configuration

    /// Creates an engine.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The floor on input bytes per map task, 64 KiB: at a few hundred MB/s a task of that size takes
    /// a few hundred microseconds, several times what handing it to a worker costs.
    public static let defaultMinimumMapChunk = 64 << 10

    /// Cores this process may run on.
    public static var onlineCores: Int {
        max(1, Syscall.onlineCores)
    }

    /// Runs a job to completion.
    /// - Parameters:
    ///   - job: The job, with its parameters; workers rebuild it from its encoding.
    ///   - inputs: Files, directories (read recursively) and standard input.
    ///   - isolation: Where `consume` runs: the caller's actor (the main actor, in a program's `main`), so
    ///     that it may use the caller's state. Leave it to its default.
    ///   - consume: Called once per output key, in order of the keys' encoded bytes.
    /// - Returns: What happened, per slot and in total.
    /// - Throws: ``MapReduceError``: bad input, a task failing in the job's code, a task killing workers
    ///   repeatedly, or cancellation (code ``MapReduceError/Code/cancelled``).
    @inlinable
    public func run<J: MapReduceJob>(
        _ job: J,
        inputs: [InputSource],
        isolation: isolated (any Actor)? = #isolation,
        consume: (J.Key, J.Output) throws -> Void
    ) async throws -> JobStatistics {
        try await self.run(
            job,
            inputs: inputs,
            isolation: isolation,
            consumeEncoded: { keyBytes, outputBytes in
                try consume(J.Key(encodedBytes: keyBytes), J.Output(encodedBytes: outputBytes))
            }
        )
    }

    /// Runs a job whose keys are their own bytes (``RawBytesCodable``, such as ``ByteString``), handing
    /// each output key to `consume` as those bytes rather than as a new value: no allocation per key,
    /// which matters when the output has millions of keys.
    /// - Parameters:
    ///   - job: The job, with its parameters; workers rebuild it from its encoding.
    ///   - inputs: Files, directories (read recursively) and standard input.
    ///   - isolation: Where `consume` runs: the caller's actor. Leave it to its default.
    ///   - consume: Called once per output key, in order of the keys' bytes; the bytes are valid only
    ///     during the call.
    /// - Returns: What happened, per slot and in total.
    /// - Throws: As ``run(_:inputs:consume:)``.
    @inlinable
    public func run<J: MapReduceJob>(
        _ job: J,
        inputs: [InputSource],
        isolation: isolated (any Actor)? = #isolation,
        consumeKeyBytes consume: (RawSpan, J.Output) throws -> Void
    ) async throws -> JobStatistics where J.JobMapper.Key: RawBytesCodable {
        try await self.run(
            job,
            inputs: inputs,
            isolation: isolation,
            consumeEncoded: { keyBytes, outputBytes in
                try consume(RawSpan(_unsafeBytes: keyBytes), J.Output(encodedBytes: outputBytes))
            }
        )
    }

    /// Runs a job to completion and hands its merged output over still encoded. The public entry points
    /// above are inlined into the caller, so the decoding of each output is specialised for the job.
    @usableFromInline
    func run<J: MapReduceJob>(
        _ job: J,
        inputs: [InputSource],
        isolation: isolated (any Actor)?,
        consumeEncoded consume: (_ key: UnsafeRawBufferPointer, _ output: UnsafeRawBufferPointer) throws -> Void
    ) async throws -> JobStatistics {
        let started = monotonicNanoseconds()
        let configuration = self.configuration
        guard configuration.workers >= 1 else { throw MapReduceError(.usage, "at least one worker is needed") }
        if configuration.execution == .workerProcesses, environmentValue(WorkerSpawner.workerMarker) != nil {
            // Without this, a program that forgets to let its workers in starts workers that start workers.
            throw MapReduceError(
                .usage,
                "this process was started as a worker process but runs a job itself: its main must call "
                    + "WorkerProcess.run(registry:) first when its first argument is '\(WorkerProcess.argument)'"
            )
        }
        if configuration.execution == .workerProcesses {
            try Self.reserveDescriptors(workers: configuration.workers)
            try Self.reserveProcesses(workers: configuration.workers)
        }
        let logger = configuration.logger
        let resolved = try InputResolver.resolve(inputs) { logger.warning("\($0)") }
        let workDirectory = try self.makeWorkDirectory()
        EmergencyCleanup.shared.add(directory: workDirectory)
        defer {
            Syscall.removeTree(workDirectory)
            EmergencyCleanup.shared.remove(directory: workDirectory)
        }

        var files = resolved.files
        var spoolBudget = configuration.spoolLimit ?? Self.defaultSpoolLimit(directory: workDirectory)
        for (index, stream) in resolved.streams.enumerated() {
            let spool = "\(workDirectory)/input-\(index)"
            let size = try InputResolver.spool(
                path: stream.path,
                displayName: stream.displayName,
                to: spool,
                limit: spoolBudget,
                totalLimit: configuration.spoolLimit ?? spoolBudget
            )
            spoolBudget -= size
            let modified = Syscall.modificationTime(try Syscall.stat(spool))
            files.append(path: spool.utf8, size: size, modified: modified, displayName: stream.displayName)
            try Task.checkCancellation(or: MapReduceError(.cancelled, "cancelled"))
        }

        let partitions = max(1, configuration.partitions ?? max(64, configuration.workers * 16))
        let totalBytes = files.totalBytes
        let mapChunkSize = configuration.mapChunkSize.atLeast(configuration.minimumMapChunk)
        let machine = SchedulerStateMachine(
            configuration: .init(
                reduceChunkSize: configuration.reduceChunkSize,
                partitions: partitions,
                maxTaskAttempts: configuration.maxTaskAttempts,
                slots: configuration.workers
            ),
            inputs: files,
            tuner: MapChunkTuner(
                setting: mapChunkSize,
                slots: configuration.workers,
                totalBytes: totalBytes
            )
        )
        let scheduler = Scheduler(machine: machine)
        let hello = WorkerHello(
            jobName: J.name,
            jobParameters: job.encodedBytes,
            workDirectory: workDirectory,
            partitions: partitions,
            memoryBudget: configuration.workerMemoryBudget,
            workerIndex: 0
        )
        let pool = LivePool()

        if !scheduler.isOver && configuration.execution == .inProcess {
            let handler = try WorkerRuntime<J>.makeHandler(job: job, hello: hello, processID: Int(Syscall.processID))
            await Self.runInProcess(handler: handler, scheduler: scheduler)
        } else if !scheduler.isOver {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for index in 0..<configuration.workers {
                        group.addTask {
                            var hello = hello
                            hello.workerIndex = index
                            await self.runSlot(index: index, hello: hello, scheduler: scheduler, pool: pool)
                        }
                    }
                }
            } onCancel: {
                scheduler.fail(MapReduceError(.cancelled, "cancelled"))
                pool.signalAll(Signal.terminate)
            }
        }
        if Task.isCancelled { throw MapReduceError(.cancelled, "cancelled") }
        if let failure = scheduler.read({ $0.failure }) { throw failure }

        let mapEnded = scheduler.read { $0.mapPhaseEndedAt } ?? monotonicNanoseconds()
        let reduceEnded = monotonicNanoseconds()
        let runs = scheduler.read { machine in machine.runs.sorted { $0.taskID < $1.taskID }.map(\.runPath) }
        try RunMerger.merge(runs: runs, consume)
        let ended = monotonicNanoseconds()
        return scheduler.read { machine in
            Self.statistics(
                machine: machine,
                jobName: J.name,
                setting: mapChunkSize,
                started: started,
                mapEnded: mapEnded,
                reduceEnded: reduceEnded,
                ended: ended
            )
        }
    }

    /// Keeps one slot staffed with a live worker until the scheduler says stop.
    func runSlot(index: Int, hello: WorkerHello, scheduler: Scheduler, pool: LivePool) async {
        let logger = self.configuration.logger
        var generation = 0
        var failedStarts = 0
        var diedBeforeHandshake = 0
        while !scheduler.isOver && !Task.isCancelled {
            let slot = SlotID(index: index, generation: generation)
            generation += 1
            let worker: LocalWorker
            do {
                worker = try await LocalWorker.start(
                    executable: self.configuration.workerExecutable,
                    arguments: self.configuration.workerArguments
                )
            } catch {
                failedStarts += 1
                if failedStarts >= 3 {
                    scheduler.fail(error as? MapReduceError ?? MapReduceError(.workerDied, "\(error)"))
                }
                continue
            }
            pool.add(worker.processID)
            do {
                try await worker.serve(slot: slot, hello: hello, scheduler: scheduler, logger: logger)
                _ = await WorkerSpawner.terminate(worker.processID)
                pool.remove(worker.processID)
                return
            } catch let lost as WorkerLost {
                let status = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                pool.remove(worker.processID)
                if Task.isCancelled || scheduler.isOver { return }
                let reason = "worker \(index) (pid \(worker.processID)) \(status): \(lost.reason)"
                logger.info("worker lost; replacing it", metadata: ["slot": "\(index)", "reason": "\(reason)"])
                diedBeforeHandshake = lost.beforeHandshake ? diedBeforeHandshake + 1 : 0
                if diedBeforeHandshake >= 3 {
                    scheduler.fail(
                        MapReduceError(
                            .workerDied,
                            "\(diedBeforeHandshake) worker processes in a row ended before their handshake (last: "
                                + "\(status)); the worker executable \(self.configuration.workerExecutable) must call "
                                + "WorkerProcess.run(registry:) first thing when its first argument is "
                                + "'\(WorkerProcess.argument)'"
                        )
                    )
                    return
                }
                // A worker that died reading a file that shrank under it (SIGBUS on the mapping) says
                // nothing about the task: the input changed, and the job stops saying so.
                if let changed = scheduler.read({ $0.runningMapTask(on: slot) }).flatMap(InputCheck.changedInput) {
                    scheduler.fail(changed)
                    return
                }
                scheduler.update { $0.slotDied(slot, reason: reason) }
                failedStarts = 0
            } catch {
                _ = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                pool.remove(worker.processID)
                scheduler.fail(error as? MapReduceError ?? MapReduceError(.workerDied, "\(error)"))
                return
            }
        }
    }

    /// The in-process slot: the same scheduler and worker code, with a function call for a transport.
    static func runInProcess(handler: WorkerJobHandler, scheduler: Scheduler) async {
        let slot = SlotID(index: 0, generation: 0)
        while true {
            let message: CoordinatorMessage
            switch await scheduler.next(for: slot) {
            case .stop: return
            case .map(let task): message = .map(task)
            case .flush: message = .flush
            case .reduce(let task): message = .reduce(task)
            }
            guard let reply = handler.handle(message) else { return }
            do {
                try scheduler.update { try $0.apply(reply, from: slot) }
            } catch {
                scheduler.fail(error as? MapReduceError ?? MapReduceError(.jobFailed, "\(error)"))
            }
            if Task.isCancelled { scheduler.fail(MapReduceError(.cancelled, "cancelled")) }
        }
    }

    /// Raises the soft descriptor limit to the hard one and checks that `workers` fit under it: each
    /// worker's socket, the event loops' descriptors, files being read and written. Running out in the
    /// middle of a job would fail deep inside the networking library, with no clean way out.
    static func reserveDescriptors(workers: Int) throws {
        let limit = Syscall.raiseDescriptorLimit()
        let needed = Syscall.openDescriptorCount + 3 * onlineCores + 2 * workers + 24
        guard limit >= UInt64(needed) else {
            throw MapReduceError(
                .systemResources,
                "too few file descriptors: the limit (ulimit -n) is \(limit), and \(workers) workers need about "
                    + "\(needed); raise the limit or use fewer workers"
            )
        }
    }

    /// Raises the soft limit on this user's processes and threads (`ulimit -u`) to the hard one and
    /// checks that the job's threads and workers fit under it: the event loops and the task pool
    /// (a few per core) and two threads per worker. Past it, thread creation fails inside the
    /// networking library, which stops the program with a trap. Other processes of the same user count
    /// against the limit too, so this catches limits that are too small for any job, not all.
    static func reserveProcesses(workers: Int) throws {
        guard let limit = Syscall.raiseProcessLimit() else { return }
        let needed = 2 * onlineCores + 2 * workers + 4
        guard limit >= UInt64(needed) else {
            throw MapReduceError(
                .systemResources,
                "too few processes allowed: the limit (ulimit -u) is \(limit), and \(workers) workers need at "
                    + "least \(needed) threads and processes; raise the limit or use fewer workers"
            )
        }
    }

    /// What the file system holding `directory` has free, less a reserve of a tenth of its size (at least
    /// 1 GiB): the default ``Configuration/spoolLimit``.
    static func defaultSpoolLimit(directory: String) -> Int {
        guard let (available, size) = try? Syscall.fileSystemSpace(directory) else { return .max }
        return max(0, available - max(1 << 30, size / 10))
    }

    func makeWorkDirectory() throws -> String {
        var base = self.configuration.temporaryDirectory ?? environmentValue("TMPDIR") ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        do {
            return try Syscall.makeTemporaryDirectory(template: "\(base)/mapreduce-\(Syscall.processID)-XXXXXX")
        } catch {
            throw MapReduceError(.io, "cannot create the job's temporary directory: \(error.message)", input: base)
        }
    }

    static func statistics(
        machine: borrowing SchedulerStateMachine,
        jobName: String,
        setting: ChunkSize,
        started: Int,
        mapEnded: Int,
        reduceEnded: Int,
        ended: Int
    ) -> JobStatistics {
        let counts = machine.statistics
        let slots = counts.slots.enumerated().map { index, slot in
            JobStatistics.Slot(
                name: "local/\(index)",
                tasks: slot.tasks,
                taskSeconds: Double(slot.taskNanoseconds) / 1e9,
                inputBytes: slot.bytes,
                workersLost: slot.deaths
            )
        }
        return JobStatistics(
            jobName: jobName,
            slots: slots,
            inputFiles: counts.inputFiles,
            inputBytes: counts.inputBytes,
            mapTasks: counts.mapTasks,
            reduceTasks: counts.reduceTasks,
            retries: counts.retries,
            partitions: machine.configuration.partitions,
            spills: counts.spills,
            spillBytes: counts.spillBytes,
            pairsEmitted: counts.pairs,
            outputKeys: counts.outputKeys,
            mapChunkSize: setting,
            smallestMapTask: machine.tuner.smallestChunk == .max ? 0 : machine.tuner.smallestChunk,
            largestMapTask: machine.tuner.largestChunk,
            elapsedSeconds: Double(ended - started) / 1e9,
            mapSeconds: Double(mapEnded - started) / 1e9,
            reduceSeconds: Double(max(0, reduceEnded - mapEnded)) / 1e9,
            mergeSeconds: Double(ended - reduceEnded) / 1e9
        )
    }
}

/// The worker processes alive right now, so that cancellation can signal them all at once.
final class LivePool: Sendable {
    private let pids = Mutex<Set<Int32>>([])

    func add(_ pid: Int32) {
        self.pids.withLock { _ = $0.insert(pid) }
        EmergencyCleanup.shared.add(process: pid)
    }

    func remove(_ pid: Int32) {
        self.pids.withLock { _ = $0.remove(pid) }
        EmergencyCleanup.shared.remove(process: pid)
    }

    func signalAll(_ signal: CInt) {
        for pid in self.pids.withLock({ $0 }) { Syscall.kill(pid, signal) }
    }
}

extension Task where Success == Never, Failure == Never {
    static func checkCancellation(or error: MapReduceError) throws {
        if Task.isCancelled { throw error }
    }
}
