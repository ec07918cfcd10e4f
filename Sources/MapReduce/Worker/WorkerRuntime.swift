/// The job-specific half of a worker process: map, flush and reduce for one job type.
///
/// Everything here is `@inlinable` so that it is compiled again, specialised, in the module that registers
/// the job (see ``JobRegistry/register(_:)``): the mapper, the emitter, the combining table and the reducer
/// then run as concrete code, with no generic dispatch in the loops.
@usableFromInline
final class WorkerRuntime<J: MapReduceJob> {
    @usableFromInline let job: J
    @usableFromInline var mapper: J.JobMapper
    @usableFromInline let combiner: J.JobCombiner?
    @usableFromInline let spills: SpillConfiguration<J.JobPartitioner>
    @usableFromInline let combining: CombiningSink<J.JobCombiner, J.JobPartitioner>?
    @usableFromInline let buffering: BufferingSink<J.JobPartitioner, J.Value>?
    @usableFromInline var emitter: Emitter<J.Key, J.Value>
    @usableFromInline var currentFile: MappedFile?
    @usableFromInline var reducer: J.JobReducer?
    /// The start of the last long line a piece was mapped from (see ``recordStart(in:before:)``).
    @usableFromInline var lineStartCache: LineStartCache?

    @inlinable
    init(job: J, hello: WorkerHello, processID: Int) throws {
        self.job = job
        let mapper = try job.makeMapper()
        self.mapper = mapper
        self.combiner = job.makeCombiner()
        self.spills = SpillConfiguration(
            partitioner: job.partitioner,
            partitions: max(1, hello.partitions),
            memoryBudget: max(1 << 20, hello.memoryBudget),
            keepsKey: { mapper.keepsKey(RawSpan(_unsafeBytes: $0)) },
            namer: WorkFileNamer(directory: hello.workDirectory, workerIndex: hello.workerIndex, processID: processID)
        )
        let target: EmitTarget<J.Value>
        if let combiner = self.combiner {
            let sink = CombiningSink(combiner: combiner, configuration: self.spills)
            self.combining = sink
            self.buffering = nil
            target = EmitTarget(drain: { sink.drain($0) }, prefetchHint: { sink.prefetchHint })
        } else {
            let sink = BufferingSink<J.JobPartitioner, J.Value>(configuration: self.spills)
            self.combining = nil
            self.buffering = sink
            target = EmitTarget(drain: { sink.drain($0) }, prefetchHint: { .none })
        }
        // A quarter of the budget: the combining table can then always make room for a key it accepts.
        self.emitter = Emitter(target: target, maximumKeyBytes: self.spills.memoryBudget / 4)
    }

    /// The handler the serve loop calls; its closures are formed here, where `J` is concrete.
    @inlinable
    static func makeHandler(job: J, hello: WorkerHello, processID: Int) throws -> WorkerJobHandler {
        let runtime = try WorkerRuntime(job: job, hello: hello, processID: processID)
        return WorkerJobHandler(
            map: { try runtime.runMap($0) },
            flush: { try runtime.flush() },
            reduce: { try runtime.runReduce($0) }
        )
    }

    // MARK: - Map

