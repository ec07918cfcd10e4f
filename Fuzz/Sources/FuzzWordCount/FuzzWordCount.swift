import FuzzSupport
@_spi(Fuzzing) import MapReduce
@_spi(Fuzzing) import MapReduceJobs

/// Word count's tokenizer against an obviously correct, slow version of the README's rules, written
/// per code point: the two must emit the same multiset of words, in both `--invalid-utf8` modes, and in
/// strict mode agree on whether the input is valid UTF-8 and on the offset of the first invalid byte.
/// The tokenizer also runs on the input cut at a space of its first line, as a worker maps a piece of a
/// long line: it must emit the words of the whole minus those of the part before the cut.
///
/// Byte 0: bit 0 picks the mode (0 strict, 1 replace), the other bits the space to cut at (0: none).
/// The rest is the text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWordCount(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let strict = data[0] & 1 == 0
    let text = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let job = WordCount(invalidUTF8: strict ? .strict : .replace)

    let expected = referenceWords(text, strict: strict)
    let actual = engineWords(job, text, cut: 0)
    expect(actual == expected, "tokenizer: \(actual), reference: \(expected)")

    // A cut at a space of the first line, as a worker maps a piece of a long line.
    let firstLine = text.prefix { $0 != 0x0A && $0 != 0x0D }
    let spaces = firstLine.indices.filter { text[$0] == 0x20 && $0 > 0 }
    let choice = Int(data[0] >> 1) % (spaces.count + 1)
    guard choice > 0 else { return 0 }
    let cut = spaces[choice - 1]
    let head = UnsafeRawBufferPointer(rebasing: text[..<cut])
    let piece: Outcome
    if strict, let invalid = firstInvalidOffset(text, from: cut) {
        piece = .invalid(offset: invalid)
    } else {
        guard case .words(let whole) = referenceWords(text, strict: false),
            case .words(let before) = referenceWords(head, strict: false)
        else { fail("replace mode never fails") }
        piece = .words(subtracting(before, from: whole))
    }
    let actualPiece = engineWords(job, text, cut: cut)
    expect(actualPiece == piece, "tokenizer after a cut at \(cut): \(actualPiece), reference: \(piece)")
    return 0
}

/// What a word count of some text gives: its words, sorted, or the offset of the first invalid byte.
enum Outcome: Equatable, CustomStringConvertible {
    case words([[UInt8]])
    case invalid(offset: Int)

    var description: String {
        switch self {
        case .words(let words): "words \(words.map { String(decoding: $0, as: UTF8.self) })"
        case .invalid(let offset): "invalid UTF-8 at \(offset)"
        }
    }
}

func engineWords(_ job: WordCount, _ text: UnsafeRawBufferPointer, cut: Int) -> Outcome {
    do {
        let records = try EngineFuzzing.mapKeys(job, lines: text, cut: cut)
        for record in records { expect(record.value == 1.encodedBytes, "a word counted \(record.value)") }
        return .words(records.map(\.key).sorted { $0.lexicographicallyPrecedes($1) })
    } catch let error as MapReduceError {
        // "invalid UTF-8 at byte offset N (byte 0xXX)"
        let words = error.message.split(separator: " ")
        guard error.code == .invalidData, let at = words.firstIndex(of: "offset"), at + 1 < words.count,
            let offset = Int(words[at + 1])
        else { fail("unexpected error: \(error)") }
        return .invalid(offset: offset)
    } catch {
        fail("unexpected error: \(error)")
    }
}

/// `whole` without one occurrence of each word of `part` (both sorted).
func subtracting(_ part: [[UInt8]], from whole: [[UInt8]]) -> [[UInt8]] {
    var remaining = whole
    for word in part {
        guard let index = remaining.firstIndex(of: word) else { fail("\(word) not in the whole") }
        remaining.remove(at: index)
    }
    return remaining
}

// MARK: - The reference: the README's rules, one code point at a time

let stopWords: Set<String> = [
    "a", "an", "and", "are", "as", "be", "by", "for", "if", "in", "is", "it", "of", "or", "py", "rst", "that",
    "the", "to", "with",
]

