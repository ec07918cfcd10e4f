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
    /// Keys `keepsKey` left out since the last report to the coordinator.
    @usableFromInline @exclusivity(unchecked) var keysFiltered = 0
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
///
/// The budget covers the table's slots and keys and the heap its values own (``Combiner/heapBytes(of:)``,
/// summed as it changes with each insert and combine). For a combiner whose values own none, the
/// change is a constant zero and its bookkeeping compiles away.
@usableFromInline
final class CombiningSink<C: Combiner, P: Partitioner> {
    @usableFromInline typealias Value = C.Value

    @usableFromInline @exclusivity(unchecked) var table: KeyTable<Value>
    @usableFromInline let combiner: C
    @usableFromInline let configuration: SpillConfiguration<P>
    /// The heap the table's values own, by the combiner's count.
    @usableFromInline @exclusivity(unchecked) var valueHeapBytes = 0
    /// How much heap the values may own before the table is spilled (see `combinedHeapLimit`).
    @usableFromInline @exclusivity(unchecked) var valueHeapLimit: Int

    @usableFromInline
    init(combiner: C, configuration: SpillConfiguration<P>) {
        self.table = KeyTable(initialCapacity: 4096)
        self.combiner = combiner
        self.configuration = configuration
        self.valueHeapLimit = 0
        self.valueHeapLimit = self.heapLimit(besideTable: self.table.memoryFootprint)
    }

    /// ``valueHeapLimit`` beside a table that holds `footprint` bytes.
    @inlinable
    func heapLimit(besideTable footprint: Int) -> Int {
        combinedHeapLimit(budget: self.configuration.memoryBudget, besideTable: footprint)
    }