    @inlinable
    func runMap(_ task: MapTask) throws -> MapTaskReport {
        let started = monotonicNanoseconds()
        let emittedBefore = self.emitter.emittedCount
        var bytes = 0
        var lines = 0
        for split in task.splits {
            let file = try self.mappedFile(for: split)
            let whole = file.bytes
            // The split owns the lines that start inside it; the last one may run past its end. A mapper
            // that lets records be cut also owns the pieces of long lines that start inside it.
            guard
                let (start, end, midRecord) = LineScanner.mappedRange(
                    whole,
                    start: split.start,
                    end: split.end,
                    cut: J.JobMapper.recordCutByte
                )
            else { continue }
            let recordStart = midRecord ? self.recordStart(in: file, before: start) : nil
            FaultInjection.beforeMapping(split.displayName, path: split.path)
            file.willNeed(start..<end)
            // One pass at memory speed, before the mapper's: it takes the page faults the mapper would.
            lines += LineScanner.lineStarts(in: whole, start: start, end: end, midRecord: midRecord)
            let block = UnsafeRawBufferPointer(rebasing: whole[start..<end])
            let origin = InputOrigin(path: split.displayName, offset: start)
            do {
                if let recordStart {
                    try self.mapper.map(
                        piece: RawSpan(_unsafeBytes: block),
                        after: RawSpan(_unsafeBytes: UnsafeRawBufferPointer(rebasing: whole[recordStart..<start])),
                        at: origin,
                        into: &self.emitter
                    )
                } else {
                    try self.mapper.map(lines: RawSpan(_unsafeBytes: block), at: origin, into: &self.emitter)
                }
                if let length = self.emitter.takeOversizedKeyLength() {
                    throw MapReduceError.keyTooLong(
                        length,
                        limit: self.emitter.maximumKeyBytes,
                        input: origin.description
                    )
                }
            } catch {
                throw MapReduceError.mapperThrew(error, at: origin)
            }
            // What was read must be what the job started with: check again now the split is read.
            try file.checkUnchanged()
            bytes += end - start
        }
        self.emitter.drain()
        // Spills in a report commit every task this worker has done so far, this one included. If the
        // table overflowed during this task, part of the task is still in memory: write it out too.
        if !self.spills.unreported.isEmpty { try self.spillTable() }
        let counters = try self.takeCounters(records: lines, job: self.emitter.takeCounters())
        return MapTaskReport(
            taskID: task.id,
            bytes: bytes,
            records: self.emitter.emittedCount - emittedBefore,
            elapsedNanoseconds: monotonicNanoseconds() - started,
            spills: try self.spills.takeSpills(),
            counters: counters
        )
    }

    /// The counters to report: the task's, and the keys filtered since the last report.
    /// - Throws: When the job used more counter names, or longer ones, than a report carries.
    @usableFromInline
    func takeCounters(records: Int, job: [String: Int]) throws -> TaskCounters {
        let counters = TaskCounters(records: records, keysFiltered: self.spills.keysFiltered, job: job)
        self.spills.keysFiltered = 0
        if let violation = counters.limitViolation { throw MapReduceError(.jobFailed, violation) }
        return counters
    }

    /// Where the line holding `position` starts. Pieces of one long line come one after another, so
    /// the answer is remembered with how far it is known to hold: each byte of a line is looked at
    /// once per worker, however many pieces the line is cut into.
    @inlinable
    func recordStart(in file: MappedFile, before position: Int) -> Int {
        var floor = 0
        var known = 0
        if let cached = self.lineStartCache, cached.path == file.path, cached.lineStart <= position {
            if position <= cached.checkedTo { return cached.lineStart }
            floor = cached.checkedTo
            known = cached.lineStart
        }
        let found = LineScanner.lineStart(before: position, in: file.bytes, floor: floor)
        let lineStart = found > floor ? found : known
        self.lineStartCache = LineStartCache(path: file.path, lineStart: lineStart, checkedTo: position)
        return lineStart
    }

    @inlinable
    func mappedFile(for split: InputSplit) throws -> MappedFile {
        if let file = self.currentFile, file.inputPath == split.path {
            try file.checkUnchanged()
            return file
        }
        self.currentFile = nil
        let file = try MappedFile(input: split)
        self.currentFile = file
        return file
    }

    /// Writes out everything mapped so far, and gives the map side's memory back for the reduce phase.
    @inlinable
    func flush() throws -> ([Spill], TaskCounters) {
        self.currentFile = nil
        self.emitter.drain()
        try self.spillTable(last: true)
        self.combining?.releaseMemory()
        let spills = try self.spills.takeSpills()
        return (spills, try self.takeCounters(records: 0, job: self.emitter.takeCounters()))
    }

