/// What a worker's map side needs to write spills: where, how to partition, and how much memory it may
/// hold before it must write one.
@usableFromInline
final class SpillConfiguration<P: Partitioner> {
    @usableFromInline let partitioner: P
    @usableFromInline let partitions: Int
    @usableFromInline let memoryBudget: Int
    /// The mapper's ``Mapper/keepsKey(_:)``: keys it rejects are left out of spills.
    @usableFromInline let keepsKey: (UnsafeRawBufferPointer) -> Bool
    @usableFromInline @exclusivity(unchecked) var namer: WorkFileNamer
    /// Spills written since the last report to the coordinator.
    @usableFromInline @exclusivity(unchecked) var unreported: [Spill] = []
    /// An error from a spill written in the middle of a task, rethrown when the task ends.
    @usableFromInline @exclusivity(unchecked) var pendingError: (any Error)?

    @usableFromInline
    init(
        partitioner: P,
        partitions: Int,
        memoryBudget: Int,
        keepsKey: @escaping (UnsafeRawBufferPointer) -> Bool,
        namer: WorkFileNamer
    ) {
        self.partitioner = partitioner
        self.partitions = partitions
        self.memoryBudget = memoryBudget
        self.keepsKey = keepsKey
        self.namer = namer
    }

    /// Runs a spill that happens in the middle of a task, where nothing can throw: its error, the first
    /// one only, waits for ``takeSpills()``.
    @usableFromInline
    func spillingMidTask(_ spill: () throws -> Void) {
        do {
            try spill()
        } catch {
            self.pendingError = self.pendingError ?? error
        }
    }

    /// The spills to report, and nothing left to report; rethrows a pending spill error.
    @usableFromInline
    func takeSpills() throws -> [Spill] {
        if let error = self.pendingError {
            self.pendingError = nil
            throw error
        }
        defer { self.unreported = [] }
        return self.unreported
    }
}

/// The map side of a job with a combiner: one value per distinct key, combined as pairs arrive.
///
/// The table outlives tasks, so keys repeated across a worker's tasks are combined too. When the table
/// would grow past the memory budget it is written out as a spill first, so a worker's memory stays
/// bounded whatever the vocabulary; otherwise it is written once, when the coordinator asks for a flush.
@usableFromInline
final class CombiningSink<C: Combiner, P: Partitioner> {
    @usableFromInline typealias Value = C.Value

    @usableFromInline @exclusivity(unchecked) var table: KeyTable<Value>
    @usableFromInline let combiner: C
    @usableFromInline let configuration: SpillConfiguration<P>

    @usableFromInline
    init(combiner: C, configuration: SpillConfiguration<P>) {
        self.table = KeyTable(initialCapacity: 4096)
        self.combiner = combiner
        self.configuration = configuration
    }

    @usableFromInline var prefetchHint: PrefetchHint { self.table.prefetchHint }
    @usableFromInline var isEmpty: Bool { self.table.count == 0 }

    @inlinable
    func drain(_ batch: EmitBatch<Value>) {
        var table = self.table
        // Nearly every pair finds its key already there: that path only reads the slots, through
        // locals the loop keeps in registers. New keys take the insert path and refresh them.
        var probe = table.probe
        var keys = table.keys
        for i in 0..<batch.count {
            let pending = batch.pending[i]
            if pending.isDropped { continue }
            let length = Int(pending.length)
            let key = batch.keyBytes(at: i)
            if let payload = probe.find(
                hash: pending.hash,
                first: pending.first,
                second: pending.second,
                key: key,
                length: length,
                keys: keys
            ) {
                self.combiner.combine(&payload.pointee, with: batch.values[i])
                continue
            }
            if _slowPath(!table.hasRoom(forKeyBytes: length)) {
                self.makeRoom(forKeyBytes: length)
                table = self.table
            }
            let (payload, inserted) = table.findOrInsert(
                hash: pending.hash,
                first: pending.first,
                second: pending.second,
                key: key,
                length: length
            )
            if inserted {
                payload.initialize(to: batch.values[i])
            } else {
                self.combiner.combine(&payload.pointee, with: batch.values[i])
            }
            probe = table.probe
            keys = table.keys
        }
    }

    /// The table is full: spill it if growing would pass the budget (the table then grows only if one
    /// key alone needs it), else let it grow.
    @usableFromInline
    func makeRoom(forKeyBytes length: Int) {
        guard self.table.count > 0,
            self.table.footprintAfterRoom(forKeyBytes: length) > self.configuration.memoryBudget
        else { return }
        self.configuration.spillingMidTask(self.spill)
    }

