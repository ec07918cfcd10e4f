/// Appends the engine's compact binary encoding to a growable byte buffer.
///
/// The buffer is reused across records: call ``removeAll()`` rather than making a new writer, so the hot
/// path does not allocate.
public struct WireWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Creates an empty writer.
    /// - Parameter capacity: Bytes to reserve up front.
    public init(capacity: Int = 0) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written so far.
    @inlinable public var count: Int { self.bytes.count }

    /// Forgets the written bytes but keeps the storage.
    @inlinable public mutating func removeAll() {
        self.bytes.removeAll(keepingCapacity: true)
    }

    /// Appends one byte.
    @inlinable public mutating func write(_ byte: UInt8) {
        self.bytes.append(byte)
    }

    /// Appends raw bytes, with no length in front.
    @inlinable public mutating func write(_ raw: UnsafeRawBufferPointer) {
        self.bytes.append(contentsOf: raw)
    }

    /// Appends raw bytes, with no length in front.
    @inlinable public mutating func write(_ raw: some Sequence<UInt8>) {
        self.bytes.append(contentsOf: raw)
    }

    /// Appends an unsigned LEB128 variable-length integer (1 byte below 128, at most 10).
    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        self.bytes.append(UInt8(value))
    }

    /// Appends a non-negative `Int` as a variable-length integer.
    @inlinable public mutating func writeVarint(_ value: Int) {
        precondition(value >= 0, "varints encode non-negative integers")
        self.writeVarint(UInt64(value))
    }

    /// Appends a fixed-width little-endian 64-bit integer.
    @inlinable public mutating func writeFixed(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    /// Appends a length (as a varint) followed by the bytes.
    @inlinable public mutating func writeLengthPrefixed(_ raw: UnsafeRawBufferPointer) {
        self.writeVarint(raw.count)
        self.bytes.append(contentsOf: raw)
    }

    /// Appends a length (as a varint) followed by a string's UTF-8 bytes.
    @inlinable public mutating func writeLengthPrefixed(_ string: String) {
        var string = string
        string.withUTF8 { self.writeLengthPrefixed(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a value's encoding with its length in front, so that a reader can skip or bound it.
    @inlinable public mutating func writeLengthPrefixed<T: WireCodable>(_ value: T) {
        let lengthAt = self.bytes.count
        // Reserve one byte for the length and move the body if it turns out longer than 127 bytes.
        self.bytes.append(0)
        value.encode(into: &self)
        let length = self.bytes.count - lengthAt - 1
        if length < 0x80 {
            self.bytes[lengthAt] = UInt8(length)
        } else {
            var prefix = WireWriter()
            prefix.writeVarint(length)
            self.bytes.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix.bytes)
        }
    }
}
