import Logging
import NIOCore
import Synchronization

/// One coordinator's job on a peer: its temporary directory, its workers (one per slot), the tasks that
/// arrive with their bytes, the replies that go back with theirs, and the heartbeats.
///
/// The session ends when the coordinator says the job is over, closes the connection, stays silent past
/// its heartbeat timeout, or breaks the protocol; then its workers are stopped and its directory removed.
struct PeerSession: Sendable {
    let configuration: PeerServer.Configuration
    let remote: String
    let logger: Logger

    /// A task whose bytes arrived, for one slot's worker.
    struct Delivery: Sendable {
        var generation: Int
        var message: CoordinatorMessage
        /// Files to remove once the task is answered.
        var files: [String]
    }

    /// Counts for the job's log line.
    struct Counts: Sendable {
        var tasks = 0
        var receivedBytes = 0
        var sentBytes = 0
        var workersLost = 0
    }

    func run(
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        channel: any Channel
    ) async {
        let started = monotonicNanoseconds()
        let start: JobStart
        do {
            guard let frame = try await frames.next(), case .jobStart(let received) = try ClusterMessage(frame: frame)
            else {
                self.logger.warning("coordinator \(self.remote) left before starting a job")
                return
            }
            start = received
        } catch {
            self.logger.warning("coordinator \(self.remote) sent no job: \(describeError(error))")
            return
        }
        guard self.configuration.registry.jobNames.contains(start.jobName) else {
            let error = MapReduceError(
                .usage,
                "this binary has no job named \(start.jobName); it has "
                    + self.configuration.registry.jobNames.joined(separator: ", ")
            )
            try? await outbound.write(ClusterMessage.jobRefused(TaskFailure(taskID: 0, error: error)).frame)
            self.logger.warning("refused a job from \(self.remote): \(error)")
            return
        }
        let directory: String
        do {
            directory = try self.makeDirectory()
        } catch {
            let failure = TaskFailure(taskID: 0, error: error as? MapReduceError ?? MapReduceError(.io, "\(error)"))
            try? await outbound.write(ClusterMessage.jobRefused(failure).frame)
            self.logger.error("cannot start a job for \(self.remote): \(describeError(error))")
            return
        }
        EmergencyCleanup.shared.add(directory: directory)
        defer {
            Syscall.removeTree(directory)
            EmergencyCleanup.shared.remove(directory: directory)
        }
        let slots = self.configuration.workers
        do {
            try await outbound.write(ClusterMessage.jobReady(slots: slots).frame)
        } catch {
            return
        }
        let hello = WorkerHello(
            jobName: start.jobName,
            jobParameters: start.jobParameters,
            workDirectory: directory,
            partitions: start.partitions,
            memoryBudget: start.memoryBudget,
            workerIndex: 0
        )
        let state = SessionState()
        let live = LiveProcesses()
        var inboxes: [AsyncStream<Delivery>] = []
        var deliveries: [AsyncStream<Delivery>.Continuation] = []
        for _ in 0..<slots {
            let (stream, continuation) = AsyncStream<Delivery>.makeStream()
            inboxes.append(stream)
            deliveries.append(continuation)
        }
        let streams = inboxes
        var ending = "the coordinator ended the job"
        await withDiscardingTaskGroup { group in
            for index in 0..<slots {
                group.addTask {
                    var hello = hello
                    hello.workerIndex = index
                    await self.runSlot(
                        index: index,
                        hello: hello,
                        inbox: streams[index],
                        outbound: outbound,
                        live: live,
                        state: state
                    )
                }
            }
            group.addTask {
                await self.heartbeat(start: start, state: state, outbound: outbound, channel: channel)
            }
            ending = await self.read(
                frames: &frames,
                directory: directory,
                deliveries: deliveries,
                state: state
            )
            // Cancelled first, so that a slot whose worker is stopped now does not start another.
            group.cancelAll()
            for delivery in deliveries { delivery.finish() }
            live.signalAll(Signal.terminate)
            channel.close(promise: nil)
        }
        let final = state.counts.withLock { $0 }
        let line =
            "job \(start.jobName) for \(self.remote): \(final.tasks) tasks, "
            + "\(describeBytes(final.receivedBytes)) in, \(describeBytes(final.sentBytes)) out, "
            + "\(fixed(Double(monotonicNanoseconds() - started) / 1e9, 2)) s; \(ending)"
        self.logger.info("\(line)")
    }

