/// The counts of a job's committed work: the engine's own and the job's named counters. A task's counts
/// wait, with its output, in its slot until the slot commits them; a lost slot's waiting counts go with
/// it, and the tasks that run again count anew.
package struct CounterTotals: Sendable, Equatable {
    /// Input bytes mapped.
    package var inputBytes = 0
    /// Records (lines) mapped.
    package var records = 0
    /// Pairs the mappers emitted, before combining.
    package var pairs = 0
    /// Keys the mapper's filter left out, after combining.
    package var keysFiltered = 0
    /// Keys written to spills, after combining and filtering.
    package var keysWritten = 0
    /// Spills written, and their bytes.
    package var spills = 0
    package var spillBytes = 0
    /// The job's counters.
    package var job: [String: Int] = [:]

    package init() {}

    mutating func add(_ report: MapTaskReport) {
        self.inputBytes &+= report.bytes
        self.pairs &+= report.records
        self.add(report.counters, spills: report.spills)
    }

    mutating func add(_ counters: TaskCounters, spills: [Spill]) {
        self.records &+= counters.records
        self.keysFiltered &+= counters.keysFiltered
        for (name, value) in counters.job { self.job[name, default: 0] &+= value }
        self.spills += spills.count
        for spill in spills {
            self.spillBytes &+= spill.byteCount
            for segment in spill.segments { self.keysWritten &+= segment.keys }
        }
    }

    mutating func add(_ other: CounterTotals) {
        self.inputBytes &+= other.inputBytes
        self.records &+= other.records
        self.pairs &+= other.pairs
        self.keysFiltered &+= other.keysFiltered
        self.keysWritten &+= other.keysWritten
        self.spills &+= other.spills
        self.spillBytes &+= other.spillBytes
        for (name, value) in other.job { self.job[name, default: 0] &+= value }
    }
}

/// One attempt at a task on a slot, as the scheduler saw it: for the job's timeline.
package struct AttemptRecord: Sendable, Equatable {
    package enum Phase: String, Sendable {
        case map
        case flush
        case reduce
    }

    package enum Outcome: String, Sendable {
        /// Its output is part of the job's.
        case committed
        /// Its slot was lost before its output was committed; the task ran again.
        case lost
        /// The job's own code or data failed it.
        case failed
    }

    package var slot: SlotID
    package var phase: Phase
    package var task: Int
    /// What it worked on: `file:offset+length` for a map task, partitions for a reduce task.
    package var input: String
    /// Monotonic nanoseconds: when it was handed out, started (the slot was free) and ended.
    package var assigned: Int
    package var start: Int
    package var end: Int?
    package var outcome: Outcome?
}

/// Every task attempt of a job, and which ones are running or waiting for their commit on each slot.
package struct AttemptLog: Sendable {
    package private(set) var records: [AttemptRecord] = []
    /// Per slot, its attempts in the order it was given them, not yet reported.
    var running: [SlotID: [Int]] = [:]
    /// Per slot, map attempts done whose output is still in the slot's memory.
    var uncommitted: [SlotID: [Int]] = [:]
    /// Per slot, when its last attempt ended: a task queued ahead starts no earlier.
    var freeAt: [SlotID: Int] = [:]

    package init() {}

    mutating func begin(_ slot: SlotID, _ phase: AttemptRecord.Phase, task: Int, input: String, at now: Int) {
        self.running[slot, default: []].append(self.records.count)
        self.records.append(
            AttemptRecord(slot: slot, phase: phase, task: task, input: input, assigned: now, start: now)
        )
    }

    /// Ends the oldest attempt running on `slot`; nil outcome while a map attempt waits for its commit.
    mutating func end(_ slot: SlotID, at now: Int, _ outcome: AttemptRecord.Outcome?) {
        guard var queue = self.running[slot], !queue.isEmpty else { return }
        let index = queue.removeFirst()
        self.running[slot] = queue
        self.records[index].start = max(self.records[index].assigned, self.freeAt[slot] ?? 0)
        self.records[index].end = max(now, self.records[index].start)
        self.freeAt[slot] = self.records[index].end
        if let outcome {
            self.records[index].outcome = outcome
        } else {
            self.uncommitted[slot, default: []].append(index)
        }
    }

    /// The slot's map attempts waiting for a commit are committed.
    mutating func commit(_ slot: SlotID) {
        for index in self.uncommitted.removeValue(forKey: slot) ?? [] { self.records[index].outcome = .committed }
    }

    /// Everything the slot runs or holds is lost, or `failed` for the attempt it was running.
    mutating func lose(_ slot: SlotID, at now: Int, failed: Bool = false) {
        var first = failed
        while !(self.running[slot] ?? []).isEmpty {
            self.end(slot, at: now, first ? .failed : .lost)
            first = false
        }
        self.running[slot] = nil
        for index in self.uncommitted.removeValue(forKey: slot) ?? [] { self.records[index].outcome = .lost }
    }
}
