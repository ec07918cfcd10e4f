/// One field of a dump row: text or a whole number.
public enum DumpField: Hashable, Sendable {
    /// Text, as bytes: written as they are in TSV and CSV, a JSON string in JSON (bytes that are not
    /// UTF-8 become U+FFFD).
    case bytes([UInt8])
    /// A whole number, in decimal: a JSON number in JSON.
    case integer(Int)

    /// The UTF-8 bytes of `string`.
    public static func text(_ string: String) -> Self { .bytes(Array(string.utf8)) }
}

/// The shape of a dump's rows: their columns, and how JSON nests them.
///
/// A row is a value (or `nil`, no value) per column. Its first ``keyColumns`` columns are its key: rows
/// come in key order, and rows that share the start of their key are consecutive.
/// - TSV: the fields, a tab between two, a `nil` field left out (with its tab).
/// - CSV: a header row of the columns, then a row per row, a `nil` field empty.
/// - JSON: one object nested by the key columns, `{"k1": {"k2": leaf}}`, a leaf per line. The leaf is
///   the only other column's value (`null` for `nil`) when there is one, else an object of the other
///   columns that are not `nil`.
/// - JSON Lines: an object per row of the columns that are not `nil`, or, with ``linesGroupName``, an
///   object per first key: `{"<first column>": k1, "<linesGroupName>": {k2: leaf, ...}}`, the leaf as
///   in JSON.
public struct DumpLayout: Sendable {
    /// The columns' names: the CSV header, and the members of JSON Lines objects.
    public var columns: [String]
    /// How many of the first columns are the key: from 1 to the number of columns less one.
    public var keyColumns: Int
    /// When set, JSON Lines writes an object per value of the first column, with the rows' second key
    /// column and leaf under this name; it needs exactly two key columns.
    public var linesGroupName: String?

    /// A layout.
    /// - Parameters:
    ///   - columns: The columns' names, at least two.
    ///   - keyColumns: How many of the first columns are the key (at most the columns less one).
    ///   - linesGroupName: The name of the object JSON Lines groups each first key's rows under, or
    ///     `nil` for an object per row; it needs `keyColumns` 2.
    public init(columns: [String], keyColumns: Int = 1, linesGroupName: String? = nil) {
        precondition(columns.count >= 2 && keyColumns >= 1 && keyColumns < columns.count, "bad dump layout")
        precondition(linesGroupName == nil || keyColumns == 2, "grouped JSON Lines need two key columns")
        self.columns = columns
        self.keyColumns = keyColumns
        self.linesGroupName = linesGroupName
    }
}

extension DumpWriter {
    /// Writes one row of the ``layout``: a field per column, `nil` for none. Rows come in key order; a
    /// dump is written with this or with the key/value writes, not both.
    public mutating func write(row: [DumpField?]) throws {
        precondition(row.count == self.layout.columns.count, "a dump row has a field per column")
        switch self.format {
        case .tsv:
            var first = true
            for field in row {
                guard let field else { continue }
                if !first { self.line.append(0x09) }
                first = false
                Self.appendPlain(field, to: &self.line)
            }
            self.line.append(0x0A)
        case .csv:
            for (index, field) in row.enumerated() {
                if index > 0 { self.line.append(UInt8(ascii: ",")) }
                switch field {
                case .bytes(let bytes)?: Self.appendCSVField(bytes, to: &self.line)
                case .integer(let value)?: DecimalText.write(Int64(value), into: &self.line)
                case nil: break
                }
            }
            self.line += [0x0D, 0x0A]
        case .json:
            self.writeJSONRow(row)
        case .jsonl:
            if let group = self.layout.linesGroupName {
                self.writeGroupedJSONLine(row, group: group)
            } else {
                self.line.append(UInt8(ascii: "{"))
                self.appendMembers(of: row, columns: 0..<row.count, separator: ",", colon: ":")
                self.line += Array("}\n".utf8)
            }
        }
        self.rows += 1
        try self.flushLine()
    }

