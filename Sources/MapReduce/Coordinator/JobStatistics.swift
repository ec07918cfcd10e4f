/// What happened during a job: per slot and in total, in the spirit of Parallel Python's `print_stats()`.
public struct JobStatistics: Sendable {
    /// One slot (a local worker, and later a peer node's worker).
    public struct Slot: Sendable {
        /// `local/0`, `local/1`, …
        public var name: String
        /// Map, flush and reduce tasks it finished.
        public var tasks: Int
        /// The sum of its task durations, as measured by the worker.
        public var taskSeconds: Double
        /// Input bytes it mapped.
        public var inputBytes: Int
        /// Workers of this slot that died and were replaced (for a peer: its slots lost).
        public var workersLost: Int
        /// Tasks that ran again elsewhere because this slot (or peer) was lost.
        public var tasksRerun = 0
        /// A peer's traffic and fate; nil for a local worker.
        public var wire: Wire?

        /// Whether this row is a peer node's.
        public var isPeer: Bool { self.wire != nil }
    }

    /// What travelled to and from one peer, and why it was lost if it was.
    public struct Wire: Sendable {
        /// Bytes sent to the peer, before and after LZ4 compression (input chunks, reduce segments).
        public var sentRawBytes: Int
        /// Bytes sent to the peer after LZ4 compression, as they travelled.
        public var sentCompressedBytes: Int
        /// Bytes received from it, before and after decompression (map output, sorted runs).
        public var receivedRawBytes: Int
        /// Bytes received from the peer before decompression, as they travelled.
        public var receivedCompressedBytes: Int
        /// Why the peer was dropped, or nil if it served to the end.
        public var lost: String?

        /// Both directions, uncompressed.
        public var rawBytes: Int { self.sentRawBytes + self.receivedRawBytes }
        /// Both directions, as they travelled.
        public var compressedBytes: Int { self.sentCompressedBytes + self.receivedCompressedBytes }

        init(_ traffic: PeerTraffic) {
            self.sentRawBytes = traffic.sentRawBytes
            self.sentCompressedBytes = traffic.sentCompressedBytes
            self.receivedRawBytes = traffic.receivedRawBytes
            self.receivedCompressedBytes = traffic.receivedCompressedBytes
            self.lost = traffic.lost
        }
    }

    /// Bytes that travelled to and from all peers, uncompressed and as sent.
    public var wireRawBytes: Int { self.slots.reduce(0) { $0 + ($1.wire?.rawBytes ?? 0) } }
    /// Bytes that travelled to and from all peers, as sent (compressed).
    public var wireCompressedBytes: Int { self.slots.reduce(0) { $0 + ($1.wire?.compressedBytes ?? 0) } }

