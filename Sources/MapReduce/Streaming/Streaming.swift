/// Runs a job's map, combine and reduce steps under the streaming contract of Hadoop Streaming, Spark's
/// `pipe` and Unix pipelines: each step is a process that reads lines on standard input and writes lines
/// on standard output, and the engine around it (Hadoop, Spark, `sort`) moves and sorts the lines.
///
/// ```sh
/// cat books/*.txt | mapreduce streaming map wordcount | LC_ALL=C sort | mapreduce streaming reduce wordcount
/// ```
///
/// - ``map(_:input:output:options:)`` reads text, records exactly as in local mode (lines under
///   universal newlines), and writes one `KEY<TAB>VALUE` line per key: pairs are combined in memory with
///   the job's combiner (in-mapper combining), and written out, sorted by key, whenever the table
///   reaches its memory budget and at the end.
/// - ``combine(_:input:output:options:)`` reads `KEY<TAB>VALUE` lines in any order and combines each run
///   of lines with equal keys: fully combined when the input is grouped (a sorted spill, as Hadoop gives
///   a combiner), order kept, constant memory.
/// - ``reduce(_:input:output:options:)`` reads `KEY<TAB>VALUE` lines **sorted by key** (byte order of the
///   key's text, which is what `LC_ALL=C sort`, Hadoop's shuffle and Spark SQL's string order give) and
///   writes `KEY<TAB>OUTPUT` lines, the job's `--output` dump. It checks the order against the previous
///   key only: input that is not sorted is an error naming the line, never a wrong answer.
///
/// Keys and values are written as ``StreamingTextCodable`` text: escaped bytes (``StreamingText``),
/// decimal numbers. A line may end with `\r\n`.
public enum Streaming {
    /// Limits of a streaming step.
    public struct Options: Sendable {
        /// What the map step's combining table and the reduce step's values of one key may hold.
        public var memoryBudget: Int
        /// The longest input line accepted, in bytes, not counting its terminator (`\n`, `\r\n`, or for the
        /// map step also a lone `\r`): a line of exactly this length is accepted, one byte more is an error.
        public var maximumRecordBytes: Int
        /// What errors call the input.
        public var inputName: String
        /// Whether a step that fails reads and discards the rest of its input before it throws
        /// (``Streaming/drainInput(_:)``), so that its writer never sees a broken pipe; true by default.
        /// Set it to false to print the error first, then call ``Streaming/drainInput(_:)``.
        public var drainsInputOnError = true

        /// Creates options.
        /// - Parameters:
        ///   - memoryBudget: Bytes for the combining table (at least 1 MiB); a key may use a quarter.
        ///   - maximumRecordBytes: The longest line accepted, in bytes.
        ///   - inputName: What errors call the input.
        public init(memoryBudget: Int = 24 << 20, maximumRecordBytes: Int = 64 << 20, inputName: String = "<stdin>") {
            self.memoryBudget = max(1 << 20, memoryBudget)
            self.maximumRecordBytes = max(1, maximumRecordBytes)
            self.inputName = inputName
        }
    }

