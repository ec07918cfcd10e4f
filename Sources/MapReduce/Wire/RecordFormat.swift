/// The engine's one record format, and its one varint decoder.
///
/// A record is `keyLength key valueLength value`, the lengths unsigned LEB128 varints. Map-side buffers,
/// spill segments, partial runs and reduce output runs all hold records in this format, so that a
/// buffer of records can be copied into a spill as it is, and this is the only place that writes or
/// reads one. ``WireReader`` decodes its varints here too.
///
/// Everything here is `@inlinable` and works on raw pointers: it runs once or twice per record on the
/// map and reduce hot paths, where a call, a bounds-checked array or an allocation would show.
@usableFromInline
enum RecordFormat {
    /// The most bytes a varint of a 64-bit value takes: seven bits a byte.
    @usableFromInline static let maximumVarintSize = 10

    /// The most bytes a record with `keyCount` and `valueCount` bytes takes, lengths included.
    @inlinable @inline(__always)
    static func maximumSize(keyCount: Int, valueCount: Int) -> Int {
        keyCount &+ valueCount &+ 2 &* maximumVarintSize
    }

    // MARK: - Writing

    /// Stores `value` (not negative) as a varint at `buffer + position`; returns the position after it.
    @inlinable @inline(__always)
    static func putVarint(_ value: Int, _ buffer: UnsafeMutableRawPointer, _ position: Int) -> Int {
        var value = UInt64(value)
        var position = position
        while value >= 0x80 {
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: value) | 0x80, toByteOffset: position, as: UInt8.self)
            value >>= 7
            position &+= 1
        }
        buffer.storeBytes(of: UInt8(value), toByteOffset: position, as: UInt8.self)
        return position &+ 1
    }

    /// Stores one record at `buffer + position`, which must have room for
    /// ``maximumSize(keyCount:valueCount:)`` bytes; returns the position after it.
    @inlinable @inline(__always)
    static func put(
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        into buffer: UnsafeMutableRawPointer,
        at position: Int
    ) -> Int {
        var position = putVarint(key.count, buffer, position)
        if let base = key.baseAddress { copyBytes(from: base, to: buffer + position, count: key.count) }
        position &+= key.count
        position = putVarint(value.count, buffer, position)
        if let base = value.baseAddress { copyBytes(from: base, to: buffer + position, count: value.count) }
        return position &+ value.count
    }

    /// Appends one record to a growable buffer.
    @inlinable
    static func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, to writer: inout WireWriter) {
        writer.writeLengthPrefixed(key)
        writer.writeLengthPrefixed(value)
    }

    // MARK: - Reading

    /// Reads the varint at `position` of `base[..<end]`, moving past it; nil if it is truncated or
    /// does not fit 64 bits. One-byte varints, nearly all of them, take one load and one branch.
    @inlinable @inline(__always)
    static func readVarint(_ base: UnsafeRawPointer, _ position: inout Int, _ end: Int) -> UInt64? {
        guard position < end else { return nil }
        let first = base.load(fromByteOffset: position, as: UInt8.self)
        position &+= 1
        if _fastPath(first < 0x80) { return UInt64(first) }
        var result = UInt64(first & 0x7f)
        var shift: UInt64 = 7
        while true {
            guard position < end else { return nil }
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            position &+= 1
            // The tenth byte holds bit 63 alone: anything more would be cut off, not read.
            guard shift < 63 || byte <= 1 else { return nil }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift &+= 7
        }
    }

    /// Reads the varint length at `position` of a record in `base[..<end]`, moving past it; nil if it is
    /// truncated, too long, or counts more bytes than follow it before `end`.
    @inlinable @inline(__always)
    static func readLength(_ base: UnsafeRawPointer, _ position: inout Int, _ end: Int) -> Int? {
        guard let length = readVarint(base, &position, end), length <= UInt64(end &- position) else { return nil }
        return Int(truncatingIfNeeded: length)
    }
}