    /// Adds `bytes` (which may be negative) to the values' heap, and spills the table if the heap has
    /// outgrown what the budget leaves it. Returns whether it spilled.
    @inlinable @inline(__always)
    func valueHeapChanged(by bytes: Int) -> Bool {
        self.valueHeapBytes &+= bytes
        guard _slowPath(self.valueHeapBytes > self.valueHeapLimit) else { return false }
        self.configuration.spillingMidTask { try self.spill() }
        return true
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
                let grown = self.combiner.absorb(batch.values[i], into: payload, inserted: false)
                // Zero at compile time for values without heap: the branch goes with it.
                if grown != 0 && self.valueHeapChanged(by: grown) {
                    table = self.table
                    probe = table.probe
                    keys = table.keys
                }
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
            let grown = self.combiner.absorb(batch.values[i], into: payload, inserted: inserted)
            if grown != 0 && self.valueHeapChanged(by: grown) { table = self.table }
            probe = table.probe
            keys = table.keys
        }
    }

    /// The table is full: spill it if growing would pass the budget, counting the values' heap (the
    /// table then grows only if one key alone needs it), else let it grow.
    @usableFromInline
    func makeRoom(forKeyBytes length: Int) {
        guard self.table.count > 0 else { return }
        let footprint = self.table.footprintAfterRoom(forKeyBytes: length)
        guard footprint &+ self.valueHeapBytes > self.configuration.memoryBudget else {
            self.valueHeapLimit = self.heapLimit(besideTable: footprint)
            return
        }
        self.configuration.spillingMidTask { try self.spill() }
    }

    /// Writes every key and value to a new spill, partition by partition, then empties the table.
    ///
    /// One pass over the slots in slot order, which streams through the table: each kept key's record
    /// is appended to its partition's chunks, which are then written out in partition order. The last
    /// spill sorts each partition first (a few dozen kilobytes that stay in cache), so that reduce
    /// tasks can merge instead of hashing every record again; spills made under memory pressure, which
    /// can be many, are written as they are.
    /// - Parameter last: Whether this is the map side's last spill, after which the table is dropped
    ///   (``releaseMemory()``): then it is sorted, and emptying the table, a write to every slot, is
    ///   skipped.
    @inlinable
    func spill(last: Bool = false) throws {
        let table = self.table
        guard table.count > 0 else { return }
        let configuration = self.configuration
        let partitions = configuration.partitions
        // Chunks of about a partition's share of the records (at 24 bytes a record), so that a small
        // spill does not hold a large chunk per partition.
        var records = PartitionedRecords(
            partitions: partitions,
            chunkSize: min(max(table.count * 24 / partitions, 1 << 10), 16 << 10)
        )
        // Emptied even when writing fails: the error fails the job, and memory stays bounded meanwhile.
        defer {
            records.deallocate()
            if !last {
                table.removeAll()
                self.valueHeapBytes = 0
                self.valueHeapLimit = self.heapLimit(besideTable: table.memoryFootprint)
            }
        }
        var value = WireWriter(capacity: 64)
        for slot in 0...table.slotMask where table.slots[slot].meta != 0 {
            let key = table.key(atSlot: slot)
            guard configuration.keepsKey(key) else {
                configuration.keysFiltered &+= 1
                continue
            }
            let partition = configuration.partitioner.partition(
                encodedKey: key,
                hash: KeyHash.hash(key),
                count: partitions
            )
            value.removeAll()
            table.payload(atSlot: slot).pointee.encode(into: &value)
            value.bytes.withUnsafeBytes { records.append(key: key, value: $0, to: partition) }
        }
        guard records.count > 0 else { return }
        let writer = try SpillWriter(path: configuration.namer.next("spill"))
        var sorter = SpillSorter()
        for p in 0..<partitions {
            if last {
                try records.sort(partition: p, with: &sorter)
                try sorter.write(to: writer)
            } else {
                try records.write(partition: p, to: writer)
            }
            writer.endPartition()
        }
        configuration.unreported.append(try writer.finish(sorted: last))
    }

    /// Gives the table's memory back, for the reduce phase.
    @usableFromInline
    func releaseMemory() {
        self.table = KeyTable(initialCapacity: 4096)
        self.valueHeapBytes = 0
        self.valueHeapLimit = self.heapLimit(besideTable: self.table.memoryFootprint)
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
            guard self.configuration.keepsKey(key) else {
                self.configuration.keysFiltered &+= 1
                continue
            }
            let partition = self.configuration.partitioner.partition(
                encodedKey: key,
                hash: KeyHash.hash(key),
                count: self.buffers.count
            )
            self.scratch.removeAll()
            batch.values[i].encode(into: &self.scratch)
            let before = self.buffers[partition].count
            self.scratch.bytes.withUnsafeBytes { value in
                RecordFormat.append(key: key, value: value, to: &self.buffers[partition])
            }
            self.records[partition] += 1
            self.bufferedBytes += self.buffers[partition].count - before
        }
        if self.bufferedBytes > self.configuration.memoryBudget {
            self.configuration.spillingMidTask { try self.spill() }
        }
    }

    /// Writes the buffered records to a new spill, partition by partition, then empties the buffers.
    /// - Parameter last: Whether this is the map side's last spill: then each partition is sorted by
    ///   key (records of one key in the order they came), as for ``CombiningSink/spill(last:)``.
    @usableFromInline
    func spill(last: Bool = false) throws {
        guard self.bufferedBytes > 0 else { return }
        defer {
            for p in 0..<self.buffers.count {
                self.buffers[p] = WireWriter()
                self.records[p] = 0
            }
            self.bufferedBytes = 0
        }
        let writer = try SpillWriter(path: self.configuration.namer.next("spill"))
        var sorter = SpillSorter()
        for p in 0..<self.buffers.count {
            if last {
                try self.buffers[p].bytes.withUnsafeBytes { records in
                    try sorter.add(records)
                    try sorter.write(to: writer)
                }
            } else {
                try writer.writeEncodedRecords(self.buffers[p].bytes, count: self.records[p])
            }
            writer.endPartition()
        }
        self.configuration.unreported.append(try writer.finish(sorted: last))
    }

    @usableFromInline
    func releaseMemory() {}
}

/// A spill's records while it is being made: appended in any order of partitions, into chunks of
/// memory per partition, then written out (or sorted and written out) partition by partition. Until
/// then nothing is indexed: the records are the only memory it holds, plus at most one part-filled
/// chunk per partition; a sort indexes one partition at a time.
@usableFromInline
struct PartitionedRecords {
    @usableFromInline
    struct Chunk {
        @usableFromInline var base: UnsafeMutableRawPointer?
        @usableFromInline var capacity: Int
        @usableFromInline var used: Int

        @inlinable init(base: UnsafeMutableRawPointer?, capacity: Int) {
            self.base = base
            self.capacity = capacity
            self.used = 0
        }
    }

    @usableFromInline let partitions: Int
    @usableFromInline let chunkSize: Int
    /// Per partition, the chunk being filled (none yet: capacity 0) and its records so far.
    @usableFromInline let current: UnsafeMutablePointer<Chunk>
    @usableFromInline let records: UnsafeMutablePointer<Int>
    /// Per partition, its full chunks in order.
    @usableFromInline var full: [[Chunk]]
    /// Records appended.
    @usableFromInline var count = 0

    @inlinable
    init(partitions: Int, chunkSize: Int) {
        self.partitions = partitions
        self.chunkSize = chunkSize
        self.current = .allocate(capacity: partitions)
        self.current.initialize(repeating: Chunk(base: nil, capacity: 0), count: partitions)
        self.records = .allocate(capacity: partitions)
        self.records.initialize(repeating: 0, count: partitions)
        self.full = Array(repeating: [], count: partitions)
    }