    /// Writes whatever the map side holds to a spill; `last` when the map side's memory goes next.
    @inlinable
    func spillTable(last: Bool = false) throws {
        if let combining = self.combining {
            try combining.spill(last: last)
        } else if let buffering = self.buffering {
            try buffering.spill(last: last)
        }
    }

    // MARK: - Reduce

    /// Runs a reduce task: by merging when its spills are sorted, by hashing otherwise.
    @inlinable
    func runReduce(_ task: ReduceTask) throws -> ReduceTaskReport {
        if self.reducer == nil {
            // The map phase is over. A worker whose last task ended with a spill was never asked to flush:
            // its emptied table still holds the memory it grew to, which a reduce task needs now.
            self.currentFile = nil
            self.combining?.releaseMemory()
            self.reducer = try self.job.makeReducer()
        }
        let started = monotonicNanoseconds()
        let runPath = self.spills.namer.next("run")
        // A run has the spills' record format: one segment, sorted by key.
        let run = try SpillWriter(path: runPath)
        let keys =
            task.sortedInputs
            ? try self.mergeReduce(SortedSegments(task.inputs), into: run) : try self.hashReduce(task, into: run)
        _ = try run.finish()
        return ReduceTaskReport(
            taskID: task.id,
            runPath: runPath,
            keys: keys,
            inputBytes: task.inputs.reduce(0) { $0 + $1.length },
            elapsedNanoseconds: monotonicNanoseconds() - started
        )
    }

    /// Merges sorted segments into the run: each key's values are combined (or gathered) as they come,
    /// reduced, and written in key order. Nothing is hashed or sorted, and memory does not grow with the
    /// task's keys. Returns the keys written.
    @inlinable
    func mergeReduce(_ segments: SortedSegments, into run: SpillWriter) throws -> Int {
        var encoded = WireWriter(capacity: 64)
        var keys = 0
        var list: [J.Value] = []
        while let key = segments.nextKey() {
            let values: ReduceValues<J.Value>
            if let combiner = self.combiner {
                var value = try segments.value(as: J.Value.self)
                while try segments.nextValue() {
                    combiner.combine(&value, with: try segments.value(as: J.Value.self))
                }
                values = ReduceValues(one: value)
            } else {
                list.removeAll(keepingCapacity: true)
                list.append(try segments.value(as: J.Value.self))
                while try segments.nextValue() {
                    list.append(try segments.value(as: J.Value.self))
                }
                values = ReduceValues(list)
            }
            try self.reduce(key, values, into: run, scratch: &encoded)
            keys += 1
        }
        return keys
    }

    /// Reduces one key and appends its output to the run.
    @inlinable
    func reduce(
        _ key: UnsafeRawBufferPointer,
        _ values: ReduceValues<J.Value>,
        into run: SpillWriter,
        scratch encoded: inout WireWriter
    ) throws {
        let output: J.Output
        do {
            output = try self.reducer!.reduce(encodedKey: RawSpan(_unsafeBytes: key), values: values)
        } catch let error as MapReduceError {
            throw error
        } catch {
            throw MapReduceError(.jobFailed, "the reducer threw: \(error)", underlying: error)
        }
        encoded.removeAll()
        output.encode(into: &encoded)
        try encoded.bytes.withUnsafeBytes { try run.writeRecord(key: key, value: $0) }
    }

