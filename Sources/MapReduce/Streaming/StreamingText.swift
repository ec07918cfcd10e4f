/// A key, value or output type with a text form for the streaming contract (Hadoop Streaming, Spark's
/// `pipe`, Unix pipelines), where every pair is one `KEY<TAB>VALUE` line.
///
/// The text form must never contain a tab, a line feed or a carriage return, and must be canonical: one
/// value, one text. Then a line splits at its first tab, and two keys are equal exactly when their texts
/// are, so that grouping and sorting the lines groups and sorts the keys. Numbers are decimal; byte
/// strings and strings are escaped as ``StreamingText`` describes.
///
/// Conform a job's key, value and output types to run the job with ``Streaming``.
public protocol StreamingTextCodable: WireCodable {
    /// Appends the text form of `self`.
    func writeStreamingText(into text: inout [UInt8])

    /// Parses a text form.
    /// - Throws: ``MapReduceError`` with code `badInput` when `text` is not the canonical text of a value.
    init(streamingText text: UnsafeRawBufferPointer) throws

    /// Appends the text form of the value whose wire encoding is `encoded`. The default decodes the value;
    /// types whose encoding is their bytes write the text straight from them.
    static func writeStreamingText(encoded: UnsafeRawBufferPointer, into text: inout [UInt8]) throws

    /// Appends the wire encoding of the value whose text form is `text`. The default parses the value
    /// and encodes it.
    static func encode(streamingText text: UnsafeRawBufferPointer, into writer: inout WireWriter) throws
}

extension StreamingTextCodable {
    /// Decodes the value and appends its text.
    @inlinable
    public static func writeStreamingText(encoded: UnsafeRawBufferPointer, into text: inout [UInt8]) throws {
        try Self(encodedBytes: encoded).writeStreamingText(into: &text)
    }

    /// Parses the value and appends its encoding.
    @inlinable
    public static func encode(streamingText text: UnsafeRawBufferPointer, into writer: inout WireWriter) throws {
        try Self(streamingText: text).encode(into: &writer)
    }
}

