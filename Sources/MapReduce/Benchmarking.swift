/// Entry points into the engine's internals for the micro-benchmarks in `Benchmarks/` (a separate
/// package, so only public declarations reach it). Not part of the engine's API: the names and
/// signatures may change with the benchmarks.
@_spi(Benchmarks)
public enum EngineBenchmarks {
    /// Runs a job's mapper and combiner over `bytes` in this process, as one worker's map side does
    /// (emitter, batch, combining table), without spilling; returns the number of distinct keys.
    @inlinable
    public static func map<J: MapReduceJob>(_ job: J, lines bytes: UnsafeRawBufferPointer) throws -> Int {
        var mapper = try job.makeMapper()
        guard let combiner = job.makeCombiner() else { return 0 }
        let configuration = SpillConfiguration(
            partitioner: job.partitioner,
            partitions: 64,
            memoryBudget: Int.max,
            keepsKey: { [mapper] in mapper.keepsKey(RawSpan(_unsafeBytes: $0)) },
            namer: WorkFileNamer(directory: "/nonexistent", workerIndex: 0, processID: 0)
        )
        let sink = CombiningSink(combiner: combiner, configuration: configuration)
        var emitter = Emitter<J.Key, J.Value>(
            target: EmitTarget(drain: { sink.drain($0) }, prefetchHint: { sink.prefetchHint })
        )
        try mapper.map(
            lines: RawSpan(_unsafeBytes: bytes),
            at: InputOrigin(path: "<memory>", offset: 0),
            into: &emitter
        )
        emitter.drain()
        return sink.table.count
    }

    /// Counts `keys` into a combining table, `rounds` times over; returns the distinct keys.
    public static func combine(keys: [[UInt8]], rounds: Int) -> Int {
        let table = KeyTable<Int>(initialCapacity: 1024)
        for _ in 0..<rounds {
            for key in keys {
                key.withUnsafeBytes { raw in
                    let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
                    let (first, second, hash) = KeyWords.summary(of: base, length: raw.count)
                    let (payload, inserted) = table.findOrInsert(
                        hash: hash,
                        first: first,
                        second: second,
                        key: base,
                        length: raw.count
                    )
                    if inserted { payload.initialize(to: 1) } else { payload.pointee += 1 }
                }
            }
        }
        return table.count
    }

    /// Encodes and decodes `count` map-task and map-report frames; returns the bytes that went through.
    public static func roundTripFrames(count: Int, splitsPerTask: Int) throws -> Int {
        let splits = (0..<splitsPerTask).map {
            InputSplit(
                path: Array("/data/input-\($0).txt".utf8),
                fileSize: 1 << 20,
                start: 0,
                end: 1 << 20
            )
        }
        var bytes = 0
        for id in 0..<count {
            let task = CoordinatorMessage.map(MapTask(id: id, splits: splits)).frame
            bytes += task.payload.count
            _ = try CoordinatorMessage(frame: task)
            let report = WorkerMessage.mapDone(
                MapTaskReport(taskID: id, bytes: 1 << 20, records: 1000, elapsedNanoseconds: 1_000_000, spills: [])
            ).frame
            bytes += report.payload.count
            _ = try WorkerMessage(frame: report)
        }
        return bytes
    }

    /// Encodes `values` with the wire codec and decodes them back; returns their encoded size.
    public static func roundTripRecords(_ values: [Int]) throws -> Int {
        var writer = WireWriter(capacity: values.count * 4)
        for value in values { writer.writeLengthPrefixed(value) }
        return try writer.bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            var sum = 0
            while !reader.isAtEnd { sum &+= try reader.readLengthPrefixed(Int.self) }
            return sum &+ raw.count
        }
    }

    /// The map task sizes the chunk-size tuner hands out for an input of `totalBytes` read by `slots`
    /// slots at `bytesPerSecond` each.
    public static func tunerDecisions(
        totalBytes: Int,
        slots: Int,
        bytesPerSecond: Double,
        setting: ChunkSize = .auto
    ) -> [Int] {
        var tuner = MapChunkTuner(setting: setting, slots: slots, totalBytes: totalBytes)
        var remaining = totalBytes
        var chunks: [Int] = []
        while remaining > 0 {
            let chunk = min(tuner.nextChunk(remaining: remaining), remaining)
            chunks.append(chunk)
            remaining -= chunk
            tuner.record(bytes: chunk, nanoseconds: Int(Double(chunk) / bytesPerSecond * 1e9))
        }
        return chunks
    }
}
