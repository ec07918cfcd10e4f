public import MapReduce

/// A web server's access log report over the Common and Combined Log Formats: requests, bytes sent and
/// distinct clients per status code and per hour (UTC), and the malformed lines by reason.
///
/// Each well-formed line emits two pairs, keyed by a `KeyTriple` of a dimension (``Dimension``), a
/// bucket (the status code, or the hour as hours since 1970-01-01T00:00Z) and the client's address (the
/// line's first field, as it is written); the value is a `Pair` of the request count and the bytes
/// sent, summed component-wise by a `PairCombiner`. Each malformed line emits one pair keyed by the
/// malformed dimension and its reason, with an empty client. Keys come back in tuple order, so every
/// client of a bucket arrives in a row: ``Summary`` folds them into the bucket's requests, bytes and
/// number of distinct clients, exactly, with memory that does not grow with the clients.
///
/// The line rules, in the order a line is checked (a malformed line counts once, under the first rule it
/// breaks; it never fails the job):
/// - an empty line is skipped;
/// - `too-long`: more than 8192 bytes;
/// - `binary`: a byte outside printable ASCII (0x20–0x7E);
/// - `syntax`: the line does not start with `host ident authuser [` (three fields of non-space bytes,
///   one space after each), or no `]` follows;
/// - `bad-date`: between the brackets is not `DD/Mon/YYYY:HH:MM:SS +HHMM` with a real date (English
///   month abbreviations, years 1970–9999, seconds 00–59, a zone of at most ±14:59);
/// - `syntax`: not followed by a space, a quoted request (`\` escapes the next byte) and a space;
/// - `bad-status`: the next field (up to a space or the end) is not three digits from 100 to 599;
/// - `syntax`: not followed by a space and a size (`-` for 0, or 1 to 12 digits), then the line's end
///   (Common) or a space, a quoted referer, a space, a quoted user agent and the line's end (Combined).
public struct AccessLogReport: MapReduceJob {
    public static let name = "logs"

    /// What a key counts.
    public enum Dimension: UInt8, Sendable {
        /// Per status code.
        case status = 1
        /// Per hour, UTC.
        case hour = 2
        /// Malformed lines, per reason.
        case malformed = 3
    }

    /// A report job.
    public init() {}

    public func makeMapper() -> AccessLogMapper { AccessLogMapper() }
    public func makeCombiner() -> SumPairCombiner<Int, Int>? { SumPairCombiner() }
    public func makeReducer() -> CombiningReducer<KeyTriple<UInt8, Int64, ByteString>, SumPairCombiner<Int, Int>> {
        CombiningReducer(SumPairCombiner())
    }

    public func encode(into writer: inout WireWriter) {}
    public init(decoding reader: inout WireReader) throws {}

    /// The reasons a line is malformed, in the report's order.
    public static var malformationNames: [String] { AccessLogLine.Malformation.allCases.map(\.description) }

    /// The report's rows, folded from the job's output in key order.
    public struct Summary: Sendable {
        /// One status code's or one hour's totals.
        public struct Row: Sendable, Equatable {
            /// What the row counts.
            public var dimension: Dimension
            /// The status code, or the hour as hours since the epoch.
            public var bucket: Int64
            /// Requests.
            public var requests: Int
            /// Bytes sent.
            public var bytes: Int
            /// Distinct client addresses.
            public var clients: Int

            /// The bucket as the report prints it: `404`, or `2026-12-06T14:00Z`.
            public var label: String {
                self.dimension == .hour ? AccessLogLine.formatHour(self.bucket) : String(self.bucket)
            }

            /// The row in the `--output` dump (see ``Summary/dumpLayout``): in TSV,
            /// `status<TAB>404<TAB>requests<TAB>bytes<TAB>clients`, or `hour<TAB>2026-12-06T14:00Z<TAB>…`.
            public var dumpFields: [DumpField?] {
                [
                    .text(self.dimension == .status ? "status" : "hour"), .text(self.label), .integer(self.requests),
                    .integer(self.bytes), .integer(self.clients), nil,
                ]
            }
        }

        /// Per status code, ascending.
        public private(set) var statuses: [Row] = []
        /// Per hour, ascending.
        public private(set) var hours: [Row] = []
        /// Malformed lines per reason (see ``AccessLogReport/malformationNames``), with their counts.
        public private(set) var malformed: [(reason: String, lines: Int)] = []

        /// An empty summary.
        public init() {}

        /// All malformed lines.
        public var malformedLines: Int { self.malformed.reduce(0) { $0 + $1.lines } }

