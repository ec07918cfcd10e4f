import MapReduce
import Testing

@Suite("Composite keys")
struct CompositeKeyTests {
    /// A random byte string, often short, often with zero bytes and 0xFF, often a prefix of another.
    static func randomBytes(_ random: inout SeededGeneratorLite) -> ByteString {
        let alphabet: [UInt8] = [0x00, 0x00, 0x01, 0x41, 0x42, 0x7F, 0xFE, 0xFF]
        let length = Int(random.next() % 6)
        return ByteString((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    static func randomInt(_ random: inout SeededGeneratorLite) -> Int64 {
        switch random.next() % 4 {
        case 0: Int64(random.next() % 5) - 2
        case 1: Int64(bitPattern: random.next())
        case 2: [Int64.min, .max, -1, 0, 1 << 32][Int(random.next() % 5)]
        default: Int64(bitPattern: random.next() >> (random.next() % 64))
        }
    }

    @Test("byte order is tuple order for random triples", arguments: [1, 2, 3] as [UInt64])
    func tripleOrder(seed: UInt64) throws {
        var random = SeededGeneratorLite(seed: seed)
        let keys = (0..<3000).map { _ in
            KeyTriple(Self.randomInt(&random), Self.randomBytes(&random), UInt8(truncatingIfNeeded: random.next() % 3))
        }
        let byTuple = keys.sorted()
        let byBytes = keys.sorted { $0.encodedBytes.lexicographicallyPrecedes($1.encodedBytes) }
        #expect(byTuple == byBytes)
        // Equal keys, and only they, have equal bytes.
        for (a, b) in zip(byTuple, byTuple.dropFirst()) {
            #expect((a == b) == (a.encodedBytes == b.encodedBytes))
        }
        for key in keys.prefix(500) {
            let decoded = try key.encodedBytes.withUnsafeBytes {
                try KeyTriple<Int64, ByteString, UInt8>(encodedBytes: $0)
            }
            #expect(decoded == key)
        }
    }

    @Test("byte order is tuple order for pairs of strings and nested pairs", arguments: [4, 5] as [UInt64])
    func nestedOrder(seed: UInt64) throws {
        var random = SeededGeneratorLite(seed: seed)
        typealias Key = KeyPair<KeyPair<ByteString, ByteString>, Int32>
        let keys = (0..<3000).map { _ in
            Key(
                KeyPair(Self.randomBytes(&random), Self.randomBytes(&random)),
                Int32(truncatingIfNeeded: Self.randomInt(&random))
            )
        }
        let byTuple = keys.sorted {
            ($0.first.first, $0.first.second, $0.second) < ($1.first.first, $1.first.second, $1.second)
        }
        let byBytes = keys.sorted { $0.encodedBytes.lexicographicallyPrecedes($1.encodedBytes) }
        #expect(byTuple == byBytes)
        for key in keys.prefix(300) {
            #expect(try key.encodedBytes.withUnsafeBytes { try Key(encodedBytes: $0) } == key)
        }
    }

    @Test("every integer width keeps numeric order")
    func integerWidths() {
        func check<T: KeyComponent & FixedWidthInteger>(_ type: T.Type) {
            let values: [T] =
                [.min, .min + 1, 0, 1, .max - 1, .max] + (0..<200).map { _ in .random(in: .min ... .max) }
            let byBytes = values.sorted {
                KeyPair($0, false).encodedBytes.lexicographicallyPrecedes(KeyPair($1, false).encodedBytes)
            }
            #expect(byBytes == values.sorted(), "\(T.self)")
        }
        check(UInt8.self)
        check(UInt16.self)
        check(UInt32.self)
        check(UInt64.self)
        check(Int8.self)
        check(Int16.self)
        check(Int32.self)
        check(Int64.self)
        check(Int.self)
    }

    @Test("the encoding is as documented")
    func layout() {
        #expect(
            KeyPair(Int16(-1), ByteString([0x00, 0x41])).encodedBytes == [0x7F, 0xFF, 0x00, 0xFF, 0x41, 0x00, 0x00]
        )
        #expect(KeyPair(UInt32(258), "").encodedBytes == [0, 0, 1, 2, 0, 0])
        #expect(KeyPair(true, "é").encodedBytes == [1, 0xC3, 0xA9, 0, 0])
    }

    @Test(
        "malformed encodings are errors",
        arguments: [
            [0x00, 0x00, 0x00] as [UInt8],  // Int32 cut short
            [0x80, 0, 0, 1, 0x41],  // no terminator
            [0x80, 0, 0, 1, 0x41, 0x00],  // half a terminator
            [0x80, 0, 0, 1, 0x41, 0x00, 0x07],  // a bad escape
            [0x80, 0, 0, 1, 0x00, 0x00, 0x00],  // bytes left over
            [0x80, 0, 0, 1, 0xFF, 0x00, 0x00],  // not UTF-8
        ]
    )
    func malformed(bytes: [UInt8]) {
        #expect(throws: MapReduceError.self) {
            try bytes.withUnsafeBytes { try KeyPair<Int32, String>(encodedBytes: $0) }
        }
    }
}
