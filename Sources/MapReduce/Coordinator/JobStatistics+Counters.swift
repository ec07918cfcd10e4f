extension JobStatistics {
    /// What the job counted, over the tasks whose output it kept: a task that ran again after its worker
    /// or peer was lost counts once, for the attempt that was committed.
    public struct Counters: Sendable, Equatable {
        /// The job's own counters (see ``Emitter/count(_:by:)``), by name.
        public var job: [String: Int]
        /// Input bytes mapped.
        public var inputBytes: Int
        /// Records (lines) mapped: each line counts once, in the task that maps its first byte.
        public var records: Int
        /// Key/value pairs the mappers emitted, before combining.
        public var mapOutputPairs: Int
        /// Keys the mapper's ``Mapper/keepsKey(_:)`` left out after combining: one per distinct key per
        /// table written out (so it grows with workers and spills), and, for a job without a combiner,
        /// one per pair.
        public var keysFiltered: Int
        /// Keys written to spills, after combining and filtering.
        public var combinedKeys: Int
        /// Spills written.
        public var spills: Int
        /// The bytes of the spills written.
        public var spillBytes: Int

        /// No counts.
        public init() {
            self.job = [:]
            self.inputBytes = 0
            self.records = 0
            self.mapOutputPairs = 0
            self.keysFiltered = 0
            self.combinedKeys = 0
            self.spills = 0
            self.spillBytes = 0
        }

        init(_ totals: CounterTotals) {
            self.job = totals.job
            self.inputBytes = totals.inputBytes
            self.records = totals.records
            self.mapOutputPairs = totals.pairs
            self.keysFiltered = totals.keysFiltered
            self.combinedKeys = totals.keysWritten
            self.spills = totals.spills
            self.spillBytes = totals.spillBytes
        }

        /// The engine's counters by the names `--stats` and `--stats-json` give them, in that order.
        public var engine: [(name: String, value: Int)] {
            [
                ("input bytes", self.inputBytes),
                ("records", self.records),
                ("map output pairs", self.mapOutputPairs),
                ("keys filtered", self.keysFiltered),
                ("combined keys", self.combinedKeys),
                ("spills", self.spills),
                ("spill bytes", self.spillBytes),
            ]
        }
    }

    /// One attempt at a task on a slot.
    public struct TaskAttempt: Sendable, Equatable {
        /// The kind of task.
        public enum Phase: String, Sendable {
            /// A map task: input splits mapped into the slot's table.
            case map
            /// Writing the slot's table out: commits its map tasks.
            case flush
            /// A reduce task: a range of partitions reduced into a sorted run.
            case reduce
        }

        /// How it ended.
        public enum Outcome: String, Sendable {
            /// Its output is part of the job's.
            case committed
            /// Its worker or peer was lost before its output was committed; the task ran again.
            case lost
            /// The job's own code or data failed it.
            case failed
        }

        /// The slot's row in the statistics (`local/N`, or a peer's `HOST:PORT`).
        public var slot: String
        /// The slot's index in that row: a peer's row has one per worker of the peer.
        public var slotIndex: Int
        /// What kind of task it was.
        public var phase: Phase
        /// The task's number within its phase (0 for a flush).
        public var task: Int
        /// How it ended.
        public var outcome: Outcome
        /// What it worked on: `file:offset+length` for a map task, partitions for a reduce task.
        public var input: String
        /// When it started, in seconds since the job started.
        public var startSeconds: Double
        /// When it ended, in seconds since the job started.
        public var endSeconds: Double

        /// How long it ran.
        public var seconds: Double { self.endSeconds - self.startSeconds }
    }

    /// The counters as lines for the `--stats` table.
    func formattedCounters() -> [String] {
        var lines = [" counters:"]
        let job = self.counters.job.sorted { $0.key < $1.key }
        let width = max(
            self.counters.engine.map(\.name.count).max() ?? 0,
            job.map(\.key.count).max() ?? 0
        )
        for (name, value) in job { lines.append("   " + pad(name, width) + "  " + padLeft("\(value)", 14)) }
        for (name, value) in self.counters.engine {
            lines.append("   " + pad(name, width) + "  " + padLeft("\(value)", 14) + "  (engine)")
        }
        return lines
    }

    /// The `counters` object of the JSON: the job's and the engine's.
    func countersJSON() -> String {
        let job = self.counters.job.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value)" }
        let engine = self.counters.engine.map { "\(jsonString($0.name)): \($0.value)" }
        return "{\"job\": {\(job.joined(separator: ", "))}, \"engine\": {\(engine.joined(separator: ", "))}}"
    }

    /// The `attempts` array of the JSON.
    func attemptsJSON() -> String {
        let entries = self.attempts.map { attempt in
            "{\"slot\": \(jsonString(attempt.slot)), \"slot_index\": \(attempt.slotIndex), "
                + "\"phase\": \"\(attempt.phase.rawValue)\", \"task\": \(attempt.task), "
                + "\"outcome\": \"\(attempt.outcome.rawValue)\", \"input\": \(jsonString(attempt.input)), "
                + "\"start_seconds\": \(jsonNumber(attempt.startSeconds)), "
                + "\"end_seconds\": \(jsonNumber(attempt.endSeconds))}"
        }
        return "[" + entries.map { "\n    " + $0 }.joined(separator: ",") + (entries.isEmpty ? "]" : "\n  ]")
    }
}
