/// A tournament tree of sorted streams (a loser tree), ordered by their current keys: the core of the
/// reduce side's merge of spill segments and of the coordinator's merge of reduce outputs.
///
/// Each internal node remembers the stream that lost the match played there, so when the winner moves
/// on to its next key, one match per level decides the new winner: half the comparisons of a binary
/// heap, whose every level costs two, and in a merge those comparisons are unpredictable branches.
/// Every stream's current key is kept with its first eight bytes as a big-endian integer, so most
/// matches compare two integers. Ties go to the lower stream. The memory is raw; its owner calls
/// ``deallocate()``.
@usableFromInline
struct LoserTree {
    /// Leaves: the stream count rounded up to a power of two.
    @usableFromInline let width: Int
    /// `losers[0]` is the winner; `losers[node]` for `node` in `1..<width` the loser at that node.
    @usableFromInline let losers: UnsafeMutablePointer<Int>
    @usableFromInline let prefixes: UnsafeMutablePointer<UInt64>
    @usableFromInline let keys: UnsafeMutablePointer<UnsafeRawBufferPointer>
    /// Streams with no key left (and the padding): they lose every match.
    @usableFromInline let done: UnsafeMutablePointer<Bool>

    /// A tree of `count` streams; `first` gives each stream's first key, nil for an empty stream.
    @inlinable
    init(count: Int, first: (Int) throws -> (prefix: UInt64, key: UnsafeRawBufferPointer)?) rethrows {
        var width = 1
        while width < count { width <<= 1 }
        self.width = width
        self.losers = .allocate(capacity: width)
        self.losers.initialize(repeating: 0, count: width)
        self.prefixes = .allocate(capacity: width)
        self.prefixes.initialize(repeating: 0, count: width)
        self.keys = .allocate(capacity: width)
        self.keys.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: width)
        self.done = .allocate(capacity: width)
        self.done.initialize(repeating: true, count: width)
        do {
            for stream in 0..<count {
                guard let (prefix, key) = try first(stream) else { continue }
                self.prefixes[stream] = prefix
                self.keys[stream] = key
                self.done[stream] = false
            }
        } catch {
            self.deallocate()
            throw error
        }
        self.losers[0] = width == 1 ? 0 : self.build(node: 1)
    }

    /// Plays the matches under `node`, remembering the losers; returns the winner.
    @usableFromInline
    func build(node: Int) -> Int {
        if node >= self.width { return node - self.width }
        let left = self.build(node: 2 * node)
        let right = self.build(node: 2 * node + 1)
        if self.beats(right, left) {
            self.losers[node] = left
            return right
        }
        self.losers[node] = right
        return left
    }

    /// Gives the memory back.
    @usableFromInline
    func deallocate() {
        self.losers.deallocate()
        self.prefixes.deallocate()
        self.keys.deallocate()
        self.done.deallocate()
    }

    /// The stream whose current key is the smallest; nil when every stream is done.
    @inlinable var top: Int? {
        let winner = self.losers[0]
        return self.done[winner] ? nil : winner
    }

    /// The top stream's current key.
    @inlinable var topKey: UnsafeRawBufferPointer { self.keys[self.losers[0]] }

    /// The top stream's current key's prefix.
    @inlinable var topPrefix: UInt64 { self.prefixes[self.losers[0]] }

    /// Whether stream `a`'s key comes before stream `b`'s (on a tie, whether `a` is the lower stream).
    @inlinable @inline(__always)
    func beats(_ a: Int, _ b: Int) -> Bool {
        if self.done[a] { return false }
        if self.done[b] { return true }
        let pa = self.prefixes[a]
        let pb = self.prefixes[b]
        if pa != pb { return pa < pb }
        let order = compareBytes(self.keys[a], self.keys[b])
        return order != 0 ? order < 0 : a < b
    }

    /// The top stream moved on to `key`, whose prefix is `prefix`.
    @inlinable
    func replaceTop(prefix: UInt64, key: UnsafeRawBufferPointer) {
        let winner = self.losers[0]
        self.prefixes[winner] = prefix
        self.keys[winner] = key
        self.replay(from: winner)
    }

    /// The top stream is done.
    @inlinable
    func removeTop() {
        let winner = self.losers[0]
        self.done[winner] = true
        self.replay(from: winner)
    }

    /// Plays `stream`'s matches from its leaf up to the root.
    @inlinable
    func replay(from stream: Int) {
        var winner = stream
        var node = (stream &+ self.width) &>> 1
        while node > 0 {
            let other = self.losers[node]
            if self.beats(other, winner) {
                self.losers[node] = winner
                winner = other
            }
            node &>>= 1
        }
        self.losers[0] = winner
    }
}

