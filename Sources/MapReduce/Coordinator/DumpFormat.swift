/// The formats a job's full output (its dump: every key with its value, in key order) can be written in.
public enum DumpFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `key<TAB>value` lines, the key's bytes as they are: the format of the Python reference.
    case tsv
    /// RFC 4180: a header row, then one row per key; a field holding a comma, a double quote, a carriage
    /// return or a line feed is quoted, its double quotes doubled; every row ends with CRLF.
    case csv
    /// One JSON object whose members are the keys, in key order, one per line.
    case json
    /// JSON Lines: one object per line, `{"<key column>": key, "<value column>": value}`.
    case jsonl

    /// The format's name, as `--format` takes it: `tsv`, `csv`, `json` or `jsonl`.
    public var description: String { self.rawValue }
}

/// Writes key/value rows, or rows of several columns shaped by a ``DumpLayout``, to an ``OutputFile``
/// in a ``DumpFormat``.
///
/// Keys are bytes. In TSV they are written as they are; CSV and JSON read them as UTF-8, and JSON
/// escapes quotes, backslashes and control characters and replaces bytes that are not UTF-8 with
/// U+FFFD (JSON text must be Unicode).
public struct DumpWriter {
    /// The file written.
    public let file: OutputFile
    /// The format.
    public let format: DumpFormat
    /// The rows' columns and how JSON nests them.
    public let layout: DumpLayout
    private let keyColumn: String
    private let valueColumn: String
    var rows = 0
    var line: [UInt8] = []
    /// The key columns of the last row written by ``write(row:)``: which JSON objects are open.
    var openKeys: [DumpField?] = []

    /// Starts a dump of key/value rows: writes the CSV header row now.
    /// - Parameters:
    ///   - file: Where to write.
    ///   - format: The format.
    ///   - keyColumn: What the key is called in a CSV header or a JSON Lines object ("word").
    ///   - valueColumn: What the value is called ("count").
    public init(file: OutputFile, format: DumpFormat, keyColumn: String, valueColumn: String) throws {
        try self.init(file: file, format: format, layout: DumpLayout(columns: [keyColumn, valueColumn]))
    }

    /// Starts a dump of rows shaped by `layout`, written with ``write(row:)``: writes the CSV header
    /// row now.
    /// - Parameters:
    ///   - file: Where to write.
    ///   - format: The format.
    ///   - layout: The rows' columns and how JSON nests them; it has at least two columns.
    public init(file: OutputFile, format: DumpFormat, layout: DumpLayout) throws {
        self.file = file
        self.format = format
        self.layout = layout
        self.keyColumn = layout.columns[0]
        self.valueColumn = layout.columns[1]
        if format == .csv {
            for (index, column) in layout.columns.enumerated() {
                if index > 0 { self.line.append(UInt8(ascii: ",")) }
                Self.appendCSVField(Array(column.utf8), to: &self.line)
            }
            self.line += [0x0D, 0x0A]
            try self.flushLine()
        }
    }

    /// Writes one row whose value is a number.
    public mutating func write(key: UnsafeRawBufferPointer, value: Int) throws {
        if self.format == .tsv {
            try self.file.write(key)
            try self.file.write(tabbedCount: value)
            return
        }
        try self.write(key: key) { DecimalText.write(Int64(value), into: &$0) }
    }

    /// Writes one row whose value is text (UTF-8).
    public mutating func write(key: UnsafeRawBufferPointer, text value: String) throws {
        let bytes = Array(value.utf8)
        let format = self.format
        if format == .tsv || format == .csv {
            try self.write(key: key) { line in
                if format == .csv { Self.appendCSVField(bytes, to: &line) } else { line += bytes }
            }
        } else {
            try self.write(key: key) { line in bytes.withUnsafeBytes { Self.appendJSONString($0, to: &line) } }
        }
    }