    /// Reads the coordinator's frames until the job ends; returns how it ended.
    func read(
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        directory: String,
        deliveries: [AsyncStream<Delivery>.Continuation],
        state: SessionState
    ) async -> String {
        var pending: [Int: PendingTask] = [:]
        var serial = 0
        let scratch = ChunkBuffer()
        while true {
            let frame: Frame?
            do {
                frame = try await frames.next()
            } catch {
                return "the connection failed: \(describeError(error))"
            }
            guard let frame else { return "the coordinator went away" }
            state.lastHeard.store(monotonicNanoseconds(), ordering: .relaxed)
            do {
                if frame.kind == ClusterMessageKind.chunk {
                    let (slot, generation, offset) = try ChunkFrame.header(of: frame)
                    guard let task = pending[slot], task.generation == generation else {
                        throw MapReduceError(.protocolViolation, "a data chunk that no task announced")
                    }
                    try frame.payload.withUnsafeBytes {
                        try task.writer.accept(UnsafeRawBufferPointer(rebasing: $0[offset...]))
                    }
                    state.counts.withLock { $0.receivedBytes += frame.payload.count - offset }
                    if task.writer.isComplete {
                        pending[slot] = nil
                        deliveries[slot].yield(try task.delivery())
                    }
                    continue
                }
                switch try ClusterMessage(frame: frame) {
                case .heartbeat:
                    continue
                case .jobEnd:
                    return "the coordinator ended the job"
                case .task(let slot, let generation, let message, let parts):
                    guard slot < deliveries.count, pending[slot] == nil else {
                        throw MapReduceError(.protocolViolation, "a task for slot \(slot) out of turn")
                    }
                    serial += 1
                    let task = try PendingTask(
                        generation: generation,
                        message: message,
                        parts: parts,
                        directory: directory,
                        prefix: "s\(slot)-t\(serial)",
                        scratch: scratch
                    )
                    if task.writer.isComplete {
                        try task.writer.createEmptyParts()
                        deliveries[slot].yield(try task.delivery())
                    } else {
                        pending[slot] = task
                    }
                case .chunk:
                    throw MapReduceError(.protocolViolation, "a chunk decoded as a message")
                case .jobStart, .jobReady, .reply, .slotLost, .jobRefused:
                    throw MapReduceError(.protocolViolation, "an unexpected message of kind \(frame.kind)")
                }
            } catch {
                self.logger.warning("dropping coordinator \(self.remote): \(describeError(error))")
                return "dropped: \(describeError(error))"
            }
        }
    }

    /// One slot: a local worker that runs the slot's tasks in order, replaced when it dies.
    func runSlot(
        index: Int,
        hello: WorkerHello,
        inbox: AsyncStream<Delivery>,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        live: LiveProcesses,
        state: SessionState
    ) async {
        var deliveries = inbox.makeAsyncIterator()
        var generation = 0
        var failedStarts = 0
        let scratch = ChunkBuffer()
        while !Task.isCancelled {
            let worker: LocalWorker
            do {
                worker = try await LocalWorker.start(
                    executable: self.configuration.workerExecutable,
                    arguments: self.configuration.workerArguments
                )
            } catch {
                failedStarts += 1
                self.logger.error("cannot start a worker: \(describeError(error))")
                if failedStarts >= 3 { return }
                continue
            }
            live.add(worker.processID)
            do {
                try await worker.withTransport(hello: hello) { transport in
                    while let delivery = await deliveries.next() {
                        defer { for file in delivery.files { Syscall.unlink(file) } }
                        // Tasks sent before the coordinator learnt of a lost worker are its to re-run.
                        guard delivery.generation == generation else { continue }
                        try await transport.send(delivery.message, activity: "running a task")
                        let reply = try await transport.receive()
                        try await self.ship(
                            reply,
                            slot: index,
                            generation: generation,
                            scratch: scratch,
                            outbound: outbound,
                            state: state
                        )
                    }
                }
                _ = await WorkerSpawner.terminate(worker.processID)
                live.remove(worker.processID)
                return
            } catch let loss as SlotLoss {
                let status = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                live.remove(worker.processID)
                if Task.isCancelled { return }
                let reason = "worker \(index) (pid \(worker.processID)) \(status): \(loss.reason)"
                self.logger.warning("worker lost; replacing it: \(reason)")
                state.counts.withLock { $0.workersLost += 1 }
                try? await outbound.write(
                    ClusterMessage.slotLost(slot: index, generation: generation, reason: reason).frame
                )
                generation += 1
                failedStarts = 0
            } catch {
                _ = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                live.remove(worker.processID)
                self.logger.error("slot \(index) stopped: \(describeError(error))")
                return
            }
        }
    }

    /// Sends a worker's reply to the coordinator, with the map output or run it names, then removes those
    /// files: the coordinator keeps them from now on.
    func ship(
        _ reply: WorkerMessage,
        slot: Int,
        generation: Int,
        scratch: ChunkBuffer,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        state: SessionState
    ) async throws {
        var sources: [BlobFile] = []
        switch reply {
        case .mapDone(let report):
            sources = report.spills.map(Self.source)
        case .flushed(let spills, _):
            sources = spills.map(Self.source)
        case .reduceDone(let report):
            let size = (try? Syscall.fileSize(path: report.runPath)) ?? 0
            sources = [BlobFile(path: report.runPath, offset: 0, length: size)]
        case .taskFailed, .ready:
            break
        }
        var reader = BlobReader(sources: sources, scratch: scratch)
        try await outbound.write(
            ClusterMessage.reply(slot: slot, generation: generation, message: reply, parts: reader.parts).frame
        )
        while let chunk = try ChunkFrame.next(from: &reader, slot: slot, generation: generation) {
            try await outbound.write(chunk)
        }
        let sent = reader.compressedBytes
        state.counts.withLock {
            $0.tasks += 1
            $0.sentBytes += sent
        }
        for source in sources { Syscall.unlink(source.name) }
    }

