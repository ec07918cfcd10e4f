/// An open-addressing hash table of byte-string keys, the heart of map-side combining and reduce-side
/// grouping.
///
/// Keys live back to back in one arena; each distinct key gets an entry index, in insertion order, which
/// the owner uses to index its own parallel value storage. Nothing is allocated per key: the arena, the
/// entry array and the slot array grow by doubling.
///
/// A slot is 16 bytes: a 24-bit hash tag, the key's length and its entry index, then the key's first
/// eight bytes. Most keys of real data are at most eight bytes long, so a lookup usually settles within
/// the one cache line of its slot, without touching the entries or the key arena. The slot index comes
/// from the hash's top bits and the tag from its middle bits, so keys of one partition (equal low bits)
/// still spread over the whole table and still differ in their tags.
///
/// Its fields skip dynamic exclusivity checks, which would otherwise cost more than a probe: a table is
/// owned by one worker runtime and touched by one thread.
@usableFromInline
final class KeyTable {
    @usableFromInline
    struct Entry {
        @usableFromInline var hash: UInt64
        @usableFromInline var offset: UInt32
        @usableFromInline var length: UInt32

        @inlinable init(hash: UInt64, offset: UInt32, length: UInt32) {
            self.hash = hash
            self.offset = offset
            self.length = length
        }
    }

    @usableFromInline
    struct Slot {
        /// `tag << 40 | min(length, 255) << 32 | (entry index + 1)`, or 0 for an empty slot.
        @usableFromInline var meta: UInt64
        /// The key's first eight bytes, little-endian, zero-padded.
        @usableFromInline var prefix: UInt64

        @inlinable init(meta: UInt64, prefix: UInt64) {
            self.meta = meta
            self.prefix = prefix
        }
    }

    @usableFromInline @exclusivity(unchecked) var slots: UnsafeMutablePointer<Slot>
    @usableFromInline @exclusivity(unchecked) var slotShift: UInt64
    @usableFromInline @exclusivity(unchecked) var slotMask: Int
    @usableFromInline @exclusivity(unchecked) var entries: UnsafeMutablePointer<Entry>
    @usableFromInline @exclusivity(unchecked) var entryCapacity: Int
    @usableFromInline @exclusivity(unchecked) var count: Int
    @usableFromInline @exclusivity(unchecked) var keys: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var keyCapacity: Int
    @usableFromInline @exclusivity(unchecked) var keyBytes: Int

    /// Slack after the arena so key comparisons may read whole words.
    @usableFromInline static var keySlack: Int { 16 }

    @usableFromInline
    init(initialCapacity: Int = 1024) {
        var slotCount = 16
        while slotCount < initialCapacity * 2 { slotCount <<= 1 }
        self.slots = .allocate(capacity: slotCount)
        self.slots.initialize(repeating: Slot(meta: 0, prefix: 0), count: slotCount)
        self.slotMask = slotCount - 1
        self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
        self.entryCapacity = slotCount / 2
        self.entries = .allocate(capacity: self.entryCapacity)
        self.count = 0
        self.keyCapacity = max(4096, initialCapacity * 8)
        self.keys = .allocate(byteCount: self.keyCapacity + Self.keySlack, alignment: 16)
        self.keyBytes = 0
    }

    deinit {
        self.slots.deallocate()
        self.entries.deallocate()
        self.keys.deallocate()
    }

    /// Bytes of memory the table holds.
    @usableFromInline var memoryFootprint: Int {
        (self.slotMask + 1) * MemoryLayout<Slot>.stride + self.entryCapacity * MemoryLayout<Entry>.stride
            + self.keyCapacity
    }

    /// Where `hash`'s first probe lands, for prefetching.
    @usableFromInline var prefetchHint: PrefetchHint {
        PrefetchHint(base: UnsafeRawPointer(self.slots), shift: self.slotShift, stride: MemoryLayout<Slot>.stride)
    }

    /// The bytes of entry `index`.
    @inlinable @inline(__always)
    func key(at index: Int) -> UnsafeRawBufferPointer {
        let entry = self.entries[index]
        return UnsafeRawBufferPointer(start: self.keys + Int(entry.offset), count: Int(entry.length))
    }

    @inlinable @inline(__always)
    func hash(at index: Int) -> UInt64 { self.entries[index].hash }

