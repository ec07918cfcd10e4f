/// The stop words of the reference word count: `a an and are as be by for if in is it of or py rst that
/// the to with`.
///
/// Every stop word is at most four ASCII letters, so a candidate is packed into a `UInt32` (little-endian,
/// zero-padded) and looked up with one multiply, one shift and one compare in a 64-entry perfect hash.
struct StopWords: Sendable {
    static let words = [
        "a", "an", "and", "are", "as", "be", "by", "for", "if", "in", "is", "it", "of", "or", "py", "rst",
        "that", "the", "to", "with",
    ]

    let multiplier: UInt32
    let table: [UInt32]

    init() {
        let packed = Self.words.map { word in
            word.utf8.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        }
        // Find a multiplier under which the words land in distinct slots; the search is deterministic.
        var multiplier: UInt32 = 0x9E37_79B1
        while true {
            var table = [UInt32](repeating: 0, count: 64)
            var clash = false
            for word in packed {
                let slot = Int((word &* multiplier) >> 26)
                if table[slot] != 0 {
                    clash = true
                    break
                }
                table[slot] = word
            }
            if !clash {
                self.multiplier = multiplier
                self.table = table
                return
            }
            multiplier &+= 2
        }
    }

    /// Whether `word`, lowercased UTF-8, is a stop word.
    func contains(_ word: UnsafeRawBufferPointer) -> Bool {
        guard (1...4).contains(word.count) else { return false }
        var packed: UInt32 = 0
        for (i, byte) in word.enumerated() { packed |= UInt32(byte) << UInt32(8 * i) }
        return self.table[Int((packed &* self.multiplier) >> 26)] == packed
    }
}
