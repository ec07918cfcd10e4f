/// What a slot is told to do next.
package enum SlotAssignment: Sendable, Equatable {
    case map(MapTask)
    /// Write out everything mapped so far; this commits the slot's finished map tasks.
    case flush
    case reduce(ReduceTask)
    case stop
}

/// The scheduler's bookkeeping, free of I/O, concurrency and clocks: events in, actions out.
///
/// Map tasks go through *issued → done (uncommitted) → committed*. A worker keeps combining across its
/// tasks, so a finished task's output lives in the worker's memory until the worker writes a spill; only
/// then is the task committed. A slot that is lost loses its uncommitted tasks, and they are issued again.
/// The map phase ends when every task is committed; then the reduce tasks are planned from the spills.
///
/// Slots join and leave at any time (local workers are replaced, peers connect and drop). A slot asks for
/// work with ``nextAssignment(for:)``; when there is none yet it is remembered as waiting, and a later
/// event that frees work for it returns a ``Wakeup`` for the caller to deliver, outside any lock. A slot
/// may also take a task *ahead* (``assignmentAhead(for:)``) while it runs one, so that a remote slot's next
/// batch travels while the current one computes; replies come back in the order the tasks were given.
package struct SchedulerStateMachine {
    /// Where the job is, for tests and reports.
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
        /// Slots expected when reduce tasks are planned, if none has joined by then (tests).
        package var slots: Int

        package init(reduceChunkSize: ChunkSize, partitions: Int, maxTaskAttempts: Int, slots: Int) {
            self.reduceChunkSize = reduceChunkSize
            self.partitions = partitions
            self.maxTaskAttempts = maxTaskAttempts
            self.slots = slots
        }
    }

    /// A waiting slot that now has an assignment: the caller resumes it.
    package struct Wakeup: Sendable, Equatable {
        package var slot: SlotID
        package var assignment: SlotAssignment

        package init(slot: SlotID, assignment: SlotAssignment) {
            self.slot = slot
            self.assignment = assignment
        }
    }

    /// What a slot has been given and not yet reported on, oldest first.
    enum Running: Equatable {
        case map(MapTaskPlan)
        case flush
        case reduce(ReduceTask)
    }

    /// The map phase's own state.
    struct Mapping {
        var source: MapTaskSource
        /// Tasks to run again: lost with a slot before they were committed.
        var requeued: [MapTaskPlan] = []
        /// Tasks done per slot and still in that slot's memory.
        var uncommitted: [SlotID: [MapTaskPlan]] = [:]
        /// Crashes per task id.
        var crashes: [Int: Int] = [:]
    }

    /// The reduce phase's own state.
    struct Reducing {
        var pending: [ReduceTask]
        var outstanding: Int
        var crashes: [Int: Int] = [:]
    }

    enum State {
        case mapping(Mapping)
        case reducing(Reducing)
        case finished
        case failed(MapReduceError)
    }

    package let configuration: Configuration
    var state: State
    let files: InputList
    package private(set) var tuner: MapChunkTuner
    var running: [SlotID: [Running]] = [:]
    /// Slots that asked for work and got none yet.
    var waiting: Set<SlotID> = []
    /// Slots alive now.
    package private(set) var slots: Set<SlotID> = []
    package private(set) var spills: [Spill] = []
    package private(set) var runs: [ReduceTaskReport] = []
    package private(set) var statistics: SchedulerStatistics
    /// Every task attempt, for the timeline.
    package private(set) var attempts = AttemptLog()
    /// Per slot, the counts of its reports since its last commit: committed with its output, or lost.
    var pendingCounts: [SlotID: CounterTotals] = [:]
    package private(set) var mapPhaseEndedAt: Int?
    let clock: @Sendable () -> Int

    /// - Parameter clock: Monotonic nanoseconds; injected so that tests control time.
    package init(
        configuration: Configuration,
        inputs: InputList,
        tuner: MapChunkTuner,
        clock: @escaping @Sendable () -> Int = { monotonicNanoseconds() }
    ) {
        self.configuration = configuration
        self.files = inputs
        self.state = .mapping(Mapping(source: MapTaskSource(files: inputs)))
        self.tuner = tuner
        self.clock = clock
        self.statistics = SchedulerStatistics()
        self.statistics.inputBytes = inputs.totalBytes
        self.statistics.inputFiles = inputs.fileCount
        _ = self.checkMapPhaseComplete()
    }

    package var phase: Phase {
        switch self.state {
        case .mapping: .mapping
        case .reducing: .reducing
        case .finished: .finished
        case .failed(let error): .failed(error.description)
        }
    }

    package var failure: MapReduceError? {
        if case .failed(let error) = self.state { return error }
        return nil
    }

    package var isOver: Bool {
        switch self.state {
        case .finished, .failed: true
        case .mapping, .reducing: false
        }
    }

    // MARK: - Slots

    /// A slot came to life: a new worker process, or a peer's worker after the handshake.
    package mutating func slotJoined(_ slot: SlotID) {
        self.slots.insert(slot)
        self.statistics.join(slot)
        self.tuner.slots = max(1, self.slots.count)
    }

    /// A slot's worker ended before the slot joined (killed while it started, say). It held no task, so
    /// only the statistics change: a worker was lost all the same.
    package mutating func slotLostBeforeJoining(_ slot: SlotID) {
        guard !self.isOver else { return }
        self.statistics.recordLoss(slot)
    }

    /// A slot was lost. Its running tasks and its uncommitted ones go back in the queue; a task that has
    /// now crashed `maxTaskAttempts` workers fails the job. Losses other than crashes do not count
    /// against the task.
    package mutating func slotLost(_ slot: SlotID, _ loss: SlotLoss) -> [Wakeup] {
        // A slot is lost once: its link and its driver may both report it.
        guard self.slots.remove(slot) != nil else { return [] }
        self.waiting.remove(slot)
        self.tuner.slots = max(1, self.slots.count)
        self.statistics.recordLoss(slot)
        self.attempts.lose(slot, at: self.clock())
        self.pendingCounts[slot] = nil
        let running = self.running.removeValue(forKey: slot) ?? []
        let retriesBefore = self.statistics.retries
        defer { self.statistics.recordRequeued(slot, count: self.statistics.retries - retriesBefore) }
        switch self.state {
        case .mapping(var mapping):
            self.state = .finished  // placeholder while `mapping` is mutated in place
            let lost = mapping.uncommitted.removeValue(forKey: slot) ?? []
            // Only the oldest task can have been the one running when a worker crashed; the others were
            // queued behind it.
            for (position, task) in running.enumerated() {
                guard case .map(let plan) = task else { continue }
                guard position == 0 && loss.countsAgainstTask else {
                    self.requeue(plan, in: &mapping)
                    continue
                }
                if plan.splitCount > 1 {
                    // Which of the inputs killed the worker is not known: run them one by one, so that a
                    // poison input is found and named, and the others are not lost with it.
                    for single in mapping.source.splitOneByOne(plan) { self.requeue(single, in: &mapping) }
                    continue
                }
                let count = mapping.crashes[plan.id, default: 0] + 1
                mapping.crashes[plan.id] = count
                if count >= self.configuration.maxTaskAttempts {
                    self.state = .mapping(mapping)
                    return self.fail(
                        MapReduceError(
                            .poisonTask,
                            "a map task killed \(count) workers in a row (last: \(loss.reason)); giving up",
                            input: mapping.source.firstInput(of: plan)
                        )
                    )
                }
                self.requeue(plan, in: &mapping)
            }
            for plan in lost { self.requeue(plan, in: &mapping) }
            self.state = .mapping(mapping)
        case .reducing(var reducing):
            for (position, task) in running.enumerated() {
                guard case .reduce(let reduce) = task else { continue }
                if position == 0 && loss.countsAgainstTask {
                    let count = reducing.crashes[reduce.id, default: 0] + 1
                    reducing.crashes[reduce.id] = count
                    if count >= self.configuration.maxTaskAttempts {
                        self.state = .reducing(reducing)
                        return self.fail(
                            MapReduceError(
                                .poisonTask,
                                "reduce task \(reduce.id) (partitions \(reduce.partitions)) killed \(count) "
                                    + "workers (last: \(loss.reason))"
                            )
                        )
                    }
                }
                self.statistics.retries += 1
                reducing.pending.append(reduce)
            }
            self.state = .reducing(reducing)
        case .finished, .failed:
            return []
        }
        return self.wakeWaiting()
    }

    // MARK: - Assignments

    /// The next assignment for a slot that is running nothing, or nil if it must wait for other slots; a
    /// waiting slot is woken by a later event's ``Wakeup``.
    package mutating func nextAssignment(for slot: SlotID) -> SlotAssignment? {
        if let assignment = self.assignment(for: slot, ahead: false) { return assignment }
        self.waiting.insert(slot)
        return nil
    }

    /// A task for a slot to queue behind the ones it is running, if one is ready now; never a flush, and
    /// the slot is not remembered as waiting.
    package mutating func assignmentAhead(for slot: SlotID) -> SlotAssignment? {
        guard !self.isOver, self.slots.contains(slot) else { return nil }
        return self.assignment(for: slot, ahead: true)
    }

    /// Whether `slot` asked for work and waits for it.
    package func isWaiting(_ slot: SlotID) -> Bool { self.waiting.contains(slot) }

    /// The slot no longer waits (it is being shut down).
    package mutating func stopWaiting(_ slot: SlotID) {
        self.waiting.remove(slot)
    }

    mutating func assignment(for slot: SlotID, ahead: Bool) -> SlotAssignment? {
        let busy = !(self.running[slot] ?? []).isEmpty
        if busy && !ahead { return nil }
        switch self.state {
        case .finished, .failed:
            return ahead ? nil : .stop
        case .mapping(var mapping):
            defer { self.state = .mapping(mapping) }
            self.state = .finished
            if !mapping.requeued.isEmpty {
                let plan = mapping.requeued.removeFirst()
                self.running[slot, default: []].append(.map(plan))
                return self.beginMap(mapping.source.task(for: plan), on: slot)
            }
            if !mapping.source.isExhausted {
                let chunk = self.tuner.nextChunk(remaining: mapping.source.remainingBytes, family: slot.kind.family)
                let plan = mapping.source.next(chunkBytes: chunk)
                self.running[slot, default: []].append(.map(plan))
                self.statistics.mapTasks += 1
                return self.beginMap(mapping.source.task(for: plan), on: slot)
            }
            if !ahead, let done = mapping.uncommitted[slot], !done.isEmpty {
                self.running[slot] = [.flush]
                self.attempts.begin(
                    slot,
                    .flush,
                    task: 0,
                    input: "map output of \(done.count) task\(done.count == 1 ? "" : "s")",
                    at: self.clock()
                )
                return .flush
            }
            return nil
        case .reducing(var reducing):
            guard !reducing.pending.isEmpty else { return nil }
            let task = reducing.pending.removeFirst()
            self.state = .reducing(reducing)
            self.running[slot, default: []].append(.reduce(task))
            let inputs = "\(task.inputs.count) segment\(task.inputs.count == 1 ? "" : "s")"
            let partitions =
                task.partitions.count == 1
                ? "partition \(task.partitions.lowerBound)"
                : "partitions \(task.partitions.lowerBound)–\(task.partitions.upperBound - 1)"
            self.attempts.begin(slot, .reduce, task: task.id, input: "\(partitions) (\(inputs))", at: self.clock())
            return .reduce(task)
        }
    }

    // MARK: - Reports

    /// A map task finished on `slot`.
    @discardableResult
    package mutating func mapDone(_ report: MapTaskReport, on slot: SlotID) throws -> [Wakeup] {
        try self.validate(report.spills)
        guard case .mapping(var mapping) = self.state, case .map(let task) = self.running[slot]?.first,
            task.id == report.taskID
        else {
            throw MapReduceError(.protocolViolation, "reported map task \(report.taskID), which it was not running")
        }
        self.running[slot]!.removeFirst()
        self.attempts.end(slot, at: self.clock(), nil)
        self.pendingCounts[slot, default: CounterTotals()].add(report)
        mapping.uncommitted[slot, default: []].append(task)
        self.statistics.recordTask(slot, nanoseconds: report.elapsedNanoseconds, bytes: report.bytes)
        self.tuner.record(bytes: report.bytes, nanoseconds: report.elapsedNanoseconds, family: slot.kind.family)
        if !report.spills.isEmpty { self.commit(slot: slot, spills: report.spills, in: &mapping) }
        self.state = .mapping(mapping)
        return self.checkMapPhaseComplete()
    }

    /// `slot` wrote out its table.
    @discardableResult
    package mutating func flushed(
        _ spills: [Spill],
        counters: TaskCounters = TaskCounters(),
        on slot: SlotID
    ) throws -> [Wakeup] {
        try self.validate(spills)
        guard case .mapping(var mapping) = self.state, self.running[slot]?.first == .flush else {
            throw MapReduceError(.protocolViolation, "reported a flush it was not asked for")
        }
        self.running[slot]!.removeFirst()
        self.attempts.end(slot, at: self.clock(), .committed)
        self.pendingCounts[slot, default: CounterTotals()].add(counters, spills: spills)
        self.commit(slot: slot, spills: spills, in: &mapping)
        self.state = .mapping(mapping)
        return self.checkMapPhaseComplete()
    }

    /// A reduce task finished.
    @discardableResult
    package mutating func reduceDone(_ report: ReduceTaskReport, on slot: SlotID) throws -> [Wakeup] {
        guard case .reducing(var reducing) = self.state, case .reduce(let task) = self.running[slot]?.first,
            task.id == report.taskID
        else {
            throw MapReduceError(.protocolViolation, "reported reduce task \(report.taskID), which it was not running")
        }
        self.running[slot]!.removeFirst()
        self.attempts.end(slot, at: self.clock(), .committed)
        self.runs.append(report)
        self.statistics.recordTask(slot, nanoseconds: report.elapsedNanoseconds, bytes: 0)
        self.statistics.outputKeys += report.keys
        reducing.outstanding -= 1
        if reducing.outstanding == 0 && reducing.pending.isEmpty {
            self.state = .finished
            return self.wakeWaiting()
        }
        self.state = .reducing(reducing)
        return []
    }

    /// Applies a slot's reply to the oldest task it was given.
    /// - Throws: When the reply does not fit what the slot was doing (a protocol violation).
    @discardableResult
    package mutating func apply(_ reply: WorkerMessage, from slot: SlotID) throws -> [Wakeup] {
        switch reply {
        case .mapDone(let report): return try self.mapDone(report, on: slot)
        case .flushed(let spills, let counters): return try self.flushed(spills, counters: counters, on: slot)
        case .reduceDone(let report): return try self.reduceDone(report, on: slot)
        case .taskFailed(let failure): return self.taskFailed(failure, on: slot)
        case .ready: throw MapReduceError(.protocolViolation, "an unexpected ready message")
        }
    }

    /// The job's own code or data failed a task: retrying would fail again, so the job fails.
    @discardableResult
    package mutating func taskFailed(_ failure: TaskFailure, on slot: SlotID) -> [Wakeup] {
        self.running[slot] = nil
        self.attempts.lose(slot, at: self.clock(), failed: true)
        return self.fail(failure.error)
    }

    /// The map task `slot` is running (the oldest it was given), if it is running one.
    package func runningMapTask(on slot: SlotID) -> MapTask? {
        guard case .mapping(let mapping) = self.state, case .map(let plan) = self.running[slot]?.first else {
            return nil
        }
        return mapping.source.task(for: plan)
    }

    /// Stops the job with an error; every waiting slot is told to stop.
    @discardableResult
    package mutating func fail(_ error: MapReduceError) -> [Wakeup] {
        guard !self.isOver else { return [] }
        self.state = .failed(error)
        return self.wakeWaiting()
    }

    // MARK: - Internals

    /// Hands work to the slots that wait for it.
    mutating func wakeWaiting() -> [Wakeup] {
        guard !self.waiting.isEmpty else { return [] }
        var wakeups: [Wakeup] = []
        for slot in self.waiting {
            if let assignment = self.assignment(for: slot, ahead: false) {
                wakeups.append(Wakeup(slot: slot, assignment: assignment))
            }
        }
        for wakeup in wakeups { self.waiting.remove(wakeup.slot) }
        return wakeups
    }

    /// Records a map attempt starting on `slot`; returns its assignment.
    mutating func beginMap(_ task: MapTask, on slot: SlotID) -> SlotAssignment {
        var parts = task.splits.prefix(3).map { "\($0.displayName):\($0.start)+\($0.byteCount)" }
        if task.splits.count > 3 { parts.append("and \(task.splits.count - 3) more") }
        self.attempts.begin(slot, .map, task: task.id, input: parts.joined(separator: ", "), at: self.clock())
        return .map(task)
    }

    mutating func requeue(_ plan: MapTaskPlan, in mapping: inout Mapping) {
        self.statistics.retries += 1
        mapping.requeued.append(plan)
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
                guard segment.offset == end, segment.length >= 0, segment.keys >= 0,
                    segment.length <= Int.max - end
                else {
                    throw MapReduceError(.protocolViolation, "a spill's segments are not laid end to end")
                }
                end = segment.offset + segment.length
            }
        }
    }

    mutating func commit(slot: SlotID, spills: [Spill], in mapping: inout Mapping) {
        mapping.uncommitted[slot] = nil
        self.statistics.counters.add(self.pendingCounts.removeValue(forKey: slot) ?? CounterTotals())
        self.attempts.commit(slot)
        self.spills.append(contentsOf: spills)
        self.statistics.spills += spills.count
        self.statistics.spillBytes += spills.reduce(0) { $0 + $1.byteCount }
        for spill in spills { self.statistics.spillsPerSlot[slot, default: SpillTally()].add(spill) }
    }

    /// Ends the map phase once every task is committed, and hands the reduce tasks to waiting slots.
    mutating func checkMapPhaseComplete() -> [Wakeup] {
        guard case .mapping(let mapping) = self.state, mapping.source.isExhausted, mapping.requeued.isEmpty,
            self.running.values.allSatisfy(\.isEmpty), mapping.uncommitted.values.allSatisfy(\.isEmpty)
        else { return [] }
        self.planReduces()
        return self.wakeWaiting()
    }

    mutating func planReduces() {
        self.mapPhaseEndedAt = self.clock()
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
            slots: self.slots.isEmpty ? self.configuration.slots : self.slots.count
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
        self.state = tasks.isEmpty ? .finished : .reducing(Reducing(pending: tasks, outstanding: tasks.count))
    }
}