    /// The first eight bytes of a key, little-endian and zero-padded, read without going past its end.
    @inlinable @inline(__always)
    static func prefix(of key: UnsafeRawPointer, length: Int) -> UInt64 {
        if length >= 8 { return UInt64(littleEndian: key.loadUnaligned(as: UInt64.self)) }
        if length >= 4 {
            let low = UInt64(UInt32(littleEndian: key.loadUnaligned(as: UInt32.self)))
            let high = UInt64(UInt32(littleEndian: key.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self)))
            return low | (high >> UInt64(8 * (8 - length))) << 32
        }
        var prefix: UInt64 = 0
        for i in 0..<length { prefix |= UInt64(key.load(fromByteOffset: i, as: UInt8.self)) << UInt64(8 * i) }
        return prefix
    }

    /// The entry index of a key, inserting it if it is new.
    /// - Returns: The index and whether the key was inserted.
    @inlinable @inline(__always)
    func findOrInsert(hash: UInt64, key: UnsafeRawPointer, length: Int) -> (index: Int, inserted: Bool) {
        // Make room first, so that the probe below can insert without starting over.
        if _slowPath(self.count == self.entryCapacity || self.keyBytes + length > self.keyCapacity) {
            self.grow(forKeyBytes: length)
        }
        let prefix = Self.prefix(of: key, length: length)
        let wanted = Self.meta(hash: hash, length: length)
        var slot = Int(truncatingIfNeeded: hash >> self.slotShift)
        while true {
            let content = self.slots[slot]
            if content.meta == 0 { break }
            if content.meta & 0xFFFF_FFFF_0000_0000 == wanted && content.prefix == prefix {
                let index = Int(truncatingIfNeeded: content.meta & 0xFFFF_FFFF) - 1
                if length <= 8 { return (index, false) }
                let entry = self.entries[index]
                if Int(entry.length) == length
                    && bytesEqual(self.keys + Int(entry.offset) + 8, key + 8, length - 8)
                {
                    return (index, false)
                }
            }
            slot = (slot + 1) & self.slotMask
        }
        let index = self.count
        copyBytes(from: key, to: self.keys + self.keyBytes, count: length)
        self.entries[index] = Entry(hash: hash, offset: UInt32(self.keyBytes), length: UInt32(length))
        self.keyBytes += length
        self.count += 1
        self.slots[slot] = Slot(meta: wanted | UInt64(index + 1), prefix: prefix)
        return (index, true)
    }

    /// The tag and length part of a slot's `meta`.
    @inlinable @inline(__always)
    static func meta(hash: UInt64, length: Int) -> UInt64 {
        (hash >> 8 & 0xFF_FFFF) << 40 | UInt64(min(length, 255)) << 32
    }

    @usableFromInline
    func grow(forKeyBytes length: Int) {
        if self.keyBytes + length > self.keyCapacity {
            var capacity = self.keyCapacity * 2
            while self.keyBytes + length > capacity { capacity *= 2 }
            precondition(capacity <= Int(UInt32.max), "a key table holds at most 4 GiB of keys")
            let keys = UnsafeMutableRawPointer.allocate(byteCount: capacity + Self.keySlack, alignment: 16)
            keys.copyMemory(from: self.keys, byteCount: self.keyBytes)
            self.keys.deallocate()
            self.keys = keys
            self.keyCapacity = capacity
        }
        if self.count == self.entryCapacity {
            let slotCount = (self.slotMask + 1) * 2
            self.slots.deallocate()
            self.slots = .allocate(capacity: slotCount)
            self.slots.initialize(repeating: Slot(meta: 0, prefix: 0), count: slotCount)
            self.slotMask = slotCount - 1
            self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
            let entries = UnsafeMutablePointer<Entry>.allocate(capacity: slotCount / 2)
            entries.moveInitialize(from: self.entries, count: self.count)
            self.entries.deallocate()
            self.entries = entries
            self.entryCapacity = slotCount / 2
            for index in 0..<self.count {
                let entry = self.entries[index]
                var slot = Int(truncatingIfNeeded: entry.hash >> self.slotShift)
                while self.slots[slot].meta != 0 { slot = (slot + 1) & self.slotMask }
                self.slots[slot] = Slot(
                    meta: Self.meta(hash: entry.hash, length: Int(entry.length)) | UInt64(index + 1),
                    prefix: Self.prefix(of: self.keys + Int(entry.offset), length: Int(entry.length))
                )
            }
        }
    }

    /// Forgets every key but keeps the memory, ready for the next round.
    @usableFromInline
    func removeAll() {
        self.slots.update(repeating: Slot(meta: 0, prefix: 0), count: self.slotMask + 1)
        self.count = 0
        self.keyBytes = 0
    }

    /// Entry indices ordered by their keys' bytes (lexicographic, shorter first on a tie).
    @usableFromInline
    func sortedIndices() -> [Int32] {
        var order = (0..<Int32(self.count)).map { $0 }
        order.sort { lhs, rhs in
            compareBytes(self.key(at: Int(lhs)), self.key(at: Int(rhs))) < 0
        }
        return order
    }
}

/// Whether `count` bytes at `a` and `b` are equal.
@inlinable @inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count >= 8 {
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                != b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            {
                return false
            }
            i += 8
        }
        if i == count { return true }
        return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    var i = 0
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// Lexicographic byte comparison: negative, zero or positive.
@usableFromInline
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0 {
        let result = memcmpBytes(a.baseAddress!, b.baseAddress!, common)
        if result != 0 { return result }
    }
    return a.count - b.count
}
