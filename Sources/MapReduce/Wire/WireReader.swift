/// Reads the engine's binary encoding from bytes that stay valid while the reader is used.
///
/// A reader is bounded: it never reads past the end it was given, and every read that would throws
/// ``MapReduceError`` with code ``MapReduceError/Code/protocolViolation`` instead of trapping.
public struct WireReader {
    /// The bytes being read.
    public let buffer: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public var position: Int

    /// Creates a reader over `buffer`, which must outlive the reader.
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.position = 0
    }

    /// The number of bytes not read yet.
    @inlinable public var remaining: Int { self.buffer.count - self.position }

    /// Whether every byte has been read.
    @inlinable public var isAtEnd: Bool { self.position >= self.buffer.count }

    @usableFromInline static func truncated(_ what: String) -> MapReduceError {
        MapReduceError(.protocolViolation, "truncated or malformed data while reading \(what)")
    }

    /// Reads one byte.
    @inlinable public mutating func readByte() throws -> UInt8 {
        guard self.position < self.buffer.count else { throw Self.truncated("a byte") }
        let byte = self.buffer[self.position]
        self.position += 1
        return byte
    }

    /// Reads an unsigned LEB128 variable-length integer.
    @inlinable public mutating func readVarint() throws -> UInt64 {
        guard let base = self.buffer.baseAddress,
            let value = RecordFormat.readVarint(base, &self.position, self.buffer.count)
        else { throw Self.truncated("a varint") }
        return value
    }

    /// Reads a varint that must fit an `Int` no larger than `limit`.
    @inlinable public mutating func readCount(limit: Int = Int.max) throws -> Int {
        let value = try self.readVarint()
        guard value <= UInt64(limit) else {
            throw MapReduceError(.protocolViolation, "a length of \(value) exceeds the limit of \(limit)")
        }
        return Int(value)
    }

    /// Reads a fixed-width little-endian 64-bit integer.
    @inlinable public mutating func readFixed() throws -> UInt64 {
        let raw = try self.readBytes(count: 8)
        return UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
    }

    /// Returns the next `count` bytes without copying them.
    @inlinable public mutating func readBytes(count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= self.remaining else { throw Self.truncated("\(count) bytes") }
        let slice = UnsafeRawBufferPointer(rebasing: self.buffer[self.position..<(self.position + count)])
        self.position += count
        return slice
    }

    /// Returns every byte not read yet.
    @inlinable public mutating func readRemainingBytes() -> UnsafeRawBufferPointer {
        let slice = UnsafeRawBufferPointer(rebasing: self.buffer[self.position...])
        self.position = self.buffer.count
        return slice
    }

    /// Reads a length-prefixed byte string.
    @inlinable public mutating func readLengthPrefixedBytes() throws -> UnsafeRawBufferPointer {
        let count = try self.readCount(limit: self.remaining)
        return try self.readBytes(count: count)
    }

    /// Reads a length-prefixed UTF-8 string.
    public mutating func readLengthPrefixedString() throws -> String {
        let raw = try self.readLengthPrefixedBytes()
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw MapReduceError(.protocolViolation, "a string is not valid UTF-8")
        }
        return string
    }

    /// Reads a length-prefixed value, decoding it from exactly its own bytes.
    @inlinable public mutating func readLengthPrefixed<T: WireCodable>(_ type: T.Type = T.self) throws -> T {
        let raw = try self.readLengthPrefixedBytes()
        var inner = WireReader(raw)
        let value = try T(decoding: &inner)
        return value
    }
}
