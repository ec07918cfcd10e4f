import Logging
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
    /// - Throws: As ``run(_:inputs:isolation:consume:)``.
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
        // The secret and the peers' addresses are checked before any work.
        let cluster = try configuration.cluster.map { try ClusterSetup(configuration: $0) }
        if cluster != nil { Syscall.keepChunkBlocks() }
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
        for (index, buffer) in resolved.buffers.enumerated() {
            let path = "\(workDirectory)/memory-\(index)"
            let writer = try BufferedFileWriter(path: path, bufferSize: 0)
            try buffer.bytes.withUnsafeBytes { try writer.write($0) }
            try writer.close()
            let modified = Syscall.modificationTime(try Syscall.stat(path))
            files.append(path: path.utf8, size: buffer.bytes.count, modified: modified, displayName: buffer.name)
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
            jobParameters: try Self.checkedParameters(of: job),
            workDirectory: workDirectory,
            partitions: partitions,
            memoryBudget: configuration.workerMemoryBudget,
            workerIndex: 0
        )
        let progressTicker = configuration.progress.map { report in
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.progressInterval)
                    if Task.isCancelled { return }
                    report(scheduler.read { JobProgress(machine: $0, startedAt: started) })
                }
            }
        }
        defer { progressTicker?.cancel() }
        var links: [PeerLink] = []
        if !scheduler.isOver {
            switch configuration.execution {
            case .inProcess:
                // The job that runs is the one rebuilt from its parameters, as in a worker process.
                let handler = try WorkerRuntime<J>.makeHandler(
                    job: try hello.jobParameters.withUnsafeBytes { try J(encodedBytes: $0) },
                    hello: hello,
                    processID: Int(Syscall.processID)
                )
                var transport = InProcessTransport(handler: handler)
                let slot = SlotID(kind: .local, index: 0, generation: 0)
                scheduler.join(slot)
                do {
                    try await SlotDriver.drive(&transport, slot: slot, scheduler: scheduler)
                } catch {
                    scheduler.fail(MapReduceError(.protocolViolation, error.reason))
                }
            case .workerProcesses:
                let context = cluster.map { setup in
                    ClusterContext(
                        secret: setup.secret,
                        fingerprint: setup.fingerprint,
                        start: JobStart(
                            jobName: J.name,
                            jobParameters: hello.jobParameters,
                            partitions: partitions,
                            memoryBudget: configuration.workerMemoryBudget,
                            heartbeatMilliseconds: setup.configuration.heartbeatInterval.milliseconds,
                            timeoutMilliseconds: setup.configuration.heartbeatTimeout.milliseconds
                        ),
                        cut: J.JobMapper.recordCutByte,
                        workDirectory: workDirectory,
                        connectTimeout: setup.configuration.connectTimeout,
                        handshakeTimeout: setup.configuration.connectTimeout,
                        heartbeatInterval: setup.configuration.heartbeatInterval,
                        heartbeatTimeout: setup.configuration.heartbeatTimeout,
                        logger: configuration.logger
                    )
                }
                links = await self.runSlots(hello: hello, scheduler: scheduler, cluster: cluster, context: context)
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
                peers: links.map { $0.traffic.withLock { $0 } },
                jobName: J.name,
                setting: mapChunkSize,
                workerMemoryBudget: self.configuration.workerMemoryBudget,
                // Combined into values of one fixed size, a key costs a worker's table the same whatever
                // it has seen; a list or a set of values grows with the input.
                fixedSizeEntries: job.makeCombiner() != nil && _isPOD(J.Value.self),
                started: started,
                mapEnded: mapEnded,
                reduceEnded: reduceEnded,
                ended: ended
            )
        }
    }
}

extension MapReduceEngine {
    /// Runs the job's slots until the scheduler says stop: the local workers, each kept staffed, and each
    /// peer's slots. Returns the peers' links, for their statistics.
    func runSlots(
        hello: WorkerHello,
        scheduler: Scheduler,
        cluster: ClusterSetup?,
        context: ClusterContext?
    ) async -> [PeerLink] {
        let configuration = self.configuration
        let pool = LocalPool(
            executable: configuration.workerExecutable,
            arguments: configuration.workerArguments,
            logger: configuration.logger
        )
        let links = (cluster?.addresses ?? []).enumerated().compactMap { index, address in
            context.map { PeerLink(address: address, index: index, context: $0) }
        }
        let useLocal = cluster?.configuration.useLocalWorkers ?? true
        let ended = Counter()
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                if useLocal {
                    for index in 0..<configuration.workers {
                        group.addTask {
                            var hello = hello
                            hello.workerIndex = index
                            await pool.staff(index: index, hello: hello, scheduler: scheduler)
                        }
                    }
                }
                for link in links {
                    group.addTask {
                        do {
                            try await link.run(scheduler: scheduler)
                        } catch {
                            scheduler.fail(error as? MapReduceError ?? MapReduceError(.peerUnavailable, "\(error)"))
                        }
                        // With no local workers, the job cannot go on once every peer is gone.
                        let allEnded = ended.increment() == links.count
                        if allEnded && !useLocal && !scheduler.isOver {
                            let reasons = links.map { link in
                                "\(link.name) (\(link.traffic.withLock { $0.lost } ?? "gone"))"
                            }
                            scheduler.fail(
                                MapReduceError(
                                    .peerUnavailable,
                                    "every peer was lost: " + reasons.joined(separator: "; ")
                                )
                            )
                        }
                    }
                }
            }
        } onCancel: {
            scheduler.fail(MapReduceError(.cancelled, "cancelled"))
            pool.signalAll(Signal.terminate)
        }
        return links
    }
}

/// A cluster configuration, checked: the secret loaded, the addresses parsed, this binary's fingerprint.
struct ClusterSetup: Sendable {
    let configuration: MapReduceEngine.Cluster
    let secret: ClusterSecret
    let addresses: [PeerAddress]
    let fingerprint: BuildFingerprint

    init(configuration: MapReduceEngine.Cluster) throws {
        guard !configuration.peers.isEmpty else { throw MapReduceError(.usage, "a cluster needs at least one peer") }
        self.configuration = configuration
        self.secret = try ClusterSecret.load(path: configuration.secretFile)
        self.addresses = try configuration.peers.map { try PeerAddress(parsing: $0) }
        guard Set(self.addresses).count == self.addresses.count else {
            throw MapReduceError(.usage, "a peer is listed twice in the cluster")
        }
        self.fingerprint = try BuildFingerprint.current(jobs: configuration.registry.jobNames)
    }
}

extension Task where Success == Never, Failure == Never {
    static func checkCancellation(or error: MapReduceError) throws {
        if Task.isCancelled { throw error }
    }
}

/// A count shared by tasks.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds one and returns the new count.
    func increment() -> Int {
        self.value.add(1, ordering: .relaxed).newValue
    }
}
