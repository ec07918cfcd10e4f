import MapReduce
import Testing

@Suite("Key hash and partitioner")
struct PartitionerTests {
    /// Pinned values, computed by an independent implementation of the definition in `KeyHash`'s
    /// documentation: changing the hash would send keys to other partitions than peers running another
    /// build expect, so it must never change by accident.
    @Test("MR64 golden values")
    func goldenValues() {
        let golden: [(String, UInt64)] = [
            ("", 0x0000_0000_0000_0000),
            ("a", 0x283B_5110_E4F6_1794),
            ("the", 0x4328_7B79_12D8_BF87),
            ("word", 0x65BA_E8D4_4272_56C6),
            ("mapreduce", 0x0D8B_3A2A_DBC1_9219),
            ("antidisestablishmentarianism", 0xF83F_553E_908F_3A5F),
            ("σοφος", 0xE1B4_8FB2_B3CF_81D3),
        ]
        for (key, expected) in golden {
            let actual = KeyHash.hash(Array(key.utf8))
            #expect(actual == expected, "MR64(\"\(key)\") = 0x\(String(actual, radix: 16))")
        }
    }

    @Test("the hash depends on every byte and on the length")
    func sensitivity() {
        var seen = Set<UInt64>()
        var keys: [[UInt8]] = [[], [0], [0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0]]
        for length in 1...40 {
            for position in 0..<length {
                var key = [UInt8](repeating: 0x61, count: length)
                key[position] = 0x62
                keys.append(key)
            }
        }
        for key in keys { seen.insert(KeyHash.hash(key)) }
        #expect(seen.count == keys.count)
    }

    @Test("the hash of a buffer equals the hash of its bytes wherever they sit")
    func alignment() {
        let bytes = Array("unaligned keys hash the same".utf8)
        for offset in 0..<8 {
            let shifted = [UInt8](repeating: 0, count: offset) + bytes
            let hash = shifted.withUnsafeBytes { KeyHash.hash(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            #expect(hash == KeyHash.hash(bytes))
        }
    }

    @Test("partitions are in range and roughly even")
    func distribution() {
        let partitioner = HashPartitioner()
        var counts = [Int](repeating: 0, count: 64)
        for index in 0..<64_000 {
            let key = Array("key-\(index)".utf8)
            let partition = key.withUnsafeBytes {
                partitioner.partition(encodedKey: $0, hash: KeyHash.hash($0), count: 64)
            }
            counts[partition] += 1
        }
        #expect(counts.min()! > 800)
        #expect(counts.max()! < 1200)
    }
}