    /// The job's name.
    public var jobName: String
    /// The slots, in order.
    public var slots: [Slot]
    /// Input files read.
    public var inputFiles: Int
    /// Input bytes read.
    public var inputBytes: Int
    /// Map tasks handed out (not counting re-runs).
    public var mapTasks: Int
    /// Reduce tasks run.
    public var reduceTasks: Int
    /// Tasks run again because a worker died.
    public var retries: Int
    /// Reduce partitions.
    public var partitions: Int
    /// Map output files written, and their total size.
    public var spills: Int
    /// The total size of the map output files, in bytes.
    public var spillBytes: Int
    /// The map output files written under memory pressure: every spill beyond the one a worker writes
    /// when its map output fits its memory budget. Each is a table the worker could not keep combining
    /// within the budget.
    public var pressureSpills = 0
    /// A worker memory budget (``MapReduceEngine/Configuration/workerMemoryBudget``, `--worker-memory`)
    /// that would most likely have spared the map side its spills under pressure, when there were many:
    /// more than one per worker on average (so more than two spills per worker). Nil otherwise.
    ///
    /// The worker that spilled most, `n` times with a budget `b`, held its combined map output in `n`
    /// tables of at most `b` each: one table of `n × b` holds it too. When a combiner folds each key's
    /// values into one of a fixed size, a key costs the same in every table, and the suggestion is what
    /// the worker's distinct keys (at most the job's) cost in a table that spilled, twice over for its
    /// growth, if that is less. Rounded up to a power of two mebibytes, at least twice the budget, at
    /// most 4 GiB, as much as a worker can reasonably ask for.
    public var suggestedWorkerMemory: Int?
    /// Key/value pairs the mapper emitted.
    public var pairsEmitted: Int
    /// Keys in the output.
    public var outputKeys: Int
    /// The map chunk size setting, and the smallest and largest task it produced, in bytes.
    public var mapChunkSize: ChunkSize
    /// The smallest map task handed out, in input bytes.
    public var smallestMapTask: Int
    /// The largest map task handed out, in input bytes.
    public var largestMapTask: Int
    /// Wall-clock time of the whole job and of its phases.
    public var elapsedSeconds: Double
    /// Wall-clock time of the map phase.
    public var mapSeconds: Double
    /// Wall-clock time of the reduce phase.
    public var reduceSeconds: Double
    /// Wall-clock time of the final merge, which hands each key to the caller.
    public var mergeSeconds: Double
    /// What the job and the engine counted, over committed work.
    public var counters = Counters()
    /// Every attempt at a task, in the order they were handed out.
    public var attempts: [TaskAttempt] = []

    /// Input megabytes (10⁶ bytes) per second of wall-clock time.
    public var megabytesPerSecond: Double {
        self.elapsedSeconds > 0 ? Double(self.inputBytes) / 1e6 / self.elapsedSeconds : 0
    }

    /// Tasks of all slots.
    public var totalTasks: Int { self.slots.reduce(0) { $0 + $1.tasks } }

    /// A table for people, one line per slot, then the totals.
    public func formattedTable() -> String {
        var lines: [String] = []
        lines.append("Job statistics: \(self.jobName)")
        lines.append(" slot        |  tasks | % of tasks | task time sum | time per task | input MiB | lost")
        let total = max(1, self.totalTasks)
        for slot in self.slots {
            let mean = slot.tasks > 0 ? slot.taskSeconds / Double(slot.tasks) : 0
            lines.append(
                " " + pad(slot.name, 11) + " | " + padLeft("\(slot.tasks)", 6) + " | "
                    + padLeft(fixed(100 * Double(slot.tasks) / Double(total), 2), 10) + " | "
                    + padLeft(fixed(slot.taskSeconds, 4) + " s", 13) + " | "
                    + padLeft(fixed(mean * 1000, 2) + " ms", 13) + " | "
                    + padLeft(fixed(Double(slot.inputBytes) / 1_048_576, 1), 9) + " | "
                    + padLeft("\(slot.workersLost)", 4)
            )
            if let wire = slot.wire {
                var line =
                    "   sent \(describeBytes(wire.sentRawBytes)) as \(describeBytes(wire.sentCompressedBytes)), "
                    + "received \(describeBytes(wire.receivedRawBytes)) as "
                    + "\(describeBytes(wire.receivedCompressedBytes)); \(slot.tasksRerun) tasks re-run"
                if let lost = wire.lost { line += "; lost: \(lost)" }
                lines.append(line)
            }
        }
        lines.append(
            " input: \(self.inputFiles) files, \(fixed(Double(self.inputBytes) / 1_048_576, 1)) MiB; "
                + "\(self.mapTasks) map tasks (chunksize \(self.mapChunkSize): "
                + "\(describeBytes(self.smallestMapTask))–\(describeBytes(self.largestMapTask))), "
                + "\(self.reduceTasks) reduce tasks over \(self.partitions) partitions, \(self.retries) retried"
        )
        if self.slots.contains(where: \.isPeer) {
            let ratio = self.inputBytes > 0 ? Double(self.wireCompressedBytes) / Double(self.inputBytes) : 0
            lines.append(
                " wire: \(describeBytes(self.wireRawBytes)) raw, \(describeBytes(self.wireCompressedBytes)) "
                    + "compressed, both ways (\(fixed(ratio, 3)) of the input)"
            )
        }
        lines.append(
            " pairs emitted: \(self.pairsEmitted); map output: \(self.spills) spills, "
                + "\(fixed(Double(self.spillBytes) / 1_048_576, 1)) MiB; output keys: \(self.outputKeys)"
        )
        if let suggested = self.suggestedWorkerMemory {
            lines.append(
                " hint: \(self.pressureSpills) of \(self.spills) spills were written under memory pressure; "
                    + "--worker-memory \(Self.describeBudget(suggested)) would likely avoid them"
            )
        }
        lines.append(contentsOf: self.formattedCounters())
        lines.append(
            " time: \(fixed(self.elapsedSeconds, 3)) s (map \(fixed(self.mapSeconds, 3)) s, "
                + "reduce \(fixed(self.reduceSeconds, 3)) s, merge \(fixed(self.mergeSeconds, 3)) s); "
                + "throughput \(fixed(self.megabytesPerSecond, 1)) MB/s"
        )
        return lines.joined(separator: "\n")
    }