    static func source(_ spill: Spill) -> BlobFile {
        BlobFile(path: spill.path, offset: spill.segments.first?.offset ?? 0, length: spill.byteCount)
    }

    /// Sends heartbeats, and ends the session when the coordinator has been silent past its timeout.
    func heartbeat(
        start: JobStart,
        state: SessionState,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        channel: any Channel
    ) async {
        while true {
            do {
                try await Task.sleep(for: .milliseconds(max(10, start.heartbeatMilliseconds)))
            } catch {
                return
            }
            let silent = monotonicNanoseconds() - state.lastHeard.load(ordering: .relaxed)
            if silent > max(100, start.timeoutMilliseconds) * 1_000_000 {
                self.logger.warning("coordinator \(self.remote) silent past its heartbeat timeout; ending its job")
                channel.close(promise: nil)
                return
            }
            try? await outbound.write(ClusterMessage.heartbeat.frame)
        }
    }

    func makeDirectory() throws -> String {
        let base = Self.baseDirectory(self.configuration)
        do {
            return try Syscall.makeTemporaryDirectory(template: "\(base)/mapreduce-peer-\(Syscall.processID)-XXXXXX")
        } catch {
            throw MapReduceError(.io, "cannot create the job's temporary directory: \(error.message)", input: base)
        }
    }
}

extension PeerSession {
    /// Where jobs' temporary directories go.
    static func baseDirectory(_ configuration: PeerServer.Configuration) -> String {
        var base = configuration.temporaryDirectory ?? environmentValue("TMPDIR") ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// Removes the job directories of peers that no longer run: a peer killed with SIGKILL (or by the
    /// OOM killer) cannot remove its own. A directory whose process still runs is left alone.
    static func removeStaleDirectories(_ configuration: PeerServer.Configuration, logger: Logger) {
        let base = Self.baseDirectory(configuration)
        let prefix = "mapreduce-peer-"
        for name in (try? Syscall.listDirectory(base)) ?? [] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0,
                !Syscall.processExists(pid)
            else { continue }
            Syscall.removeTree("\(base)/\(name)")
            logger.info("removed \(base)/\(name), left by a peer that no longer runs")
        }
    }
}

/// A task whose bytes are arriving: where they go, and the task rewritten to read them there.
final class PendingTask {
    let generation: Int
    let message: CoordinatorMessage
    let files: [String]
    var writer: BlobWriter

    init(
        generation: Int,
        message: CoordinatorMessage,
        parts: [BlobPart],
        directory: String,
        prefix: String,
        scratch: ChunkBuffer
    ) throws {
        self.generation = generation
        var files: [String] = []
        var destinations: [BlobFile] = []
        for (index, part) in parts.enumerated() {
            let path = "\(directory)/\(prefix)-\(index)"
            files.append(path)
            destinations.append(BlobFile(path: path, offset: part.offset, length: part.length))
        }
        switch message {
        case .map(var task):
            guard parts.count == task.splits.count else {
                throw MapReduceError(.protocolViolation, "a map task with \(parts.count) parts for its splits")
            }
            for index in task.splits.indices {
                let part = parts[index]
                let split = task.splits[index]
                guard part.offset <= split.start, split.end <= part.offset + part.length else {
                    throw MapReduceError(.protocolViolation, "a split's bytes do not cover its range")
                }
                task.splits[index] = InputSplit(
                    path: Array(files[index].utf8),
                    displayName: split.displayName,
                    fileSize: part.offset + part.length,
                    modified: 0,
                    start: split.start,
                    end: split.end
                )
            }
            self.message = .map(task)
        case .reduce(var task):
            guard parts.count == task.inputs.count else {
                throw MapReduceError(.protocolViolation, "a reduce task with \(parts.count) parts for its inputs")
            }
            for index in task.inputs.indices {
                guard parts[index].offset == task.inputs[index].offset,
                    parts[index].length == task.inputs[index].length
                else {
                    throw MapReduceError(.protocolViolation, "a reduce input's bytes do not match it")
                }
                task.inputs[index].path = files[index]
            }
            self.message = .reduce(task)
        case .flush:
            guard parts.isEmpty else { throw MapReduceError(.protocolViolation, "a flush with data") }
            self.message = .flush
        case .hello, .shutdown:
            throw MapReduceError(.protocolViolation, "a task that is not a task")
        }
        self.files = files
        self.writer = BlobWriter(destinations: destinations, scratch: scratch)
    }

    /// The task, with the modification times of the files just written.
    func delivery() throws -> PeerSession.Delivery {
        var message = self.message
        if case .map(var task) = message {
            for index in task.splits.indices {
                let info = try Syscall.stat(self.files[index])
                task.splits[index].modified = Syscall.modificationTime(info)
            }
            message = .map(task)
        }
        return PeerSession.Delivery(generation: self.generation, message: message, files: self.files)
    }
}

/// A session's shared counters.
final class SessionState: Sendable {
    let counts = Mutex(PeerSession.Counts())
    let lastHeard = Atomic<Int>(monotonicNanoseconds())
}
