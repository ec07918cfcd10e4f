import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Cutting long lines")
struct LineScannerTests {
    /// Text with lines from a few bytes to several times ``LineScanner/longLine``, cut bytes (spaces)
    /// in runs and far apart, and every kind of line end.
    static func text(seed: UInt64, count: Int) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        func next(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            switch next(1000) {
            case 0: bytes += [0x0A]
            case 1: bytes += [0x0D, 0x0A]
            case 2: bytes += [0x0D]
            case 3..<200: bytes += [0x20]
            case 200..<203: bytes += Array(repeating: 0x61, count: next(200_000))  // a long run, no cut
            default: bytes += [0x61]
            }
        }
        return bytes
    }

    /// Calls `body` at 2,000 random positions of each seed's text, with a seeded generator for more.
    static func samples(
        seeds: Range<UInt64>,
        _ body: (UnsafeRawBufferPointer, Int, inout SeededGenerator) -> Void
    ) {
        for seed in seeds {
            let bytes = Self.text(seed: seed, count: 600_000)
            bytes.withUnsafeBytes { raw in
                var random = SeededGenerator(seed: seed &+ 99)
                for _ in 0..<2_000 { body(raw, Int.random(in: 0..<raw.count, using: &random), &random) }
            }
        }
    }

    @Test("a range's end and the next range's start agree, whatever the next range's end")
    func boundariesAgree() {
        var cuts = 0
        Self.samples(seeds: 0..<4) { raw, position, random in
            let full = LineScanner.boundary(raw, atOrAfter: position, cut: 0x20, limit: raw.count)
            let limit = position + 1 + Int.random(in: 0..<LineScanner.longLine * 2, using: &random)
            let bounded = LineScanner.boundary(raw, atOrAfter: position, cut: 0x20, limit: limit)
            if let full, full.position < min(limit, raw.count) {
                #expect(bounded?.position == full.position && bounded?.midRecord == full.midRecord)
            } else {
                #expect(bounded == nil)
            }
            guard let full else { return }
            #expect(full.position >= position)
            if full.midRecord {
                cuts += 1
                #expect(raw[full.position] == 0x20)
            } else if full.position < raw.count && full.position > 0 {
                #expect(raw[full.position - 1] == 0x0A || raw[full.position - 1] == 0x0D)
                #expect(raw[full.position - 1] != 0x0D || raw[full.position] != 0x0A)
            }
        }
        #expect(cuts > 0)
    }

    @Test("ranges that own no piece hand their part to the next owner: a boundary is a property of its position")
    func boundariesChain() {
        Self.samples(seeds: 10..<14) { raw, position, random in
            let found = LineScanner.boundary(raw, atOrAfter: position, cut: 0x20, limit: raw.count)
            let end = found?.position ?? raw.count
            guard end > position else { return }
            // Any start between the two finds the same boundary.
            let later = position + 1 + Int.random(in: 0..<(end - position), using: &random)
            let again = LineScanner.boundary(raw, atOrAfter: later, cut: 0x20, limit: raw.count)
            #expect(again?.position == found?.position && again?.midRecord == found?.midRecord)
        }
    }

    @Test("short lines are never cut")
    func shortLines() {
        let bytes = Array(String(repeating: "a few words on a line\n", count: 10_000).utf8)
        bytes.withUnsafeBytes { raw in
            for position in stride(from: 1, to: raw.count, by: 37) {
                let found = LineScanner.boundary(raw, atOrAfter: position, cut: 0x20, limit: raw.count)
                #expect(found?.midRecord == false)
            }
        }
    }
}