    /// The map step: text in, one `KEY<TAB>VALUE` line per key (per flush of the combining table) out.
    /// - Parameters:
    ///   - job: The job.
    ///   - input: The descriptor to read, standard input by default; not closed.
    ///   - output: The descriptor to write, standard output by default; closed when the step returns or
    ///     throws, so the caller must not close it again.
    ///   - options: Limits.
    /// - Throws: ``MapReduceError``: what the mapper throws (with the input offset), an oversized key or
    ///   line, a failed read or write; after draining the input (``Options/drainsInputOnError``).
    @inlinable
    public static func map<J: MapReduceJob>(
        _ job: J,
        input: CInt = STDIN_FILENO,
        output: CInt = STDOUT_FILENO,
        options: Options = Options()
    ) throws where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
        try Self.runStep(input: input, output: output, options: options) { writer in
            try Self.runMap(job, input: input, writer: writer, options: options)
        }
    }

    @inlinable
    static func runMap<J: MapReduceJob>(
        _ job: J,
        input: CInt,
        writer: BufferedFileWriter,
        options: Options
    ) throws where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
        let reader = StreamingInput(
            descriptor: input,
            name: options.inputName,
            maximumRecordBytes: options.maximumRecordBytes
        )
        var mapper = try job.makeMapper()
        let side = StreamingMapSide<J>(
            combiner: job.makeCombiner(),
            keepsKey: { [mapper] in mapper.keepsKey(RawSpan(_unsafeBytes: $0)) },
            writer: writer,
            memoryBudget: options.memoryBudget
        )
        var emitter = Emitter<J.Key, J.Value>(
            target: EmitTarget(drain: { side.drain($0) }, prefetchHint: { side.prefetchHint }),
            maximumKeyBytes: options.memoryBudget / 4
        )
        while let (lines, offset) = try reader.nextBlock() {
            let origin = InputOrigin(path: options.inputName, offset: offset)
            do {
                try mapper.map(lines: RawSpan(_unsafeBytes: lines), at: origin, into: &emitter)
            } catch {
                throw MapReduceError.mapperThrew(error, at: origin)
            }
            if let length = emitter.takeOversizedKeyLength() {
                throw MapReduceError.keyTooLong(length, limit: emitter.maximumKeyBytes, input: origin.description)
            }
            try side.takeError()
        }
        emitter.drain()
        try side.takeError()
        try side.writeTable()
        try writer.close()
    }

    /// The combine step: `KEY<TAB>VALUE` lines in, each run of equal keys combined into one line, in the
    /// same order. A job without a combiner passes every pair through unchanged (after checking it).
    /// - Parameters: As for ``map(_:input:output:options:)``.
    /// - Throws: ``MapReduceError`` for a malformed line or a failed read or write; after draining the
    ///   input (``Options/drainsInputOnError``).
    @inlinable
    public static func combine<J: MapReduceJob>(
        _ job: J,
        input: CInt = STDIN_FILENO,
        output: CInt = STDOUT_FILENO,
        options: Options = Options()
    ) throws where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
        try Self.runStep(input: input, output: output, options: options) { writer in
            try Self.runCombine(job, input: input, writer: writer, options: options)
        }
    }

    @inlinable
    static func runCombine<J: MapReduceJob>(
        _ job: J,
        input: CInt,
        writer: BufferedFileWriter,
        options: Options
    ) throws where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
        let combiner = job.makeCombiner()
        try StreamingGroups<J>.run(input: input, writer: writer, options: options, requiresSortedKeys: false) {
            keyText,
            values,
            line in
            if let combiner {
                var accumulated = values[0]
                for value in values.dropFirst() { combiner.combine(&accumulated, with: value) }
                Self.appendLine(keyText, accumulated, to: &line)
            } else {
                for value in values { Self.appendLine(keyText, value, to: &line) }
            }
        }
    }

    /// The reduce step: `KEY<TAB>VALUE` lines sorted by key in, one `KEY<TAB>OUTPUT` line per key out.
    /// - Parameters: As for ``map(_:input:output:options:)``.
    /// - Throws: ``MapReduceError`` for a malformed or out-of-order line, what the reducer throws, or a
    ///   failed read or write; after draining the input (``Options/drainsInputOnError``).
    @inlinable
    public static func reduce<J: MapReduceJob>(
        _ job: J,
        input: CInt = STDIN_FILENO,
        output: CInt = STDOUT_FILENO,
        options: Options = Options()
    ) throws
    where
        J.JobMapper.Key: StreamingTextCodable,
        J.JobMapper.Value: StreamingTextCodable,
        J.JobReducer.Output: StreamingTextCodable
    {
        try Self.runStep(input: input, output: output, options: options) { writer in
            try Self.runReduce(job, input: input, writer: writer, options: options)
        }
    }

    @inlinable
    static func runReduce<J: MapReduceJob>(
        _ job: J,
        input: CInt,
        writer: BufferedFileWriter,
        options: Options
    ) throws
    where
        J.JobMapper.Key: StreamingTextCodable,
        J.JobMapper.Value: StreamingTextCodable,
        J.JobReducer.Output: StreamingTextCodable
    {
        let combiner = job.makeCombiner()
        var reducer = try job.makeReducer()
        var encodedKey = WireWriter(capacity: 64)
        try StreamingGroups<J>.run(input: input, writer: writer, options: options, requiresSortedKeys: true) {
            keyText,
            values,
            line in
            encodedKey.removeAll()
            try J.Key.encode(streamingText: keyText, into: &encodedKey)
            let reduceValues: ReduceValues<J.Value>
            if let combiner {
                var accumulated = values[0]
                for value in values.dropFirst() { combiner.combine(&accumulated, with: value) }
                reduceValues = ReduceValues(one: accumulated)
            } else {
                reduceValues = ReduceValues(values)
            }
            let result = try encodedKey.bytes.withUnsafeBytes {
                try reducer.reduce(encodedKey: RawSpan(_unsafeBytes: $0), values: reduceValues)
            }
            Self.appendLine(keyText, result, to: &line)
        }
    }

    @inlinable
    static func appendLine(
        _ keyText: UnsafeRawBufferPointer,
        _ value: some StreamingTextCodable,
        to line: inout [UInt8]
    ) {
        line.append(contentsOf: keyText)
        line.append(0x09)
        value.writeStreamingText(into: &line)
        line.append(0x0A)
    }
}