/// The escaping that carries arbitrary bytes through line-based text: reversible, canonical, and valid
/// UTF-8 whatever the bytes were.
///
/// - A backslash is written `\\`, a tab `\t`, a line feed `\n`, a carriage return `\r`.
/// - Any other byte below 0x20, the byte 0x7F, and every byte that is not part of a valid UTF-8 sequence
///   is written `\xHH`, two lowercase hexadecimal digits.
/// - Every other byte, valid UTF-8 included, is written as itself.
///
/// Parsing accepts exactly what escaping writes (no `\x41` for `A`, no raw control bytes), so that a
/// byte string has one text and texts compare equal exactly when the bytes do. An escaped text has no
/// byte below 0x20: a line `KEY<TAB>VALUE` sorts by its key under `LC_ALL=C sort`, the tab ending the
/// key before any byte of a longer key.
public enum StreamingText {
    /// Appends the escaped form of `bytes`.
    public static func escape(_ bytes: UnsafeRawBufferPointer, into text: inout [UInt8]) {
        var i = 0
        let count = bytes.count
        while i < count {
            let byte = bytes[i]
            if byte >= 0x20 && byte < 0x7F {
                if byte == UInt8(ascii: "\\") {
                    text.append(UInt8(ascii: "\\"))
                }
                text.append(byte)
                i += 1
                continue
            }
            if byte >= 0x80, let length = validSequenceLength(bytes, at: i) {
                text.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)]))
                i += length
                continue
            }
            text.append(UInt8(ascii: "\\"))
            switch byte {
            case 0x09: text.append(UInt8(ascii: "t"))
            case 0x0A: text.append(UInt8(ascii: "n"))
            case 0x0D: text.append(UInt8(ascii: "r"))
            default:
                text.append(UInt8(ascii: "x"))
                text.append(hexDigits[Int(byte >> 4)])
                text.append(hexDigits[Int(byte & 0x0F)])
            }
            i += 1
        }
    }

    /// Appends the bytes that `text` is the escaped form of.
    /// - Throws: ``MapReduceError`` when `text` is not exactly what ``escape(_:into:)`` writes for some bytes.
    public static func unescape(_ text: UnsafeRawBufferPointer, into bytes: inout [UInt8]) throws {
        // Nearly every key is plain text: one pass that finds nothing to undo.
        if isPlain(text) {
            bytes.append(contentsOf: text)
            return
        }
        let start = bytes.count
        var i = 0
        let count = text.count
        while i < count {
            let byte = text[i]
            guard byte == UInt8(ascii: "\\") else {
                guard byte >= 0x20 && byte != 0x7F else {
                    throw malformed("a raw control byte 0x\(hex(byte)) must be escaped")
                }
                bytes.append(byte)
                i += 1
                continue
            }
            guard i + 1 < count else { throw malformed("a lone backslash ends it") }
            switch text[i + 1] {
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "x"):
                guard i + 3 < count, let high = hexValue(text[i + 2]), let low = hexValue(text[i + 3]) else {
                    throw malformed("\\x must be followed by two lowercase hexadecimal digits")
                }
                bytes.append(high << 4 | low)
                i += 4
                continue
            default:
                throw malformed("unknown escape \\\(Unicode.Scalar(text[i + 1]))")
            }
            i += 2
        }
        // One text per byte string: whatever escaping would not have written (`\\x41` for `A`, a raw
        // invalid UTF-8 byte, `\\xe2\\x82\\xac` for a valid euro sign) is refused.
        var canonical: [UInt8] = []
        canonical.reserveCapacity(count)
        bytes.withUnsafeBytes { escape(UnsafeRawBufferPointer(rebasing: $0[start...]), into: &canonical) }
        guard canonical.elementsEqual(text) else {
            throw malformed("it is not written the one way escaping writes these bytes")
        }
    }

    /// Whether `text` is printable ASCII without a backslash: its own escaped form.
    static func isPlain(_ text: UnsafeRawBufferPointer) -> Bool {
        for byte in text where byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") { return false }
        return true
    }

    /// The length of the valid UTF-8 sequence that starts at `i` (Unicode's table of well-formed byte
    /// sequences: no overlong forms, no surrogates, nothing above U+10FFFF), or nil.
    @usableFromInline
    static func validSequenceLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int? {
        let lead = bytes[i]
        let remaining = bytes.count - i
        func continuation(_ offset: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            offset < remaining && range.contains(bytes[i + offset])
        }
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return continuation(1) ? 2 : nil
        case 0xE0: return continuation(1, 0xA0...0xBF) && continuation(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : nil
        case 0xED: return continuation(1, 0x80...0x9F) && continuation(2) ? 3 : nil
        case 0xF0: return continuation(1, 0x90...0xBF) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
        case 0xF4: return continuation(1, 0x80...0x8F) && continuation(2) && continuation(3) ? 4 : nil
        default: return nil
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    static func hex(_ byte: UInt8) -> String {
        String(decoding: [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]], as: UTF8.self)
    }

    static func malformed(_ reason: String) -> MapReduceError {
        MapReduceError(.badInput, "malformed escaped text: \(reason)")
    }
}

// MARK: - Byte strings and strings

extension ByteString: StreamingTextCodable {
    /// The bytes, escaped (see ``StreamingText``).
    public func writeStreamingText(into text: inout [UInt8]) {
        self.bytes.withUnsafeBytes { StreamingText.escape($0, into: &text) }
    }

    /// Parses escaped text back into the bytes (see ``StreamingText``).
    /// - Throws: ``MapReduceError`` when `text` is not canonical escaped text.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        var bytes: [UInt8] = []
        try StreamingText.unescape(text, into: &bytes)
        self.init(bytes)
    }

    /// Escapes the encoded bytes, which are the byte string itself.
    public static func writeStreamingText(encoded: UnsafeRawBufferPointer, into text: inout [UInt8]) {
        StreamingText.escape(encoded, into: &text)
    }

    /// Unescapes straight into the writer.
    public static func encode(streamingText text: UnsafeRawBufferPointer, into writer: inout WireWriter) throws {
        try StreamingText.unescape(text, into: &writer.bytes)
    }
}

