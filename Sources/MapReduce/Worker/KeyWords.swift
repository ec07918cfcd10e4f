// Keys of up to sixteen bytes are read back from where their two little-endian words are stored (a
// pending record's, a slot's prefix): in memory, those words are the key's bytes only on a
// little-endian machine.
#if _endian(big)
#error("short keys are read from the memory of their little-endian prefix words")
#endif

/// How ``KeyTable`` reads keys: their first sixteen bytes as two little-endian words, and its own hash.
@usableFromInline
package enum KeyWords {
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
    package static func summary(of key: UnsafeRawPointer, length: Int) -> (first: UInt64, second: UInt64, hash: UInt64)
    {
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
