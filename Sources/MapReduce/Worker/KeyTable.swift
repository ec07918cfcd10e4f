public import CMapReduceShims

/// An open-addressing hash table of byte-string keys, each with a payload: the heart of map-side
/// combining and reduce-side grouping.
///
/// A slot holds a 24-bit hash tag, the key's length and the offset of its bytes in the key arena, the
/// key's first sixteen bytes, and the payload (a combined count, say): 32 bytes for an `Int` payload,
/// two slots to a cache line. Nearly every key of real text is at most sixteen bytes, so a lookup, and
/// the update of the payload that follows it, touch exactly one cache line, which the emitter
/// prefetched while the mapper was still working; the arena serves longer keys, growth and iteration.
/// That is all the table holds: about 60 bytes per key plus the key's bytes. Nothing is allocated per
/// key; slots and arena grow by doubling, the slots at three quarters full.
///
/// The table's hash is its own (``KeyWords/hash(first:second:key:length:)``, cheap and branch-free for short
/// keys); the slot index comes from its top bits and the tag from its middle bits.
///
/// Its fields skip dynamic exclusivity checks, which would otherwise cost more than a probe: a table is
/// owned by one worker runtime and touched by one thread.
@usableFromInline
final class KeyTable<Payload> {
    @usableFromInline
    struct Slot {
        /// `tag << 40 | lengthCode << 32 | arena offset`; `lengthCode` is `min(length, 254) + 1`, and 0
        /// marks an empty slot. For code 255 the length is a `UInt32` at the offset, before the bytes.
        @usableFromInline var meta: UInt64
        /// The key's first sixteen bytes, little-endian, zero-padded.
        @usableFromInline var prefix: (UInt64, UInt64)
        /// Initialized only while the slot is occupied.
        @usableFromInline var payload: Payload
    }

    @usableFromInline @exclusivity(unchecked) var slots: UnsafeMutablePointer<Slot>
    @usableFromInline @exclusivity(unchecked) var slotShift: UInt64
    @usableFromInline @exclusivity(unchecked) var slotMask: Int
    /// The most keys the slots take before they must grow: three quarters of them.
    @usableFromInline @exclusivity(unchecked) var countLimit: Int
    @usableFromInline @exclusivity(unchecked) var count: Int
    @usableFromInline @exclusivity(unchecked) var keys: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var keyCapacity: Int
    @usableFromInline @exclusivity(unchecked) var keyBytes: Int

    /// Slack after the arena so key comparisons may read whole words.
    @usableFromInline static var keySlack: Int { 16 }
    @usableFromInline static var lengthMask: UInt64 { 0xFF << 32 }

    @usableFromInline
    init(initialCapacity: Int = 1024) {
        var slotCount = 16
        while slotCount * 3 < initialCapacity * 4 { slotCount <<= 1 }
        self.slots = Self.emptySlots(slotCount)
        self.slotMask = slotCount - 1
        self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
        self.countLimit = slotCount / 4 * 3
        self.count = 0
        self.keyCapacity = max(4096, initialCapacity * 8)
        self.keys = .allocate(byteCount: self.keyCapacity + Self.keySlack, alignment: 16)
        self.keyBytes = 0
    }

    deinit {
        self.deinitializePayloads()
        self.slots.deallocate()
        self.keys.deallocate()
    }

    /// Slots whose `meta` is zero; payloads left uninitialized.
    @inlinable
    static func emptySlots(_ count: Int) -> UnsafeMutablePointer<Slot> {
        let slots = allocateTableMemory(byteCount: count * MemoryLayout<Slot>.stride).bindMemory(
            to: Slot.self,
            capacity: count
        )
        for index in 0..<count {
            UnsafeMutableRawPointer(slots + index).storeBytes(of: 0, as: UInt64.self)
        }
        return slots
    }

    /// Bytes of memory the table holds.
    @usableFromInline var memoryFootprint: Int {
        (self.slotMask + 1) * MemoryLayout<Slot>.stride + self.keyCapacity
    }

