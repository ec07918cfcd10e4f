import MapReduce
import Testing

@Suite("Scheduler state machine")
struct SchedulerTests {
    let a = SlotID(index: 0, generation: 0)
    let b = SlotID(index: 1, generation: 0)

    func machine(files: Int = 4, attempts: Int = 3, reduceChunkSize: ChunkSize = .fixed(1)) -> SchedulerStateMachine {
        var inputs = InputList()
        for index in 0..<files { inputs.append(path: Array("/in/\(index)".utf8), size: 1000, modified: 0) }
        return SchedulerStateMachine(
            configuration: .init(
                reduceChunkSize: reduceChunkSize,
                partitions: 2,
                maxTaskAttempts: attempts,
                slots: 2
            ),
            inputs: inputs,
            tuner: MapChunkTuner(setting: .fixed(1000), slots: 2, totalBytes: files * 1000)
        )
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

    @Test("a reduce task over several partitions is told where each partition's sorted segment starts")
    func segmentLengths() throws {
        var m = self.machine(files: 1, reduceChunkSize: .fixed(100))
        guard case .map(let task) = m.nextAssignment(for: self.a) else {
            Issue.record("expected a map task")
            return
        }
        try m.mapDone(self.report(task, spills: [self.spill("s-a")]), on: self.a)
        guard case .reduce(let reduce) = m.nextAssignment(for: self.a) else {
            Issue.record("expected a reduce task")
            return
        }
        #expect(reduce.partitions == 0..<2)
        #expect(reduce.inputs == [.init(path: "s-a", offset: 0, segmentLengths: [10, 5])])
        #expect(!reduce.sortedInputs)
    }

    @Test("reduce tasks merge when every spill is sorted, and group by hashing when one is not")
    func sortedInputs() throws {
        for sortedSpills in [[true, true], [true, false]] {
            var m = self.machine(files: 2, reduceChunkSize: .fixed(100))
            guard case .map(let first) = m.nextAssignment(for: self.a),
                case .map(let second) = m.nextAssignment(for: self.b)
            else {
                Issue.record("expected two map tasks")
                return
            }
            var spillA = self.spill("s-a")
            spillA.sorted = sortedSpills[0]
            var spillB = self.spill("s-b")
            spillB.sorted = sortedSpills[1]
            try m.mapDone(self.report(first, spills: [spillA]), on: self.a)
            try m.mapDone(self.report(second, spills: [spillB]), on: self.b)
            guard case .reduce(let reduce) = m.nextAssignment(for: self.a) else {
                Issue.record("expected a reduce task")
                return
            }
            #expect(reduce.sortedInputs == !sortedSpills.contains(false))
        }
    }

    @Test("map, flush, reduce, stop")
    func happyPath() throws {
        var m = self.machine(files: 2)
        guard case .map(let first) = m.nextAssignment(for: self.a),
            case .map(let second) = m.nextAssignment(for: self.b)
        else {
            Issue.record("expected two map tasks")
            return
        }
        // Nothing left to hand out, but the phase is not over: a third slot waits.
        #expect(m.nextAssignment(for: SlotID(index: 2, generation: 0)) == nil)
        try m.mapDone(self.report(first), on: self.a)
        #expect(m.nextAssignment(for: self.a) == .flush)
        try m.mapDone(self.report(second, spills: [self.spill("s-b")]), on: self.b)
        #expect(m.phase == .mapping)
        try m.flushed([self.spill("s-a")], on: self.a)
        #expect(m.phase == .reducing)
        guard case .reduce(let r1) = m.nextAssignment(for: self.a), case .reduce(let r2) = m.nextAssignment(for: self.b)
        else {
            Issue.record("expected two reduce tasks")
            return
        }
        #expect(r1.partitions == 0..<1 && r2.partitions == 1..<2)
        #expect(r1.inputs.map(\.path).sorted() == ["s-a", "s-b"])
        #expect(r2.inputs.allSatisfy { $0.offset == 10 && $0.length == 5 })
        #expect(r1.inputs.allSatisfy { $0.segmentLengths == [10] } && r2.inputs.allSatisfy { $0.segmentLengths == [5] })
        try m.reduceDone(
            ReduceTaskReport(taskID: r1.id, runPath: "r1", keys: 2, inputBytes: 20, elapsedNanoseconds: 1),
            on: self.a
        )
        try m.reduceDone(
            ReduceTaskReport(taskID: r2.id, runPath: "r2", keys: 1, inputBytes: 10, elapsedNanoseconds: 1),
            on: self.b
        )
        #expect(m.phase == .finished)
        #expect(m.nextAssignment(for: self.a) == .stop)
        #expect(m.runs.map(\.runPath) == ["r1", "r2"])
    }

    @Test("a dead slot's uncommitted tasks run again elsewhere; committed ones do not")
    func deathRequeues() throws {
        var m = self.machine(files: 3)
        guard case .map(let t1) = m.nextAssignment(for: self.a) else { return }
        try m.mapDone(self.report(t1, spills: [self.spill("committed")]), on: self.a)
        guard case .map(let t2) = m.nextAssignment(for: self.a) else { return }
        try m.mapDone(self.report(t2), on: self.a)
        guard case .map(let t3) = m.nextAssignment(for: self.a) else { return }
        m.slotDied(self.a, reason: "test")
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

    @Test("a task that kills a worker on every attempt fails the job")
    func poison() {
        var m = self.machine(files: 1, attempts: 3)
        for attempt in 1...3 {
            let slot = SlotID(index: 0, generation: attempt)
            guard case .map = m.nextAssignment(for: slot) else {
                Issue.record("attempt \(attempt) got no task")
                return
            }
            m.slotDied(slot, reason: "SIGSEGV")
        }
        #expect(m.isOver)
        #expect(m.failure?.code == .poisonTask)
        #expect(m.failure?.input == "/in/0:0")
        #expect(m.nextAssignment(for: self.b) == .stop)
    }

    @Test("a failing task fails the job at once")
    func taskFailure() {
        var m = self.machine(files: 2)
        guard case .map(let task) = m.nextAssignment(for: self.a) else { return }
        m.taskFailed(TaskFailure(taskID: task.id, error: MapReduceError(.invalidData, "bad", input: "in0")), on: self.a)
        #expect(m.failure?.code == .invalidData)
        #expect(m.nextAssignment(for: self.b) == .stop)
    }

    @Test("a report for a task the slot is not running is a protocol violation")
    func mismatchedReport() {
        var m = self.machine(files: 2)
        guard case .map(let task) = m.nextAssignment(for: self.a) else { return }
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task), on: self.b) }
        #expect(throws: MapReduceError.self) { try m.flushed([], on: self.a) }
    }

    @Test("a spill without one segment per partition, end to end, is refused")
    func malformedSpills() {
        var m = self.machine(files: 2)
        guard case .map(let task) = m.nextAssignment(for: self.a) else { return }
        let short = Spill(path: "s", segments: [SpillSegment(offset: 0, length: 10, keys: 2)])
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task, spills: [short]), on: self.a) }
        let gap = Spill(
            path: "s",
            segments: [SpillSegment(offset: 0, length: 10, keys: 2), SpillSegment(offset: 12, length: 5, keys: 1)]
        )
        #expect(throws: MapReduceError.self) { try m.mapDone(self.report(task, spills: [gap]), on: self.a) }
        #expect(throws: Never.self) { try m.mapDone(self.report(task, spills: [self.spill("ok")]), on: self.a) }
    }

    @Test("no input means nothing to do")
    func emptyInput() {
        var m = self.machine(files: 0)
        #expect(m.phase == .finished)
        #expect(m.nextAssignment(for: self.a) == .stop)
    }
}
