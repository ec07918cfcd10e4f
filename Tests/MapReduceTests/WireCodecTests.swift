import MapReduce
import Testing

@Suite("Wire codec")
struct WireCodecTests {
    func roundTrip<T: WireCodable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = value.encodedBytes
        let decoded = try bytes.withUnsafeBytes { try T(encodedBytes: $0) }
        #expect(decoded == value, sourceLocation: sourceLocation)
    }

    static let integers: [Int] = [
        .min, .min + 1, -1 << 40, -65537, -65536, -257, -256, -255, -2, -1, 0, 1, 2, 127, 128, 255, 256, 65535,
        1 << 40, .max - 1, .max,
    ]

    @Test("integers round-trip", arguments: integers)
    func integerRoundTrip(value: Int) throws {
        try self.roundTrip(value)
        try self.roundTrip(Int64(value))
        try self.roundTrip(UInt64(bitPattern: Int64(value)))
        if let narrow = Int32(exactly: value) { try self.roundTrip(narrow) }
    }

    @Test("integer encodings sort in numeric order")
    func integerOrder() {
        var random = SeededGeneratorLite(seed: 42)
        var values = Self.integers
        for _ in 0..<2000 { values.append(Int(bitPattern: UInt(random.next() >> UInt64(random.next() % 64)))) }
        for _ in 0..<500 { values.append(-Int(random.next() % 100_000)) }
        let byNumber = values.sorted()
        let byBytes = values.sorted { $0.encodedBytes.lexicographicallyPrecedes($1.encodedBytes) }
        #expect(byNumber == byBytes)
        let unsigned = values.map { UInt64(bitPattern: Int64($0)) }
        #expect(unsigned.sorted() == unsigned.sorted { $0.encodedBytes.lexicographicallyPrecedes($1.encodedBytes) })
    }

    @Test("small integers are small")
    func compactness() {
        #expect(0.encodedBytes == [0x80])
        #expect(1.encodedBytes == [0x81, 0x01])
        #expect((-1).encodedBytes == [0x7F])
        #expect(UInt64(300).encodedBytes == [0x02, 0x01, 0x2C])
    }

    @Test("a number too wide for the type it is decoded as is an error, not a truncation")
    func narrowing() throws {
        try self.roundTrip(UInt(42))
        try self.roundTrip(UInt32.max)
        let wide = Int64(Int32.max) + 1
        #expect(throws: MapReduceError.self) { try wide.encodedBytes.withUnsafeBytes { try Int32(encodedBytes: $0) } }
        let wideUnsigned = UInt64(UInt32.max) + 1
        #expect(throws: MapReduceError.self) {
            try wideUnsigned.encodedBytes.withUnsafeBytes { try UInt32(encodedBytes: $0) }
        }
    }

    @Test("doubles round-trip and sort numerically")
    func doubles() throws {
        let values: [Double] = [-.infinity, -1e300, -2.5, -1, -0.0, 0, 1e-300, 0.5, 1, 3.25, 1e300, .infinity]
        for value in values { try self.roundTrip(value) }
        let byBytes = values.sorted { $0.encodedBytes.lexicographicallyPrecedes($1.encodedBytes) }
        #expect(byBytes == values)
    }

    @Test("strings, byte strings and arrays round-trip")
    func composite() throws {
        try self.roundTrip("")
        try self.roundTrip("héllo wörld ΣΑΣ 漢字 😀")
        try self.roundTrip(ByteString([0, 255, 10, 13]))
        try self.roundTrip([1, -2, 3_000_000])
        try self.roundTrip(["a", "", "ccc"])
        try self.roundTrip([[1, 2], [], [3]])
        try self.roundTrip(true)
        #expect("abc".encodedBytes == Array("abc".utf8))
    }

    @Test("malformed encodings throw instead of trapping")
    func malformed() {
        let cases: [[UInt8]] = [[], [0x09], [0x83, 0x01], [0x88], [0x70]]
        for bytes in cases {
            #expect(throws: MapReduceError.self) { try bytes.withUnsafeBytes { try Int(encodedBytes: $0) } }
        }
        #expect(throws: MapReduceError.self) {
            try ([0xFF, 0xFE] as [UInt8]).withUnsafeBytes { try String(encodedBytes: $0) }
        }
        #expect(throws: MapReduceError.self) { try ([2] as [UInt8]).withUnsafeBytes { try Bool(encodedBytes: $0) } }
        // An array claiming more elements than bytes is refused before anything is allocated.
        #expect(throws: MapReduceError.self) {
            try ([0xFF, 0xFF, 0xFF, 0x7F] as [UInt8]).withUnsafeBytes { try [Int](encodedBytes: $0) }
        }
    }

    @Test("varints and bounded counts")
    func varints() throws {
        var writer = WireWriter()
        let values: [UInt64] = [0, 1, 127, 128, 16383, 16384, .max]
        for value in values { writer.writeVarint(value) }
        let decoded = try writer.bytes.withUnsafeBytes { raw throws -> [UInt64] in
            var reader = WireReader(raw)
            var result: [UInt64] = []
            while !reader.isAtEnd { result.append(try reader.readVarint()) }
            return result
        }
        #expect(decoded == values)
        #expect(throws: MapReduceError.self) {
            try ([0xE8, 0x07] as [UInt8]).withUnsafeBytes { raw in
                var reader = WireReader(raw)
                _ = try reader.readCount(limit: 999)
            }
        }
        #expect(throws: MapReduceError.self) {
            try ([0x80, 0x80] as [UInt8]).withUnsafeBytes { raw in
                var reader = WireReader(raw)
                _ = try reader.readVarint()
            }
        }

    }

    /// Found by `make fuzz` (FuzzRecords): a record whose value length was nine 0x80 bytes and 0x02
    /// read as length 0, the bit past 64 dropped, where a segment reader must refuse it.
    @Test("a varint wider than 64 bits is an error, not a truncation")
    func varintOverflow() throws {
        let tooWide: [UInt8] = Array(repeating: 0x80, count: 9) + [0x02]
        #expect(throws: MapReduceError.self) {
            try tooWide.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                _ = try reader.readVarint()
            }
        }
        let widest: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x01]
        let value = try widest.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            return try reader.readVarint()
        }
        #expect(value == .max)
        let record: [UInt8] = [0x02, 0x00, 0x80] + tooWide + [0x00, 0x00]
        #expect(throws: MapReduceError.self) {
            try record.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                while !reader.isAtEnd {
                    _ = try reader.readLengthPrefixedBytes()
                    _ = try reader.readLengthPrefixedBytes()
                }
            }
        }
    }
}

/// SplitMix64, local to these tests.
struct SeededGeneratorLite: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
