public import CMapReduceShims

/// Receives the key/value pairs a ``Mapper`` emits.
///
/// Pairs are gathered in a small batch (keys encoded once, their ``KeyHash`` computed once) and handed to the
/// engine a batch at a time, where they are combined into the worker's table or buffered by partition. While
/// a batch fills, the emitter prefetches the table slot each key will need, so that the hash table's cache
/// misses overlap with the mapper's own work.
///
/// The batch's counters and pointers live in the emitter itself rather than in the batch object, one
/// indirection closer to the mapper's loop; a mapper holds its emitter `inout`, which Swift guarantees
/// no other reference aliases, so the mapper's stores into the key arena do not force them to be
/// read again. (They still live in memory, not registers, in word count's loop: there are more of them
/// than free registers.)
public struct Emitter<Key: WireCodable, Value: WireCodable> {
    /// Owns the memory; its counters are brought up to date before every drain.
    @usableFromInline let batch: EmitBatch<Value>
    @usableFromInline let target: EmitTarget<Value>
    @usableFromInline var scratch: WireWriter
    @usableFromInline var prefetch: PrefetchHint
    @usableFromInline var _emittedCount: Int
    /// Records of the current batch that were dropped (see ``commitKey(length:first:second:_:keep:)``).
    @usableFromInline var dropped: Int
    @usableFromInline var keys: UnsafeMutableRawPointer
    @usableFromInline var keyBytes: Int
    @usableFromInline var keyCapacity: Int
    @usableFromInline let pending: UnsafeMutablePointer<PendingKey>
    @usableFromInline let values: UnsafeMutablePointer<Value>
    @usableFromInline var count: Int
    @usableFromInline let capacity: Int

    /// The longest key the engine accepts, in encoded bytes: a quarter of a worker's memory budget, so
    /// that a worker holds any key it accepts within its budget. A longer key fails the task; a mapper
    /// that writes keys of unbounded length into the emitter (``emit(keyCapacity:_:writeKey:)``) checks
    /// this first, so that it neither allocates nor copies such a key, and throws an error that says
    /// where the key is (see ``MapReduceError/keyTooLong(_:limit:input:)``).
    ///
    /// It lives in the batch, not in the emitter: the mapper's loop keeps the emitter's fields close,
    /// and only the slow path that grows the key buffer reads it.
    @inlinable public var maximumKeyBytes: Int { self.batch.maximumKeyBytes }

    /// Pairs emitted so far.
    public var emittedCount: Int { self._emittedCount &+ self.count &- self.dropped }

    @usableFromInline
    init(target: EmitTarget<Value>, batchCapacity: Int = 64, maximumKeyBytes: Int = Int.max) {
        let batch = EmitBatch<Value>(
            capacity: batchCapacity,
            keyCapacity: min(16 * 1024, maximumKeyBytes),
            maximumKeyBytes: maximumKeyBytes
        )
        self.batch = batch
        self.target = target
        self.scratch = WireWriter(capacity: 64)
        self.prefetch = target.prefetchHint()
        self._emittedCount = 0
        self.dropped = 0
        self.keys = batch.keys
        self.keyBytes = 0
        self.keyCapacity = batch.keyCapacity
        self.pending = batch.pending
        self.values = batch.values
        self.count = 0
        self.capacity = batch.capacity
    }

    /// Emits one pair.
    @inlinable
    public mutating func emit(_ key: Key, _ value: Value) {
        var scratch = WireWriter()
        swap(&scratch, &self.scratch)
        scratch.removeAll()
        key.encode(into: &scratch)
        scratch.bytes.withUnsafeBytes { encoded in
            self.append(
                encodedKey: encoded.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!,
                count: encoded.count,
                value
            )
        }
        swap(&scratch, &self.scratch)
    }

    /// Emits one pair whose key is given as its encoded bytes, without building a key value first.
    /// - Parameters:
    ///   - keyBytes: The key's bytes, for example a lowercased word; copied before the call returns.
    ///   - value: The value.
    @inlinable @inline(__always)
    public mutating func emit(keyBytes: UnsafeRawBufferPointer, _ value: Value) where Key: RawBytesCodable {
        let source = keyBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        let count = keyBytes.count
        self.emit(keyCapacity: count, value) { destination in
            copyBytes(from: source, to: destination, count: count)
            return count
        }
    }

