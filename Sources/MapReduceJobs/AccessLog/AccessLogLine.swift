/// One line of a web server's access log in the Common or Combined Log Format, parsed from its bytes:
///
/// ```
/// host ident authuser [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "referer" "agent"
/// ```
///
/// The rules (``AccessLogReport`` documents them for users; the Python reference follows the same):
/// an empty line is skipped; a line is *malformed* for the first of these it breaks, in this order:
/// 1. `too-long`: more than ``maximumLength`` bytes;
/// 2. `binary`: a byte outside printable ASCII (0x20–0x7E);
/// 3. `syntax`: not `host ident authuser [` (three fields of non-space bytes, one space after each);
/// 4. `syntax` if no `]` follows; `bad-date` if what is between the brackets is not
///    `DD/Mon/YYYY:HH:MM:SS +HHMM` with a real date (English month abbreviations, years 1970–9999, leap
///    years, seconds 00–59, a zone of at most ±14:59);
/// 5. `syntax`: not a space, a quoted request (a `\` inside quotes escapes the next byte) and a space;
/// 6. `bad-status`: the next field (up to a space or the end) is not three digits from 100 to 599;
/// 7. `syntax`: not a space and a size (`-`, or 1 to 12 digits), then the line's end (Common) or
///    ` "referer" "agent"` and the line's end (Combined).
struct AccessLogLine {
    /// Why a line is malformed; the raw value orders the report.
    enum Malformation: UInt8, Error, CaseIterable, CustomStringConvertible {
        case tooLong = 1
        case binary = 2
        case syntax = 3
        case badDate = 4
        case badStatus = 5

        var description: String {
            switch self {
            case .tooLong: "too-long"
            case .binary: "binary"
            case .syntax: "syntax"
            case .badDate: "bad-date"
            case .badStatus: "bad-status"
            }
        }
    }

    /// The longest line parsed: 8 KiB, the default request-line limit of common servers.
    static let maximumLength = 8192

    /// The client's address or name: where in the line it is.
    var host: Range<Int>
    /// Hours since 1970-01-01T00:00Z.
    var hour: Int64
    var status: Int
    /// The response's size in bytes; 0 for `-`.
    var size: Int

    /// Parses one line (without its terminator); nil for an empty line.
    static func parse(_ line: UnsafeRawBufferPointer) -> Result<AccessLogLine, Malformation>? {
        if line.isEmpty { return nil }
        if line.count > maximumLength { return .failure(.tooLong) }
        for byte in line where byte < 0x20 || byte > 0x7E { return .failure(.binary) }
        var cursor = Cursor(bytes: line)
        guard let host = cursor.field(), cursor.take(0x20), cursor.field() != nil, cursor.take(0x20),
            cursor.field() != nil, cursor.take(0x20), cursor.take(UInt8(ascii: "["))
        else { return .failure(.syntax) }
        guard let close = cursor.find(UInt8(ascii: "]")) else { return .failure(.syntax) }
        guard let hour = Self.hour(UnsafeRawBufferPointer(rebasing: line[cursor.position..<close])) else {
            return .failure(.badDate)
        }
        cursor.position = close + 1
        guard cursor.take(0x20), cursor.quoted(), cursor.take(0x20) else { return .failure(.syntax) }
        let statusField = cursor.field() ?? cursor.position..<cursor.position
        guard statusField.count == 3, let status = cursor.number(statusField), (100...599).contains(status) else {
            return .failure(.badStatus)
        }
        guard cursor.take(0x20), let sizeField = cursor.field() else { return .failure(.syntax) }
        var size = 0
        if !(sizeField.count == 1 && line[sizeField.lowerBound] == UInt8(ascii: "-")) {
            guard sizeField.count <= 12, let number = cursor.number(sizeField) else { return .failure(.syntax) }
            size = number
        }
        if !cursor.isAtEnd {
            guard cursor.take(0x20), cursor.quoted(), cursor.take(0x20), cursor.quoted(), cursor.isAtEnd else {
                return .failure(.syntax)
            }
        }
        return .success(AccessLogLine(host: host, hour: hour, status: status, size: size))
    }

    /// Hours since the epoch of a `DD/Mon/YYYY:HH:MM:SS +HHMM` timestamp, in UTC; nil if it is not one.
    static func hour(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count == 26, text[2] == UInt8(ascii: "/"), text[6] == UInt8(ascii: "/"),
            text[11] == UInt8(ascii: ":"), text[14] == UInt8(ascii: ":"), text[17] == UInt8(ascii: ":"),
            text[20] == 0x20, text[21] == UInt8(ascii: "+") || text[21] == UInt8(ascii: "-")
        else { return nil }
        func digits(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for index in start..<(start + count) {
                let byte = text[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        let month = monthNames.firstIndex { name in (0..<3).allSatisfy { text[3 + $0] == name[$0] } }
        guard let month, let day = digits(0, 2), let year = digits(7, 4), let hour = digits(12, 2),
            let minute = digits(15, 2), let second = digits(18, 2), let zoneHours = digits(22, 2),
            let zoneMinutes = digits(24, 2)
        else { return nil }
        guard (1970...9999).contains(year), day >= 1, day <= daysIn(month: month + 1, year: year), hour <= 23,
            minute <= 59, second <= 59, zoneHours <= 14, zoneMinutes <= 59
        else { return nil }
        let zone = (zoneHours * 3600 + zoneMinutes * 60) * (text[21] == UInt8(ascii: "-") ? -1 : 1)
        let seconds =
            Int64(daysFromCivil(year: year, month: month + 1, day: day)) * 86400
            + Int64(hour * 3600 + minute * 60 + second - zone)
        return seconds >= 0 ? seconds / 3600 : (seconds - 3599) / 3600
    }

    static let monthNames: [[UInt8]] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .map { Array($0.utf8) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// `YYYY-MM-DDTHH:00Z` for an hour since the epoch.
    static func formatHour(_ hour: Int64) -> String {
        let days = Int(hour >= 0 ? hour / 24 : (hour - 23) / 24)
        let hourOfDay = Int(hour - Int64(days) * 24)
        // Howard Hinnant's civil_from_days.
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(hourOfDay)):00Z"
    }
}

/// Reads a line left to right.
private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    var isAtEnd: Bool { self.position >= self.bytes.count }

    /// Takes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard self.position < self.bytes.count, self.bytes[self.position] == byte else { return false }
        self.position += 1
        return true
    }

    /// Takes one or more bytes up to a space or the end.
    mutating func field() -> Range<Int>? {
        let start = self.position
        while self.position < self.bytes.count && self.bytes[self.position] != 0x20 { self.position += 1 }
        return self.position > start ? start..<self.position : nil
    }

    /// Where the next `byte` is, from here on.
    func find(_ byte: UInt8) -> Int? {
        var index = self.position
        while index < self.bytes.count {
            if self.bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// Takes `"…"`, in which `\` escapes the next byte.
    mutating func quoted() -> Bool {
        guard self.take(UInt8(ascii: "\"")) else { return false }
        while self.position < self.bytes.count {
            switch self.bytes[self.position] {
            case UInt8(ascii: "\""):
                self.position += 1
                return true
            case UInt8(ascii: "\\"):
                self.position += 2
            default:
                self.position += 1
            }
        }
        return false
    }

    /// The decimal number in `range`, nil if it has a byte that is not a digit.
    func number(_ range: Range<Int>) -> Int? {
        var value = 0
        for index in range {
            let byte = self.bytes[index]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