    /// Bytes of memory the table would hold after making room for one more key of `length` bytes.
    @inlinable
    func footprintAfterRoom(forKeyBytes length: Int) -> Int {
        let slots = (self.slotMask + 1) * (self.count == self.countLimit ? 2 : 1)
        var keys = self.keyCapacity
        while self.keyBytes + length + 4 > keys { keys *= 2 }
        return slots * MemoryLayout<Slot>.stride + keys
    }

    /// Whether one more key of `length` bytes fits without growing.
    @inlinable @inline(__always)
    func hasRoom(forKeyBytes length: Int) -> Bool {
        self.count < self.countLimit && self.keyBytes &+ length &+ 4 <= self.keyCapacity
    }

    /// Where a hash's first probe lands, for prefetching.
    @usableFromInline var prefetchHint: PrefetchHint {
        PrefetchHint(base: UnsafeRawPointer(self.slots), stride: MemoryLayout<Slot>.stride, shift: self.slotShift)
    }

    /// The bytes of the key in slot `slot`.
    @inlinable @inline(__always)
    func key(atSlot slot: Int) -> UnsafeRawBufferPointer {
        let meta = self.slots[slot].meta
        let offset = Int(truncatingIfNeeded: meta & 0xFFFF_FFFF)
        let code = Int(truncatingIfNeeded: (meta & Self.lengthMask) >> 32)
        if _slowPath(code == 255) {
            let length = Int(self.keys.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            return UnsafeRawBufferPointer(start: self.keys + offset + 4, count: length)
        }
        return UnsafeRawBufferPointer(start: self.keys + offset, count: code - 1)
    }

    /// Asks for slot `slot`, and the bytes of the key in it once the slot is in cache, to be brought
    /// close: for loops that visit slots in key order, which is random order in the table. Call it
    /// for the slot `2 * distance` ahead with `stage` 0 and for the one `distance` ahead with `stage` 1.
    @inlinable @inline(__always)
    func prefetch(slot: Int, stage: Int) {
        if stage == 0 {
            mapreduce_prefetch(self.slots + slot)
        } else {
            let meta = self.slots[slot].meta
            mapreduce_prefetch(self.keys + Int(truncatingIfNeeded: meta & 0xFFFF_FFFF))
        }
    }

    /// The payload in slot `slot`.
    @inlinable @inline(__always)
    func payload(atSlot slot: Int) -> UnsafeMutablePointer<Payload> {
        Self.payload(of: self.slots + slot)
    }

    @inlinable @inline(__always)
    static func payload(of slot: UnsafeMutablePointer<Slot>) -> UnsafeMutablePointer<Payload> {
        (UnsafeMutableRawPointer(slot) + MemoryLayout<Slot>.offset(of: \.payload)!).assumingMemoryBound(
            to: Payload.self
        )
    }

    /// The tag and length code of a slot's `meta`.
    @inlinable @inline(__always)
    static func meta(hash: UInt64, length: Int) -> UInt64 {
        (hash >> 8 & 0xFF_FFFF) << 40 | UInt64(min(length, 254) &+ 1) << 32
    }

    /// The slot array, its shift and mask, for a caller's loop to keep in registers; stale after an insert.
    @usableFromInline
    struct Probe {
        @usableFromInline let slots: UnsafeMutablePointer<Slot>
        @usableFromInline let shift: UInt64
        @usableFromInline let mask: Int

        @inlinable init(slots: UnsafeMutablePointer<Slot>, shift: UInt64, mask: Int) {
            self.slots = slots
            self.shift = shift
            self.mask = mask
        }

        /// The payload of a key already in the table, or nil: the hot half of a lookup, which reads only
        /// the slots.
        @inlinable @inline(__always)
        func find(
            hash: UInt64,
            first: UInt64,
            second: UInt64,
            key: UnsafeRawPointer,
            length: Int,
            keys: UnsafeMutableRawPointer
        ) -> UnsafeMutablePointer<Payload>? {
            let wanted = KeyTable.meta(hash: hash, length: length)
            var slot = Int(truncatingIfNeeded: hash >> self.shift)
            while true {
                let candidate = self.slots + slot
                let meta = candidate.pointee.meta
                if meta & 0xFFFF_FFFF_0000_0000 == wanted && candidate.pointee.prefix.0 == first
                    && candidate.pointee.prefix.1 == second
                {
                    if length <= 16 { return KeyTable.payload(of: candidate) }
                    let stored = KeyTable.storedKey(meta, keys: keys)
                    if stored.count == length && bytesEqual(stored.baseAddress! + 16, key + 16, length - 16) {
                        return KeyTable.payload(of: candidate)
                    }
                }
                if meta == 0 { return nil }
                slot = (slot &+ 1) & self.mask
            }
        }
    }

    /// The current ``Probe``.
    @inlinable var probe: Probe { Probe(slots: self.slots, shift: self.slotShift, mask: self.slotMask) }

    /// The payload of a key, found or made: a new key's payload is uninitialized, and the caller must
    /// initialize it before the next call. Grows the table if it is full (see ``hasRoom(forKeyBytes:)``
    /// for callers that would rather do something else first).
    /// - Parameters:
    ///   - hash: ``KeyWords/hash(first:second:key:length:)`` of the key.
    ///   - first: The key's first eight bytes, and `second` the next eight, little-endian, zero-padded.
    /// - Returns: The payload's address and whether the key was inserted.
    @inlinable @inline(__always)
    func findOrInsert(
        hash: UInt64,
        first: UInt64,
        second: UInt64,
        key: UnsafeRawPointer,
        length: Int
    ) -> (payload: UnsafeMutablePointer<Payload>, inserted: Bool) {
        // Make room first, so that the probe below can insert without starting over.
        if _slowPath(!self.hasRoom(forKeyBytes: length)) { self.grow(forKeyBytes: length) }
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
                let stored = self.key(atSlot: slot)
                if stored.count == length && bytesEqual(stored.baseAddress! + 16, key + 16, length - 16) {
                    return (Self.payload(of: candidate), false)
                }
            }
            slot = (slot &+ 1) & self.slotMask
        }
        let start = self.keyBytes
        var offset = start
        if _slowPath(length >= 254) {
            self.keys.storeBytes(of: UInt32(truncatingIfNeeded: length), toByteOffset: offset, as: UInt32.self)
            offset &+= 4
        }
        copyBytes(from: key, to: self.keys + offset, count: length)
        self.keyBytes = offset &+ length
        self.count &+= 1
        let target = self.slots + slot
        target.pointee.meta = wanted | UInt64(truncatingIfNeeded: start)
        target.pointee.prefix = (first, second)
        return (Self.payload(of: target), true)
    }

    @inlinable
    func grow(forKeyBytes length: Int) {
        if self.keyBytes + length + 4 > self.keyCapacity {
            var capacity = self.keyCapacity * 2
            while self.keyBytes + length + 4 > capacity { capacity *= 2 }
            precondition(capacity <= Int(UInt32.max), "a key table holds at most 4 GiB of keys")
            let keys = UnsafeMutableRawPointer.allocate(byteCount: capacity + Self.keySlack, alignment: 16)
            keys.copyMemory(from: self.keys, byteCount: self.keyBytes)
            self.keys.deallocate()
            self.keys = keys
            self.keyCapacity = capacity
        }
        if self.count == self.countLimit {
            let oldCount = self.slotMask + 1
            let old = self.slots
            let slotCount = oldCount * 2
            self.slots = Self.emptySlots(slotCount)
            self.slotMask = slotCount - 1
            self.slotShift = UInt64(64 - slotCount.trailingZeroBitCount)
            self.countLimit = slotCount / 4 * 3
            for index in 0..<oldCount where old[index].meta != 0 {
                let source = old + index
                let stored = Self.storedKey(source.pointee.meta, keys: self.keys)
                let hash = KeyWords.hash(
                    first: source.pointee.prefix.0,
                    second: source.pointee.prefix.1,
                    key: stored.baseAddress!,
                    length: stored.count
                )
                var slot = Int(truncatingIfNeeded: hash >> self.slotShift)
                while self.slots[slot].meta != 0 { slot = (slot + 1) & self.slotMask }
                (self.slots + slot).moveInitialize(from: source, count: 1)
            }
            old.deallocate()
        }
    }

    @inlinable
    static func storedKey(_ meta: UInt64, keys: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        let offset = Int(truncatingIfNeeded: meta & 0xFFFF_FFFF)
        let code = Int(truncatingIfNeeded: (meta & Self.lengthMask) >> 32)
        if code == 255 {
            let length = Int(keys.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            return UnsafeRawBufferPointer(start: keys + offset + 4, count: length)
        }
        return UnsafeRawBufferPointer(start: keys + offset, count: code - 1)
    }

    /// The occupied slots, in slot order.
    @inlinable
    func occupiedSlots() -> [UInt32] {
        var result: [UInt32] = []
        result.reserveCapacity(self.count)
        for slot in 0...self.slotMask where self.slots[slot].meta != 0 { result.append(UInt32(slot)) }
        return result
    }

    @inlinable
    func deinitializePayloads() {
        guard !_isPOD(Payload.self) else { return }
        for slot in 0...self.slotMask where self.slots[slot].meta != 0 {
            self.payload(atSlot: slot).deinitialize(count: 1)
        }
    }

    /// Forgets every key but keeps the memory, ready for the next round.
    @inlinable
    func removeAll() {
        self.deinitializePayloads()
        for slot in 0...self.slotMask { self.slots[slot].meta = 0 }
        self.count = 0
        self.keyBytes = 0
    }

    /// The occupied slots ordered by their keys' bytes (lexicographic, shorter first on a tie).
    @inlinable
    func sortedSlots() -> [UInt32] {
        var order: [PrefixEntry] = []
        order.reserveCapacity(self.count)
        for slot in 0...self.slotMask where self.slots[slot].meta != 0 {
            order.append(
                PrefixEntry(prefix: self.slots[slot].prefix.0.byteSwapped, slot: UInt32(truncatingIfNeeded: slot))
            )
        }
        PrefixSort.sort(&order) { lhs, rhs in
            compareBytes(self.key(atSlot: Int(lhs)), self.key(atSlot: Int(rhs))) < 0
        }
        return order.map(\.slot)
    }
}