    /// Emits one pair whose key is given as its encoded bytes, without building a key value first.
    @inlinable
    public mutating func emit(keyBytes: RawSpan, _ value: Value) where Key: RawBytesCodable {
        keyBytes.withUnsafeBytes { self.emit(keyBytes: $0, value) }
    }

    /// Emits one pair whose key the caller writes straight into the emitter's buffer: the fastest way to
    /// emit a key that is computed from the input, such as a lowercased word, with no copy in between.
    /// - Parameters:
    ///   - keyCapacity: The most bytes `writeKey` may write. The buffer has 16 more bytes of slack, so a
    ///     writer may store a whole 16-byte vector for a shorter key.
    ///   - value: The value.
    ///   - writeKey: Writes the key's encoded bytes at the pointer it is given and returns their count,
    ///     or -1 to emit nothing after all (say, the key turned out to be a stop word). Deciding after
    ///     writing lets a mapper filter keys without a branch: a dropped key costs the same as a kept one.
    @inlinable @inline(__always)
    public mutating func emit(
        keyCapacity: Int,
        _ value: Value,
        writeKey: (UnsafeMutableRawPointer) -> Int
    ) where Key: RawBytesCodable {
        self.append(keyCapacity: keyCapacity, value, writeKey: writeKey)
    }

    @inlinable @inline(__always)
    mutating func append(encodedKey: UnsafeRawPointer, count: Int, _ value: Value) {
        self.append(keyCapacity: count, value) { destination in
            copyBytes(from: encodedKey, to: destination, count: count)
            return count
        }
    }

    @inlinable @inline(__always)
    mutating func append(keyCapacity: Int, _ value: Value, writeKey: (UnsafeMutableRawPointer) -> Int) {
        let destination = self.reserveRoom(capacity: keyCapacity)
        self.commit(length: writeKey(destination), value)
    }

    /// Reserves room for a key of at most `capacity` bytes (plus 16 bytes of slack) and returns where to
    /// write it; ``commitKey(length:_:)`` then emits it. The two halves of
    /// ``emit(keyCapacity:_:writeKey:)``, for the hottest loops.
    @inlinable @inline(__always)
    public mutating func reserveKey(capacity: Int) -> UnsafeMutableRawPointer where Key: RawBytesCodable {
        self.reserveRoom(capacity: capacity)
    }

    /// Emits the key written where ``reserveKey(capacity:)`` said, `length` bytes long; -1 emits nothing.
    @inlinable @inline(__always)
    public mutating func commitKey(length: Int, _ value: Value) where Key: RawBytesCodable {
        self.commit(length: length, value)
    }

    /// Emits one pair whose key is at most sixteen bytes, given as its first and second little-endian
    /// words, zero beyond its end: the fastest way to emit a short key computed in registers (a
    /// lowercased word, say), which never touches the key buffer. The key's bytes are exactly those of
    /// the two words: `length` may be less than sixteen only if the bytes beyond it are zero.
    /// - Parameters:
    ///   - first: The key's bytes 0..<8, little-endian.
    ///   - second: The key's bytes 8..<16, little-endian.
    ///   - length: The key's length, 0...16; anything else stops the program (a longer key would be
    ///     cut short without a word).
    ///   - value: The value.
    @inlinable @inline(__always)
    public mutating func emit(shortKey first: UInt64, _ second: UInt64, length: Int, _ value: Value)
    where Key: RawBytesCodable {
        precondition(UInt(bitPattern: length) <= 16, "a short key has at most 16 bytes")
        if _slowPath(self.count == self.capacity) { self.makeRoom(forKeyBytes: 0) }
        let hash = KeyWords.hash(first: first, second: second, key: self.keys, length: length)
        let count = self.count
        self.pending[count] = PendingKey(first: first, second: second, hash: hash, offset: 0, length: length)
        (self.values + count).initialize(to: value)
        self.count = count &+ 1
        self.prefetch.prefetch(hash: hash)
    }

    @inlinable @inline(__always)
    mutating func reserveRoom(capacity: Int) -> UnsafeMutableRawPointer {
        if _slowPath(self.count == self.capacity || self.keyBytes &+ capacity > self.keyCapacity) {
            self.makeRoom(forKeyBytes: capacity)
        }
        return self.keys + self.keyBytes
    }

