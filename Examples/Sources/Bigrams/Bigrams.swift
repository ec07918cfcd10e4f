import MapReduce

/// Counts bigrams: pairs of adjacent words in a line, a word being a run of ASCII letters, lowercased.
/// "The cat, the hat." has the bigrams "the cat", "cat the" and "the hat".
struct Bigrams: MapReduceJob, Codable {
    static let name = "bigrams"

    struct Map: Mapper {
        mutating func map(_ line: RawSpan, into output: inout Emitter<String, Int>) throws {
            var previous: [UInt8] = []
            var word: [UInt8] = []
            line.withUnsafeBytes { bytes in
                for byte in bytes + [0x20] {
                    let lower = byte | 0x20
                    if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z") {
                        word.append(lower)
                    } else if !word.isEmpty {
                        if !previous.isEmpty {
                            output.emit(String(decoding: previous + [0x20] + word, as: UTF8.self), 1)
                        }
                        swap(&previous, &word)
                        word.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
    }

    func makeMapper() -> Map { Map() }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() -> SumReducer<String, Int> { SumReducer() }
}
