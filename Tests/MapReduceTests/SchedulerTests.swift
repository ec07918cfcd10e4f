import MapReduce
import Synchronization
import Testing

@Suite("Scheduler state machine")
struct SchedulerTests {
    let a = SlotID(index: 0, generation: 0)
    let b = SlotID(index: 1, generation: 0)
    let remote = SlotID(kind: .peer("127.0.0.2:7000"), index: 0, generation: 0)

    func machine(files: Int = 4, attempts: Int = 3, reduceChunkSize: ChunkSize = .fixed(1)) -> SchedulerStateMachine {
        var inputs = InputList()
        for index in 0..<files { inputs.append(path: Array("/in/\(index)".utf8), size: 1000, modified: 0) }
        var machine = SchedulerStateMachine(
            configuration: .init(
                reduceChunkSize: reduceChunkSize,
                partitions: 2,
                maxTaskAttempts: attempts,
                slots: 2
            ),
            inputs: inputs,
            tuner: MapChunkTuner(setting: .fixed(1000), slots: 2, totalBytes: files * 1000),
            clock: { 42 }
        )
        machine.slotJoined(self.a)
        machine.slotJoined(self.b)
        return machine
    }

    func spill(_ name: String) -> Spill {
        Spill(
            path: name,
            segments: [SpillSegment(offset: 0, length: 10, keys: 2), SpillSegment(offset: 10, length: 5, keys: 1)]
        )
    }

    func report(_ task: MapTask, spills: [Spill] = []) -> MapTaskReport {
        MapTaskReport(taskID: task.id, bytes: task.byteCount, records: 1, elapsedNanoseconds: 1000, spills: spills)
    }