    /// Ends the dump (closes the JSON object); the caller then commits the file.
    public mutating func finish() throws {
        switch self.format {
        case .json:
            if self.rows == 0 {
                self.line += Array("{}\n".utf8)
            } else {
                self.closeJSONObjects(downTo: 0)
                self.line += Array("\n}\n".utf8)
            }
        case .jsonl:
            guard self.layout.linesGroupName != nil && self.rows > 0 else { return }
            self.line += Array("}}\n".utf8)
        case .tsv, .csv:
            return
        }
        try self.flushLine()
    }

    private mutating func write(key: UnsafeRawBufferPointer, value: (inout [UInt8]) -> Void) throws {
        switch self.format {
        case .tsv:
            self.line += key
            self.line.append(0x09)
            value(&self.line)
            self.line.append(0x0A)
        case .csv:
            Self.appendCSVField(Array(key), to: &self.line)
            self.line.append(UInt8(ascii: ","))
            value(&self.line)
            self.line += [0x0D, 0x0A]
        case .json:
            self.line += Array((self.rows == 0 ? "{\n  " : ",\n  ").utf8)
            Self.appendJSONString(key, to: &self.line)
            self.line += Array(": ".utf8)
            value(&self.line)
        case .jsonl:
            self.line.append(UInt8(ascii: "{"))
            Array(self.keyColumn.utf8).withUnsafeBytes { Self.appendJSONString($0, to: &self.line) }
            self.line.append(UInt8(ascii: ":"))
            Self.appendJSONString(key, to: &self.line)
            self.line.append(UInt8(ascii: ","))
            Array(self.valueColumn.utf8).withUnsafeBytes { Self.appendJSONString($0, to: &self.line) }
            self.line.append(UInt8(ascii: ":"))
            value(&self.line)
            self.line += Array("}\n".utf8)
        }
        self.rows += 1
        try self.flushLine()
    }

    mutating func flushLine() throws {
        try self.line.withUnsafeBytes { try self.file.write($0) }
        self.line.removeAll(keepingCapacity: true)
    }

    /// A CSV field: quoted, with its quotes doubled, if it holds a comma, a quote, CR or LF.
    package static func appendCSVField(_ field: [UInt8], to line: inout [UInt8]) {
        let special: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "\""), 0x0D, 0x0A]
        guard field.contains(where: special.contains) else {
            line += field
            return
        }
        line.append(UInt8(ascii: "\""))
        for byte in field {
            if byte == UInt8(ascii: "\"") { line.append(byte) }
            line.append(byte)
        }
        line.append(UInt8(ascii: "\""))
    }

    /// A JSON string: quotes, backslashes and control characters escaped, bytes that are not UTF-8
    /// replaced with U+FFFD.
    package static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to line: inout [UInt8]) {
        line.append(UInt8(ascii: "\""))
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "\""): line += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): line += Array("\\\\".utf8)
            case 0x0A: line += Array("\\n".utf8)
            case 0x0D: line += Array("\\r".utf8)
            case 0x09: line += Array("\\t".utf8)
            case 0x00..<0x20:
                line += Array("\\u00".utf8)
                line.append(StreamingText.hexDigits[Int(byte >> 4)])
                line.append(StreamingText.hexDigits[Int(byte & 0x0F)])
            case 0x20..<0x80: line.append(byte)
            default:
                if let length = StreamingText.validSequenceLength(bytes, at: i) {
                    line += UnsafeRawBufferPointer(rebasing: bytes[i..<(i + length)])
                    i += length
                    continue
                }
                line += [0xEF, 0xBF, 0xBD]
            }
            i += 1
        }
        line.append(UInt8(ascii: "\""))
    }
}

extension OutputFile {
    /// Appends a tab, `count` in decimal and a newline, formatted without building a string.
    public func write(tabbedCount count: Int) throws {
        try withUnsafeTemporaryAllocation(byteCount: 24, alignment: 1) { buffer in
            var position = buffer.count
            buffer[position - 1] = UInt8(ascii: "\n")
            position -= 1
            var remaining = count.magnitude
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            if count < 0 {
                position -= 1
                buffer[position] = UInt8(ascii: "-")
            }
            position -= 1
            buffer[position] = UInt8(ascii: "\t")
            try self.write(UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }
}
