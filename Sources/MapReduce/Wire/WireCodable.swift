/// A type with a compact binary encoding, used for every key and value that crosses a process boundary.
///
/// An encoding is *delimited by its container*: ``init(decoding:)`` is handed a reader bounded to exactly the
/// bytes ``encode(into:)`` wrote, so a `String` is its UTF-8 bytes with no length in front. Types made of
/// several parts delimit their own variable-length parts, for example with
/// ``WireWriter/writeLengthPrefixed(_:)-(T)``.
///
/// Keys are identified, hashed, partitioned and ordered by their encoded bytes. The integer encodings keep
/// numeric order and the string encodings keep code-point order, so results come out in the order a
/// user expects.
public protocol WireCodable: Sendable {
    /// Appends the encoding of `self`.
    func encode(into writer: inout WireWriter)
    /// Decodes a value from a reader bounded to exactly its encoding.
    /// - Throws: ``MapReduceError`` when the bytes are not a valid encoding.
    init(decoding reader: inout WireReader) throws
}

/// A ``WireCodable`` type whose encoding is exactly its own bytes, such as ``ByteString`` or `String`.
///
/// A mapper can emit such keys straight from a borrowed byte range, without building a value first,
/// with ``Emitter/emit(keyBytes:_:)-(UnsafeRawBufferPointer,_)``.
public protocol RawBytesCodable: WireCodable {
    /// Makes a value from its encoded bytes.
    /// - Throws: ``MapReduceError`` when the bytes are not a valid value (for `String`, invalid UTF-8).
    init(encodedBytes: UnsafeRawBufferPointer) throws
}

extension WireCodable {
    /// The encoding of `self` as a new array.
    public var encodedBytes: [UInt8] {
        var writer = WireWriter()
        self.encode(into: &writer)
        return writer.bytes
    }

    /// Decodes a value from exactly `bytes`.
    @inlinable
    public init(encodedBytes bytes: UnsafeRawBufferPointer) throws {
        var reader = WireReader(bytes)
        try self.init(decoding: &reader)
    }
}

// MARK: - Unsigned integers

/// Order-preserving unsigned encoding: one byte holding the number of significant bytes `n` (0 to 8),
/// then those `n` bytes, most significant first. Smaller numbers are shorter and sort first.
@inlinable
func encodeOrderedUnsigned(_ value: UInt64, into writer: inout WireWriter) {
    let length = (64 - value.leadingZeroBitCount + 7) / 8
    writer.write(UInt8(length))
    var shift = (length - 1) * 8
    while shift >= 0 {
        writer.write(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        shift -= 8
    }
}

@inlinable
func decodeOrderedUnsigned(from reader: inout WireReader) throws -> UInt64 {
    let length = Int(try reader.readByte())
    guard length <= 8 else { throw MapReduceError(.protocolViolation, "an integer claims \(length) bytes") }
    var value: UInt64 = 0
    for _ in 0..<length {
        value = value << 8 | UInt64(try reader.readByte())
    }
    return value
}

/// Order-preserving signed encoding: non-negative values are `0x80 + n` then `n` bytes; a negative value
/// `x` is `0x7F - n` then the low `n` bytes of `x`, where `n` is the size of `~x`. Every negative value
/// sorts before every non-negative one, and each half keeps numeric order.
@inlinable
func encodeOrderedSigned(_ value: Int64, into writer: inout WireWriter) {
    let magnitude = UInt64(bitPattern: value >= 0 ? value : ~value)
    let length = (64 - magnitude.leadingZeroBitCount + 7) / 8
    let tag = value >= 0 ? UInt64(0x80 + length) : UInt64(0x7f - length)
    // The tag, then the `length` low bytes of the value, most significant first, laid out in two
    // little-endian words and appended at once.
    let valueBytes = (UInt64(bitPattern: value) << UInt64(64 - 8 * length)).bigEndian
    var encoded = ((tag | valueBytes << 8).littleEndian, (valueBytes >> 56).littleEndian)
    withUnsafeBytes(of: &encoded) { writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(1 + length)])) }
}

@inlinable
func decodeOrderedSigned(from reader: inout WireReader) throws -> Int64 {
    let tag = Int(try reader.readByte())
    let negative = tag < 0x80
    let length = negative ? 0x7f - tag : tag - 0x80
    guard (0...8).contains(length) else { throw MapReduceError(.protocolViolation, "an integer has tag \(tag)") }
    var bits: UInt64 = negative ? ~0 : 0
    for _ in 0..<length {
        bits = bits << 8 | UInt64(try reader.readByte())
    }
    return Int64(bitPattern: bits)
}

extension WireCodable where Self: FixedWidthInteger & UnsignedInteger {
    /// The order-preserving unsigned encoding: a length byte, then the significant bytes, most
    /// significant first.
    @inlinable public func encode(into writer: inout WireWriter) { encodeOrderedUnsigned(UInt64(self), into: &writer) }

    /// Reads the number ``encode(into:)`` wrote.
    /// - Throws: ``MapReduceError`` when the bytes are malformed or the number does not fit in `Self`.
    @inlinable public init(decoding reader: inout WireReader) throws {
        let value = try decodeOrderedUnsigned(from: &reader)
        guard let narrow = Self(exactly: value) else {
            throw MapReduceError(.protocolViolation, "\(value) is out of range for \(Self.self)")
        }
        self = narrow
    }
}

