/// Reads what `--stats-json` wrote, without a JSON library: the engine writes one field per line and
/// each attempt as one flat object, which is all the tests need to find.
public struct StatisticsJSON: Sendable {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(path: String) throws {
        self.text = String(decoding: try Files.read(path), as: UTF8.self)
    }

    /// The integer after the first `"key": ` at or after `from`, if any.
    public func integer(_ key: String, after marker: String? = nil) -> Int? {
        var rest = Substring(self.text)
        if let marker, let range = rest.firstRange(of: marker) { rest = rest[range.upperBound...] }
        guard let range = rest.firstRange(of: "\"\(key)\": ") else { return nil }
        let digits = rest[range.upperBound...].prefix { $0.isNumber || $0 == "-" }
        return Int(digits)
    }

    /// A job counter (in `counters.job`).
    public func jobCounter(_ name: String) -> Int? { self.integer(name, after: "\"counters\": {\"job\": {") }

    /// An engine counter (in `counters.engine`).
    public func engineCounter(_ name: String) -> Int? { self.integer(name, after: "\"engine\": {") }

    /// Every attempt's string fields (`slot`, `phase`, `outcome`, `input`).
    public var attempts: [[String: String]] {
        guard let start = self.text.firstRange(of: "\"attempts\": [") else { return [] }
        let body = self.text[start.upperBound...].prefix { $0 != "]" }
        return String(body).pieces(separatedBy: "{\"slot\": ").dropFirst().map { entry in
            var fields: [String: String] = [:]
            fields["slot"] = Self.firstString(in: Substring(entry))
            for key in ["phase", "outcome", "input"] {
                if let range = entry.firstRange(of: "\"\(key)\": ") {
                    fields[key] = Self.firstString(in: entry[range.upperBound...])
                }
            }
            return fields
        }
    }

    /// The JSON string at the start of `text` (escapes kept as written, but for `\"`).
    static func firstString(in text: Substring) -> String? {
        guard text.first == "\"" else { return nil }
        var out = ""
        var escaped = false
        for character in text.dropFirst() {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                return out
            } else {
                out.append(character)
            }
        }
        return nil
    }
}

extension String {
    /// The pieces between occurrences of `separator` (as Foundation's `components(separatedBy:)`).
    func pieces(separatedBy separator: String) -> [String] {
        var pieces: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            pieces.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        pieces.append(String(rest))
        return pieces
    }
}

/// A small XML checker for the tests: elements nest and close, attributes are quoted and unique, text
/// holds only known entities. Not a validating parser: enough to say an SVG file is well-formed.
public enum XMLCheck {
    /// Nil if `text` is well-formed; else what is wrong, and where.
    public static func problem(in text: String) -> String? {
        let bytes = Array(text.utf8)
        var stack: [String] = []
        var index = 0
        var roots = 0
        func isNameByte(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2D || byte == 0x5F || byte == 0x3A || byte == 0x2E
        }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }
        func entityProblem(_ text: ArraySlice<UInt8>) -> String? {
            var i = text.startIndex
            while i < text.endIndex {
                if text[i] == 0x3C { return "a '<' in text or an attribute" }
                if text[i] == 0x26 {
                    guard let semicolon = text[i...].firstIndex(of: 0x3B) else { return "an unterminated entity" }
                    let name = String(decoding: text[(i + 1)..<semicolon], as: UTF8.self)
                    guard ["amp", "lt", "gt", "quot", "apos"].contains(name) || name.hasPrefix("#") else {
                        return "an unknown entity &\(name);"
                    }
                    i = semicolon
                }
                i += 1
            }
            return nil
        }
        while index < bytes.count {
            guard bytes[index] == 0x3C else {
                let end = bytes[index...].firstIndex(of: 0x3C) ?? bytes.count
                if stack.isEmpty && bytes[index..<end].contains(where: { !isSpace($0) }) {
                    return "text outside the root element at byte \(index)"
                }
                if let problem = entityProblem(bytes[index..<end]) { return "\(problem) at byte \(index)" }
                index = end
                continue
            }
            let rest = bytes[index...]
            if rest.starts(with: Array("<?".utf8)) || rest.starts(with: Array("<!--".utf8)) {
                let closing = rest.starts(with: Array("<?".utf8)) ? Array("?>".utf8) : Array("-->".utf8)
                guard let end = Self.find(closing, in: bytes, from: index + 2) else { return "an unclosed <? or <!--" }
                index = end + closing.count
                continue
            }
            guard let close = rest.firstIndex(of: 0x3E) else { return "an unclosed tag at byte \(index)" }
            var tag = bytes[(index + 1)..<close]
            if tag.first == 0x2F {
                let name = String(decoding: tag.dropFirst(), as: UTF8.self).trimmingSpaces
                guard stack.last == name else { return "</\(name)> closes <\(stack.last ?? "nothing")> at \(index)" }
                stack.removeLast()
                index = close + 1
                continue
            }
            let selfClosing = tag.last == 0x2F
            if selfClosing { tag = tag.dropLast() }
            let nameEnd = tag.firstIndex(where: { !isNameByte($0) }) ?? tag.endIndex
            let name = String(decoding: tag[tag.startIndex..<nameEnd], as: UTF8.self)
            guard !name.isEmpty else { return "a tag without a name at byte \(index)" }
            // Attributes: name="value" or name='value', separated by spaces.
            var i = nameEnd
            var names: Set<String> = []
            while i < tag.endIndex {
                if isSpace(tag[i]) {
                    i += 1
                    continue
                }
                let attributeEnd = tag[i...].firstIndex(where: { !isNameByte($0) }) ?? tag.endIndex
                guard attributeEnd > i, attributeEnd + 1 < tag.endIndex, tag[attributeEnd] == 0x3D else {
                    return "a malformed attribute in <\(name)> at byte \(index)"
                }
                let attribute = String(decoding: tag[i..<attributeEnd], as: UTF8.self)
                guard names.insert(attribute).inserted else { return "a repeated attribute \(attribute) in <\(name)>" }
                let quote = tag[attributeEnd + 1]
                guard quote == 0x22 || quote == 0x27,
                    let valueEnd = tag[(attributeEnd + 2)...].firstIndex(of: quote)
                else { return "an unquoted attribute \(attribute) in <\(name)>" }
                if let problem = entityProblem(tag[(attributeEnd + 2)..<valueEnd]) {
                    return "\(problem) in attribute \(attribute) of <\(name)>"
                }
                i = valueEnd + 1
            }
            if stack.isEmpty {
                roots += 1
                guard roots == 1 else { return "a second root element <\(name)>" }
            }
            if !selfClosing { stack.append(name) }
            index = close + 1
        }
        if let open = stack.last { return "<\(open)> is never closed" }
        return roots == 1 ? nil : "no root element"
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count else { return nil }
        var i = start
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// The text of every element `<name ...>text</name>` whose start tag contains `marker`.
    public static func texts(of name: String, marked marker: String, in text: String) -> [String] {
        text.pieces(separatedBy: "<\(name) ").dropFirst().compactMap { piece in
            guard let close = piece.firstIndex(of: ">"), piece[..<close].contains(marker) else { return nil }
            let body = piece[piece.index(after: close)...]
            guard let end = body.firstRange(of: "</\(name)>") else { return nil }
            return String(body[..<end.lowerBound])
        }
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