    func mapTask(_ assignment: SlotAssignment?) throws -> MapTask {
        guard case .map(let task) = try #require(assignment) else {
            Issue.record("expected a map task, got \(String(describing: assignment))")
            throw CancellationError()
        }
        return task
    }

    func reduceTask(_ assignment: SlotAssignment?) throws -> ReduceTask {
        guard case .reduce(let task) = try #require(assignment) else {
            Issue.record("expected a reduce task, got \(String(describing: assignment))")
            throw CancellationError()
        }
        return task
    }

    @Test("a reduce task over several partitions is told where each partition's sorted segment starts")
    func segmentLengths() throws {
        var m = self.machine(files: 1, reduceChunkSize: .fixed(100))
        let task = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(self.report(task, spills: [self.spill("s-a")]), on: self.a)
        let reduce = try self.reduceTask(m.nextAssignment(for: self.a))
        #expect(reduce.partitions == 0..<2)
        #expect(reduce.inputs == [.init(path: "s-a", offset: 0, segmentLengths: [10, 5])])
        #expect(!reduce.sortedInputs)
        #expect(m.mapPhaseEndedAt == 42)
    }

    @Test("reduce tasks merge when every spill is sorted, and group by hashing when one is not")
    func sortedInputs() throws {
        for sortedSpills in [[true, true], [true, false]] {
            var m = self.machine(files: 2, reduceChunkSize: .fixed(100))
            let first = try self.mapTask(m.nextAssignment(for: self.a))
            let second = try self.mapTask(m.nextAssignment(for: self.b))
            var spillA = self.spill("s-a")
            spillA.sorted = sortedSpills[0]
            var spillB = self.spill("s-b")
            spillB.sorted = sortedSpills[1]
            try m.mapDone(self.report(first, spills: [spillA]), on: self.a)
            try m.mapDone(self.report(second, spills: [spillB]), on: self.b)
            let reduce = try self.reduceTask(m.nextAssignment(for: self.a))
            #expect(reduce.sortedInputs == !sortedSpills.contains(false))
        }
    }

    @Test("map, flush, reduce, stop")
    func happyPath() throws {
        var m = self.machine(files: 2)
        let first = try self.mapTask(m.nextAssignment(for: self.a))
        let second = try self.mapTask(m.nextAssignment(for: self.b))
        // Nothing left to hand out, but the phase is not over: a third slot waits.
        let third = SlotID(index: 2, generation: 0)
        m.slotJoined(third)
        #expect(m.nextAssignment(for: third) == nil)
        #expect(try m.mapDone(self.report(first), on: self.a).isEmpty)
        #expect(m.nextAssignment(for: self.a) == .flush)
        try m.mapDone(self.report(second, spills: [self.spill("s-b")]), on: self.b)
        #expect(m.phase == .mapping)
        // The flush ends the map phase: the waiting third slot is handed the first reduce task.
        let wakeups = try m.flushed([self.spill("s-a")], on: self.a)
        #expect(m.phase == .reducing)
        let woken = try #require(wakeups.first)
        #expect(wakeups.count == 1 && woken.slot == third)
        let r1 = try self.reduceTask(woken.assignment)
        let r2 = try self.reduceTask(m.nextAssignment(for: self.b))
        #expect(r1.partitions == 0..<1 && r2.partitions == 1..<2)
        #expect(r1.inputs.map(\.path).sorted() == ["s-a", "s-b"])
        #expect(r2.inputs.allSatisfy { $0.offset == 10 && $0.length == 5 })
        #expect(r1.inputs.allSatisfy { $0.segmentLengths == [10] } && r2.inputs.allSatisfy { $0.segmentLengths == [5] })
        try m.reduceDone(
            ReduceTaskReport(taskID: r1.id, runPath: "r1", keys: 2, inputBytes: 20, elapsedNanoseconds: 1),
            on: third
        )
        #expect(m.nextAssignment(for: self.a) == nil)
        let end = try m.reduceDone(
            ReduceTaskReport(taskID: r2.id, runPath: "r2", keys: 1, inputBytes: 10, elapsedNanoseconds: 1),
            on: self.b
        )
        #expect(m.phase == .finished)
        // The slot that waited is told to stop.
        #expect(end == [.init(slot: self.a, assignment: .stop)])
        #expect(m.nextAssignment(for: self.a) == .stop)
        #expect(m.runs.map(\.runPath) == ["r1", "r2"])
    }

    @Test("a dead slot's uncommitted tasks run again elsewhere; committed ones do not")
    func deathRequeues() throws {
        var m = self.machine(files: 3)
        let t1 = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(self.report(t1, spills: [self.spill("committed")]), on: self.a)
        let t2 = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(self.report(t2), on: self.a)
        let t3 = try self.mapTask(m.nextAssignment(for: self.a))
        _ = m.slotLost(self.a, SlotLoss(.crashed, "test"))
        // t3 (running) and t2 (done but uncommitted) come back; t1 (committed) does not.
        var again: [Int] = []
        while case .map(let task) = m.nextAssignment(for: self.b) {
            again.append(task.splits[0].path == t3.splits[0].path ? t3.id : t2.id)
            try m.mapDone(self.report(task), on: self.b)
        }
        #expect(again.sorted() == [t2.id, t3.id].sorted())
        #expect(m.statistics.retries == 2)
        #expect(m.spills.map(\.path) == ["committed"])
    }

    @Test("counters count each task once: a lost slot's uncommitted counts go, the re-run's replace them")
    func countersAfterLoss() throws {
        var m = self.machine(files: 3)
        func report(_ task: MapTask, spills: [Spill] = []) -> MapTaskReport {
            var report = self.report(task, spills: spills)
            report.counters = TaskCounters(records: 10, keysFiltered: spills.count, job: ["tokens": 7])
            return report
        }
        let t1 = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(report(t1, spills: [self.spill("committed")]), on: self.a)
        let t2 = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(report(t2), on: self.a)
        #expect(m.statistics.counters.records == 10, "t2's counts wait for its commit")
        _ = try self.mapTask(m.nextAssignment(for: self.a))
        _ = m.slotLost(self.a, SlotLoss(.crashed, "test"))
        #expect(m.statistics.counters.records == 10)
        var next = m.nextAssignment(for: self.b)
        while case .map(let task) = next {
            try m.mapDone(report(task), on: self.b)
            next = m.nextAssignment(for: self.b)
        }
        #expect(next == .flush)
        try m.flushed([self.spill("flushed")], counters: TaskCounters(keysFiltered: 4), on: self.b)
        let counters = m.statistics.counters
        #expect(counters.records == 30)
        #expect(counters.job == ["tokens": 21])
        #expect(counters.pairs == 3)
        #expect(counters.inputBytes == 3000)
        #expect(counters.keysFiltered == 5)
        #expect(counters.spills == 2)
        #expect(counters.spillBytes == 30)
        #expect(counters.keysWritten == 6)
        // Attempts: t1 committed on a; t2 (done) and t3 (running) lost on a; two re-runs and a flush on b.
        let attempts = m.attempts.records
        #expect(attempts.count == 6)
        #expect(attempts.filter { $0.slot == self.a }.map(\.outcome) == [.committed, .lost, .lost])
        #expect(attempts.filter { $0.slot == self.b }.map(\.outcome) == [.committed, .committed, .committed])
        #expect(attempts.filter { $0.slot == self.b }.map(\.phase) == [.map, .map, .flush])
        #expect(attempts.allSatisfy { $0.end != nil })
        #expect(attempts[0].input == "/in/0:0+1000")
    }

    @Test("a task that crashes a worker on every attempt fails the job")
    func poison() throws {
        var m = self.machine(files: 1, attempts: 3)
        for attempt in 1...3 {
            let slot = SlotID(index: 0, generation: attempt)
            m.slotJoined(slot)
            _ = try self.mapTask(m.nextAssignment(for: slot))
            _ = m.slotLost(slot, SlotLoss(.crashed, "SIGSEGV"))
        }
        #expect(m.isOver)
        let failure = try #require(m.failure)
        #expect(failure.code == .poisonTask)
        #expect(failure.input == "/in/0:0")
        #expect(m.nextAssignment(for: self.b) == .stop)
    }

    @Test("losses that are not crashes never count against a task")
    func disconnectsAreNotEvidence() throws {
        var m = self.machine(files: 1, attempts: 2)
        for (attempt, cause) in [SlotLoss.Cause.disconnected, .timedOut, .protocolViolation, .disconnected].enumerated()
        {
            let slot = SlotID(kind: .peer("127.0.0.2:7000"), index: 0, generation: attempt)
            m.slotJoined(slot)
            _ = try self.mapTask(m.nextAssignment(for: slot))
            _ = m.slotLost(slot, SlotLoss(cause, "gone"))
        }
        #expect(!m.isOver)
        let task = try self.mapTask(m.nextAssignment(for: self.a))
        try m.mapDone(self.report(task, spills: [self.spill("s")]), on: self.a)
        #expect(m.phase == .reducing)
        #expect(m.statistics.retries == 4)
        #expect(m.statistics.lanes.map(\.name) == ["local/0", "local/1", "127.0.0.2:7000"])
        #expect(m.statistics.lanes[2].losses == 4)
    }

    @Test("a slot takes a task ahead while it runs one; losing it requeues both, the queued one uncounted")
    func tasksAhead() throws {
        var m = self.machine(files: 4, attempts: 1)
        m.slotJoined(self.remote)
        let first = try self.mapTask(m.nextAssignment(for: self.remote))
        let second = try self.mapTask(m.assignmentAhead(for: self.remote))
        #expect(first.id != second.id)
        // Replies in order: the second task's report first is a violation.
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(second), on: self.remote) }
        try m.mapDone(self.report(first), on: self.remote)
        // With one attempt allowed, a crash fails the job only through the task that was running.
        _ = m.slotLost(self.remote, SlotLoss(.disconnected, "connection reset"))
        #expect(!m.isOver)
        var ids: [Int] = []
        var next = m.nextAssignment(for: self.a)
        var aheadBeforeFlush: SlotAssignment?
        while case .map(let task) = next {
            ids.append(task.id)
            try m.mapDone(self.report(task), on: self.a)
            aheadBeforeFlush = m.assignmentAhead(for: self.a)
            next = aheadBeforeFlush ?? m.nextAssignment(for: self.a)
        }
        #expect(Set(ids).isSuperset(of: [first.id, second.id]))
        // No flush is ever taken ahead: only an idle slot is told to flush.
        #expect(aheadBeforeFlush == nil)
        #expect(next == .flush)
    }

    @Test("a late reply from a lost slot is refused, so each task has one result")
    func lateReply() throws {
        var m = self.machine(files: 1)
        m.slotJoined(self.remote)
        let task = try self.mapTask(m.nextAssignment(for: self.remote))
        _ = m.slotLost(self.remote, SlotLoss(.timedOut, "silent for 10 s"))
        let again = try self.mapTask(m.nextAssignment(for: self.a))
        #expect(again.id == task.id)
        #expect(throws: MapReduceError.self) {
            try m.mapDone(self.report(task, spills: [self.spill("late")]), on: self.remote)
        }
        try m.mapDone(self.report(again, spills: [self.spill("s")]), on: self.a)
        #expect(m.spills.map(\.path) == ["s"])
    }

    @Test("a failing task fails the job at once")
    func taskFailure() throws {
        var m = self.machine(files: 2)
        _ = try self.mapTask(m.nextAssignment(for: self.a))
        #expect(m.nextAssignment(for: SlotID(index: 5, generation: 0)) != nil)
        m.taskFailed(TaskFailure(taskID: 0, error: MapReduceError(.invalidData, "bad", input: "in0")), on: self.a)
        #expect(m.failure?.code == .invalidData)
        #expect(m.nextAssignment(for: self.b) == .stop)
    }

    @Test("a report for a task the slot is not running is a protocol violation")
    func mismatchedReport() throws {
        var m = self.machine(files: 2)
        let task = try self.mapTask(m.nextAssignment(for: self.a))
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task), on: self.b) }
        #expect(throws: MapReduceError.self) { try m.flushed([], on: self.a) }
    }

    @Test("a spill without one segment per partition, end to end, is refused")
    func malformedSpills() throws {
        var m = self.machine(files: 2)
        let task = try self.mapTask(m.nextAssignment(for: self.a))
        let short = Spill(path: "s", segments: [SpillSegment(offset: 0, length: 10, keys: 2)])
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task, spills: [short]), on: self.a) }
        let gap = Spill(
            path: "s",
            segments: [SpillSegment(offset: 0, length: 10, keys: 2), SpillSegment(offset: 12, length: 5, keys: 1)]
        )
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task, spills: [gap]), on: self.a) }
        let huge = Spill(
            path: "s",
            segments: [SpillSegment(offset: 0, length: .max, keys: 2), SpillSegment(offset: .max, length: 5, keys: 1)]
        )
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task, spills: [huge]), on: self.a) }
        #expect(throws: Never.self) { try m.mapDone(self.report(task, spills: [self.spill("ok")]), on: self.a) }
    }

    @Test("no input means nothing to do")
    func emptyInput() {
        var m = self.machine(files: 0)
        #expect(m.phase == .finished)
        #expect(m.nextAssignment(for: self.a) == .stop)
    }
}