        /// The columns of the `--output` dump, in every format: `kind,key,requests,bytes,clients,lines`.
        /// `status` and `hour` rows fill requests, bytes and clients; `malformed` rows (the reason as key)
        /// fill lines. JSON nests them by kind and key, JSON Lines writes an object per row, TSV writes
        /// the fields that are there.
        public static let dumpLayout = DumpLayout(
            columns: ["kind", "key", "requests", "bytes", "clients", "lines"],
            keyColumns: 2
        )

        /// The `--output` dump's last rows: `malformed<TAB>REASON<TAB>lines` per reason, in the report's
        /// order.
        public var malformedDumpRows: [[DumpField?]] {
            self.malformed.map { [.text("malformed"), .text($0.reason), nil, nil, nil, .integer($0.lines)] }
        }

        /// Folds in one output of the job; keys must come in order, as the engine hands them over.
        /// - Returns: The row this key completed, if the previous row is now whole; see ``finish()``.
        public mutating func add(_ key: KeyTriple<UInt8, Int64, ByteString>, _ value: Pair<Int, Int>) -> Row? {
            guard let dimension = Dimension(rawValue: key.first) else { return nil }
            if dimension == .malformed {
                let reason = AccessLogLine.Malformation(rawValue: UInt8(truncatingIfNeeded: key.second))
                self.malformed.append((reason.map(\.description) ?? "\(key.second)", value.first))
                return self.finish()
            }
            if let open = self.open, open.dimension == dimension, open.bucket == key.second {
                self.open!.requests += value.first
                self.open!.bytes += value.second
                self.open!.clients += 1
                return nil
            }
            let completed = self.finish()
            self.open = Row(
                dimension: dimension,
                bucket: key.second,
                requests: value.first,
                bytes: value.second,
                clients: 1
            )
            return completed
        }

        /// Closes the open row, if any, and returns it.
        public mutating func finish() -> Row? {
            guard let row = self.open else { return nil }
            self.open = nil
            if row.dimension == .status { self.statuses.append(row) } else { self.hours.append(row) }
            return row
        }

        private var open: Row?

        /// The table printed on standard output: per status, per hour, then the malformed lines.
        public func formattedTable() -> String {
            var text = "\nREQUESTS BY STATUS\n\n"
            text += Self.table(header: "status", self.statuses)
            text += "\nREQUESTS BY HOUR (UTC)\n\n"
            text += Self.table(header: "hour", self.hours)
            text += "\n" + self.malformedLine + "\n"
            return text
        }

        /// `malformed lines: 12 (binary 2, syntax 10)`, or `malformed lines: 0`.
        public var malformedLine: String {
            "malformed lines: \(self.malformedLines)" + (self.malformed.isEmpty ? "" : " (\(self.malformedReasons))")
        }

        /// `binary 2, syntax 10`: the reasons seen and their lines.
        public var malformedReasons: String {
            self.malformed.map { "\($0.reason) \($0.lines)" }.joined(separator: ", ")
        }

        static func table(header: String, _ rows: [Row]) -> String {
            let labels = rows.map(\.label)
            let width = max(header.count, labels.map(\.count).max() ?? 0)
            func pad(_ text: String, _ width: Int) -> String {
                String(repeating: " ", count: max(0, width - text.count)) + text
            }
            var text = header + String(repeating: " ", count: width - header.count)
            text += "  " + pad("requests", 10) + "  " + pad("bytes", 15) + "  " + pad("clients", 8) + "\n"
            for (row, label) in zip(rows, labels) {
                text += label + String(repeating: " ", count: width - label.count)
                text += "  " + pad(String(row.requests), 10) + "  " + pad(String(row.bytes), 15)
                text += "  " + pad(String(row.clients), 8) + "\n"
            }
            return text
        }
    }
}

/// The mapper of ``AccessLogReport``.
public struct AccessLogMapper: Mapper {
    public typealias Key = KeyTriple<UInt8, Int64, ByteString>
    public typealias Value = Pair<Int, Int>

    public mutating func map(_ record: RawSpan, into output: inout Emitter<Key, Value>) throws {
        record.withUnsafeBytes { line in
            switch AccessLogLine.parse(line) {
            case nil:
                return
            case .failure(let reason)?:
                output.emit(
                    KeyTriple(
                        AccessLogReport.Dimension.malformed.rawValue,
                        Int64(reason.rawValue),
                        ByteString([UInt8]())
                    ),
                    Pair(1, 0)
                )
            case .success(let parsed)?:
                let host = ByteString(UnsafeRawBufferPointer(rebasing: line[parsed.host]))
                let value = Pair(1, parsed.size)
                output.emit(KeyTriple(AccessLogReport.Dimension.status.rawValue, Int64(parsed.status), host), value)
                output.emit(KeyTriple(AccessLogReport.Dimension.hour.rawValue, parsed.hour, host), value)
            }
        }
    }
}