/// The map step's sink: a combining table that is written out as text when it is full and at the end,
/// or, for a job without a combiner, each pair written as it comes.
@usableFromInline
final class StreamingMapSide<J: MapReduceJob>
where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
    @usableFromInline let combiner: J.JobCombiner?
    @usableFromInline let table: KeyTable<J.Value>
    @usableFromInline let keepsKey: (UnsafeRawBufferPointer) -> Bool
    @usableFromInline let writer: BufferedFileWriter
    @usableFromInline let memoryBudget: Int
    /// The heap the table's values own (``Combiner/heapBytes(of:)``), which counts toward the budget with
    /// the slots and keys, as in a worker's map side.
    @usableFromInline var valueHeapBytes = 0
    @usableFromInline var line: [UInt8] = []
    /// The first error of a write made while draining, which cannot throw; ``takeError()`` rethrows it.
    @usableFromInline var pendingError: (any Error)?

    @usableFromInline
    init(
        combiner: J.JobCombiner?,
        keepsKey: @escaping (UnsafeRawBufferPointer) -> Bool,
        writer: BufferedFileWriter,
        memoryBudget: Int
    ) {
        self.combiner = combiner
        self.table = KeyTable(initialCapacity: combiner == nil ? 16 : 4096)
        self.keepsKey = keepsKey
        self.writer = writer
        self.memoryBudget = memoryBudget
        self.line.reserveCapacity(256)
    }

    @usableFromInline var prefetchHint: PrefetchHint { self.combiner == nil ? .none : self.table.prefetchHint }

    @inlinable
    func drain(_ batch: EmitBatch<J.Value>) {
        guard self.pendingError == nil else { return }
        do {
            guard let combiner = self.combiner else {
                for i in 0..<batch.count where !batch.pending[i].isDropped {
                    try self.write(key: batch.key(at: i), value: batch.values[i])
                }
                return
            }
            for i in 0..<batch.count {
                let pending = batch.pending[i]
                if pending.isDropped { continue }
                let length = Int(pending.length)
                if _slowPath(!self.table.hasRoom(forKeyBytes: length)) && self.table.count > 0
                    && self.table.footprintAfterRoom(forKeyBytes: length) &+ self.valueHeapBytes > self.memoryBudget
                {
                    try self.writeTable()
                }
                let (payload, inserted) = self.table.findOrInsert(
                    hash: pending.hash,
                    first: pending.first,
                    second: pending.second,
                    key: batch.keyBytes(at: i),
                    length: length
                )
                let grown = combiner.absorb(batch.values[i], into: payload, inserted: inserted)
                // Zero at compile time for values without heap.
                if grown != 0 {
                    self.valueHeapBytes &+= grown
                    if self.valueHeapBytes
                        > combinedHeapLimit(budget: self.memoryBudget, besideTable: self.table.memoryFootprint)
                    {
                        try self.writeTable()
                    }
                }
            }
        } catch {
            self.pendingError = error
        }
    }

    @inlinable
    func takeError() throws {
        if let error = self.pendingError { throw error }
    }

    /// Writes every key the mapper keeps, in key order, then empties the table.
    @inlinable
    func writeTable() throws {
        guard self.table.count > 0 else { return }
        defer {
            self.table.removeAll()
            self.valueHeapBytes = 0
        }
        for slot in self.table.sortedSlots() {
            try self.write(key: self.table.key(atSlot: Int(slot)), value: self.table.payload(atSlot: Int(slot)).pointee)
        }
    }

    @inlinable
    func write(key: UnsafeRawBufferPointer, value: J.Value) throws {
        guard self.keepsKey(key) else { return }
        self.line.removeAll(keepingCapacity: true)
        try J.Key.writeStreamingText(encoded: key, into: &self.line)
        self.line.append(0x09)
        value.writeStreamingText(into: &self.line)
        self.line.append(0x0A)
        try self.line.withUnsafeBytes { try self.writer.write($0) }
    }
}