    /// The same numbers as a JSON object.
    public func json() -> String {
        var fields: [String] = []
        fields.append("\"job\": \(jsonString(self.jobName))")
        fields.append("\"elapsed_seconds\": \(jsonNumber(self.elapsedSeconds))")
        fields.append("\"map_seconds\": \(jsonNumber(self.mapSeconds))")
        fields.append("\"reduce_seconds\": \(jsonNumber(self.reduceSeconds))")
        fields.append("\"merge_seconds\": \(jsonNumber(self.mergeSeconds))")
        fields.append("\"megabytes_per_second\": \(jsonNumber(self.megabytesPerSecond))")
        fields.append("\"input_files\": \(self.inputFiles)")
        fields.append("\"input_bytes\": \(self.inputBytes)")
        fields.append("\"map_tasks\": \(self.mapTasks)")
        fields.append("\"reduce_tasks\": \(self.reduceTasks)")
        fields.append("\"partitions\": \(self.partitions)")
        fields.append("\"retries\": \(self.retries)")
        fields.append("\"workers_lost\": \(self.slots.reduce(0) { $0 + $1.workersLost })")
        fields.append("\"spills\": \(self.spills)")
        fields.append("\"spill_bytes\": \(self.spillBytes)")
        fields.append("\"pressure_spills\": \(self.pressureSpills)")
        fields.append("\"suggested_worker_memory\": \(self.suggestedWorkerMemory.map { "\($0)" } ?? "null")")
        fields.append("\"pairs_emitted\": \(self.pairsEmitted)")
        fields.append("\"output_keys\": \(self.outputKeys)")
        fields.append("\"map_chunksize\": \(jsonString(self.mapChunkSize.description))")
        fields.append("\"smallest_map_task_bytes\": \(self.smallestMapTask)")
        fields.append("\"largest_map_task_bytes\": \(self.largestMapTask)")
        let slots = self.slots.map { slot in
            var entry =
                "{\"name\": \(jsonString(slot.name)), \"tasks\": \(slot.tasks), "
                + "\"task_seconds\": \(jsonNumber(slot.taskSeconds)), \"input_bytes\": \(slot.inputBytes), "
                + "\"workers_lost\": \(slot.workersLost), \"tasks_rerun\": \(slot.tasksRerun)"
            if let wire = slot.wire {
                entry +=
                    ", \"peer\": \(jsonString(slot.name)), \"rawBytes\": \(wire.rawBytes), "
                    + "\"compressedBytes\": \(wire.compressedBytes), \"sentRawBytes\": \(wire.sentRawBytes), "
                    + "\"sentCompressedBytes\": \(wire.sentCompressedBytes), "
                    + "\"receivedRawBytes\": \(wire.receivedRawBytes), "
                    + "\"receivedCompressedBytes\": \(wire.receivedCompressedBytes), "
                    + "\"lost\": \(wire.lost.map(jsonString) ?? "null")"
            }
            return entry + "}"
        }
        fields.append("\"slots\": [\(slots.joined(separator: ", "))]")
        fields.append("\"counters\": \(self.countersJSON())")
        fields.append("\"attempts\": \(self.attemptsJSON())")
        fields.append("\"rawBytes\": \(self.wireRawBytes)")
        fields.append("\"compressedBytes\": \(self.wireCompressedBytes)")
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
    }
}