    /// Writes every key and value to a new spill, partition by partition, then empties the table.
    @inlinable
    func spill() throws {
        let table = self.table
        guard table.count > 0 else { return }
        let configuration = self.configuration
        let partitions = configuration.partitions
        // Counting sort by partition of the occupied slots whose keys the mapper keeps.
        let slots = table.occupiedSlots().filter { configuration.keepsKey(table.key(atSlot: Int($0))) }
        guard !slots.isEmpty else {
            table.removeAll()
            return
        }
        let writer = try SpillWriter(path: configuration.namer.next("spill"))
        var partitionOf = [UInt32](repeating: 0, count: slots.count)
        var starts = [Int](repeating: 0, count: partitions + 1)
        for (index, slot) in slots.enumerated() {
            let key = table.key(atSlot: Int(slot))
            let partition = configuration.partitioner.partition(
                encodedKey: key,
                hash: KeyHash.hash(key),
                count: partitions
            )
            partitionOf[index] = UInt32(partition)
            starts[partition + 1] += 1
        }
        for p in 0..<partitions { starts[p + 1] += starts[p] }
        var order = [UInt32](repeating: 0, count: slots.count)
        var next = starts
        for index in 0..<slots.count {
            let p = Int(partitionOf[index])
            order[next[p]] = slots[index]
            next[p] += 1
        }
        var encoded = WireWriter(capacity: 64)
        var position = 0
        for p in 0..<partitions {
            while position < starts[p + 1] {
                table.prefetch(ahead: position, in: order)
                let slot = Int(order[position])
                encoded.removeAll()
                table.payload(atSlot: slot).pointee.encode(into: &encoded)
                try encoded.bytes.withUnsafeBytes { value in
                    try writer.writeRecord(key: table.key(atSlot: slot), value: value)
                }
                position += 1
            }
            writer.endPartition()
        }
        configuration.unreported.append(try writer.finish())
        table.removeAll()
    }

    /// Gives the table's memory back, for the reduce phase.
    @usableFromInline
    func releaseMemory() {
        self.table = KeyTable(initialCapacity: 4096)
    }
}

/// The map side of a job without a combiner: pairs appended to a buffer per partition, written out as a
/// spill whenever they reach the memory budget.
@usableFromInline
final class BufferingSink<P: Partitioner, Value: WireCodable> {
    @usableFromInline @exclusivity(unchecked) var buffers: [WireWriter]
    @usableFromInline @exclusivity(unchecked) var records: [Int]
    @usableFromInline @exclusivity(unchecked) var bufferedBytes = 0
    @usableFromInline @exclusivity(unchecked) var scratch = WireWriter(capacity: 64)
    @usableFromInline let configuration: SpillConfiguration<P>

    @usableFromInline
    init(configuration: SpillConfiguration<P>) {
        self.configuration = configuration
        self.buffers = Array(repeating: WireWriter(), count: configuration.partitions)
        self.records = Array(repeating: 0, count: configuration.partitions)
    }

    @usableFromInline var prefetchHint: PrefetchHint { .none }
    @usableFromInline var isEmpty: Bool { self.bufferedBytes == 0 }

    @inlinable
    func drain(_ batch: EmitBatch<Value>) {
        for i in 0..<batch.count where !batch.pending[i].isDropped {
            let key = batch.key(at: i)
            guard self.configuration.keepsKey(key) else { continue }
            let partition = self.configuration.partitioner.partition(
                encodedKey: key,
                hash: KeyHash.hash(key),
                count: self.buffers.count
            )
            self.scratch.removeAll()
            batch.values[i].encode(into: &self.scratch)
            let before = self.buffers[partition].count
            self.buffers[partition].writeLengthPrefixed(key)
            self.scratch.bytes.withUnsafeBytes { self.buffers[partition].writeLengthPrefixed($0) }
            self.records[partition] += 1
            self.bufferedBytes += self.buffers[partition].count - before
        }
        if self.bufferedBytes > self.configuration.memoryBudget {
            self.configuration.spillingMidTask(self.spill)
        }
    }

    @usableFromInline
    func spill() throws {
        guard self.bufferedBytes > 0 else { return }
        let writer = try SpillWriter(path: self.configuration.namer.next("spill"))
        for p in 0..<self.buffers.count {
            try writer.writeEncodedRecords(self.buffers[p].bytes, count: self.records[p])
            writer.endPartition()
            self.buffers[p] = WireWriter()
            self.records[p] = 0
        }
        self.bufferedBytes = 0
        self.configuration.unreported.append(try writer.finish())
    }

    @usableFromInline
    func releaseMemory() {}
}
