import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Sorted merge of spill segments")
struct SortedMergeTests {
    /// `keyLength key valueLength value` records, lengths as varints, values as the engine encodes `Int`.
    static func records(_ pairs: [(String, Int)]) -> [UInt8] {
        var writer = WireWriter()
        for (key, value) in pairs {
            writer.writeLengthPrefixed(key)
            writer.writeLengthPrefixed(value)
        }
        return writer.bytes
    }

    /// Every key with its values, in the order the merge hands them out.
    static func drain(_ segments: SortedSegments) throws -> [(String, [Int])] {
        var result: [(String, [Int])] = []
        while let key = segments.nextKey() {
            var values = [try segments.value(as: Int.self)]
            while try segments.nextValue() { values.append(try segments.value(as: Int.self)) }
            result.append((String(decoding: key, as: UTF8.self), values))
        }
        return result
    }

    @Test("merges segments of several spills and partitions into one key order, gathering each key's values")
    func merges() throws {
        let scratch = try TemporaryDirectory("sorted-merge")
        defer { scratch.remove() }
        // Two spills of two partitions each; keys repeat within a segment and across spills, and one
        // key is a prefix of another, and two share their first eight bytes.
        let a0 = Self.records([("apple", 1), ("internationalism", 2), ("internationally", 3), ("pear", 4)])
        let a1 = Self.records([("b", 5), ("b", 6), ("banana", 7)])
        let b0 = Self.records([("apple", 10), ("zebra", 11)])
        let b1 = Self.records([("ban", 12), ("banana", 13)])
        let spillA = try scratch.write("spill-a", [9, 9] + a0 + a1)
        let spillB = try scratch.write("spill-b", b0 + b1)
        let segments = try SortedSegments([
            .init(path: spillA, offset: 2, segmentLengths: [a0.count, a1.count]),
            .init(path: spillB, offset: 0, segmentLengths: [b0.count, b1.count]),
        ])
        let merged = try Self.drain(segments)
        #expect(
            merged.map(\.0) == ["apple", "b", "ban", "banana", "internationalism", "internationally", "pear", "zebra"]
        )
        #expect(merged.map { $0.1.sorted() } == [[1, 10], [5, 6], [12], [7, 13], [2], [3], [4], [11]])
    }

    @Test("empty inputs and empty segments merge to nothing")
    func empty() throws {
        let scratch = try TemporaryDirectory("sorted-merge-empty")
        defer { scratch.remove() }
        let only = Self.records([("x", 1)])
        let spill = try scratch.write("spill", only)
        #expect(try Self.drain(SortedSegments([])).isEmpty)
        let segments = try SortedSegments([
            .init(path: spill, offset: 0, segmentLengths: [0, only.count, 0])
        ])
        #expect(try Self.drain(segments).map(\.0) == ["x"])
    }

    @Test("a segment out of key order, a truncated record or a range past the file's end is an I/O error")
    func corrupt() throws {
        let scratch = try TemporaryDirectory("sorted-merge-corrupt")
        defer { scratch.remove() }
        let unsorted = Self.records([("b", 1), ("a", 2)])
        let unsortedPath = try scratch.write("unsorted", unsorted)
        let error = try #require(throws: MapReduceError.self) {
            try Self.drain(
                SortedSegments([
                    .init(path: unsortedPath, offset: 0, segmentLengths: [unsorted.count])
                ])
            )
        }
        #expect(error.code == .io && error.description.contains("not sorted") && error.input == unsortedPath)

        let truncated = Array(Self.records([("apple", 1)]).dropLast())
        let truncatedPath = try scratch.write("truncated", truncated)
        #expect(throws: MapReduceError.self) {
            try Self.drain(
                SortedSegments([
                    .init(path: truncatedPath, offset: 0, segmentLengths: [truncated.count])
                ])
            )
        }
        #expect(throws: MapReduceError.self) {
            try SortedSegments([.init(path: truncatedPath, offset: 2, segmentLengths: [100])])
        }
        #expect(throws: MapReduceError.self) {
            try SortedSegments([.init(path: scratch.file("missing"), offset: 0, segmentLengths: [1])])
        }
        #expect(throws: MapReduceError.self) {
            try SortedSegments([.init(path: truncatedPath, offset: 0, segmentLengths: [2, 6])])
        }
    }
}
