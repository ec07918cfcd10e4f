public import MapReduce

/// The most frequent words, by count descending, then by word (code-point order) ascending.
///
/// Keeps only the best `limit` words seen so far, so memory does not depend on the vocabulary.
public struct TopWords: Sendable {
    /// How many words to keep.
    public let limit: Int
    /// A min-heap on rank: the worst kept word is at the root.
    private var heap: [(word: ByteString, count: Int)] = []

    /// Keeps the best `limit` words.
    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Whether `a` ranks after `b`.
    private static func ranksAfter(_ a: (word: ByteString, count: Int), _ b: (word: ByteString, count: Int)) -> Bool {
        a.count != b.count ? a.count < b.count : b.word < a.word
    }

    /// Offers one word and its count.
    public mutating func add(_ word: ByteString, count: Int) {
        guard self.limit > 0 else { return }
        let entry = (word: word, count: count)
        if self.heap.count < self.limit {
            self.heap.append(entry)
            var child = self.heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.ranksAfter(self.heap[child], self.heap[parent]) else { break }
                self.heap.swapAt(child, parent)
                child = parent
            }
        } else if Self.ranksAfter(self.heap[0], entry) {
            self.heap[0] = entry
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < self.heap.count else { break }
                var worst = left
                if left + 1 < self.heap.count && Self.ranksAfter(self.heap[left + 1], self.heap[left]) {
                    worst = left + 1
                }
                guard Self.ranksAfter(self.heap[worst], self.heap[parent]) else { break }
                self.heap.swapAt(parent, worst)
                parent = worst
            }
        }
    }

    /// Offers one word, given as its bytes (valid only during the call), and its count; copies the
    /// bytes only if the word is kept, so offering every word of a large vocabulary allocates little.
    public mutating func add(_ word: RawSpan, count: Int) {
        guard self.limit > 0 else { return }
        // A full heap keeps a word only if it outranks the root: a lower count never does.
        if self.heap.count == self.limit && count < self.heap[0].count { return }
        word.withUnsafeBytes { self.add(ByteString($0), count: count) }
    }

    /// The kept words, best first.
    public var ranked: [(word: ByteString, count: Int)] {
        self.heap.sorted { Self.ranksAfter($1, $0) }
    }

    /// The table the Python reference prints: a title, then `word: count` with words padded to the longest
    /// word plus one (in characters) and counts right-aligned in five columns.
    public func formattedTable() -> String {
        var text = "\nTOP \(self.limit) WORDS BY FREQUENCY\n\n"
        let rows = self.ranked.map { (String(decoding: $0.word.bytes, as: UTF8.self), $0.count) }
        let width = (rows.map { $0.0.unicodeScalars.count }.max() ?? 0) + 1
        for (word, count) in rows {
            text += word + String(repeating: " ", count: width - word.unicodeScalars.count) + ": "
            let number = String(count)
            text += String(repeating: " ", count: max(0, 5 - number.count)) + number + "\n"
        }
        return text
    }
}