    /// Appends `keyLength key valueLength value` (lengths as varints) to `partition`.
    @inlinable @inline(__always)
    mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, to partition: Int) {
        let needed = RecordFormat.maximumSize(keyCount: key.count, valueCount: value.count)
        let chunk = self.current + partition
        if _slowPath(chunk.pointee.used &+ needed > chunk.pointee.capacity) {
            self.startChunk(partition: partition, needed: needed)
        }
        chunk.pointee.used = RecordFormat.put(key: key, value: value, into: chunk.pointee.base!, at: chunk.pointee.used)
        self.records[partition] &+= 1
        self.count &+= 1
    }

    @usableFromInline
    mutating func startChunk(partition: Int, needed: Int) {
        let chunk = self.current[partition]
        if chunk.capacity > 0 { self.full[partition].append(chunk) }
        let capacity = max(self.chunkSize, needed)
        self.current[partition] = Chunk(base: .allocate(byteCount: capacity, alignment: 16), capacity: capacity)
    }

    /// Writes `partition`'s records, as they came, to the writer's current segment.
    @inlinable
    func write(partition: Int, to writer: SpillWriter) throws {
        for chunk in self.full[partition] {
            try writer.writeEncodedRecords(UnsafeRawBufferPointer(start: chunk.base, count: chunk.used), count: 0)
        }
        let last = self.current[partition]
        try writer.writeEncodedRecords(UnsafeRawBufferPointer(start: last.base, count: last.used), count: 0)
        writer.segmentKeys &+= self.records[partition]
    }

    /// Hands `partition`'s records to `sorter`.
    @inlinable
    func sort(partition: Int, with sorter: inout SpillSorter) throws {
        for chunk in self.full[partition] {
            try sorter.add(UnsafeRawBufferPointer(start: chunk.base, count: chunk.used))
        }
        let last = self.current[partition]
        try sorter.add(UnsafeRawBufferPointer(start: last.base, count: last.used))
    }

    @inlinable
    mutating func deallocate() {
        for p in 0..<self.partitions {
            for chunk in self.full[p] { chunk.base?.deallocate() }
            self.current[p].base?.deallocate()
        }
        self.current.deallocate()
        self.records.deallocate()
        self.full = []
    }
}

/// Puts the records of one spill partition in key order, records with equal keys in the order they
/// were added, and writes them out. Its arrays (32 bytes a record) are kept from one partition to the
/// next: one partition is indexed at a time, a small share of the map side's budget.
@usableFromInline
struct SpillSorter {
    @usableFromInline var records: [UnsafeRawBufferPointer] = []
    @usableFromInline var order: [PrefixEntry] = []

    @inlinable init() {}

    /// Adds the `keyLength key valueLength value` records in `bytes`, which must stay valid until
    /// ``write(to:)``.
    @inlinable
    mutating func add(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        let end = bytes.count
        var position = 0
        while position < end {
            let start = position
            guard let keyLength = RecordFormat.readLength(base, &position, end) else { throw Self.malformed() }
            let key = UnsafeRawBufferPointer(start: base + position, count: keyLength)
            position &+= keyLength
            guard let valueLength = RecordFormat.readLength(base, &position, end) else { throw Self.malformed() }
            position &+= valueLength
            precondition(self.records.count < Int(UInt32.max), "a spill partition holds at most 4 Gi records")
            self.order.append(PrefixEntry(prefix: keyPrefix(key), slot: UInt32(truncatingIfNeeded: self.records.count)))
            self.records.append(UnsafeRawBufferPointer(start: base + start, count: position &- start))
        }
    }

    @usableFromInline
    static func malformed() -> MapReduceError {
        MapReduceError(.protocolViolation, "a buffered map output record is malformed")
    }

    /// Writes the records added so far in key order, and forgets them.
    @inlinable
    mutating func write(to writer: SpillWriter) throws {
        defer {
            self.records.removeAll(keepingCapacity: true)
            self.order.removeAll(keepingCapacity: true)
        }
        let records = self.records
        PrefixSort.sort(&self.order) { lhs, rhs in
            let order = compareBytes(Self.key(of: records[Int(lhs)]), Self.key(of: records[Int(rhs)]))
            return order != 0 ? order < 0 : lhs < rhs
        }
        for entry in self.order {
            try writer.writeEncodedRecords(records[Int(entry.slot)], count: 1)
        }
    }

    /// The key of a record that ``add(_:)`` has read once already.
    @inlinable
    static func key(of record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let base = record.baseAddress else { return record }
        var position = 0
        let length = RecordFormat.readLength(base, &position, record.count) ?? 0
        return UnsafeRawBufferPointer(start: base + position, count: length)
    }
}
