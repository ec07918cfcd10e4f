/// A part of a composite key (``KeyPair``, ``KeyTriple``): a value with a *self-delimiting, order-preserving*
/// encoding, so that comparing two composite keys' encodings byte by byte compares their parts in turn, the
/// first part first, as tuples compare.
///
/// The engine orders keys by their encoded bytes (see ``WireCodable``). A key's own encoding need not say
/// where it ends (its container does), and the integer encodings put shorter numbers first, which is
/// numeric order for one number but not for a number followed by more bytes. The part encodings are:
///
/// - fixed-width integers: their bytes, most significant first, with the sign bit flipped for signed
///   types (so every negative number sorts before every non-negative one);
/// - `Bool`: one byte, 0 or 1;
/// - byte strings (``ByteString``, `String`): the bytes with each `0x00` written as `0x00 0xFF`, then the
///   terminator `0x00 0x00`. A string that is a prefix of another ends with `0x00 0x00` where the longer
///   one goes on with `0x00 0xFF` or a byte above `0x00`, so it sorts first; the terminator never appears
///   inside a part. `String` parts are ordered by their UTF-8 bytes (code points), like `String` keys;
///   that is not `String`'s own `<`, which compares canonical equivalents as equal;
/// - a ``KeyPair`` or ``KeyTriple``: its parts in turn, so composite keys nest.
public protocol KeyComponent: Hashable, Sendable {
    /// Appends the part's self-delimiting, order-preserving encoding.
    func encodeComponent(into writer: inout WireWriter)
    /// Decodes one part and leaves the reader just after it.
    /// - Throws: ``MapReduceError`` when the bytes are not a valid encoding of the part.
    init(decodingComponent reader: inout WireReader) throws
}

// MARK: - Integers

extension KeyComponent where Self: FixedWidthInteger {
    /// The value's bits, most significant first, the sign bit flipped for signed types.
    @inlinable
    public func encodeComponent(into writer: inout WireWriter) {
        var bits = Magnitude(truncatingIfNeeded: self)
        if Self.isSigned { bits ^= 1 << (Self.bitWidth - 1) }
        withUnsafeBytes(of: bits.bigEndian) { writer.write($0) }
    }

    /// - Throws: ``MapReduceError`` when fewer bytes than the type's width are left.
    @inlinable
    public init(decodingComponent reader: inout WireReader) throws {
        let raw = try reader.readBytes(count: MemoryLayout<Magnitude>.size)
        var bits = Magnitude.zero
        for byte in raw { bits = bits << 8 | Magnitude(byte) }
        if Self.isSigned { bits ^= 1 << (Self.bitWidth - 1) }
        self.init(truncatingIfNeeded: bits)
    }
}

extension UInt8: KeyComponent {}
extension UInt16: KeyComponent {}
extension UInt32: KeyComponent {}
extension UInt64: KeyComponent {}
extension UInt: KeyComponent {}
extension Int8: KeyComponent {}
extension Int16: KeyComponent {}
extension Int32: KeyComponent {}
extension Int64: KeyComponent {}
extension Int: KeyComponent {}

extension Bool: KeyComponent {
    /// One byte: 0 for false, 1 for true.
    @inlinable public func encodeComponent(into writer: inout WireWriter) { writer.write(self ? 1 : 0) }

    /// - Throws: ``MapReduceError`` for a byte other than 0 or 1.
    @inlinable public init(decodingComponent reader: inout WireReader) throws {
        self = try Bool(decoding: &reader)
    }
}

// MARK: - Byte strings

/// The escaped, terminated encoding of a byte-string part: `0x00` becomes `0x00 0xFF`, and `0x00 0x00`
/// ends the part.
@inlinable
func encodeEscapedComponent(_ bytes: some Sequence<UInt8>, into writer: inout WireWriter) {
    for byte in bytes {
        writer.write(byte)
        if byte == 0 { writer.write(0xFF) }
    }
    writer.write(0)
    writer.write(0)
}

/// Decodes an escaped, terminated byte-string part.
@inlinable
func decodeEscapedComponent(from reader: inout WireReader) throws -> [UInt8] {
    var bytes: [UInt8] = []
    while true {
        let byte = try reader.readByte()
        if byte != 0 {
            bytes.append(byte)
            continue
        }
        switch try reader.readByte() {
        case 0x00: return bytes
        case 0xFF: bytes.append(0)
        case let other:
            throw MapReduceError(.protocolViolation, "a key part has 0x00 followed by \(other), not 0x00 or 0xFF")
        }
    }
}

extension ByteString: KeyComponent {
    /// The bytes, each `0x00` escaped as `0x00 0xFF`, then `0x00 0x00`.
    @inlinable public func encodeComponent(into writer: inout WireWriter) {
        encodeEscapedComponent(self.bytes, into: &writer)
    }