/// Python's `string.punctuation`.
let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars.map(\.value))

/// Python's properties of each code point (the generated tables), cached.
nonisolated(unsafe) var propertyCache: [UInt32: WordCountFuzzing.Properties] = [:]

func properties(_ scalar: UInt32) -> WordCountFuzzing.Properties {
    if let cached = propertyCache[scalar] { return cached }
    let properties = WordCountFuzzing.properties(of: Unicode.Scalar(scalar)!)
    propertyCache[scalar] = properties
    return properties
}

/// The offset of the first byte at or after `start` where the standard library's UTF-8 decoder
/// finds an ill-formed sequence, or nil.
func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    var offset = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded): offset += encoded.count
        case .error(let length):
            if offset >= start { return offset }
            offset += length
        case .emptyInput: return nil
        }
    }
}

/// Decodes UTF-8 as Python's `errors='replace'` does: each ill-formed sequence becomes U+FFFD.
func decode(_ bytes: UnsafeRawBufferPointer) -> [UInt32] {
    var scalars: [UInt32] = []
    var parser = Unicode.UTF8.ForwardParser()
    var iterator = bytes.makeIterator()
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let encoded): scalars.append(Unicode.UTF8.decode(encoded).value)
        case .error: scalars.append(0xFFFD)
        case .emptyInput: return scalars
        }
    }
}

func referenceWords(_ bytes: UnsafeRawBufferPointer, strict: Bool) -> Outcome {
    // Strict decoding fails at the first invalid byte, wherever it is.
    if strict, let offset = firstInvalidOffset(bytes, from: 0) { return .invalid(offset: offset) }
    let scalars = decode(bytes)
    // 1. Universal newlines: a line ends at \n, \r or \r\n.
    var lines: [[UInt32]] = []
    var line: [UInt32] = []
    var index = 0
    while index < scalars.count {
        let scalar = scalars[index]
        index += 1
        if scalar == 0x0A || scalar == 0x0D {
            if scalar == 0x0D && index < scalars.count && scalars[index] == 0x0A { index += 1 }
            lines.append(line)
            line = []
        } else {
            line.append(scalar)
        }
    }
    lines.append(line)

    var words: [[UInt8]] = []
    for line in lines {
        // 2. Skip a line that starts with `..` once leading whitespace is stripped.
        let stripped = line.drop { properties($0).isSpace }
        if stripped.starts(with: [0x2E, 0x2E]) { continue }
        // 3. Punctuation becomes a space; split at whitespace.
        let spaced = line.map { punctuation.contains($0) ? 0x20 : $0 }
        for word in spaced.split(whereSeparator: { properties($0).isSpace }) {
            // 4. Lowercase, keep all-letter words that are not stop words.
            let lowered = lower(Array(word))
            guard !lowered.isEmpty, lowered.allSatisfy({ properties($0).isAlpha }) else { continue }
            var string = ""
            string.unicodeScalars.append(contentsOf: lowered.map { Unicode.Scalar($0)! })
            if stopWords.contains(string) { continue }
            words.append(Array(string.utf8))
        }
    }
    return .words(words.sorted { $0.lexicographicallyPrecedes($1) })
}

/// Python's `str.lower()`: each code point's full lowercase mapping, and capital sigma in the
/// Final_Sigma context (a cased letter before it and none after it, skipping case-ignorable ones)
/// becomes final small sigma.
func lower(_ word: [UInt32]) -> [UInt32] {
    var lowered: [UInt32] = []
    for (index, scalar) in word.enumerated() {
        guard scalar == 0x03A3 else {
            lowered += properties(scalar).lowercase
            continue
        }
        var before = index - 1
        while before >= 0 && properties(word[before]).isCaseIgnorable { before -= 1 }
        var final = before >= 0 && properties(word[before]).isCased
        if final {
            var after = index + 1
            while after < word.count && properties(word[after]).isCaseIgnorable { after += 1 }
            final = after == word.count || !properties(word[after]).isCased
        }
        lowered.append(final ? 0x03C2 : 0x03C3)
    }
    return lowered
}