@Suite("Scheduler wake-ups")
struct SchedulerWakeupTests {
    func scheduler(files: Int) -> Scheduler {
        var inputs = InputList()
        for index in 0..<files { inputs.append(path: Array("/in/\(index)".utf8), size: 1000, modified: 0) }
        return Scheduler(
            machine: SchedulerStateMachine(
                configuration: .init(reduceChunkSize: .fixed(1), partitions: 1, maxTaskAttempts: 3, slots: 2),
                inputs: inputs,
                tuner: MapChunkTuner(setting: .fixed(1000), slots: 2, totalBytes: files * 1000)
            )
        )
    }

    /// Slot `a` holds the only map task; slot `b` waits for work. Returns the task and `b`'s wait.
    func oneTaskAndAWaiter(
        _ scheduler: Scheduler,
        a: SlotID,
        b: SlotID
    ) async throws -> (MapTask, Task<SlotAssignment, Never>) {
        scheduler.join(a)
        scheduler.join(b)
        guard case .map(let task) = await scheduler.next(for: a) else {
            Issue.record("expected a map task")
            throw CancellationError()
        }
        let waiting = Task { await scheduler.next(for: b) }
        while !scheduler.read({ $0.isWaiting(b) }) { await Task.yield() }
        return (task, waiting)
    }

