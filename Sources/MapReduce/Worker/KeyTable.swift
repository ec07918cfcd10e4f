/// An open-addressing hash table of byte-string keys, each with a payload: the heart of map-side
/// combining and reduce-side grouping.
///
/// A slot holds a 24-bit hash tag, the key's length and its entry index, the key's first sixteen bytes,
/// and the payload (a combined count, say): 32 bytes for an `Int` payload, two slots to a cache line.
/// Nearly every key of real text is at most sixteen bytes, so a lookup, and the update of the payload
/// that follows it, touch exactly one cache line, which the emitter prefetched while the mapper was
/// still working. Keys also live back to back in an arena, and each distinct key has an entry, in
/// insertion order, saying where its bytes and its slot are: those serve longer keys, growth and
/// iteration. Nothing is allocated per key; everything grows by doubling, at three quarters full.
///
/// The slot index comes from the hash's top bits and the tag from its middle bits, so keys of one
/// partition (equal low bits) still spread over the table and differ in their tags.
///
/// Its fields skip dynamic exclusivity checks, which would otherwise cost more than a probe: a table is
/// owned by one worker runtime and touched by one thread.
@usableFromInline
final class KeyTable<Payload> {
    @usableFromInline
    struct Entry {
        @usableFromInline var hash: UInt64
        @usableFromInline var offset: UInt32
        @usableFromInline var length: UInt32
        @usableFromInline var slot: UInt32

        @inlinable init(hash: UInt64, offset: UInt32, length: UInt32, slot: UInt32) {
            self.hash = hash
            self.offset = offset
            self.length = length
            self.slot = slot
        }
    }

    @usableFromInline
    struct Slot {
        /// `tag << 40 | min(length, 255) << 32 | (entry index + 1)`, or 0 for an empty slot.
        @usableFromInline var meta: UInt64
        /// The key's first sixteen bytes, little-endian, zero-padded.
        @usableFromInline var prefix: (UInt64, UInt64)
        /// Initialized only while the slot is occupied.
        @usableFromInline var payload: Payload
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
        while slotCount * 3 < initialCapacity * 4 { slotCount <<= 1 }
        self.slots = Self.emptySlots(slotCount)
        self.slotMask = slotCount - 1
        self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
        self.entryCapacity = slotCount / 4 * 3
        self.entries = .allocate(capacity: self.entryCapacity)
        self.count = 0
        self.keyCapacity = max(4096, initialCapacity * 8)
        self.keys = .allocate(byteCount: self.keyCapacity + Self.keySlack, alignment: 16)
        self.keyBytes = 0
    }

    deinit {
        self.deinitializePayloads()
        self.slots.deallocate()
        self.entries.deallocate()
        self.keys.deallocate()
    }

    /// Slots whose `meta` is zero; payloads left uninitialized.
    static func emptySlots(_ count: Int) -> UnsafeMutablePointer<Slot> {
        let slots = UnsafeMutablePointer<Slot>.allocate(capacity: count)
        for index in 0..<count {
            UnsafeMutableRawPointer(slots + index).storeBytes(of: 0, as: UInt64.self)
        }
        return slots
    }

    /// Bytes of memory the table holds.
    @usableFromInline var memoryFootprint: Int {
        (self.slotMask + 1) * MemoryLayout<Slot>.stride + self.entryCapacity * MemoryLayout<Entry>.stride
            + self.keyCapacity
    }

    /// Where a hash's first probe lands, for prefetching.
    @usableFromInline var prefetchHint: PrefetchHint {
        PrefetchHint(base: UnsafeRawPointer(self.slots), stride: MemoryLayout<Slot>.stride, shift: self.slotShift)
    }

    /// The bytes of entry `index`.
    @inlinable @inline(__always)
    func key(at index: Int) -> UnsafeRawBufferPointer {
        let entry = self.entries[index]
        return UnsafeRawBufferPointer(start: self.keys + Int(entry.offset), count: Int(entry.length))
    }

    @inlinable @inline(__always)
    func hash(at index: Int) -> UInt64 { self.entries[index].hash }

    /// The payload of entry `index`.
    @inlinable @inline(__always)
    func payload(at index: Int) -> UnsafeMutablePointer<Payload> {
        Self.payload(of: self.slots + Int(self.entries[index].slot))
    }

    @inlinable @inline(__always)
    static func payload(of slot: UnsafeMutablePointer<Slot>) -> UnsafeMutablePointer<Payload> {
        (UnsafeMutableRawPointer(slot) + MemoryLayout<Slot>.offset(of: \.payload)!).assumingMemoryBound(
            to: Payload.self
        )
    }