    /// Groups the task's records by key in a hash table, then reduces the keys in sorted order: for
    /// spills written unsorted, under memory pressure. Many of them, each small, would make a merge
    /// play a match per level of a tree thousands of streams wide for every record; a table of one
    /// task's keys stays in cache instead.
    ///
    /// The table stays within the worker's memory budget, sorting included: when it would outgrow it,
    /// its keys go, sorted and combined, to a partial run on disk, and the table starts again. A task
    /// that wrote partial runs ends with a merge of them: one stream per budget's worth of its keys,
    /// not one per spill (a merge's memory does not grow with its width; only its time does). Returns
    /// the keys written.
    @inlinable
    func hashReduce(_ task: ReduceTask, into run: SpillWriter) throws -> Int {
        let budget = self.spills.memoryBudget
        // The estimate counts a key once per spill that holds it: a generous upper bound, so start
        // smaller and let the table grow.
        var grouping = ReduceGrouping<J.Value>(
            expectedKeys: min(task.estimatedKeys, 1 << 16, budget >> 7),
            combining: self.combiner != nil
        )
        var partials: [ReduceTask.Input] = []
        defer { removeWorkFiles(partials.map(\.path)) }
        // The heap the combined values own (``Combiner/heapBytes(of:)``), which counts toward the budget
        // as on the map side; always 0, and its checks compiled away, for values without heap.
        var valueHeap = 0
        for input in task.inputs where input.length > 0 {
            // Mapped, not read: the page cache holds the segments, not the worker's memory.
            let file = try MappedFile(intermediate: input.path)
            guard input.offset >= 0, input.length <= file.bytes.count - input.offset else {
                throw MapReduceError(.io, "a spill is shorter than recorded", input: input.path)
            }
            var records = WireReader(
                UnsafeRawBufferPointer(rebasing: file.bytes[input.offset..<(input.offset + input.length)])
            )
            while !records.isAtEnd {
                let key = try records.readLengthPrefixedBytes()
                let value = try records.readLengthPrefixed(J.Value.self)
                if _slowPath(!grouping.hasRoom(forKeyBytes: key.count)), grouping.count > 0,
                    grouping.peakFootprint(afterRoomForKeyBytes: key.count) &+ valueHeap > budget
                {
                    partials.append(try self.writePartialRun(grouping))
                    grouping.removeAll()
                    valueHeap = 0
                }
                let grown = grouping.add(key: key, value: value, combiner: self.combiner)
                if grown != 0 {
                    valueHeap &+= grown
                    if valueHeap
                        > combinedHeapLimit(
                            budget: budget,
                            besideTable: grouping.peakFootprint(afterRoomForKeyBytes: 0)
                        )
                    {
                        partials.append(try self.writePartialRun(grouping))
                        grouping.removeAll()
                        valueHeap = 0
                    }
                }
            }
        }
        guard !partials.isEmpty else { return try self.reduceGrouped(grouping, into: run) }
        partials.append(try self.writePartialRun(grouping))
        // The table's memory goes back before the merge.
        grouping = ReduceGrouping(expectedKeys: 0, combining: self.combiner != nil)
        return try self.mergeReduce(SortedSegments(partials), into: run)
    }

    /// Reduces the grouped keys in key order into the run; returns the keys written.
    @inlinable
    func reduceGrouped(_ grouping: ReduceGrouping<J.Value>, into run: SpillWriter) throws -> Int {
        var encoded = WireWriter(capacity: 64)
        let order = grouping.sortedSlots()
        for (index, slot) in order.enumerated() {
            grouping.prefetch(ahead: index, in: order)
            let slot = Int(slot)
            try self.reduce(grouping.key(atSlot: slot), grouping.values(atSlot: slot), into: run, scratch: &encoded)
        }
        return order.count
    }

