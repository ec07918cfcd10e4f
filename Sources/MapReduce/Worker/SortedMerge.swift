/// A tournament tree of sorted streams (a loser tree), ordered by their current keys: the core of the
/// coordinator's merge of reduce outputs.
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