    /// Up to eight bytes of a key from `offset` on, little-endian and zero-padded, read without going past
    /// its end.
    @inlinable @inline(__always)
    static func word(of key: UnsafeRawPointer, length: Int, at offset: Int) -> UInt64 {
        let available = length &- offset
        if available >= 8 { return UInt64(littleEndian: key.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        if available <= 0 { return 0 }
        let start = key + offset
        if available >= 4 {
            let low = UInt64(UInt32(littleEndian: start.loadUnaligned(as: UInt32.self)))
            let high = UInt64(UInt32(littleEndian: start.loadUnaligned(fromByteOffset: available - 4, as: UInt32.self)))
            return low | (high >> UInt64(8 * (8 - available))) << 32
        }
        var word: UInt64 = 0
        for i in 0..<available { word |= UInt64(start.load(fromByteOffset: i, as: UInt8.self)) << UInt64(8 * i) }
        return word
    }

    /// The tag and length part of a slot's `meta`.
    @inlinable @inline(__always)
    static func meta(hash: UInt64, length: Int) -> UInt64 {
        (hash >> 8 & 0xFF_FFFF) << 40 | UInt64(min(length, 255)) << 32
    }

    /// The payload of a key, found or made: a new key's payload is uninitialized, and the caller must
    /// initialize it before the next call.
    /// - Returns: The payload's address and whether the key was inserted.
    @inlinable @inline(__always)
    func findOrInsert(
        hash: UInt64,
        key: UnsafeRawPointer,
        length: Int
    ) -> (payload: UnsafeMutablePointer<Payload>, inserted: Bool) {
        // Make room first, so that the probe below can insert without starting over.
        if _slowPath(self.count == self.entryCapacity || self.keyBytes &+ length > self.keyCapacity) {
            self.grow(forKeyBytes: length)
        }
        let first = Self.word(of: key, length: length, at: 0)
        let second = Self.word(of: key, length: length, at: 8)
        let wanted = Self.meta(hash: hash, length: length)
        var slot = Int(truncatingIfNeeded: hash >> self.slotShift)
        while true {
            let candidate = self.slots + slot
            let meta = candidate.pointee.meta
            if meta == 0 { break }
            if meta & 0xFFFF_FFFF_0000_0000 == wanted && candidate.pointee.prefix.0 == first
                && candidate.pointee.prefix.1 == second
            {
                if length <= 16 { return (Self.payload(of: candidate), false) }
                let entry = self.entries[Int(truncatingIfNeeded: meta & 0xFFFF_FFFF) &- 1]
                if Int(entry.length) == length
                    && bytesEqual(self.keys + Int(entry.offset) + 16, key + 16, length - 16)
                {
                    return (Self.payload(of: candidate), false)
                }
            }
            slot = (slot &+ 1) & self.slotMask
        }
        let index = self.count
        copyBytes(from: key, to: self.keys + self.keyBytes, count: length)
        self.entries[index] = Entry(
            hash: hash,
            offset: UInt32(truncatingIfNeeded: self.keyBytes),
            length: UInt32(truncatingIfNeeded: length),
            slot: UInt32(truncatingIfNeeded: slot)
        )
        self.keyBytes &+= length
        self.count = index &+ 1
        let target = self.slots + slot
        target.pointee.meta = wanted | UInt64(index &+ 1)
        target.pointee.prefix = (first, second)
        return (Self.payload(of: target), true)
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
            let old = self.slots
            self.slots = Self.emptySlots(slotCount)
            self.slotMask = slotCount - 1
            self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
            let entries = UnsafeMutablePointer<Entry>.allocate(capacity: slotCount / 4 * 3)
            entries.moveInitialize(from: self.entries, count: self.count)
            self.entries.deallocate()
            self.entries = entries
            self.entryCapacity = slotCount / 4 * 3
            for index in 0..<self.count {
                let entry = self.entries[index]
                var slot = Int(truncatingIfNeeded: entry.hash >> self.slotShift)
                while self.slots[slot].meta != 0 { slot = (slot + 1) & self.slotMask }
                (self.slots + slot).moveInitialize(from: old + Int(entry.slot), count: 1)
                self.entries[index].slot = UInt32(slot)
            }
            old.deallocate()
        }
    }

    func deinitializePayloads() {
        guard !_isPOD(Payload.self) else { return }
        for index in 0..<self.count { self.payload(at: index).deinitialize(count: 1) }
    }

    /// Forgets every key but keeps the memory, ready for the next round.
    @usableFromInline
    func removeAll() {
        self.deinitializePayloads()
        for index in 0..<self.count { self.slots[Int(self.entries[index].slot)].meta = 0 }
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