/// Reads `KEY<TAB>VALUE` lines and hands each run of lines with equal keys to a closure, for the combine
/// and reduce steps.
@usableFromInline
enum StreamingGroups<J: MapReduceJob>
where J.JobMapper.Key: StreamingTextCodable, J.JobMapper.Value: StreamingTextCodable {
    /// Calls `group` with each run's key text (canonical: checked by decoding it) and values, and writes
    /// what it appends to `line`.
    /// - Parameter requiresSortedKeys: Whether a key that sorts before the previous one is an error.
    @inlinable
    static func run(
        input: CInt,
        writer: BufferedFileWriter,
        options: Streaming.Options,
        requiresSortedKeys: Bool,
        group: (_ keyText: UnsafeRawBufferPointer, _ values: [J.Value], _ line: inout [UInt8]) throws -> Void
    ) throws {
        let reader = StreamingInput(
            descriptor: input,
            name: options.inputName,
            maximumRecordBytes: options.maximumRecordBytes
        )
        var keyText: [UInt8] = []
        var values: [J.Value] = []
        var line: [UInt8] = []
        var scratch = WireWriter(capacity: 64)
        let valueLimit = max(1, options.memoryBudget / max(1, MemoryLayout<J.Value>.stride))

        func finishGroup() throws {
            guard !values.isEmpty else { return }
            line.removeAll(keepingCapacity: true)
            try keyText.withUnsafeBytes { try group($0, values, &line) }
            try line.withUnsafeBytes { try writer.write($0) }
            values.removeAll(keepingCapacity: true)
        }

        while let text = try reader.nextLine() {
            guard let tab = text.firstIndex(of: 0x09) else {
                throw Self.malformed(reader.lineNumber, "has no tab: every line must be KEY<TAB>VALUE", options)
            }
            let key = UnsafeRawBufferPointer(rebasing: text[..<tab])
            let value: J.Value
            do {
                value = try J.Value(streamingText: UnsafeRawBufferPointer(rebasing: text[(tab + 1)...]))
            } catch let error as MapReduceError {
                throw Self.malformed(reader.lineNumber, "has a bad value: \(error.message)", options)
            }
            if !values.isEmpty && key.elementsEqual(keyText) {
                guard values.count < valueLimit else { throw Self.tooManyValues(reader.lineNumber, options) }
                values.append(value)
                continue
            }
            if requiresSortedKeys && !values.isEmpty {
                guard keyText.withUnsafeBytes({ compareBytes($0, key) }) < 0 else {
                    throw Self.malformed(
                        reader.lineNumber,
                        "is out of order: its key sorts before the key of the line above, and the reduce step "
                            + "needs its input sorted by key (LC_ALL=C sort)",
                        options
                    )
                }
            }
            try finishGroup()
            // A key is checked once per group: its text must be the one text of a key.
            do {
                scratch.removeAll()
                try J.Key.encode(streamingText: key, into: &scratch)
            } catch let error as MapReduceError {
                throw Self.malformed(reader.lineNumber, "has a bad key: \(error.message)", options)
            }
            keyText.removeAll(keepingCapacity: true)
            keyText.append(contentsOf: key)
            values.append(value)
        }
        try finishGroup()
        try writer.close()
    }

    @usableFromInline
    static func malformed(_ line: Int, _ problem: String, _ options: Streaming.Options) -> MapReduceError {
        MapReduceError(.badInput, "line \(line) \(problem)", input: options.inputName)
    }

    @usableFromInline
    static func tooManyValues(_ line: Int, _ options: Streaming.Options) -> MapReduceError {
        MapReduceError(
            .tooLarge,
            "line \(line): one key has more values than fit in \(formatByteCount(options.memoryBudget)); "
                + "--worker-memory SIZE raises the limit",
            input: options.inputName
        )
    }
}