extension UInt64: WireCodable {}
extension UInt: WireCodable {}
extension UInt32: WireCodable {}

extension UInt8: WireCodable {
    /// The byte itself.
    @inlinable public func encode(into writer: inout WireWriter) { writer.write(self) }
    /// Reads one byte.
    /// - Throws: ``MapReduceError`` when there is no byte to read.
    @inlinable public init(decoding reader: inout WireReader) throws { self = try reader.readByte() }
}

// MARK: - Signed integers

extension WireCodable where Self: FixedWidthInteger & SignedInteger {
    /// The order-preserving signed encoding: every negative number sorts before every non-negative one.
    @inlinable public func encode(into writer: inout WireWriter) { encodeOrderedSigned(Int64(self), into: &writer) }

    /// Reads the number ``encode(into:)`` wrote.
    /// - Throws: ``MapReduceError`` when the bytes are malformed or the number does not fit in `Self`.
    @inlinable public init(decoding reader: inout WireReader) throws {
        let value = try decodeOrderedSigned(from: &reader)
        guard let narrow = Self(exactly: value) else {
            throw MapReduceError(.protocolViolation, "\(value) is out of range for \(Self.self)")
        }
        self = narrow
    }
}

extension Int64: WireCodable {}
extension Int: WireCodable {}
extension Int32: WireCodable {}

// MARK: - Other scalars

extension Bool: WireCodable {
    /// One byte: 1 for true, 0 for false, so false sorts first.
    @inlinable public func encode(into writer: inout WireWriter) { writer.write(self ? 1 : 0) }
    /// Reads the byte written by ``encode(into:)``.
    /// - Throws: ``MapReduceError`` for a byte other than 0 or 1.
    @inlinable public init(decoding reader: inout WireReader) throws {
        switch try reader.readByte() {
        case 0: self = false
        case 1: self = true
        case let other: throw MapReduceError(.protocolViolation, "a Bool is encoded as \(other)")
        }
    }
}

extension Double: WireCodable {
    /// Eight bytes, most significant first, with the sign bit flipped for positive numbers and every bit
    /// flipped for negative ones, so byte order is numeric order.
    @inlinable public func encode(into writer: inout WireWriter) {
        let bits = self.bitPattern
        let ordered = bits & (1 << 63) == 0 ? bits | (1 << 63) : ~bits
        for shift in stride(from: 56, through: 0, by: -8) {
            writer.write(UInt8(truncatingIfNeeded: ordered >> UInt64(shift)))
        }
    }

    /// Reads the eight bytes written by ``encode(into:)``.
    /// - Throws: ``MapReduceError`` when fewer than eight bytes remain.
    @inlinable public init(decoding reader: inout WireReader) throws {
        var ordered: UInt64 = 0
        for _ in 0..<8 { ordered = ordered << 8 | UInt64(try reader.readByte()) }
        let bits = ordered & (1 << 63) != 0 ? ordered & ~(1 << 63) : ~ordered
        self = Double(bitPattern: bits)
    }
}

// MARK: - Strings and byte strings

extension String: RawBytesCodable {
    /// The UTF-8 bytes, with no length: the container delimits them.
    @inlinable public func encode(into writer: inout WireWriter) {
        writer.write(self.utf8)
    }

    /// Reads every remaining byte as UTF-8.
    /// - Throws: ``MapReduceError`` when the bytes are not valid UTF-8.
    public init(decoding reader: inout WireReader) throws {
        try self.init(encodedBytes: reader.readRemainingBytes())
    }

    /// Makes a string from its UTF-8 bytes.
    /// - Throws: ``MapReduceError`` when the bytes are not valid UTF-8.
    public init(encodedBytes: UnsafeRawBufferPointer) throws {
        guard let string = String(validating: encodedBytes, as: UTF8.self) else {
            throw MapReduceError(.protocolViolation, "a String key or value is not valid UTF-8")
        }
        self = string
    }
}

extension ByteString: RawBytesCodable {
    /// The bytes, with no length: the container delimits them.
    @inlinable public func encode(into writer: inout WireWriter) {
        writer.write(self.bytes)
    }

    /// Reads every remaining byte.
    @inlinable public init(decoding reader: inout WireReader) throws {
        self.init(reader.readRemainingBytes())
    }

    /// Copies the bytes; never throws.
    @inlinable public init(encodedBytes: UnsafeRawBufferPointer) throws {
        self.init(encodedBytes)
    }
}

// MARK: - Arrays

extension Array: WireCodable where Element: WireCodable {
    /// The element count, then each element with its length in front.
    @inlinable public func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.count)
        for element in self { writer.writeLengthPrefixed(element) }
    }

    /// Reads what ``encode(into:)`` wrote: the count, then each element with its length in front.
    /// - Throws: ``MapReduceError`` when the bytes are malformed.
    @inlinable public init(decoding reader: inout WireReader) throws {
        // Every element takes at least one byte, which bounds the count before anything is allocated.
        let count = try reader.readCount(limit: reader.remaining)
        self.init()
        self.reserveCapacity(count)
        for _ in 0..<count { self.append(try reader.readLengthPrefixed(Element.self)) }
    }
}