extension JobStatistics {
    /// ``suggestedWorkerMemory`` for a map side whose workers wrote `spillsPerWorker` (workers that wrote
    /// none left out) with a budget of `budget` bytes; nil when the spills beyond one per worker are not
    /// more than the workers.
    ///
    /// A worker's spills as one table always suffice: its spills times the budget. When each key's entry
    /// has a fixed size (a combiner folds its values into one of a fixed-size type) and the job's
    /// `distinctKeys` are known, less does: a spill made under pressure held a budget's worth of table,
    /// so its keys say what a key costs; a worker's table would hold at most the keys it spilled and at
    /// most the job's distinct keys, and twice their cost allows for the table's growth by doubling.
    /// Never less than twice the budget; rounded up to a power of two MiB, at most 4 GiB.
    package static func suggestWorkerMemory(budget: Int, spillsPerWorker: [SpillTally], distinctKeys: Int?) -> Int? {
        let spills = spillsPerWorker.reduce(0) { $0 + $1.count }
        guard spills - spillsPerWorker.count > spillsPerWorker.count else { return nil }
        let budget = max(budget, 1)
        let cap = 4 << 30
        var needed = 0
        for worker in spillsPerWorker where worker.count > 1 {
            let asOneTable = worker.count.multipliedReportingOverflow(by: budget)
            var estimate = asOneTable.overflow ? cap : asOneTable.partialValue
            if let distinctKeys, worker.largest > 0 {
                let keys = min(worker.keys, max(distinctKeys, worker.largest))
                let cost = Double(keys) * Double(budget) / Double(worker.largest) * 2
                estimate = min(estimate, cost < Double(cap) ? Int(cost) : cap)
            }
            needed = max(needed, estimate, 2 * budget)
        }
        var suggested = 1 << 20
        while suggested < min(needed, cap) { suggested <<= 1 }
        return min(suggested, cap)
    }

    /// A budget as `--worker-memory` takes it: `16M`, `2G`.
    static func describeBudget(_ bytes: Int) -> String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : "\(bytes)"
    }
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "0" }
    var factor = 1.0
    for _ in 0..<decimals { factor *= 10 }
    let scaled = (abs(value) * factor).rounded()
    let integer = Int(scaled / factor)
    let fraction = Int(scaled) - integer * Int(factor)
    var text = (value < 0 && scaled > 0 ? "-" : "") + "\(integer)"
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

func padLeft(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

func describeBytes(_ bytes: Int) -> String {
    if bytes >= 1 << 20 { return fixed(Double(bytes) / 1_048_576, 1) + " MiB" }
    if bytes >= 1 << 10 { return fixed(Double(bytes) / 1024, 1) + " KiB" }
    return "\(bytes) B"
}

func jsonNumber(_ value: Double) -> String { value.isFinite ? fixed(value, 6) : "0" }

func jsonString(_ text: String) -> String {
    var text = text
    var out: [UInt8] = []
    text.withUTF8 { DumpWriter.appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
    return String(decoding: out, as: UTF8.self)
}

/// One worker's committed map-side spills, for the spill hint: how many, their keys, the most in one.
package struct SpillTally: Sendable, Equatable {
    package var count = 0
    package var keys = 0
    package var largest = 0

    package init(count: Int = 0, keys: Int = 0, largest: Int = 0) {
        self.count = count
        self.keys = keys
        self.largest = largest
    }

    mutating func add(_ spill: Spill) {
        let keys = spill.segments.reduce(0) { $0 + $1.keys }
        self.count += 1
        self.keys += keys
        self.largest = max(self.largest, keys)
    }
}
