// The streaming text of the composite keys and aggregate values (see ``StreamingTextCodable``).
//
// They are lists of their parts' texts: parts joined by `,` (a tally's element and count by `:`), each
// part's own text with `%`, `,` and `:` written as `%25`, `%2C` and `%3A`. A part's text never holds a
// bare separator, so a text splits back into its parts; parsing accepts only what writing writes, so
// the text stays canonical, and it has no control byte, so `LC_ALL=C sort` still orders lines by key.

/// Writes and reads the lists that composite keys and aggregate values are written as.
enum ListText {
    /// Appends `part`, with `%`, `,` and `:` escaped.
    static func append(part: [UInt8], to text: inout [UInt8]) {
        for byte in part {
            switch byte {
            case UInt8(ascii: "%"): text += Array("%25".utf8)
            case UInt8(ascii: ","): text += Array("%2C".utf8)
            case UInt8(ascii: ":"): text += Array("%3A".utf8)
            default: text.append(byte)
            }
        }
    }

    /// Appends a value's text as one escaped part.
    static func append(_ value: some StreamingTextCodable, to text: inout [UInt8]) {
        var part: [UInt8] = []
        value.writeStreamingText(into: &part)
        self.append(part: part, to: &text)
    }

    /// Splits `text` at every `separator`.
    static func split(_ text: UnsafeRawBufferPointer, at separator: UInt8) -> [UnsafeRawBufferPointer] {
        var parts: [UnsafeRawBufferPointer] = []
        var start = 0
        for index in 0..<text.count where text[index] == separator {
            parts.append(UnsafeRawBufferPointer(rebasing: text[start..<index]))
            start = index + 1
        }
        parts.append(UnsafeRawBufferPointer(rebasing: text[start...]))
        return parts
    }

    /// Parses one escaped part as a value.
    /// - Throws: ``MapReduceError`` (`badInput`) for a bare `%`, `,` or `:`, an escape other than the
    ///   three, or a part that is not the value's text.
    static func parse<T: StreamingTextCodable>(_ part: UnsafeRawBufferPointer, as type: T.Type) throws -> T {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(part.count)
        var index = 0
        while index < part.count {
            let byte = part[index]
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: ":") {
                throw MapReduceError(.badInput, "a list part holds a bare '\(Unicode.Scalar(byte))'")
            }
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                index += 1
                continue
            }
            guard index + 2 < part.count else { throw MapReduceError(.badInput, "a list part ends inside an escape") }
            switch (part[index + 1], part[index + 2]) {
            case (UInt8(ascii: "2"), UInt8(ascii: "5")): bytes.append(UInt8(ascii: "%"))
            case (UInt8(ascii: "2"), UInt8(ascii: "C")): bytes.append(UInt8(ascii: ","))
            case (UInt8(ascii: "3"), UInt8(ascii: "A")): bytes.append(UInt8(ascii: ":"))
            default: throw MapReduceError(.badInput, "a list part has an escape other than %25, %2C or %3A")
            }
            index += 3
        }
        return try bytes.withUnsafeBytes { try T(streamingText: $0) }
    }

    /// Throws unless `parts` has `count` parts.
    static func expect(_ parts: [UnsafeRawBufferPointer], count: Int, what: String) throws {
        guard parts.count == count else {
            throw MapReduceError(.badInput, "\(what) has \(parts.count) parts, not \(count)")
        }
    }
}

extension Tally: StreamingTextCodable where Element: StreamingTextCodable {
    /// `element:count,element:count`, by ascending element; each element's text escaped (`%`, `,` and
    /// `:` as `%25`, `%2C`, `%3A`); an empty tally is empty text.
    public func writeStreamingText(into text: inout [UInt8]) {
        for (index, entry) in self.entries.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            ListText.append(entry.element, to: &text)
            text.append(UInt8(ascii: ":"))
            DecimalText.write(Int64(entry.count), into: &text)
        }
    }

    /// - Throws: ``MapReduceError`` when `text` is not the canonical text of a tally: elements out of
    ///   order, a count below 1, more than ``maximumCount`` elements.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        self.init()
        guard !text.isEmpty else { return }
        let entries = ListText.split(text, at: UInt8(ascii: ","))
        guard entries.count <= Self.maximumCount else {
            throw MapReduceError(.badInput, "a tally has more than \(Self.maximumCount) elements")
        }
        for entry in entries {
            let parts = ListText.split(entry, at: UInt8(ascii: ":"))
            try ListText.expect(parts, count: 2, what: "a tally's entry")
            let element = try ListText.parse(parts[0], as: Element.self)
            let count = try Int(streamingText: parts[1])
            guard count >= 1 else { throw MapReduceError(.badInput, "a tally counts an element \(count) times") }
            if let last = self.entries.last, !(last.element < element) {
                throw MapReduceError(.badInput, "a tally's elements are not strictly ascending")
            }
            self.add(element, count: count)
        }
    }
}

extension Pair: StreamingTextCodable where A: StreamingTextCodable, B: StreamingTextCodable {
    /// `first,second`, each escaped (`%`, `,` and `:` as `%25`, `%2C`, `%3A`).
    public func writeStreamingText(into text: inout [UInt8]) {
        ListText.append(self.first, to: &text)
        text.append(UInt8(ascii: ","))
        ListText.append(self.second, to: &text)
    }

    /// - Throws: ``MapReduceError`` when `text` is not two escaped parts that are an `A` and a `B`.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        let parts = ListText.split(text, at: UInt8(ascii: ","))
        try ListText.expect(parts, count: 2, what: "a pair")
        self.init(try ListText.parse(parts[0], as: A.self), try ListText.parse(parts[1], as: B.self))
    }
}

extension KeyPair: StreamingTextCodable where A: StreamingTextCodable, B: StreamingTextCodable {
    /// `first,second`, each escaped (`%`, `,` and `:` as `%25`, `%2C`, `%3A`).
    public func writeStreamingText(into text: inout [UInt8]) {
        ListText.append(self.first, to: &text)
        text.append(UInt8(ascii: ","))
        ListText.append(self.second, to: &text)
    }

    /// - Throws: ``MapReduceError`` when `text` is not two escaped parts that are an `A` and a `B`.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        let parts = ListText.split(text, at: UInt8(ascii: ","))
        try ListText.expect(parts, count: 2, what: "a key pair")
        self.init(try ListText.parse(parts[0], as: A.self), try ListText.parse(parts[1], as: B.self))
    }
}

extension KeyTriple: StreamingTextCodable
where A: StreamingTextCodable, B: StreamingTextCodable, C: StreamingTextCodable {
    /// `first,second,third`, each escaped (`%`, `,` and `:` as `%25`, `%2C`, `%3A`).
    public func writeStreamingText(into text: inout [UInt8]) {
        ListText.append(self.first, to: &text)
        text.append(UInt8(ascii: ","))
        ListText.append(self.second, to: &text)
        text.append(UInt8(ascii: ","))
        ListText.append(self.third, to: &text)
    }

    /// - Throws: ``MapReduceError`` when `text` is not three escaped parts of the right types.
    public init(streamingText text: UnsafeRawBufferPointer) throws {
        let parts = ListText.split(text, at: UInt8(ascii: ","))
        try ListText.expect(parts, count: 3, what: "a key triple")
        self.init(
            try ListText.parse(parts[0], as: A.self),
            try ListText.parse(parts[1], as: B.self),
            try ListText.parse(parts[2], as: C.self)
        )
    }
}

extension UInt8: StreamingTextCodable {}