    @Test("a slot waiting for work is resumed when another slot's loss requeues its task")
    func lossWakesWaiter() async throws {
        let scheduler = self.scheduler(files: 1)
        let a = SlotID(index: 0, generation: 0)
        let (task, waiting) = try await self.oneTaskAndAWaiter(scheduler, a: a, b: SlotID(index: 1, generation: 0))
        // The waiter is parked: lose the slot that holds the only task.
        scheduler.lost(a, SlotLoss(.disconnected, "gone"))
        let woken = await waiting.value
        #expect(woken == .map(task))
    }

    @Test("failing the job resumes every waiting slot with stop")
    func failureStopsWaiters() async throws {
        let scheduler = self.scheduler(files: 1)
        let slots = (0..<3).map { SlotID(index: $0, generation: 0) }
        for slot in slots { scheduler.join(slot) }
        _ = await scheduler.next(for: slots[0])
        let waiters = slots.dropFirst().map { slot in Task { await scheduler.next(for: slot) } }
        while !slots.dropFirst().allSatisfy({ slot in scheduler.read { $0.isWaiting(slot) } }) { await Task.yield() }
        scheduler.fail(MapReduceError(.cancelled, "cancelled"))
        for waiter in waiters { #expect(await waiter.value == .stop) }
    }

    @Test("the end of the map phase hands reduce tasks to the slots that wait")
    func reducePhaseWakes() async throws {
        let scheduler = self.scheduler(files: 1)
        let a = SlotID(index: 0, generation: 0)
        let (task, waiting) = try await self.oneTaskAndAWaiter(scheduler, a: a, b: SlotID(index: 1, generation: 0))
        let spill = Spill(path: "s", segments: [SpillSegment(offset: 0, length: 4, keys: 1)], sorted: true)
        try scheduler.apply(
            .mapDone(MapTaskReport(taskID: task.id, bytes: 1000, records: 1, elapsedNanoseconds: 1, spills: [spill])),
            from: a
        )
        guard case .reduce(let reduce) = await waiting.value else {
            Issue.record("expected the waiter to get the reduce task")
            return
        }
        #expect(reduce.inputs.map(\.path) == ["s"])
    }
}