/// Counts kept by the scheduler, per lane (a local worker's slot, or a peer) and for the job.
package struct SchedulerStatistics: Sendable {
    package struct Lane: Sendable {
        package var name: String
        package var kind: SlotKind
        /// The slot index of a local lane (one lane per local worker slot).
        package var index: Int
        package var tasks = 0
        package var taskNanoseconds = 0
        package var bytes = 0
        /// Workers of this lane lost (and, for a local slot, replaced).
        package var losses = 0
        /// Tasks that went back to the queue when this lane lost a slot.
        package var requeued = 0
    }

    /// Lanes in the order their first slot joined.
    package private(set) var lanes: [Lane] = []
    var laneIndex: [String: Int] = [:]
    package var inputBytes = 0
    package var inputFiles = 0
    package var mapTasks = 0
    package var reduceTasks = 0
    package var retries = 0
    package var spills = 0
    package var spillBytes = 0
    /// Per slot that wrote any, the committed spills of its map side: one when its map output fitted
    /// its memory budget.
    package var spillsPerSlot: [SlotID: SpillTally] = [:]
    package var outputKeys = 0
    /// The counts of committed work.
    package var counters = CounterTotals()

    package init() {}

    mutating func join(_ slot: SlotID) {
        guard self.laneIndex[slot.lane] == nil else { return }
        self.laneIndex[slot.lane] = self.lanes.count
        self.lanes.append(Lane(name: slot.lane, kind: slot.kind, index: slot.index))
    }

    mutating func recordTask(_ slot: SlotID, nanoseconds: Int, bytes: Int) {
        self.join(slot)
        let index = self.laneIndex[slot.lane]!
        self.lanes[index].tasks += 1
        self.lanes[index].taskNanoseconds &+= nanoseconds
        self.lanes[index].bytes &+= bytes
    }

    mutating func recordLoss(_ slot: SlotID) {
        self.join(slot)
        self.lanes[self.laneIndex[slot.lane]!].losses += 1
    }

    mutating func recordRequeued(_ slot: SlotID, count: Int) {
        self.join(slot)
        self.lanes[self.laneIndex[slot.lane]!].requeued += count
    }
}