    /// Writes the grouped keys, in key order and not yet reduced, to a partial run: one sorted segment
    /// of records in the spills' format (a key's values one record each when there is no combiner).
    @inlinable
    func writePartialRun(_ grouping: ReduceGrouping<J.Value>) throws -> ReduceTask.Input {
        let writer = try SpillWriter(path: self.spills.namer.next("partial"), capacity: 256 << 10)
        var encoded = WireWriter(capacity: 64)
        let order = grouping.sortedSlots()
        for (index, slot) in order.enumerated() {
            grouping.prefetch(ahead: index, in: order)
            let slot = Int(slot)
            let key = grouping.key(atSlot: slot)
            for value in grouping.values(atSlot: slot) {
                encoded.removeAll()
                value.encode(into: &encoded)
                try encoded.bytes.withUnsafeBytes { try writer.writeRecord(key: key, value: $0) }
            }
        }
        writer.endPartition()
        let spill = try writer.finish(sorted: true)
        return ReduceTask.Input(path: spill.path, offset: 0, segmentLengths: spill.segments.map(\.length))
    }
}

/// Where a line of a file starts, and the last position it is known to hold for: no line ends in
/// `lineStart..<checkedTo`.
@usableFromInline
struct LineStartCache {
    @usableFromInline let path: String
    @usableFromInline let lineStart: Int
    @usableFromInline let checkedTo: Int

    @usableFromInline init(path: String, lineStart: Int, checkedTo: Int) {
        self.path = path
        self.lineStart = lineStart
        self.checkedTo = checkedTo
    }
}

/// The closures a worker's serve loop calls for its job.
@usableFromInline
struct WorkerJobHandler {
    @usableFromInline let map: (MapTask) throws -> MapTaskReport
    @usableFromInline let flush: () throws -> ([Spill], TaskCounters)
    @usableFromInline let reduce: (ReduceTask) throws -> ReduceTaskReport

    @usableFromInline
    init(
        map: @escaping (MapTask) throws -> MapTaskReport,
        flush: @escaping () throws -> ([Spill], TaskCounters),
        reduce: @escaping (ReduceTask) throws -> ReduceTaskReport
    ) {
        self.map = map
        self.flush = flush
        self.reduce = reduce
    }

    /// Runs one request; an error becomes a `taskFailed` reply naming the task's input. Returns nil for
    /// messages that are not tasks (hello, shutdown).
    func handle(_ message: CoordinatorMessage) -> WorkerMessage? {
        switch message {
        case .hello, .shutdown:
            return nil
        case .map(let task):
            return Self.catching(taskID: task.id, input: task.firstInput) { .mapDone(try self.map(task)) }
        case .flush:
            return Self.catching(taskID: 0, input: nil) {
                let (spills, counters) = try self.flush()
                return .flushed(spills, counters)
            }
        case .reduce(let task):
            return Self.catching(taskID: task.id, input: nil) { .reduceDone(try self.reduce(task)) }
        }
    }

    static func catching(taskID: Int, input: String?, _ body: () throws -> WorkerMessage) -> WorkerMessage {
        do {
            return try body()
        } catch var error as MapReduceError {
            if error.input == nil { error.input = input }
            return .taskFailed(TaskFailure(taskID: taskID, error: error))
        } catch {
            return .taskFailed(TaskFailure(taskID: taskID, error: MapReduceError(.jobFailed, "\(error)", input: input)))
        }
    }
}

/// Groups the values of a reduce task by key: combined into one value, or chained into a list.
@usableFromInline
struct ReduceGrouping<Value: WireCodable> {
    /// With a combiner: each key's combined value.
    @usableFromInline let combined: KeyTable<Value>
    /// Without a combiner: each key's last value, an index into `values`, which chains to the others.
    @usableFromInline let lists: KeyTable<Int32>
    @usableFromInline var values: [Value] = []
    @usableFromInline var previousValue: [Int32] = []
    @usableFromInline let combining: Bool

    @usableFromInline
    init(expectedKeys: Int, combining: Bool) {
        let capacity = min(max(expectedKeys, 1024), 1 << 22)
        self.combining = combining
        self.combined = KeyTable(initialCapacity: combining ? capacity : 16)
        self.lists = KeyTable(initialCapacity: combining ? 16 : capacity)
    }