    /// `{"k1": {"k2": leaf}}` across the rows: closes the objects of the last row's key that this row
    /// does not share, opens this row's, writes its leaf.
    private mutating func writeJSONRow(_ row: [DumpField?]) {
        let depth = self.layout.keyColumns
        let keys = Array(row[0..<depth])
        var shared = 0
        if self.rows == 0 {
            self.line += Array("{\n".utf8)
        } else {
            while shared < depth - 1 && self.openKeys[shared] == keys[shared] { shared += 1 }
            self.closeJSONObjects(downTo: shared)
            self.line += Array(",\n".utf8)
        }
        for level in shared..<(depth - 1) {
            self.appendIndent(level + 1)
            Self.appendJSONName(keys[level], to: &self.line)
            self.line += Array(": {\n".utf8)
        }
        self.appendIndent(depth)
        Self.appendJSONName(keys[depth - 1], to: &self.line)
        self.line += Array(": ".utf8)
        self.appendLeaf(of: row, separator: ", ", colon: ": ")
        self.openKeys = keys
    }

    /// Closes the open JSON objects of the key columns from the last nesting level down to `level`.
    mutating func closeJSONObjects(downTo level: Int) {
        var open = self.layout.keyColumns - 2
        while open >= level {
            self.line.append(0x0A)
            self.appendIndent(open + 1)
            self.line.append(UInt8(ascii: "}"))
            open -= 1
        }
    }

    /// `{"<first column>": k1, "<group>": {k2: leaf, ...}}`, a line per first key.
    private mutating func writeGroupedJSONLine(_ row: [DumpField?], group: String) {
        if self.rows > 0 && self.openKeys[0] == row[0] {
            self.line.append(UInt8(ascii: ","))
        } else {
            if self.rows > 0 { self.line += Array("}}\n".utf8) }
            self.line.append(UInt8(ascii: "{"))
            self.appendMembers(of: row, columns: 0..<1, separator: ",", colon: ":")
            self.line.append(UInt8(ascii: ","))
            Self.appendJSONName(.text(group), to: &self.line)
            self.line += Array(":{".utf8)
        }
        Self.appendJSONName(row[1], to: &self.line)
        self.line.append(UInt8(ascii: ":"))
        self.appendLeaf(of: row, separator: ",", colon: ":")
        self.openKeys = Array(row[0..<2])
    }

    /// The columns after the key: the only one's value, or an object of those that are not `nil`.
    private mutating func appendLeaf(of row: [DumpField?], separator: String, colon: String) {
        let values = self.layout.keyColumns..<row.count
        if values.count == 1 {
            Self.appendJSONValue(row[values.lowerBound], to: &self.line)
            return
        }
        self.line.append(UInt8(ascii: "{"))
        self.appendMembers(of: row, columns: values, separator: separator, colon: colon)
        self.line.append(UInt8(ascii: "}"))
    }

    /// `"column": value` for each column in `columns` whose field is not `nil`.
    private mutating func appendMembers(
        of row: [DumpField?],
        columns: Range<Int>,
        separator: String,
        colon: String
    ) {
        var first = true
        for index in columns {
            guard let field = row[index] else { continue }
            if !first { self.line += Array(separator.utf8) }
            first = false
            Self.appendJSONName(.text(self.layout.columns[index]), to: &self.line)
            self.line += Array(colon.utf8)
            Self.appendJSONValue(field, to: &self.line)
        }
    }

    private mutating func appendIndent(_ level: Int) {
        self.line += repeatElement(UInt8(ascii: " "), count: 2 * level)
    }

    private static func appendPlain(_ field: DumpField, to line: inout [UInt8]) {
        switch field {
        case .bytes(let bytes): line += bytes
        case .integer(let value): DecimalText.write(Int64(value), into: &line)
        }
    }

    /// A JSON string for a member's name: a number is written as its decimal text.
    private static func appendJSONName(_ field: DumpField?, to line: inout [UInt8]) {
        var bytes: [UInt8] = []
        switch field {
        case .bytes(let text)?: bytes = text
        case .integer(let value)?: DecimalText.write(Int64(value), into: &bytes)
        case nil: break
        }
        bytes.withUnsafeBytes { Self.appendJSONString($0, to: &line) }
    }

    private static func appendJSONValue(_ field: DumpField?, to line: inout [UInt8]) {
        switch field {
        case .bytes(let bytes)?: bytes.withUnsafeBytes { Self.appendJSONString($0, to: &line) }
        case .integer(let value)?: DecimalText.write(Int64(value), into: &line)
        case nil: line += Array("null".utf8)
        }
    }
}
