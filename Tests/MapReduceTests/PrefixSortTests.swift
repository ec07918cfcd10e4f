import MapReduce
import Testing

@Suite("Prefix sort")
struct PrefixSortTests {
    /// Keys made to stress every part of the sort: shared eight-byte prefixes (ties the comparator must
    /// break), prefixes that differ only in their low digits or only in their top digit, and sizes on
    /// both sides of the small-input cutoff.
    static func keys(count: Int, seed: UInt64) -> [[UInt8]] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        return (0..<count).map { _ in
            switch next() % 4 {
            case 0: Array("internationaliz".utf8) + [UInt8(next() % 26 + 97)]
            case 1: [UInt8(next() % 256)] + Array(repeating: 0x61, count: Int(next() % 9))
            case 2: (0..<Int(next() % 20)).map { _ in UInt8(next() % 4 + 97) }
            default: Array("word\(next() % 100_000)".utf8)
            }
        }
    }

    static func prefix(_ key: [UInt8]) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(i < key.count ? key[i] : 0) }
        return value
    }

    @Test("orders keys like a byte-wise comparison sort", arguments: [0, 1, 2, 63, 64, 65, 1_000, 50_000])
    func matchesComparisonSort(count: Int) {
        let keys = Self.keys(count: count, seed: UInt64(count) + 7)
        var entries = keys.enumerated().map { PrefixEntry(prefix: Self.prefix($1), slot: UInt32($0)) }
        PrefixSort.sort(&entries) { keys[Int($0)].lexicographicallyPrecedes(keys[Int($1)]) }
        let sorted = entries.map { keys[Int($0.slot)] }
        #expect(sorted == keys.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(Set(entries.map(\.slot)).count == count)
    }

    @Test("the radix passes are stable")
    func stable() {
        // Equal prefixes keep their input order, which the run sort relies on.
        var entries = (0..<10_000).map { PrefixEntry(prefix: UInt64($0 % 37) << 40, slot: UInt32($0)) }
        PrefixSort.radixSort(&entries)
        for i in 1..<entries.count where entries[i].prefix == entries[i - 1].prefix {
            #expect(entries[i].slot > entries[i - 1].slot)
        }
        #expect(entries.map(\.prefix) == entries.map(\.prefix).sorted())
    }
}
