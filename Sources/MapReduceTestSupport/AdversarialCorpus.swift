/// A small deterministic random generator (SplitMix64), so generated corpora are the same on every run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Text built to break a word counter: every line ending, separator, `..` rule corner and Unicode case
/// that the rules mention, mixed at random with ordinary words.
public enum AdversarialCorpus {
    static let asciiWords = [
        "the", "The", "THE", "and", "And", "a", "A", "an", "is", "It", "of", "or", "py", "rst", "that", "with", "to",
        "word", "Word", "WORD", "count", "mapreduce", "Swift", "python", "hello", "World", "x", "zz", "q",
        "antidisestablishmentarianism", "don", "t", "e", "g",
    ]
    static let oddTokens = [
        "abc1", "1st", "2nd", "a1b", "ab\u{0}cd", "nul\u{0}", "del\u{7F}ete", "bell\u{07}", "esc\u{1B}x", "123",
        "x_y", "can't", "e.g.", "semi;colon", "a-b-c", "(paren)", "[bracket]", "{brace}", "\"quoted\"", "tab\tbed",
    ]
    static let unicodeTokens = [
        "İstanbul", "İ", "KİLİM", "Straße", "ß", "ẞ", "ΟΔΟΣ", "ΣΟΦΟΣ", "ΣΑΣ", "ΣΣ", "Σ", "aΣb", "ΑΣ'", "ΑΣ́",
        "e\u{301}", "\u{301}", "café", "CAFÉ", "naïve", "漢字", "かな", "カタカナ", "한국어", "ไทย", "العربية", "עברית",
        "ǅungla", "ǈ", "ﬁne", "ﬀ", "K", "Å", "Ωmega", "ΐ", "ᾈ", "ᾼ", "ı", "Ꭰꭰ", "ꭰ", "Ⅻ", "ⅻ", "①", "²", "😀",
        "a😀", "zero\u{200B}width", "joiner\u{200D}x", "\u{FEFF}bom", "Σ\u{301}", "ΑΣ\u{0345}",
        "\u{10400}\u{10428}", "ᲀ", "ǰ", "ŉ", "İİ", "ΌΣΟΣ",
    ]
    static let spaces = [" ", " ", " ", "  ", "\t", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{1F}"]
    static let unicodeSpaces = [
        "\u{85}", "\u{A0}", "\u{1680}", "\u{2000}", "\u{2005}", "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}",
        "\u{205F}", "\u{3000}",
    ]
    static let punctuation = Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").map(String.init)
    static let lineEnds = ["\n", "\n", "\n", "\r\n", "\r"]
    static let lineStarts = [
        "..", ".. ", "  ..", "\t..", "\u{0C}..", "\u{1C}..", ".", ". .", "...", "x..", "\u{3000}..", "\u{A0}..",
        "\u{85}..", "\u{2028}..",
    ]

    /// About `size` bytes of text, deterministic for a seed.
    /// - Parameters:
    ///   - unicode: Include non-ASCII words and Unicode whitespace.
    ///   - finalNewline: End with a line terminator.
    public static func text(seed: UInt64, size: Int, unicode: Bool, finalNewline: Bool = true) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(size + 256)
        var atLineStart = true
        while out.count < size {
            if atLineStart && Int.random(in: 0..<8, using: &random) == 0 {
                let starts = unicode ? lineStarts : lineStarts.filter { $0.utf8.allSatisfy { $0 < 0x80 } }
                out += Array(starts.randomElement(using: &random)!.utf8)
            }
            atLineStart = false
            let roll = Int.random(in: 0..<100, using: &random)
            let piece: String
            switch roll {
            case 0..<55: piece = asciiWords.randomElement(using: &random)!
            case 55..<63: piece = oddTokens.randomElement(using: &random)!
            case 63..<78:
                piece =
                    unicode ? unicodeTokens.randomElement(using: &random)! : asciiWords.randomElement(using: &random)!
            case 78..<83: piece = punctuation.randomElement(using: &random)!
            case 83..<86: piece = unicode ? unicodeSpaces.randomElement(using: &random)! : " "
            case 86..<87: piece = String(repeating: "Long", count: Int.random(in: 20..<400, using: &random))
            default: piece = ""
            }
            out += Array(piece.utf8)
            if Int.random(in: 0..<9, using: &random) == 0 {
                out += Array(lineEnds.randomElement(using: &random)!.utf8)
                atLineStart = true
            } else {
                out += Array(spaces.randomElement(using: &random)!.utf8)
            }
        }
        while let last = out.last, last == 0x0A || last == 0x0D { out.removeLast() }
        if finalNewline { out.append(0x0A) }
        return out
    }

    /// A directory tree of generated files, including an empty one and one without a final newline.
    public static func writeTree(into directory: TemporaryDirectory, seed: UInt64, unicode: Bool) throws {
        var random = SeededGenerator(seed: seed &+ 1)
        for index in 0..<6 {
            let size = Int.random(in: 100...60_000, using: &random)
            try directory.write(
                "tree/part-\(index).txt",
                text(seed: seed &* 31 &+ UInt64(index), size: size, unicode: unicode, finalNewline: index % 3 != 0)
            )
        }
        try directory.write("tree/nested/empty.txt", [])
        try directory.write("tree/nested/big.txt", text(seed: seed &+ 99, size: 300_000, unicode: unicode))
    }
}