    /// - Throws: ``MapReduceError`` when the part is unterminated or badly escaped.
    @inlinable public init(decodingComponent reader: inout WireReader) throws {
        self.init(try decodeEscapedComponent(from: &reader))
    }
}

extension String: KeyComponent {
    /// The UTF-8 bytes, each `0x00` escaped as `0x00 0xFF`, then `0x00 0x00`: ordered by code point.
    @inlinable public func encodeComponent(into writer: inout WireWriter) {
        encodeEscapedComponent(self.utf8, into: &writer)
    }

    /// - Throws: ``MapReduceError`` when the part is unterminated, badly escaped or not UTF-8.
    public init(decodingComponent reader: inout WireReader) throws {
        let bytes = try decodeEscapedComponent(from: &reader)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw MapReduceError(.protocolViolation, "a String key part is not valid UTF-8")
        }
        self = string
    }
}

// MARK: - Composite keys

/// A key of two parts, ordered as a tuple: by ``first``, then by ``second``, and encoded so that the
/// engine's byte order is that order (see ``KeyComponent``).
///
/// Use it to group by one thing within another (a status code within a dimension, a file within a word),
/// and to get the groups back in that order: a consumer sees every key with the same ``first`` one after
/// another.
///
/// ```swift
/// output.emit(KeyPair(UInt16(404), ByteString("127.0.0.1")), 1)
/// ```
public struct KeyPair<A: KeyComponent, B: KeyComponent>: KeyComponent, WireCodable, CustomStringConvertible {
    /// The first part, compared first.
    public var first: A
    /// The second part.
    public var second: B

    /// A key of two parts.
    @inlinable
    public init(_ first: A, _ second: B) {
        self.first = first
        self.second = second
    }

    public var description: String { "(\(self.first), \(self.second))" }

    /// Both parts' encodings, one after the other.
    @inlinable
    public func encodeComponent(into writer: inout WireWriter) {
        self.first.encodeComponent(into: &writer)
        self.second.encodeComponent(into: &writer)
    }

    @inlinable
    public init(decodingComponent reader: inout WireReader) throws {
        self.first = try A(decodingComponent: &reader)
        self.second = try B(decodingComponent: &reader)
    }

    // MARK: - WireCodable

    @inlinable
    public func encode(into writer: inout WireWriter) { self.encodeComponent(into: &writer) }

    /// - Throws: ``MapReduceError`` when a part is malformed or bytes are left over.
    @inlinable
    public init(decoding reader: inout WireReader) throws {
        try self.init(decodingComponent: &reader)
        guard reader.isAtEnd else { throw MapReduceError(.protocolViolation, "a key pair has bytes left over") }
    }
}

/// A key of three parts, ordered as a tuple: by ``first``, then ``second``, then ``third``, and encoded
/// so that the engine's byte order is that order (see ``KeyComponent``). Longer keys nest: a
/// ``KeyPair`` is itself a part.
public struct KeyTriple<A: KeyComponent, B: KeyComponent, C: KeyComponent>: KeyComponent, WireCodable,
    CustomStringConvertible
{
    /// The first part, compared first.
    public var first: A
    /// The second part.
    public var second: B
    /// The third part, compared last.
    public var third: C

    /// A key of three parts.
    @inlinable
    public init(_ first: A, _ second: B, _ third: C) {
        self.first = first
        self.second = second
        self.third = third
    }

    public var description: String { "(\(self.first), \(self.second), \(self.third))" }

    /// The three parts' encodings, one after the other.
    @inlinable
    public func encodeComponent(into writer: inout WireWriter) {
        self.first.encodeComponent(into: &writer)
        self.second.encodeComponent(into: &writer)
        self.third.encodeComponent(into: &writer)
    }

    @inlinable
    public init(decodingComponent reader: inout WireReader) throws {
        self.first = try A(decodingComponent: &reader)
        self.second = try B(decodingComponent: &reader)
        self.third = try C(decodingComponent: &reader)
    }

    // MARK: - WireCodable

    @inlinable
    public func encode(into writer: inout WireWriter) { self.encodeComponent(into: &writer) }

    /// - Throws: ``MapReduceError`` when a part is malformed or bytes are left over.
    @inlinable
    public init(decoding reader: inout WireReader) throws {
        try self.init(decodingComponent: &reader)
        guard reader.isAtEnd else { throw MapReduceError(.protocolViolation, "a key triple has bytes left over") }
    }
}

// MARK: - Comparable

extension KeyPair: Comparable where A: Comparable, B: Comparable {
    /// Tuple order: by ``first``, then ``second``.
    @inlinable
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.first, lhs.second) < (rhs.first, rhs.second)
    }
}

extension KeyTriple: Comparable where A: Comparable, B: Comparable, C: Comparable {
    /// Tuple order: by ``first``, then ``second``, then ``third``.
    @inlinable
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.first, lhs.second, lhs.third) < (rhs.first, rhs.second, rhs.third)
    }
}
