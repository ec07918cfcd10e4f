import MapReduce
import Testing

/// Decodes `value`'s encoding again.
private func roundTrip<T: WireCodable>(_ value: T) throws -> T {
    try value.encodedBytes.withUnsafeBytes { try T(encodedBytes: $0) }
}

@Suite("Combiners and reducers beyond sums")
struct AggregateTests {
    @Test("minimum and maximum, as combiners and as reducers")
    func minimumAndMaximum() throws {
        var low = 5
        var high = 5
        for value in [3, 9, -2, 7] {
            MinCombiner<Int>().combine(&low, with: value)
            MaxCombiner<Int>().combine(&high, with: value)
        }
        #expect(low == -2 && high == 9)
        let minimum = MinReducer<ByteString, String>()
        let maximum = MaxReducer<ByteString, String>()
        let values = ["pear", "apple", "zucchini", "fig"]
        #expect(try minimum.reduce("k", values: ReduceValues(values)) == "apple")
        #expect(try maximum.reduce("k", values: ReduceValues(values)) == "zucchini")
    }

    @Test("pairs combine component-wise and round-trip")
    func pairs() throws {
        var accumulated = Pair(1, Pair(100, "x"))
        let combiner = PairCombiner(SumCombiner<Int>(), PairCombiner(MaxCombiner<Int>(), MinCombiner<String>()))
        combiner.combine(&accumulated, with: Pair(2, Pair(50, "a")))
        combiner.combine(&accumulated, with: Pair(3, Pair(700, "b")))
        #expect(accumulated == Pair(6, Pair(700, "a")))
        #expect(try roundTrip(accumulated) == accumulated)
        var sums = Pair(Int64(1), 2)
        SumPairCombiner<Int64, Int>().combine(&sums, with: Pair(10, 20))
        #expect(sums == Pair(11, 22))
        // A first value whose length runs past the end is an error.
        #expect(throws: MapReduceError.self) {
            try [0x05, 0x81].withUnsafeBytes { try Pair<Int, Int>(encodedBytes: $0) }
        }
    }

    @Test("counting counts values")
    func counting() {
        let reducer = CountReducer<Int, String>()
        #expect(reducer.reduce(1, values: ReduceValues(["a", "b", "a"])) == 3)
    }

    @Test("sorted sets stay sorted and distinct under union, whatever the order of arrival")
    func sortedSets() throws {
        var random = SeededGeneratorLite(seed: 9)
        var expected = Set<Int>()
        var union = SortedSet<Int>()
        for _ in 0..<300 {
            let batch = (0..<Int(random.next() % 4)).map { _ in Int(random.next() % 200) - 100 }
            expected.formUnion(batch)
            UnionCombiner<Int>().combine(&union, with: batch.count == 1 ? SortedSet(batch[0]) : SortedSet(batch))
        }
        #expect(union.elements == expected.sorted())
        #expect(try roundTrip(union) == union)
        #expect(union.contains(expected.first!) && !union.contains(1000))
        let collect = CollectReducer<Int, String>()
        let collected = try collect.reduce(0, values: ReduceValues([SortedSet(["b", "a"]), SortedSet(["c", "a"])]))
        #expect(collected.elements == ["a", "b", "c"])
    }

    @Test("tallies add the counts of equal elements")
    func tallies() throws {
        var random = SeededGeneratorLite(seed: 10)
        var expected: [String: Int] = [:]
        var tally = Tally<String>()
        for _ in 0..<500 {
            let element = "f\(random.next() % 40)"
            let count = Int(random.next() % 3) + 1
            expected[element, default: 0] += count
            if random.next() % 2 == 0 {
                TallyCombiner<String>().combine(&tally, with: Tally(element, count: count))
            } else {
                var other = Tally<String>()
                let second = "f\(random.next() % 40)_"
                other.add(second, count: 1)
                other.add(element, count: count)
                expected[second, default: 0] += 1
                tally.formSum(other)
            }
        }
        #expect(tally.entries.map(\.element) == expected.keys.sorted())
        #expect(tally.entries.map(\.count) == expected.keys.sorted().map { expected[$0]! })
        #expect(try roundTrip(tally) == tally)
        #expect(tally.total == expected.values.reduce(0, +))
    }

    @Test("set and tally decoders check counts before allocating, and refuse disorder")
    func bounds() {
        var huge = WireWriter()
        huge.writeVarint(UInt64(1) << 60)
        #expect(throws: MapReduceError.self) { try huge.bytes.withUnsafeBytes { try SortedSet<Int>(encodedBytes: $0) } }
        #expect(throws: MapReduceError.self) { try huge.bytes.withUnsafeBytes { try Tally<Int>(encodedBytes: $0) } }
        // More elements than the bound, even with the bytes for them.
        var tooMany = WireWriter()
        tooMany.writeVarint(SortedSet<UInt8>.maximumCount + 1)
        for _ in 0...SortedSet<UInt8>.maximumCount { tooMany.write([1, 0]) }
        #expect(throws: MapReduceError.self) {
            try tooMany.bytes.withUnsafeBytes { try SortedSet<UInt8>(encodedBytes: $0) }
        }
        // Out of order, duplicated, and counted zero times.
        for bytes: [UInt8] in [[2, 1, 2, 1, 1], [2, 1, 1, 1, 1]] {
            #expect(throws: MapReduceError.self) {
                try bytes.withUnsafeBytes { try SortedSet<UInt8>(encodedBytes: $0) }
            }
        }
        #expect(throws: MapReduceError.self) {
            try [1, 1, 7, 0].withUnsafeBytes { try Tally<UInt8>(encodedBytes: $0) }
        }
    }

    @Test("sets and tallies count the heap they grow; sums and pairs of sums count none")
    func heapBytes() {
        #expect(SumCombiner<Int>().heapBytes(of: 7) == 0)
        var set = SortedSet<Int>()
        var tally = Tally<Int>()
        #expect(UnionCombiner<Int>().heapBytes(of: set) == 0 && TallyCombiner<Int>().heapBytes(of: tally) == 0)
        for element in 0..<1000 {
            UnionCombiner<Int>().combine(&set, with: SortedSet(element))
            TallyCombiner<Int>().combine(&tally, with: Tally(element))
        }
        // At least the elements' own bytes, at most their buffers doubled, with a header.
        #expect((8000...16_032).contains(UnionCombiner<Int>().heapBytes(of: set)), "\(set.heapBytes)")
        #expect((16_000...32_032).contains(TallyCombiner<Int>().heapBytes(of: tally)), "\(tally.heapBytes)")
        let pairs = PairCombiner(SumCombiner<Int>(), UnionCombiner<Int>())
        #expect(pairs.heapBytes(of: Pair(3, set)) == set.heapBytes)
    }

    @Test("the suggested worker memory: only for many spills under pressure, enough for the worst worker")
    func suggestedWorkerMemory() {
        let mebibyte = 1 << 20
        func suggest(_ budget: Int, _ spills: [(count: Int, keys: Int)], distinct: Int? = nil) -> Int? {
            JobStatistics.suggestWorkerMemory(
                budget: budget,
                spillsPerWorker: spills.map { SpillTally(count: $0.count, keys: $0.count * $0.keys, largest: $0.keys) },
                distinctKeys: distinct
            )
        }
        // One spill per worker, or one more: no hint.
        #expect(suggest(mebibyte, []) == nil)
        #expect(suggest(mebibyte, [(1, 10), (1, 10), (1, 10)]) == nil)
        #expect(suggest(mebibyte, [(2, 10), (2, 10)]) == nil)
        // Every key distinct: the worst worker's 7 spills as one table, rounded up to a power of two.
        #expect(suggest(mebibyte, [(7, 1000), (3, 1000)]) == 8 << 20)
        #expect(suggest(3 * mebibyte, [(3, 1000)]) == 16 << 20)
        // The same spills of fixed-size entries over 1,500 distinct keys: a table of 1,500 keys at 1 MiB
        // per 1,000, twice over for growth (3 MiB), rounded up; over many more keys, the spills as one.
        #expect(suggest(mebibyte, [(7, 1000), (3, 1000)], distinct: 1500) == 4 << 20)
        #expect(suggest(mebibyte, [(7, 1000), (3, 1000)], distinct: 1_000_000) == 8 << 20)
        // Never less than twice the budget.
        #expect(suggest(mebibyte, [(7, 1000), (3, 1000)], distinct: 10) == 2 << 20)
        // Capped at 4 GiB.
        #expect(suggest(1 << 30, [(10, 1000)]) == 4 << 30)
    }
}
