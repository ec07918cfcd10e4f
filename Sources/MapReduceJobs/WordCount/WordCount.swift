public import MapReduce

/// Word count, byte-identical to the Python `multiprocessing` reference (PyMOTW's `SimpleMapReduce`).
///
/// The rules, applied to UTF-8 text read with universal newlines (a line ends at `\n`, `\r` or `\r\n`):
/// 1. skip a line if, with leading whitespace stripped, it starts with `..`;
/// 2. replace every ASCII punctuation character (Python's `string.punctuation`) with a space, then split at
///    whitespace as Python's `str.split()` does (ASCII whitespace including `\x1c`–`\x1f`, and Unicode
///    whitespace such as U+0085, U+00A0, U+2000–U+200A, U+2028 and U+3000);
/// 3. lowercase each word with Python's `str.lower()` (full Unicode mapping, final sigma included) and keep
///    it if every character is a letter (`str.isalpha()`) and it is not a stop word
///    (`a an and are as be by for if in is it of or py rst that the to with`).
///
/// Keys are the lowercased words' UTF-8 bytes, so the output is in code-point order.
public struct WordCount: MapReduceJob {
    /// What to do with bytes that are not valid UTF-8.
    public enum InvalidUTF8: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// Fail with the file and byte offset, as Python's strict decoding does.
        case strict = 0
        /// Read them as U+FFFD, as Python's `errors='replace'` does; a word containing one is dropped.
        case replace = 1

        /// The mode's name, as `--invalid-utf8` takes it: `strict` or `replace`.
        public var description: String {
            switch self {
            case .strict: "strict"
            case .replace: "replace"
            }
        }
    }

    /// `wordcount`, the name workers, peers and `mapreduce streaming` look the job up by.
    public static let name = "wordcount"

    /// How invalid UTF-8 is handled.
    public var invalidUTF8: InvalidUTF8

    /// A word count job.
    public init(invalidUTF8: InvalidUTF8 = .strict) {
        self.invalidUTF8 = invalidUTF8
    }

    /// A mapper that applies the rules above, in this job's ``invalidUTF8`` mode.
    public func makeMapper() -> WordCountMapper { WordCountMapper(strict: self.invalidUTF8 == .strict) }
    /// Adds the counts of a word on the map side.
    public func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    /// Adds the counts of a word.
    public func makeReducer() -> SumReducer<ByteString, Int> { SumReducer() }

    /// One byte: the ``invalidUTF8`` mode.
    public func encode(into writer: inout WireWriter) {
        writer.write(self.invalidUTF8.rawValue)
    }

    /// Reads the byte ``encode(into:)`` wrote.
    /// - Throws: `MapReduceError` for an unknown mode.
    public init(decoding reader: inout WireReader) throws {
        let raw = try reader.readByte()
        guard let mode = InvalidUTF8(rawValue: raw) else {
            throw MapReduceError(.protocolViolation, "unknown invalid-UTF-8 mode \(raw)")
        }
        self.invalidUTF8 = mode
    }
}

/// The mapper of ``WordCount``: emits `(word, 1)` for every counted word.
public struct WordCountMapper: Mapper {
    /// A word: its lowercased UTF-8 bytes.
    public typealias Key = ByteString
    /// A count.
    public typealias Value = Int

    let storage: TokenizerBox<OnePerWord>
    let stopWords = StopWords()

    init(strict: Bool) {
        self.storage = TokenizerBox(strict: strict, values: OnePerWord())
    }

    /// Stop words are emitted like any other word and dropped here, after combining: they are the most
    /// frequent words, so counting them costs a table update whose slot stays in the cache, where a
    /// test in the tokenizer's loop cost every word.
    public func keepsKey(_ key: RawSpan) -> Bool {
        key.withUnsafeBytes { !self.stopWords.contains($0) }
    }