    @inlinable @inline(__always)
    mutating func commit(length written: Int, _ value: Value) {
        let destination = UnsafeRawPointer(self.keys + self.keyBytes)
        let length = written < 0 ? 0 : written
        // The arena has slack: whole words can be read past the key and masked.
        let masks = KeyWords.prefixMasks(length: length)
        let first = UInt64(littleEndian: destination.loadUnaligned(as: UInt64.self)) & masks.0
        let second = UInt64(littleEndian: destination.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & masks.1
        self.commit(length: length, first: first, second: second, value, keep: written >= 0)
    }

    /// Emits the key written where ``reserveKey(capacity:)`` said, given also its first sixteen bytes as
    /// two little-endian words, zero beyond the key's end: a writer that holds them in a register saves
    /// reading them back. `length` -1 emits nothing.
    @inlinable @inline(__always)
    public mutating func commitKey(length: Int, first: UInt64, second: UInt64, _ value: Value)
    where Key: RawBytesCodable {
        self.commit(length: length < 0 ? 0 : length, first: first, second: second, value, keep: length >= 0)
    }

    /// Emits the key written where ``reserveKey(capacity:)`` said, `length` bytes long, whose first
    /// sixteen bytes are `first` and `second` (little-endian, zero beyond the key's end), or drops it
    /// when `keep` is false.
    ///
    /// The fastest way to filter keys: a dropped key is recorded like a kept one and skipped when the
    /// batch is drained, so the decision to keep a key delays nothing that comes after it. (Dropping
    /// it here instead would make where the next key goes depend on that decision, chaining every key
    /// of a mapper's loop to the filter's latency.)
    @inlinable @inline(__always)
    public mutating func commitKey(length: Int, first: UInt64, second: UInt64, _ value: Value, keep: Bool)
    where Key: RawBytesCodable {
        self.commit(length: length, first: first, second: second, value, keep: keep)
    }

    @inlinable @inline(__always)
    mutating func commit(length: Int, first: UInt64, second: UInt64, _ value: Value, keep: Bool) {
        let destination = UnsafeRawPointer(self.keys + self.keyBytes)
        let hash = KeyWords.hash(first: first, second: second, key: destination, length: length)
        let count = self.count
        self.pending[count] = PendingKey(
            first: first,
            second: second,
            hash: hash,
            offset: UInt32(truncatingIfNeeded: self.keyBytes),
            length: keep ? length : PendingKey.droppedLength
        )
        (self.values + count).initialize(to: value)
        self.count = count &+ 1
        self.dropped &+= keep ? 0 : 1
        self.keyBytes &+= length
        self.prefetch.prefetch(hash: hash)
    }

    /// Adds `amount` to the job's counter called `name`: lines a mapper found malformed, records it
    /// skipped, anything a job wants to report. Counters appear with the job's statistics
    /// (``JobStatistics/counters``) summed over the tasks whose output the job kept: a task that runs
    /// again after its worker was lost counts once.
    ///
    /// A counter is a dictionary update keyed by a `String`: cheap once in a while, not in a mapper's
    /// innermost loop. A mapper that counts something per record or per token counts it in a local
    /// variable and calls this once per block, at the end of ``Mapper/map(lines:at:into:)``.
    ///
    /// A task may use up to 256 names, each at most 256 UTF-8 bytes long; more fails the task.
    /// - Parameters:
    ///   - name: The counter's name, as reports print it.
    ///   - amount: What to add; not negative.
    @inlinable
    public mutating func count(_ name: String, by amount: Int = 1) {
        self.batch.addToCounter(name, amount)
    }

    /// The job counters counted since the last call, and none counted any more.
    @usableFromInline
    func takeCounters() -> [String: Int] {
        defer { self.batch.counters = [:] }
        return self.batch.counters
    }

    /// The length of the first key longer than ``maximumKeyBytes`` emitted since the last call, if any.
    @inlinable
    func takeOversizedKeyLength() -> Int? {
        defer { self.batch.oversizedKeyLength = 0 }
        return self.batch.oversizedKeyLength > 0 ? self.batch.oversizedKeyLength : nil
    }

    /// Drains the batch, and grows its key arena if one key needs more than it holds.
    ///
    /// Every key longer than ``maximumKeyBytes`` comes through here (the arena never grows past that
    /// limit for a shorter key), and is remembered for the task to fail with once the mapper returns.
    /// The key is still taken: the task fails, and the hot paths stay free of the check.
    @usableFromInline @inline(never)
    mutating func makeRoom(forKeyBytes capacity: Int) {
        if capacity > self.batch.maximumKeyBytes && self.batch.oversizedKeyLength == 0 {
            self.batch.oversizedKeyLength = capacity
        }
        self.drain()
        if self.keyBytes + capacity > self.keyCapacity {
            self.batch.growKeys(toFit: capacity)
            self.keys = self.batch.keys
            self.keyCapacity = self.batch.keyCapacity
        }
    }

    /// Hands every gathered pair to the engine. Inlinable so that it is compiled for the job's types:
    /// generic, emptying the batch called into the runtime for every batch.
    @inlinable
    mutating func drain() {
        self._emittedCount &+= self.count &- self.dropped
        self.dropped = 0
        self.batch.count = self.count
        self.batch.keyBytes = self.keyBytes
        self.target.drain(self.batch)
        self.batch.removeAll()
        self.count = 0
        self.keyBytes = 0
        self.prefetch = self.target.prefetchHint()
    }
}

/// Where to prefetch the table slot a key hash will touch; the table publishes this after every drain.
@usableFromInline
struct PrefetchHint {
    @usableFromInline var base: UnsafeRawPointer?
    @usableFromInline var stride: Int
    @usableFromInline var shift: UInt64