/// A key's first eight bytes as a big-endian integer, zero-padded: integer order is byte order.
@inlinable @inline(__always)
func keyPrefix(_ key: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = key.baseAddress else { return 0 }
    return KeyWords.word(of: base, length: key.count, at: 0).byteSwapped
}

/// One sorted segment of a spill being read: `keyLength key valueLength value` records, keys in
/// nondecreasing byte order.
@usableFromInline
struct SegmentCursor {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline var position = 0
    @usableFromInline let end: Int
    @usableFromInline var key = UnsafeRawBufferPointer(start: nil, count: 0)
    @usableFromInline var value = UnsafeRawBufferPointer(start: nil, count: 0)
    @usableFromInline var prefix: UInt64 = 0
    @usableFromInline let path: String

    @inlinable
    init(_ bytes: UnsafeRawBufferPointer, path: String) {
        self.base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        self.end = bytes.count
        self.path = path
    }

    /// Moves to the next record; false at the end of the segment.
    /// - Throws: ``MapReduceError`` (code `io`) when the segment is truncated or out of order.
    @inlinable
    mutating func advance() throws -> Bool {
        var position = self.position
        guard position < self.end else { return false }
        guard let keyLength = RecordFormat.readLength(self.base, &position, self.end) else { throw self.corrupt() }
        let key = UnsafeRawBufferPointer(start: self.base + position, count: keyLength)
        position &+= keyLength
        guard let valueLength = RecordFormat.readLength(self.base, &position, self.end) else { throw self.corrupt() }
        self.value = UnsafeRawBufferPointer(start: self.base + position, count: valueLength)
        self.position = position &+ valueLength
        let prefix = keyPrefix(key)
        if _slowPath(prefix < self.prefix || (prefix == self.prefix && compareBytes(key, self.key) < 0)) {
            throw MapReduceError(.io, "a spill segment is not sorted by key", input: self.path)
        }
        self.key = key
        self.prefix = prefix
        return true
    }

    @usableFromInline
    func corrupt() -> MapReduceError {
        MapReduceError(.io, "a spill segment is truncated or corrupt", input: self.path)
    }
}

