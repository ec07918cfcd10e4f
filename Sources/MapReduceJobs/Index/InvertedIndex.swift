public import MapReduce

/// An inverted index: each word to the files it occurs in, with its number of occurrences in each.
///
/// Words are word count's, by word count's own tokenizer and rules (see ``WordCount``): UTF-8 text with
/// universal newlines, `..` lines skipped, punctuation as spaces, Python's `str.split()`, `str.lower()`
/// and `str.isalpha()`, the same stop words left out. A file is named as error messages name it: as
/// given on the command line, joined with the names below a directory, each byte that is not valid UTF-8
/// shown as `\xhh`; standard input is `<stdin>`.
///
/// Keys are the words' UTF-8 bytes (code-point order); each value is a `Tally` of file names, sorted
/// by their bytes, combined map-side by `TallyCombiner`. A word's list of files is held whole in a
/// worker's memory while it is combined, and at most `Tally.maximumCount` files; the lists count toward
/// `--worker-memory`, so a worker writes its table out before they outgrow it.
public struct InvertedIndex: MapReduceJob {
    public static let name = "index"

    /// How invalid UTF-8 is handled, as in word count.
    public var invalidUTF8: WordCount.InvalidUTF8

    /// An inverted index job.
    public init(invalidUTF8: WordCount.InvalidUTF8 = .strict) {
        self.invalidUTF8 = invalidUTF8
    }

    public func makeMapper() -> InvertedIndexMapper { InvertedIndexMapper(strict: self.invalidUTF8 == .strict) }
    public func makeCombiner() -> TallyCombiner<ByteString>? { TallyCombiner() }
    public func makeReducer() -> CombiningReducer<ByteString, TallyCombiner<ByteString>> { CombiningReducer() }

    public func encode(into writer: inout WireWriter) {
        writer.write(self.invalidUTF8.rawValue)
    }

    public init(decoding reader: inout WireReader) throws {
        self.invalidUTF8 = try WordCount(decoding: &reader).invalidUTF8
    }
}

/// The mapper of ``InvertedIndex``: emits `(word, {file: 1})` for every counted word, with word count's
/// tokenizer.
public struct InvertedIndexMapper: Mapper {
    public typealias Key = ByteString
    public typealias Value = Tally<ByteString>

    let storage: TokenizerBox<CurrentFile>
    let stopWords = StopWords()

    init(strict: Bool) {
        self.storage = TokenizerBox(strict: strict, values: CurrentFile())
    }

    /// Word count's stop words, dropped after combining as word count drops them.
    public func keepsKey(_ key: RawSpan) -> Bool {
        key.withUnsafeBytes { !self.stopWords.contains($0) }
    }

    public mutating func map(lines: RawSpan, at origin: InputOrigin, into output: inout Emitter<Key, Value>) throws {
        self.storage.tokenizer.values.enter(origin.path)
        try lines.withUnsafeBytes { bytes in
            try self.storage.tokenizer.tokenize(bytes, origin: origin, into: &output)
        }
    }

    /// A line may be cut before a space, as in word count: no word contains one.
    public static var recordCutByte: UInt8? { 0x20 }

    public mutating func map(
        piece: RawSpan,
        after before: RawSpan,
        at origin: InputOrigin,
        into output: inout Emitter<Key, Value>
    ) throws {
        self.storage.tokenizer.values.enter(origin.path)
        try self.storage.tokenizer.tokenize(piece: piece, after: before, origin: origin, into: &output)
    }

    public mutating func map(_ record: RawSpan, into output: inout Emitter<Key, Value>) throws {
        try self.map(lines: record, at: InputOrigin(path: "<record>", offset: 0), into: &output)
    }
}

/// The index's value for each word: the file being read, counted once. Made once per file, so that
/// each word costs a reference count, not an allocation, and combining finds the file equal to the
/// last one by identity.
struct CurrentFile: WordValues {
    private(set) var path = ""
    private(set) var value = Tally<ByteString>()

    /// Switches to `path` if it is another file.
    mutating func enter(_ path: String) {
        guard path != self.path || self.value.isEmpty else { return }
        self.path = path
        self.value = Tally(ByteString(path))
    }
}