    @usableFromInline
    init(base: UnsafeRawPointer?, stride: Int, shift: UInt64) {
        self.base = base
        self.stride = stride
        self.shift = shift
    }

    @usableFromInline static var none: PrefetchHint { PrefetchHint(base: nil, stride: 0, shift: 63) }

    @inlinable @inline(__always)
    func prefetch(hash: UInt64) {
        if let base = self.base {
            mapreduce_prefetch(base + Int(truncatingIfNeeded: hash &>> self.shift) &* self.stride)
        }
    }
}

/// The engine side of an ``Emitter``: takes a batch of pairs and combines or buffers them.
///
/// Closures rather than a protocol: they are formed where the job's types are concrete, so the code they
/// call is specialised for the job, where a protocol witness would run the generic code.
@usableFromInline
struct EmitTarget<Value> {
    /// Consumes every pair in the batch; the emitter empties it afterwards.
    @usableFromInline let drain: (EmitBatch<Value>) -> Void
    /// Where the table that the next pairs will land in can be prefetched.
    @usableFromInline let prefetchHint: () -> PrefetchHint

    @usableFromInline
    init(drain: @escaping (EmitBatch<Value>) -> Void, prefetchHint: @escaping () -> PrefetchHint) {
        self.drain = drain
        self.prefetchHint = prefetchHint
    }
}

/// One pending key of a batch: its first sixteen bytes, its table hash and, for a longer key, where its
/// bytes are in the batch's key arena. A key of at most sixteen bytes is read from the record itself:
/// `first` and `second`, declared first and in this order, are its bytes in memory.
@usableFromInline
struct PendingKey {
    @usableFromInline var first: UInt64
    @usableFromInline var second: UInt64
    @usableFromInline var hash: UInt64
    @usableFromInline var offset: UInt32
    @usableFromInline var length: UInt32

    @inlinable init(first: UInt64, second: UInt64, hash: UInt64, offset: UInt32, length: Int) {
        self.first = first
        self.second = second
        self.hash = hash
        self.offset = offset
        self.length = UInt32(truncatingIfNeeded: length)
    }

    /// The length that marks a dropped record, which a sink skips: no key is that long (keys live in
    /// arenas addressed by 32-bit offsets).
    @inlinable static var droppedLength: Int { Int(UInt32.max) }