/// The records of a reduce task's spill segments, merged into one stream in key order and handed out
/// a key at a time: ``nextKey()`` starts a key with its first record, ``nextValue()`` moves to the
/// key's next record, from whichever segment holds it.
///
/// Segments are read where they lie, in the spill files mapped into memory: the page cache holds them,
/// and the worker's own memory does not grow with the task's input. Nothing is hashed and nothing is
/// sorted: each segment is sorted already, and a ``LoserTree`` of their current keys does the rest.
///
/// Its fields skip dynamic exclusivity checks: a task's merge is used by one thread.
@usableFromInline
package final class SortedSegments {
    @usableFromInline let files: [MappedFile]
    @usableFromInline let cursors: UnsafeMutablePointer<SegmentCursor>
    @usableFromInline let cursorCount: Int
    @usableFromInline let tree: LoserTree
    /// The segment whose record is the current one.
    @usableFromInline @exclusivity(unchecked) var current = -1
    /// The current key: its bytes stay valid until the task ends, in the mapped file.
    @usableFromInline @exclusivity(unchecked) var key = UnsafeRawBufferPointer(start: nil, count: 0)
    @usableFromInline @exclusivity(unchecked) var prefix: UInt64 = 0
    /// Input bytes: the segments' total length.
    @usableFromInline let byteCount: Int

    /// Maps the spill files of `inputs` and reads the first record of each segment.
    /// - Throws: ``MapReduceError`` (code `io`) when a file cannot be read or a range does not fit it.
    @usableFromInline
    package init(_ inputs: [ReduceTask.Input]) throws {
        var files: [MappedFile] = []
        var segments: [(bytes: UnsafeRawBufferPointer, path: String)] = []
        var byteCount = 0
        for input in inputs {
            let length = input.length
            guard length > 0 else { continue }
            let file =
                try files.last.flatMap { $0.path == input.path ? $0 : nil } ?? MappedFile(intermediate: input.path)
            if files.last !== file { files.append(file) }
            guard input.offset >= 0, input.segmentLengths.allSatisfy({ $0 >= 0 }),
                length <= file.bytes.count - input.offset
            else {
                throw MapReduceError(.io, "a spill is shorter than recorded", input: input.path)
            }
            var offset = input.offset
            for segmentLength in input.segmentLengths {
                if segmentLength > 0 {
                    segments.append(
                        (UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + segmentLength)]), input.path)
                    )
                }
                offset += segmentLength
            }
            byteCount += length
        }
        let cursors = UnsafeMutablePointer<SegmentCursor>.allocate(capacity: max(1, segments.count))
        for (index, segment) in segments.enumerated() {
            (cursors + index).initialize(to: SegmentCursor(segment.bytes, path: segment.path))
        }
        let tree: LoserTree
        do {
            tree = try LoserTree(count: segments.count) { index in
                guard try cursors[index].advance() else { return nil }
                return (cursors[index].prefix, cursors[index].key)
            }
        } catch {
            cursors.deinitialize(count: segments.count)
            cursors.deallocate()
            throw error
        }
        self.files = files
        self.byteCount = byteCount
        self.cursorCount = segments.count
        self.cursors = cursors
        self.tree = tree
    }

    deinit {
        self.tree.deallocate()
        self.cursors.deinitialize(count: self.cursorCount)
        self.cursors.deallocate()
        withExtendedLifetime(self.files) {}
    }

    /// Starts the next key, at its first record; nil when every record has been read.
    @inlinable
    package func nextKey() -> UnsafeRawBufferPointer? {
        guard let top = self.tree.top else { return nil }
        self.current = top
        self.key = self.tree.topKey
        self.prefix = self.tree.topPrefix
        return self.key
    }

    /// The current record's value.
    /// - Throws: ``MapReduceError`` (code `io`) when its bytes do not decode.
    @inlinable
    package func value<Value: WireCodable>(as type: Value.Type) throws -> Value {
        let cursor = self.cursors + self.current
        do {
            return try Value(encodedBytes: cursor.pointee.value)
        } catch {
            throw MapReduceError(
                .io,
                "a spill holds a value that does not decode: \(error)",
                input: cursor.pointee.path
            )
        }
    }

    /// Moves past the current record; true if the next record has the same key (it becomes current),
    /// false if the key is done.
    @inlinable
    package func nextValue() throws -> Bool {
        let cursor = self.cursors + self.current
        if try cursor.pointee.advance() {
            self.tree.replaceTop(prefix: cursor.pointee.prefix, key: cursor.pointee.key)
        } else {
            self.tree.removeTop()
        }
        guard let top = self.tree.top, self.tree.topPrefix == self.prefix else { return false }
        let next = self.tree.topKey
        guard next.count == self.key.count, compareBytes(next, self.key) == 0 else { return false }
        self.current = top
        return true
    }
}