extension String: StreamingTextCodable {
    /// The UTF-8 bytes, escaped (see ``StreamingText``).
    public func writeStreamingText(into text: inout [UInt8]) {
        var copy = self
        copy.withUTF8 { StreamingText.escape(UnsafeRawBufferPointer($0), into: &text) }
    }

    /// Parses escaped text back into the string (see ``StreamingText``).
    /// - Throws: ``MapReduceError`` when `text` is not canonical escaped text of valid UTF-8.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        var bytes: [UInt8] = []
        try StreamingText.unescape(text, into: &bytes)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw MapReduceError(.badInput, "a string's escaped text holds bytes that are not valid UTF-8")
        }
        self = string
    }
}

// MARK: - Integers

/// Decimal text: an optional `-` then digits, no leading zero, no `+`, no `-0`.
@usableFromInline
enum DecimalText {
    @inlinable
    static func write(_ value: Int64, into text: inout [UInt8]) {
        if value < 0 { text.append(UInt8(ascii: "-")) }
        write(magnitude: value.magnitude, into: &text)
    }

    @inlinable
    static func write(magnitude value: UInt64, into text: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            var remaining = value
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10)
                remaining /= 10
            } while remaining > 0
            text.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }

    /// The value of `text`, or nil when it is not canonical decimal text within `-limit...limit` (the
    /// negative side allows one more, for `Int64.min`).
    @usableFromInline
    static func parse(_ text: UnsafeRawBufferPointer, allowsNegative: Bool) -> (negative: Bool, magnitude: UInt64)? {
        var i = 0
        var negative = false
        if allowsNegative && text.first == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        guard i < text.count else { return nil }
        // No leading zero, except the number 0 itself (and no `-0`).
        if text[i] == UInt8(ascii: "0") && (text.count - i > 1 || negative) { return nil }
        var magnitude: UInt64 = 0
        while i < text.count {
            let digit = text[i] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1 && !overflow2 else { return nil }
            magnitude = sum
            i += 1
        }
        return (negative, magnitude)
    }

    @usableFromInline
    static func invalid(_ text: UnsafeRawBufferPointer, type: Any.Type) -> MapReduceError {
        let shown = String(decoding: text.prefix(40), as: UTF8.self)
        return MapReduceError(.badInput, "'\(shown)' is not a decimal \(type)")
    }
}

extension StreamingTextCodable where Self: FixedWidthInteger & SignedInteger {
    /// Decimal, with a `-` for negative numbers.
    @inlinable
    public func writeStreamingText(into text: inout [UInt8]) { DecimalText.write(Int64(self), into: &text) }

    /// Parses decimal text: an optional `-`, then digits, with no leading zero, no `+` and no `-0`.
    /// - Throws: ``MapReduceError`` when `text` is not canonical decimal text of a value of this type.
    @inlinable
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        guard let (negative, magnitude) = DecimalText.parse(text, allowsNegative: true),
            let value = negative
                ? (magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil)
                : Int64(exactly: magnitude),
            let narrow = Self(exactly: value)
        else { throw DecimalText.invalid(text, type: Self.self) }
        self = narrow
    }
}

extension StreamingTextCodable where Self: FixedWidthInteger & UnsignedInteger {
    /// Decimal.
    @inlinable
    public func writeStreamingText(into text: inout [UInt8]) {
        DecimalText.write(magnitude: UInt64(self), into: &text)
    }

    /// Parses decimal text: digits, with no leading zero and no sign.
    /// - Throws: ``MapReduceError`` when `text` is not canonical decimal text of a value of this type.
    @inlinable
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        guard let (_, magnitude) = DecimalText.parse(text, allowsNegative: false), let value = Self(exactly: magnitude)
        else { throw DecimalText.invalid(text, type: Self.self) }
        self = value
    }
}

extension Int: StreamingTextCodable {}
extension Int64: StreamingTextCodable {}
extension Int32: StreamingTextCodable {}
extension UInt: StreamingTextCodable {}
extension UInt64: StreamingTextCodable {}
extension UInt32: StreamingTextCodable {}
