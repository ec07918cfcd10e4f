/// Decides how many input bytes the next map task gets.
///
/// With ``ChunkSize/auto`` it starts small so that the first measurements come early, then aims each task
/// at ``targetTaskSeconds`` using the measured bytes per second of a slot, growing at most twofold per
/// task. It never hands out more than `remaining / (slots × tasksPerSlot)`, so tasks shrink as the input
/// runs out and every slot finishes at about the same time (guided self-scheduling).
///
/// Local workers and peers' workers are measured apart (a remote task's time includes shipping its
/// bytes), and a remote task never exceeds ``remoteMaximumChunk``: its bytes are held in memory while
/// they are compressed and shipped.
package struct MapChunkTuner: Sendable {
    package let setting: ChunkSize
    /// Slots alive now; the scheduler updates it as slots join and leave.
    package var slots: Int
    package let targetTaskSeconds: Double
    package let tasksPerSlot: Int
    package let minimumChunk: Int
    package let maximumChunk: Int
    /// The largest task a peer's slot gets, whatever the setting.
    package let remoteMaximumChunk: Int
    package private(set) var rates: [SlotKind.Family: Double] = [:]
    package private(set) var lastChunk: Int
    package private(set) var smallestChunk = Int.max
    package private(set) var largestChunk = 0

    package init(
        setting: ChunkSize,
        slots: Int,
        totalBytes: Int,
        targetTaskSeconds: Double = 0.05,
        tasksPerSlot: Int = 4,
        minimumChunk: Int = 256 << 10,
        maximumChunk: Int = 256 << 20,
        remoteMaximumChunk: Int = 4 << 20
    ) {
        self.setting = setting
        self.slots = max(1, slots)
        self.targetTaskSeconds = targetTaskSeconds
        self.tasksPerSlot = tasksPerSlot
        self.minimumChunk = minimumChunk
        self.maximumChunk = maximumChunk
        self.remoteMaximumChunk = remoteMaximumChunk
        // The first tasks: small enough to measure soon, but not below the floor.
        self.lastChunk = max(minimumChunk, min(4 << 20, totalBytes / (self.slots * tasksPerSlot * 4)))
    }

    /// Feeds back one finished task.
    package mutating func record(bytes: Int, nanoseconds: Int, family: SlotKind.Family = .local) {
        guard bytes >= 64 << 10, nanoseconds > 0 else { return }
        let rate = Double(bytes) / (Double(nanoseconds) / 1e9)
        if let current = self.rates[family] {
            self.rates[family] = current * 0.7 + rate * 0.3
        } else {
            self.rates[family] = rate
        }
    }

    /// The measured bytes per second of local slots' tasks.
    package var bytesPerSecond: Double? { self.rates[.local] }

    /// The size of the next task, given how many bytes are left to hand out.
    package mutating func nextChunk(remaining: Int, family: SlotKind.Family = .local) -> Int {
        var chunk: Int
        switch self.setting {
        case .fixed(let size):
            chunk = size
        case .auto:
            var wanted = self.lastChunk
            if let rate = self.rates[family] ?? self.rates.values.first {
                wanted = Int(rate * self.targetTaskSeconds)
                wanted = min(wanted, self.lastChunk * 2)
            }
            let balanced = remaining / (self.slots * self.tasksPerSlot)
            chunk = max(self.minimumChunk, min(wanted, balanced, self.maximumChunk))
            self.lastChunk = max(chunk, self.lastChunk)
        }
        if family == .remote { chunk = min(chunk, self.remoteMaximumChunk) }
        let granted = min(chunk, remaining)
        self.smallestChunk = min(self.smallestChunk, granted)
        self.largestChunk = max(self.largestChunk, granted)
        return chunk
    }
}

/// Decides how many keys each reduce task gets, from the key counts the map side reported per partition.
package enum ReduceChunkPlanner {
    /// Consecutive partition ranges, each holding about the wanted number of keys.
    /// - Parameters:
    ///   - keysPerPartition: Keys in each partition (an upper bound: keys seen in several spills count twice).
    ///   - setting: `auto` aims at several tasks per slot, between 4 Ki and 1 Mi keys each.
    ///   - slots: Slots that will run the tasks.
    package static func plan(keysPerPartition: [Int], setting: ChunkSize, slots: Int) -> [Range<Int>] {
        let total = keysPerPartition.reduce(0, +)
        let target: Int
        switch setting {
        case .fixed(let keys): target = max(1, keys)
        case .auto: target = min(max(total / (max(1, slots) * 4), 4096), 1 << 20)
        }
        var ranges: [Range<Int>] = []
        var start = 0
        var keys = 0
        for (partition, count) in keysPerPartition.enumerated() {
            keys += count
            if keys >= target {
                ranges.append(start..<(partition + 1))
                start = partition + 1
                keys = 0
            }
        }
        if start < keysPerPartition.count {
            if keys == 0 && !ranges.isEmpty {
                // Trailing empty partitions join the last task.
                ranges[ranges.count - 1] = ranges[ranges.count - 1].lowerBound..<keysPerPartition.count
            } else {
                ranges.append(start..<keysPerPartition.count)
            }
        }
        return ranges
    }
}