    @inlinable var isDropped: Bool { self.length == UInt32.max }
}

/// A batch of emitted pairs: keys in one arena, values in one buffer, nothing allocated per pair. The
/// emitter fills it and sets `count` and `keyBytes` before handing it to the engine.
///
/// Its fields skip dynamic exclusivity checks: a batch belongs to one emitter, used by one thread.
@usableFromInline
final class EmitBatch<Value> {
    @usableFromInline @exclusivity(unchecked) var keys: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var keyCapacity: Int
    @usableFromInline @exclusivity(unchecked) var keyBytes: Int
    @usableFromInline let pending: UnsafeMutablePointer<PendingKey>
    @usableFromInline let values: UnsafeMutablePointer<Value>
    @usableFromInline let capacity: Int
    @usableFromInline @exclusivity(unchecked) var count: Int
    /// See ``Emitter/maximumKeyBytes``.
    @usableFromInline let maximumKeyBytes: Int
    /// The capacity asked for the first key longer than `maximumKeyBytes` since the last check, or 0.
    @usableFromInline @exclusivity(unchecked) var oversizedKeyLength = 0
    /// The job's counters since the task started (see ``Emitter/count(_:by:)``).
    @usableFromInline @exclusivity(unchecked) var counters: [String: Int] = [:]

    /// Out of line: the mapper's loop keeps only the call.
    @usableFromInline @inline(never)
    func addToCounter(_ name: String, _ amount: Int) {
        precondition(amount >= 0, "a counter only grows: count(_:by:) takes no negative amount")
        self.counters[name, default: 0] &+= amount
    }

    @usableFromInline
    init(capacity: Int, keyCapacity: Int, maximumKeyBytes: Int = Int.max) {
        self.maximumKeyBytes = maximumKeyBytes
        self.capacity = capacity
        self.keyCapacity = keyCapacity
        // Slack after the last key: writers may store whole vectors, readers may load whole words.
        self.keys = .allocate(byteCount: keyCapacity + 32, alignment: 16)
        self.keyBytes = 0
        self.pending = .allocate(capacity: capacity)
        self.values = .allocate(capacity: capacity)
        self.count = 0
    }

    @usableFromInline
    func growKeys(toFit length: Int) {
        precondition(self.count == 0, "grow only an empty batch")
        self.keys.deallocate()
        // Doubling stops at the key limit, so that a longer key always asks for room (and is caught).
        self.keyCapacity = max(length, min(self.keyCapacity * 2, max(self.maximumKeyBytes, self.keyCapacity)))
        self.keys = .allocate(byteCount: self.keyCapacity + 32, alignment: 16)
    }

    /// The bytes of pending key `index`.
    @inlinable @inline(__always)
    func key(at index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: self.keyBytes(at: index), count: Int(self.pending[index].length))
    }

    /// Where the bytes of pending key `index` start: in the record itself for a key of at most sixteen
    /// bytes (its `first` and `second` words, little-endian), else in the arena.
    @inlinable @inline(__always)
    func keyBytes(at index: Int) -> UnsafeRawPointer {
        let entry = self.pending + index
        if entry.pointee.length <= 16 { return UnsafeRawPointer(entry) + MemoryLayout<PendingKey>.offset(of: \.first)! }
        return UnsafeRawPointer(self.keys + Int(entry.pointee.offset))
    }

    @inlinable
    func removeAll() {
        self.values.deinitialize(count: self.count)
        self.count = 0
        self.keyBytes = 0
    }

    deinit {
        self.values.deinitialize(count: self.count)
        self.values.deallocate()
        self.pending.deallocate()
        self.keys.deallocate()
    }
}

/// Copies a short byte string with word-sized moves, without calling `memmove`; never reads or writes
/// outside the two ranges.
@inlinable @inline(__always)
func copyBytes(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int) {
    if count >= 8 {
        var i = 0
        while i + 8 <= count {
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: i, as: UInt64.self),
                toByteOffset: i,
                as: UInt64.self
            )
            i += 8
        }
        if i < count {
            destination.storeBytes(
                of: source.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self),
                toByteOffset: count - 8,
                as: UInt64.self
            )
        }
    } else if count >= 4 {
        let head = source.loadUnaligned(as: UInt32.self)
        let last = source.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        destination.storeBytes(of: head, as: UInt32.self)
        destination.storeBytes(of: last, toByteOffset: count - 4, as: UInt32.self)
    } else {
        for i in 0..<count {
            destination.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
        }
    }
}