/// How ``KeyTable`` reads keys: their first sixteen bytes as two little-endian words, and its own hash.
@usableFromInline
enum KeyWords {
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

    /// Masks keeping the first `length` bytes of a key's first and second little-endian words.
    @inlinable @inline(__always)
    static func prefixMasks(length: Int) -> (UInt64, UInt64) {
        // Written to compile to conditional moves: 0 bytes keep nothing, 1...8 bytes shift ~0 right.
        let firstBytes = UInt64(truncatingIfNeeded: min(length, 8))
        let secondBytes = UInt64(truncatingIfNeeded: min(max(length &- 8, 0), 8))
        let first: UInt64 = firstBytes == 0 ? 0 : ~0 &>> (64 &- 8 &* firstBytes)
        let second: UInt64 = secondBytes == 0 ? 0 : ~0 &>> (64 &- 8 &* secondBytes)
        return (first, second)
    }

    /// The table's own hash of a key, from its first sixteen bytes (zero-padded), its length and, for
    /// longer keys, the rest: cheap and free of branches for short keys. It never leaves the table;
    /// partitions use ``KeyHash``.
    @inlinable @inline(__always)
    static func hash(first: UInt64, second: UInt64, key: UnsafeRawPointer, length: Int) -> UInt64 {
        // One 64 × 64 → 128-bit multiply, folded: both halves of the product depend on every input bit.
        var product = (first ^ 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(
            by: second ^ UInt64(truncatingIfNeeded: length) ^ 0xE703_7ED1_A0B4_28DB
        )
        var h = product.high ^ product.low
        if _slowPath(length > 16) {
            var offset = 16
            while offset < length {
                product = (h ^ KeyWords.word(of: key, length: length, at: offset)).multipliedFullWidth(
                    by: 0xA076_1D64_78BD_642F
                )
                h = product.high ^ product.low
                offset &+= 8
            }
        }
        return h
    }

    /// The first two words and the table hash of a key that may sit at the very end of readable memory.
    @inlinable @inline(__always)
    static func summary(of key: UnsafeRawPointer, length: Int) -> (first: UInt64, second: UInt64, hash: UInt64) {
        let first = KeyWords.word(of: key, length: length, at: 0)
        let second = KeyWords.word(of: key, length: length, at: 8)
        return (first, second, KeyWords.hash(first: first, second: second, key: key, length: length))
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
