/// The map side of a job with a combiner: one value per distinct key, combined as pairs arrive.
///
/// The table outlives tasks, so keys repeated across a worker's tasks are combined too; it is written out
/// as a spill, partitioned, when it outgrows the memory budget or when the coordinator asks for a flush.
@usableFromInline
final class CombiningSink<C: Combiner> {
    @usableFromInline typealias Value = C.Value

    @usableFromInline let table: KeyTable<Value>
    @usableFromInline let combiner: C

    @usableFromInline
    init(combiner: C) {
        self.table = KeyTable(initialCapacity: 4096)
        self.combiner = combiner
    }

    @usableFromInline var prefetchHint: PrefetchHint { self.table.prefetchHint }
    @usableFromInline var memoryFootprint: Int { self.table.memoryFootprint }
    @usableFromInline var isEmpty: Bool { self.table.count == 0 }

    @inlinable
    func drain(_ batch: EmitBatch<Value>) {
        for i in 0..<batch.count {
            let pending = batch.pending[i]
            let (payload, inserted) = self.table.findOrInsert(
                hash: pending.hash,
                key: batch.keys + Int(pending.offset),
                length: Int(pending.length)
            )
            if inserted {
                payload.initialize(to: batch.values[i])
            } else {
                self.combiner.combine(&payload.pointee, with: batch.values[i])
            }
        }
    }

    /// Writes every key and value to `writer`, partition by partition, then empties the table.
    @inlinable
    func spill<P: Partitioner>(into writer: inout SpillWriter, partitioner: P, partitions: Int) throws {
        let count = self.table.count
        // Counting sort of the entries by partition.
        var partitionOf = [UInt32](repeating: 0, count: count)
        var starts = [Int](repeating: 0, count: partitions + 1)
        for index in 0..<count {
            let partition = partitioner.partition(
                encodedKey: self.table.key(at: index),
                hash: self.table.hash(at: index),
                count: partitions
            )
            partitionOf[index] = UInt32(partition)
            starts[partition + 1] += 1
        }
        for p in 0..<partitions { starts[p + 1] += starts[p] }
        var order = [UInt32](repeating: 0, count: count)
        var next = starts
        for index in 0..<count {
            let p = Int(partitionOf[index])
            order[next[p]] = UInt32(index)
            next[p] += 1
        }
        var encoded = WireWriter(capacity: 64)
        var position = 0
        for p in 0..<partitions {
            while position < starts[p + 1] {
                let index = Int(order[position])
                encoded.removeAll()
                self.table.payload(at: index).pointee.encode(into: &encoded)
                try encoded.bytes.withUnsafeBytes { value in
                    try writer.writeRecord(key: self.table.key(at: index), value: value)
                }
                position += 1
            }
            writer.endPartition()
        }
        self.table.removeAll()
    }
}

/// The map side of a job without a combiner: pairs appended to a buffer per partition.
@usableFromInline
final class BufferingSink<P: Partitioner, Value: WireCodable> {
    @usableFromInline var buffers: [WireWriter]
    @usableFromInline var records: [Int]
    @usableFromInline var bufferedBytes = 0
    @usableFromInline let partitioner: P
    @usableFromInline var scratch = WireWriter(capacity: 64)

    @usableFromInline
    init(partitioner: P, partitions: Int) {
        self.partitioner = partitioner
        self.buffers = Array(repeating: WireWriter(), count: partitions)
        self.records = Array(repeating: 0, count: partitions)
    }

    @usableFromInline var prefetchHint: PrefetchHint { .none }
    @usableFromInline var memoryFootprint: Int { self.bufferedBytes }
    @usableFromInline var isEmpty: Bool { self.bufferedBytes == 0 }

    @inlinable
    func drain(_ batch: EmitBatch<Value>) {
        for i in 0..<batch.count {
            let key = batch.key(at: i)
            let partition = self.partitioner.partition(
                encodedKey: key,
                hash: batch.pending[i].hash,
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
    }

    @usableFromInline
    func spill(into writer: inout SpillWriter) throws {
        for p in 0..<self.buffers.count {
            try writer.writeEncodedRecords(self.buffers[p].bytes, count: self.records[p])
            writer.endPartition()
            self.buffers[p].removeAll()
            self.records[p] = 0
        }
        self.bufferedBytes = 0
    }
}
