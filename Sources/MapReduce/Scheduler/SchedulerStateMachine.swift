/// One slot: a place that runs tasks, such as a local worker process. A replaced worker keeps the slot's
/// index and gets a new generation.
package struct SlotID: Hashable, Sendable, CustomStringConvertible {
    package var index: Int
    package var generation: Int

    package init(index: Int, generation: Int) {
        self.index = index
        self.generation = generation
    }

    package var description: String { "worker \(self.index)" }
}

/// What a slot is told to do next.
package enum SlotAssignment: Sendable, Equatable {
    case map(MapTask)
    /// Write out everything mapped so far; this commits the slot's finished map tasks.
    case flush
    case reduce(ReduceTask)
    case stop
}

/// The scheduler's bookkeeping, free of I/O and concurrency: events in, assignments out.
///
/// Map tasks go through *issued → done (uncommitted) → committed*. A worker keeps combining across its
/// tasks, so a finished task's output lives in the worker's memory until the worker writes a spill; only
/// then is the task committed. A slot that dies loses its uncommitted tasks, and they are issued again.
/// The map phase ends when every task is committed; then the reduce tasks are planned from the spills.
package struct SchedulerStateMachine {
    package enum Phase: Equatable {
        case mapping
        case reducing
        case finished
        case failed(String)
    }

    package struct Configuration: Sendable {
        package var reduceChunkSize: ChunkSize
        package var partitions: Int
        package var maxTaskAttempts: Int
        package var slots: Int

        package init(reduceChunkSize: ChunkSize, partitions: Int, maxTaskAttempts: Int, slots: Int) {
            self.reduceChunkSize = reduceChunkSize
            self.partitions = partitions
            self.maxTaskAttempts = maxTaskAttempts
            self.slots = slots
        }
    }

    enum Running {
        case map(MapTaskPlan)
        case flush
        case reduce(ReduceTask)
    }

    package let configuration: Configuration
    package private(set) var phase: Phase = .mapping
    package private(set) var failure: MapReduceError?
    var source: MapTaskSource
    package private(set) var tuner: MapChunkTuner
    var requeuedMaps: [MapTaskPlan] = []
    var running: [SlotID: Running] = [:]
    var uncommitted: [SlotID: [MapTaskPlan]] = [:]
    var deaths: [Int: Int] = [:]
    var reduceDeaths: [Int: Int] = [:]
    package private(set) var spills: [Spill] = []
    var pendingReduces: [ReduceTask] = []
    var outstandingReduces = 0
    package private(set) var runs: [ReduceTaskReport] = []
    package private(set) var statistics: SchedulerStatistics
    package private(set) var mapPhaseEndedAt: Int?

    package init(configuration: Configuration, inputs: InputList, tuner: MapChunkTuner) {
        self.configuration = configuration
        self.source = MapTaskSource(files: inputs)
        self.tuner = tuner
        self.statistics = SchedulerStatistics(slots: configuration.slots)
        self.statistics.inputBytes = inputs.totalBytes
        self.statistics.inputFiles = inputs.fileCount
        self.checkMapPhaseComplete()
    }

    package var isOver: Bool {
        switch self.phase {
        case .finished, .failed: true
        case .mapping, .reducing: false
        }
    }

    /// The next assignment for a slot, or nil if it must wait for other slots.
    package mutating func nextAssignment(for slot: SlotID) -> SlotAssignment? {
        precondition(self.running[slot] == nil, "\(slot) asked for work while running a task")
        switch self.phase {
        case .finished, .failed:
            return .stop
        case .mapping:
            if !self.requeuedMaps.isEmpty {
                let plan = self.requeuedMaps.removeFirst()
                self.running[slot] = .map(plan)
                return .map(self.source.task(for: plan))
            }
            if !self.source.isExhausted {
                let chunk = self.tuner.nextChunk(remaining: self.source.remainingBytes)
                let plan = self.source.next(chunkBytes: chunk)
                self.running[slot] = .map(plan)
                self.statistics.mapTasks += 1
                return .map(self.source.task(for: plan))
            }
            if !(self.uncommitted[slot] ?? []).isEmpty {
                self.running[slot] = .flush
                return .flush
            }
            return nil
        case .reducing:
            if !self.pendingReduces.isEmpty {
                let task = self.pendingReduces.removeFirst()
                self.running[slot] = .reduce(task)
                return .reduce(task)
            }
            return nil
        }
    }

    /// A map task finished on `slot`.
    package mutating func mapDone(_ report: MapTaskReport, on slot: SlotID) throws {
        try self.validate(report.spills)
        guard case .map(let task) = self.running.removeValue(forKey: slot), task.id == report.taskID else {
            throw MapReduceError(.protocolViolation, "reported map task \(report.taskID), which it was not running")
        }
        self.uncommitted[slot, default: []].append(task)
        self.statistics.recordTask(slot: slot.index, nanoseconds: report.elapsedNanoseconds, bytes: report.bytes)
        self.statistics.pairs += report.records
        self.tuner.record(bytes: report.bytes, nanoseconds: report.elapsedNanoseconds)
        if !report.spills.isEmpty { self.commit(slot: slot, spills: report.spills) }
        self.checkMapPhaseComplete()
    }

    /// `slot` wrote out its table.
    package mutating func flushed(_ spills: [Spill], on slot: SlotID) throws {
        try self.validate(spills)
        guard case .flush = self.running.removeValue(forKey: slot) else {
            throw MapReduceError(.protocolViolation, "reported a flush it was not asked for")
        }
        self.commit(slot: slot, spills: spills)
        self.checkMapPhaseComplete()
    }

    /// A reduce task finished.
    package mutating func reduceDone(_ report: ReduceTaskReport, on slot: SlotID) throws {
        guard case .reduce(let task) = self.running.removeValue(forKey: slot), task.id == report.taskID else {
            throw MapReduceError(.protocolViolation, "reported reduce task \(report.taskID), which it was not running")
        }
        self.runs.append(report)
        self.statistics.recordTask(slot: slot.index, nanoseconds: report.elapsedNanoseconds, bytes: 0)
        self.statistics.outputKeys += report.keys
        self.outstandingReduces -= 1
        if self.outstandingReduces == 0 && self.pendingReduces.isEmpty {
            self.phase = .finished
        }
    }

    /// Applies a slot's reply to the task it was running.
    /// - Throws: When the reply does not fit what the slot was doing (a protocol violation).
    package mutating func apply(_ reply: WorkerMessage, from slot: SlotID) throws {
        switch reply {
        case .mapDone(let report): try self.mapDone(report, on: slot)
        case .flushed(let spills): try self.flushed(spills, on: slot)
        case .reduceDone(let report): try self.reduceDone(report, on: slot)
        case .taskFailed(let failure): self.taskFailed(failure, on: slot)
        case .ready: throw MapReduceError(.protocolViolation, "an unexpected ready message")
        }
    }

    /// The job's own code or data failed a task: retrying would fail again, so the job fails.
    package mutating func taskFailed(_ failure: TaskFailure, on slot: SlotID) {
        self.running.removeValue(forKey: slot)
        self.fail(failure.error)
    }

    /// The slot's worker died (or broke the protocol). Its running task and its uncommitted tasks go back
    /// in the queue; a task that has now killed `maxTaskAttempts` workers fails the job.
    package mutating func slotDied(_ slot: SlotID, reason: String) {
        self.statistics.recordDeath(slot: slot.index)
        let lost = self.uncommitted.removeValue(forKey: slot) ?? []
        switch self.running.removeValue(forKey: slot) {
        case .map(let task) where task.splitCount > 1:
            // Which of the inputs killed the worker is not known: run them one by one, so that a poison
            // input is found and named, and the others are not lost with it.
            for plan in self.source.splitOneByOne(task) { self.requeue(plan) }
        case .map(let task):
            let count = self.deaths[task.id, default: 0] + 1
            self.deaths[task.id] = count
            if count >= self.configuration.maxTaskAttempts {
                self.fail(
                    MapReduceError(
                        .poisonTask,
                        "a map task killed \(count) workers in a row (last: \(reason)); giving up",
                        input: self.source.firstInput(of: task)
                    )
                )
                return
            }
            self.requeue(task)
        case .reduce(let task):
            let count = self.reduceDeaths[task.id, default: 0] + 1
            self.reduceDeaths[task.id] = count
            if count >= self.configuration.maxTaskAttempts {
                self.fail(
                    MapReduceError(
                        .poisonTask,
                        "reduce task \(task.id) (partitions \(task.partitions)) killed \(count) workers (last: \(reason))"
                    )
                )
                return
            }
            self.statistics.retries += 1
            self.pendingReduces.append(task)
        case .flush, nil:
            break
        }
        for task in lost { self.requeue(task) }
    }

    /// The map task `slot` is running, if it is running one.
    package func runningMapTask(on slot: SlotID) -> MapTask? {
        if case .map(let plan) = self.running[slot] { return self.source.task(for: plan) }
        return nil
    }

    /// Stops the job with an error; every slot is told to stop.
    package mutating func fail(_ error: MapReduceError) {
        guard !self.isOver else { return }
        self.failure = error
        self.phase = .failed(error.description)
    }

    // MARK: - Internals

    mutating func requeue(_ task: MapTaskPlan) {
        self.statistics.retries += 1
        self.requeuedMaps.append(task)
    }

    /// A spill must have one well-formed segment per partition, laid end to end.
    func validate(_ spills: [Spill]) throws {
        for spill in spills {
            guard spill.segments.count == self.configuration.partitions else {
                throw MapReduceError(
                    .protocolViolation,
                    "a spill has \(spill.segments.count) segments for \(self.configuration.partitions) partitions"
                )
            }
            var end = spill.segments.first?.offset ?? 0
            for segment in spill.segments {
                guard segment.offset == end, segment.length >= 0, segment.keys >= 0 else {
                    throw MapReduceError(.protocolViolation, "a spill's segments are not laid end to end")
                }
                end = segment.offset + segment.length
            }
        }
    }

    mutating func commit(slot: SlotID, spills: [Spill]) {
        self.uncommitted[slot] = nil
        self.spills.append(contentsOf: spills)
        self.statistics.spills += spills.count
        self.statistics.spillBytes += spills.reduce(0) { $0 + $1.byteCount }
    }

    mutating func checkMapPhaseComplete() {
        guard self.phase == .mapping, self.source.isExhausted, self.requeuedMaps.isEmpty else { return }
        for (_, task) in self.running {
            if case .reduce = task { continue }
            return
        }
        guard self.uncommitted.values.allSatisfy(\.isEmpty) else { return }
        self.planReduces()
    }

    mutating func planReduces() {
        self.mapPhaseEndedAt = monotonicNanoseconds()
        let partitions = self.configuration.partitions
        var keys = [Int](repeating: 0, count: partitions)
        for spill in self.spills {
            for (partition, segment) in spill.segments.enumerated() where partition < partitions {
                keys[partition] += segment.keys
            }
        }
        let ranges = ReduceChunkPlanner.plan(
            keysPerPartition: keys,
            setting: self.configuration.reduceChunkSize,
            slots: self.configuration.slots
        )
        var tasks: [ReduceTask] = []
        // Sorted spills are merged; one unsorted spill (written under memory pressure) makes every task
        // group by hashing instead: a merge of many small spills would be a very wide one.
        let sorted = self.spills.allSatisfy(\.sorted)
        for range in ranges {
            let estimated = keys[range].reduce(0, +)
            guard estimated > 0 else { continue }
            var inputs: [ReduceTask.Input] = []
            for spill in self.spills {
                // A spill's segments are contiguous and in partition order: one read covers the range.
                let segments = spill.segments[range]
                guard let first = segments.first, segments.contains(where: { $0.length > 0 }) else { continue }
                inputs.append(
                    ReduceTask.Input(path: spill.path, offset: first.offset, segmentLengths: segments.map(\.length))
                )
            }
            tasks.append(
                ReduceTask(
                    id: tasks.count,
                    partitions: range,
                    inputs: inputs,
                    estimatedKeys: estimated,
                    sortedInputs: sorted
                )
            )
        }
        self.statistics.reduceTasks = tasks.count
        self.pendingReduces = tasks
        self.outstandingReduces = tasks.count
        self.phase = tasks.isEmpty ? .finished : .reducing
    }
}

/// Counts kept by the scheduler, per slot and for the job.
package struct SchedulerStatistics: Sendable {
    package struct Slot: Sendable {
        package var tasks = 0
        package var taskNanoseconds = 0
        package var bytes = 0
        package var deaths = 0
    }

    package var slots: [Slot]
    package var inputBytes = 0
    package var inputFiles = 0
    package var mapTasks = 0
    package var reduceTasks = 0
    package var retries = 0
    package var spills = 0
    package var spillBytes = 0
    package var pairs = 0
    package var outputKeys = 0

    package init(slots: Int) {
        self.slots = Array(repeating: Slot(), count: slots)
    }

    mutating func recordTask(slot: Int, nanoseconds: Int, bytes: Int) {
        guard self.slots.indices.contains(slot) else { return }
        self.slots[slot].tasks += 1
        self.slots[slot].taskNanoseconds += nanoseconds
        self.slots[slot].bytes += bytes
    }

    mutating func recordDeath(slot: Int) {
        guard self.slots.indices.contains(slot) else { return }
        self.slots[slot].deaths += 1
    }
}