    /// Adds one record; returns by how much the combined values' heap grew (``Combiner/heapBytes(of:)``).
    @inlinable
    mutating func add<C: Combiner>(key: UnsafeRawBufferPointer, value: Value, combiner: C?) -> Int
    where C.Value == Value {
        let base = key.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        let (first, second, hash) = KeyWords.summary(of: base, length: key.count)
        if let combiner {
            let (payload, inserted) = self.combined.findOrInsert(
                hash: hash,
                first: first,
                second: second,
                key: base,
                length: key.count
            )
            return combiner.absorb(value, into: payload, inserted: inserted)
        } else {
            let (payload, inserted) = self.lists.findOrInsert(
                hash: hash,
                first: first,
                second: second,
                key: base,
                length: key.count
            )
            self.previousValue.append(inserted ? -1 : payload.pointee)
            if inserted {
                payload.initialize(to: Int32(self.values.count))
            } else {
                payload.pointee = Int32(self.values.count)
            }
            self.values.append(value)
            return 0
        }
    }

    /// Keys grouped so far.
    @inlinable var count: Int { self.combining ? self.combined.count : self.lists.count }

    /// Whether one more record with a key of `length` bytes fits without growing anything.
    @inlinable @inline(__always)
    func hasRoom(forKeyBytes length: Int) -> Bool {
        if self.combining { return self.combined.hasRoom(forKeyBytes: length) }
        return self.lists.hasRoom(forKeyBytes: length) && self.values.count < self.values.capacity
    }

    /// The most memory the grouping holds, once it has made room for one more record with a key of
    /// `length` bytes, up to the end of sorting its keys: the table, the value lists, and the sort's
    /// arrays (36 bytes a key: ``PrefixSort``'s entries, its scratch copy, and the slot order).
    @inlinable
    func peakFootprint(afterRoomForKeyBytes length: Int) -> Int {
        let sortBytesPerKey = 36
        if self.combining {
            return self.combined.footprintAfterRoom(forKeyBytes: length) + self.combined.countLimitAfterRoom
                * sortBytesPerKey
        }
        let listBytes = max(self.values.capacity, 2 * (self.values.count + 1)) * (MemoryLayout<Value>.stride + 4)
        return self.lists.footprintAfterRoom(forKeyBytes: length) + self.lists.countLimitAfterRoom * sortBytesPerKey
            + listBytes
    }

    /// Forgets every key and value, keeping the memory for the next round.
    @inlinable
    mutating func removeAll() {
        if self.combining {
            self.combined.removeAll()
        } else {
            self.lists.removeAll()
            self.values.removeAll(keepingCapacity: true)
            self.previousValue.removeAll(keepingCapacity: true)
        }
    }

    /// Slots in key order.
    @inlinable
    func sortedSlots() -> [UInt32] {
        self.combining ? self.combined.sortedSlots() : self.lists.sortedSlots()
    }

    /// See ``KeyTable/prefetch(ahead:in:)``.
    @inlinable @inline(__always)
    func prefetch(ahead index: Int, in order: [UInt32]) {
        if self.combining {
            self.combined.prefetch(ahead: index, in: order)
        } else {
            self.lists.prefetch(ahead: index, in: order)
        }
    }

    /// The key bytes in slot `slot`.
    @inlinable
    func key(atSlot slot: Int) -> UnsafeRawBufferPointer {
        self.combining ? self.combined.key(atSlot: slot) : self.lists.key(atSlot: slot)
    }

    /// The values in slot `slot`: the combined one, or every value, newest first.
    @inlinable
    func values(atSlot slot: Int) -> ReduceValues<Value> {
        if self.combining { return ReduceValues(one: self.combined.payload(atSlot: slot).pointee) }
        var list: [Value] = []
        var cursor = self.lists.payload(atSlot: slot).pointee
        while cursor >= 0 {
            list.append(self.values[Int(cursor)])
            cursor = self.previousValue[Int(cursor)]
        }
        return ReduceValues(list)
    }
}