    /// Tokenizes a block of whole lines at once (SIMD on ASCII) and emits `(word, 1)` for each word.
    public mutating func map(lines: RawSpan, at origin: InputOrigin, into output: inout Emitter<ByteString, Int>) throws
    {
        let emitted = output.emittedCount
        try lines.withUnsafeBytes { bytes in
            try self.storage.tokenizer.tokenize(bytes, origin: origin, into: &output)
        }
        self.count(since: emitted, into: &output)
    }

    /// The counters of one block: once per block, not per token (see ``Emitter/count(_:by:)``).
    /// - `tokens`: the whitespace-separated tokens of the lines not skipped, after punctuation became
    ///   spaces (Python's `len(line.split())`), words or not: the words are the pairs the block emitted,
    ///   and the tokenizer counts the others on its slow paths.
    /// - `'..' lines skipped`: counted by the task whose range holds the `..`.
    ///
    /// Stop words are not counted here: the engine drops them after combining (see ``keepsKey(_:)``),
    /// where it sees each one once per table it writes, not once per occurrence. That number is the
    /// engine's `keys filtered`; the occurrences are the map output pairs less the counts in the output,
    /// which `mapreduce wordcount` reports as `stop words dropped`.
    mutating func count(since emitted: Int, into output: inout Emitter<ByteString, Int>) {
        output.count("tokens", by: output.emittedCount - emitted + self.storage.tokenizer.unemittedTokens)
        self.storage.tokenizer.unemittedTokens = 0
        if self.storage.tokenizer.skippedLines > 0 {
            output.count("'..' lines skipped", by: self.storage.tokenizer.skippedLines)
            self.storage.tokenizer.skippedLines = 0
        }
    }

    /// A line may be cut before a space: no word contains one.
    public static var recordCutByte: UInt8? { 0x20 }

    /// Maps a piece of a line cut before a space, with the line's beginning (`before`, which another task
    /// maps) at hand, and emits `(word, 1)` for each word of the piece.
    public mutating func map(
        piece: RawSpan,
        after before: RawSpan,
        at origin: InputOrigin,
        into output: inout Emitter<ByteString, Int>
    ) throws {
        let emitted = output.emittedCount
        defer { self.count(since: emitted, into: &output) }
        try self.storage.tokenizer.tokenize(piece: piece, after: before, origin: origin, into: &output)
    }

    /// Maps one line as a block of its own.
    public mutating func map(_ record: RawSpan, into output: inout Emitter<ByteString, Int>) throws {
        try self.map(lines: record, at: InputOrigin(path: "<record>", offset: 0), into: &output)
    }
}

/// Holds a worker's tokenizer and its scratch buffers.
///
/// `@unchecked Sendable`: each worker process makes its own mapper, and a mapper is only ever used by the
/// one thread that runs that worker's tasks; nothing is shared.
final class TokenizerBox<Values: WordValues>: @unchecked Sendable {
    @exclusivity(unchecked) var tokenizer: WordTokenizer<Values>

    init(strict: Bool, values: Values) {
        self.tokenizer = WordTokenizer(strict: strict, values: values)
    }
}

extension WordTokenizer {
    /// Counts the words of a piece of a line cut at a space (see ``Mapper/recordCutByte``): `before`, the
    /// line's beginning, lies in memory just before `piece`, and is read only to know whether the line
    /// starts with `..`.
    mutating func tokenize(piece: RawSpan, after before: RawSpan, origin: InputOrigin, into output: inout Output) throws
    {
        try before.withUnsafeBytes { head in
            try piece.withUnsafeBytes { rest in
                guard let start = head.baseAddress, head.count > 0 else {
                    try self.tokenize(rest, origin: origin, into: &output)
                    return
                }
                // `before` ends where `piece` starts: one buffer from the line's start.
                precondition(start + head.count == rest.baseAddress, "a piece must follow its line's beginning")
                let line = UnsafeRawBufferPointer(start: start, count: head.count + rest.count)
                try self.tokenize(line, from: head.count, origin: origin.advanced(by: -head.count), into: &output)
            }
        }
    }
}
