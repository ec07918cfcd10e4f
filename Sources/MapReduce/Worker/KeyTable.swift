public import CMapReduceShims

/// An open-addressing hash table of byte-string keys, each with a payload: the heart of map-side
/// combining and reduce-side grouping.
///
/// A slot holds a 24-bit hash tag, the key's length and, for a key longer than sixteen bytes, the offset
/// of its bytes in the key arena; the key's first sixteen bytes; and the payload (a combined count, say):
/// 32 bytes for an `Int` payload, two slots to a cache line. Nearly every key of real text is at most
/// sixteen bytes: such a key lives in its slot alone, so a lookup, the update of the payload that
/// follows it, and reading the key back touch exactly one cache line, which the emitter prefetched
/// while the mapper was still working. The arena holds only the longer keys. That is all the table
/// holds: about 60 bytes per key, plus the bytes of long keys. Nothing is allocated per key; slots and
/// arena grow by doubling, the slots at three quarters full.
///
/// The table's hash is its own (``KeyWords/hash(first:second:key:length:)``, cheap and branch-free for short
/// keys); the slot index comes from its top bits and the tag from its middle bits.
///
/// Its fields skip dynamic exclusivity checks, which would otherwise cost more than a probe: a table is
/// owned by one worker runtime and touched by one thread.
@usableFromInline
package final class KeyTable<Payload> {
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
    @usableFromInline @exclusivity(unchecked) package var count: Int
    @usableFromInline @exclusivity(unchecked) var keys: UnsafeMutableRawPointer
    @usableFromInline @exclusivity(unchecked) var keyCapacity: Int
    @usableFromInline @exclusivity(unchecked) var keyBytes: Int

    /// Slack after the arena so key comparisons may read whole words.
    @usableFromInline static var keySlack: Int { 16 }
    @usableFromInline static var lengthMask: UInt64 { 0xFF << 32 }

    @usableFromInline
    package init(initialCapacity: Int = 1024) {
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

    /// The most keys the table takes before it must grow, once it has made room for one more key.
    @inlinable var countLimitAfterRoom: Int { self.count == self.countLimit ? 2 * self.countLimit : self.countLimit }

    /// Whether one more key of `length` bytes fits without growing.
    @inlinable @inline(__always)
    func hasRoom(forKeyBytes length: Int) -> Bool {
        self.count < self.countLimit && self.keyBytes &+ length &+ 4 <= self.keyCapacity
    }

    /// Where a hash's first probe lands, for prefetching.
    @usableFromInline var prefetchHint: PrefetchHint {
        PrefetchHint(base: UnsafeRawPointer(self.slots), stride: MemoryLayout<Slot>.stride, shift: self.slotShift)
    }

    /// The bytes of the key in slot `slot`: read from the slot itself when they fit in its prefix (the
    /// slot's cache line is usually the one being worked on), else from the arena.
    @inlinable @inline(__always)
    package func key(atSlot slot: Int) -> UnsafeRawBufferPointer {
        let entry = self.slots + slot
        let code = Int(truncatingIfNeeded: (entry.pointee.meta & Self.lengthMask) >> 32)
        if code <= 17 {
            let prefix = UnsafeRawPointer(entry) + MemoryLayout<Slot>.offset(of: \.prefix)!
            return UnsafeRawBufferPointer(start: prefix, count: code - 1)
        }
        return Self.storedKey(entry.pointee.meta, keys: self.keys)
    }

    /// For loops that visit slots in an order that is random in the table (by key, by partition):
    /// asks for the slot sixteen places after `index` in `order`, and, if the key of the one eight
    /// places after it (whose slot an earlier call asked for) is too long for its slot, for its bytes.
    @inlinable @inline(__always)
    func prefetch(ahead index: Int, in order: [UInt32]) {
        if index &+ 16 < order.count { mapreduce_prefetch(self.slots + Int(order[index &+ 16])) }
        if index &+ 8 < order.count {
            let meta = self.slots[Int(order[index &+ 8])].meta
            if meta & Self.lengthMask > 17 << 32 {
                mapreduce_prefetch(self.keys + Int(truncatingIfNeeded: meta & 0xFFFF_FFFF))
            }
        }
    }

    /// The payload in slot `slot`.
    @inlinable @inline(__always)
    package func payload(atSlot slot: Int) -> UnsafeMutablePointer<Payload> {
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
    package func findOrInsert(
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
        // A key that fits in the slot's prefix is read from there; only longer keys go to the arena.
        var start = 0
        if length > 16 {
            start = self.keyBytes
            var offset = start
            if _slowPath(length >= 254) {
                self.keys.storeBytes(of: UInt32(truncatingIfNeeded: length), toByteOffset: offset, as: UInt32.self)
                offset &+= 4
            }
            copyBytes(from: key, to: self.keys + offset, count: length)
            self.keyBytes = offset &+ length
        }
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
    package func sortedSlots() -> [UInt32] {
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
