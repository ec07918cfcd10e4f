/// One entry to order: a key's first eight bytes as a big-endian integer (so integer order is byte
/// order) and the slot that holds the key.
@usableFromInline
package struct PrefixEntry: Equatable {
    @usableFromInline package var prefix: UInt64
    @usableFromInline package var slot: UInt32

    @inlinable package init(prefix: UInt64, slot: UInt32) {
        self.prefix = prefix
        self.slot = slot
    }
}

/// Orders keys by their bytes: a least-significant-digit radix sort of the eight-byte prefixes, then a
/// comparison sort of each run of equal prefixes only.
///
/// The last spill writes each partition in key order, thousands of keys at a time, and a reduce task
/// that groups by hashing writes its table's keys in order; a comparison sort spent most of its time
/// in the comparator.
/// Radix passes over a digit that every prefix shares are skipped, so short keys cost fewer passes.
@usableFromInline
package enum PrefixSort {
    /// Bits per radix digit: a 2,048-entry histogram stays in L1.
    @usableFromInline static var digitBits: Int { 11 }

    /// Sorts `entries` by prefix, breaking ties with `isOrderedBefore`, which compares whole keys.
    @inlinable
    package static func sort(_ entries: inout [PrefixEntry], tieBreak isOrderedBefore: (UInt32, UInt32) -> Bool) {
        let count = entries.count
        guard count > 1 else { return }
        if count <= 64 {
            entries.sort { $0.prefix != $1.prefix ? $0.prefix < $1.prefix : isOrderedBefore($0.slot, $1.slot) }
            return
        }
        radixSort(&entries)
        var runStart = 0
        while runStart < count {
            var runEnd = runStart + 1
            let prefix = entries[runStart].prefix
            while runEnd < count && entries[runEnd].prefix == prefix { runEnd += 1 }
            if runEnd - runStart > 1 {
                entries[runStart..<runEnd].sort { isOrderedBefore($0.slot, $1.slot) }
            }
            runStart = runEnd
        }
    }

    /// Stable LSD radix sort by `prefix`.
    @usableFromInline
    package static func radixSort(_ entries: inout [PrefixEntry]) {
        let count = entries.count
        let buckets = 1 << digitBits
        let mask = UInt64(buckets - 1)
        var scratch = [PrefixEntry](repeating: PrefixEntry(prefix: 0, slot: 0), count: count)
        var histogram = [Int](repeating: 0, count: buckets)
        var shift: UInt64 = 0
        var sourceIsEntries = true
        entries.withUnsafeMutableBufferPointer { first in
            scratch.withUnsafeMutableBufferPointer { second in
                histogram.withUnsafeMutableBufferPointer { counts in
                    while shift < 64 {
                        let source = sourceIsEntries ? first : second
                        let target = sourceIsEntries ? second : first
                        for i in 0..<buckets { counts[i] = 0 }
                        for entry in source { counts[Int(truncatingIfNeeded: (entry.prefix &>> shift) & mask)] &+= 1 }
                        // A digit every prefix shares moves nothing.
                        let firstDigit = Int(truncatingIfNeeded: (source[0].prefix &>> shift) & mask)
                        if counts[firstDigit] != count {
                            var position = 0
                            for i in 0..<buckets {
                                let bucketCount = counts[i]
                                counts[i] = position
                                position &+= bucketCount
                            }
                            for entry in source {
                                let digit = Int(truncatingIfNeeded: (entry.prefix &>> shift) & mask)
                                target[counts[digit]] = entry
                                counts[digit] &+= 1
                            }
                            sourceIsEntries.toggle()
                        }
                        shift &+= UInt64(digitBits)
                    }
                }
            }
        }
        if !sourceIsEntries { swap(&entries, &scratch) }
    }
}
