/// How far a running job has come: what ``MapReduceEngine/Configuration/progress`` is handed a few
/// times a second.
public struct JobProgress: Sendable {
    /// What the job is doing.
    public enum Phase: String, Sendable {
        /// Map tasks are running (and their outputs being combined).
        case map
        /// Reduce tasks are running.
        case reduce
        /// The reduce tasks' sorted runs are being merged into the output.
        case merge
    }

    /// What the job is doing.
    public var phase: Phase
    /// Input bytes mapped so far.
    public var bytesDone: Int
    /// Input bytes in all.
    public var bytesTotal: Int
    /// Map tasks finished.
    public var mapTasksDone: Int
    /// Reduce tasks finished.
    public var reduceTasksDone: Int
    /// Reduce tasks in all, once the reduce phase has started (0 before).
    public var reduceTasksTotal: Int
    /// Local worker slots taking tasks now.
    public var localWorkers: Int
    /// Peers taking tasks now.
    public var peers: Int
    /// Time since the job started.
    public var elapsed: Duration

    /// A progress report.
    public init(
        phase: Phase,
        bytesDone: Int,
        bytesTotal: Int,
        mapTasksDone: Int,
        reduceTasksDone: Int,
        reduceTasksTotal: Int,
        localWorkers: Int,
        peers: Int,
        elapsed: Duration
    ) {
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.mapTasksDone = mapTasksDone
        self.reduceTasksDone = reduceTasksDone
        self.reduceTasksTotal = reduceTasksTotal
        self.localWorkers = localWorkers
        self.peers = peers
        self.elapsed = elapsed
    }

    /// Mapped bytes per second so far, or nil before a second's hundredth has passed.
    public var bytesPerSecond: Double? {
        let seconds = Double(self.elapsed.components.seconds) + Double(self.elapsed.components.attoseconds) / 1e18
        return seconds >= 0.01 ? Double(self.bytesDone) / seconds : nil
    }
}

extension JobProgress {
    /// What the scheduler knows now.
    init(machine: borrowing SchedulerStateMachine, startedAt started: Int) {
        let statistics = machine.statistics
        var reduceDone = 0
        var reduceTotal = 0
        let phase: Phase
        switch machine.state {
        case .mapping:
            phase = .map
        case .reducing(let reducing):
            phase = .reduce
            reduceTotal = statistics.reduceTasks
            reduceDone = max(0, reduceTotal - reducing.pending.count - reducing.outstanding)
        case .finished, .failed:
            phase = .merge
            reduceTotal = statistics.reduceTasks
            reduceDone = reduceTotal
        }
        var peers = Set<String>()
        var local = 0
        for slot in machine.slots {
            switch slot.kind {
            case .local: local += 1
            case .peer(let address): peers.insert(address)
            }
        }
        self.init(
            phase: phase,
            bytesDone: statistics.lanes.reduce(0) { $0 + $1.bytes },
            bytesTotal: statistics.inputBytes,
            mapTasksDone: statistics.lanes.reduce(0) { $0 + $1.tasks } - reduceDone,
            reduceTasksDone: reduceDone,
            reduceTasksTotal: reduceTotal,
            localWorkers: local,
            peers: peers.count,
            elapsed: .nanoseconds(monotonicNanoseconds() - started)
        )
    }
}
