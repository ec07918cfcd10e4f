/// An owned string of bytes, compared and ordered byte by byte.
///
/// Use it as a key type when keys are text that must be ordered by code point (UTF-8 byte order) rather
/// than by `String`'s Unicode-equivalence rules, or when they need not be valid UTF-8 at all.
public struct ByteString: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The bytes.
    public var bytes: [UInt8]

    /// Copies bytes into a new byte string.
    @inlinable public init(_ bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes)
    }

    /// Copies bytes into a new byte string.
    @inlinable public init(_ raw: UnsafeRawBufferPointer) {
        self.bytes = Array(raw)
    }

    /// The UTF-8 bytes of a string.
    @inlinable public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    /// The bytes decoded as UTF-8, with invalid sequences replaced by U+FFFD.
    public var description: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Byte-wise lexicographic order: for UTF-8, the order of code points.
    @inlinable public static func < (lhs: ByteString, rhs: ByteString) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

extension ByteString: ExpressibleByStringLiteral {
    /// The UTF-8 bytes of a string literal.
    public init(stringLiteral value: String) {
        self.init(value)
    }
}
