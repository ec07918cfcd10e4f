import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Key table")
struct KeyTableTests {
    /// Keys of every length up to 300 (the slot's sixteen bytes, the arena, the long-length header at
    /// 254), with shared prefixes and zero bytes, many enough to make the table grow several times.
    static func keys() -> [[UInt8]] {
        var random = SeededGenerator(seed: 11)
        var keys: Set<[UInt8]> = []
        for length in 0...300 { keys.insert((0..<length).map { _ in UInt8.random(in: 0...3, using: &random) }) }
        while keys.count < 20_000 {
            let length = Int.random(in: 0...24, using: &random)
            keys.insert((0..<length).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
        return keys.shuffled(using: &random)
    }

    func insert(_ key: [UInt8], into table: KeyTable<Int>) -> (UnsafeMutablePointer<Int>, Bool) {
        // Slack after the key: the table may read whole words past a key's end.
        (key + Array(repeating: 0xEE, count: 16)).withUnsafeBytes { raw in
            let (first, second, hash) = KeyWords.summary(of: raw.baseAddress!, length: key.count)
            let (payload, inserted) = table.findOrInsert(
                hash: hash,
                first: first,
                second: second,
                key: raw.baseAddress!,
                length: key.count
            )
            return (payload, inserted)
        }
    }

    @Test("keys of every length are found again and read back whole, in byte order")
    func roundTrip() throws {
        let keys = Self.keys()
        let table = KeyTable<Int>(initialCapacity: 16)
        for (index, key) in keys.enumerated() {
            let (payload, inserted) = self.insert(key, into: table)
            #expect(inserted)
            payload.initialize(to: index)
        }
        for (index, key) in keys.enumerated() {
            let (payload, inserted) = self.insert(key, into: table)
            #expect(!inserted)
            #expect(payload.pointee == index)
        }
        #expect(table.count == keys.count)
        // Compared element by element: a failure names the first wrong key, not all 20,000.
        let expected = keys.sorted { $0.lexicographicallyPrecedes($1) }
        let order = table.sortedSlots()
        try #require(order.count == expected.count)
        let wrongKey = order.indices.first { Array(table.key(atSlot: Int(order[$0]))) != expected[$0] }
        #expect(wrongKey == nil)
        let wrongValue = order.indices.first { keys[table.payload(atSlot: Int(order[$0])).pointee] != expected[$0] }
        #expect(wrongValue == nil)
    }
}
