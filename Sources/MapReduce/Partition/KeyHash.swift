/// The engine's key hash, "MR64": a fixed, seedless 64-bit hash of a key's encoded bytes.
///
/// Every process computes the same value for the same bytes, on every run and every machine, which is what
/// partitioning across processes needs; Swift's `Hasher` is seeded randomly per process and must never be
/// used for that. The definition, for a key of `n` bytes read as little-endian words:
///
/// ```
/// mum(a, b)  = high64(a × b) xor low64(a × b)            // 128-bit product
/// h          = n × 0x9E3779B97F4A7C15
/// for each whole 8-byte word w:  h = mum(h xor w, 0xA0761D6478BD642F)
/// if 1 to 7 bytes t remain:      h = mum(h xor tail(t), 0xE7037ED1A0B428DB)
/// result     = mum(h xor (h >> 29), 0x8EBC6AF09C88C6E3)
/// ```
///
/// where `tail(t)` of `r` bytes is, for `r >= 4`, the first four bytes as a little-endian `UInt32` in the low
/// half and the last four in the high half, and for `r < 4`, `t[0] | t[r/2] << 8 | t[r-1] << 16`.
public enum KeyHash {
    @usableFromInline static let lengthFactor: UInt64 = 0x9E37_79B9_7F4A_7C15
    @usableFromInline static let wordFactor: UInt64 = 0xA076_1D64_78BD_642F
    @usableFromInline static let tailFactor: UInt64 = 0xE703_7ED1_A0B4_28DB
    @usableFromInline static let finalFactor: UInt64 = 0x8EBC_6AF0_9C88_C6E3

    @inlinable @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @inlinable @inline(__always)
    static func load64(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }

    @inlinable @inline(__always)
    static func load32(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
    }

    /// The hash of `count` bytes at `start`.
    @inlinable @inline(__always)
    public static func hash(_ start: UnsafeRawPointer, count: Int) -> UInt64 {
        var h = UInt64(truncatingIfNeeded: count) &* lengthFactor
        var p = start
        var remaining = count
        while remaining >= 8 {
            h = mum(h ^ load64(p), wordFactor)
            p += 8
            remaining -= 8
        }
        if remaining > 0 {
            let tail: UInt64
            if remaining >= 4 {
                tail = load32(p) | load32(p + remaining - 4) << 32
            } else {
                let first = UInt64(p.load(as: UInt8.self))
                let middle = UInt64(p.load(fromByteOffset: remaining >> 1, as: UInt8.self))
                let last = UInt64(p.load(fromByteOffset: remaining - 1, as: UInt8.self))
                tail = first | middle << 8 | last << 16
            }
            h = mum(h ^ tail, tailFactor)
        }
        return mum(h ^ (h >> 29), finalFactor)
    }

    /// The hash of a byte buffer.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress else { return hash(UnsafeRawPointer(bitPattern: 8)!, count: 0) }
        return hash(base, count: bytes.count)
    }

    /// The hash of a byte sequence, for callers outside the hot path.
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { hash($0) }
    }

}
