import ArgumentParser
import MapReduce
import MapReduceJobs

struct IndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build an inverted index: each word to the files it occurs in, with counts.",
        discussion: """
            Words are word count's, found by its tokenizer under its rules (see mapreduce help wordcount): \
            UTF-8 text with universal newlines, lines starting with '..' skipped, punctuation as spaces, \
            Python's str.split(), str.lower() and str.isalpha(), the same stop words left out. A file is named \
            as given on the command line, joined with the names below a directory ('<stdin>' for standard \
            input), each byte that is not valid UTF-8 shown as \\xhh.

            Prints the words found in the most files (then with the most occurrences, then by word). \
            --output writes every word, sorted by word (code-point order), as \
            'word<TAB>file:count,file:count' lines, its files sorted by name (byte order). A file name is \
            escaped as streaming text is ('\\' as '\\\\', tab, line feed and carriage return as '\\t', \
            '\\n', '\\r', other bytes below 0x20 and 0x7F as '\\xhh'), then '%', ',' and ':' are written \
            '%25', '%2C' and '%3A'. The file appears only when the job succeeds, and is what \
            'mapreduce streaming reduce index' writes.

            --format csv, json or jsonl writes the same index with file names as they are (not escaped): \
            csv (RFC 4180, CRLF) a 'word,file,count' header, then a row per word and file, its fields \
            quoted when they hold a comma, a double quote or a line break; json one object, \
            {"word": {"file": count, ...}, ...}, in word order, a file per line; jsonl a line per word, \
            {"word":"...","files":{"file":count,...}}. Counts are JSON numbers; JSON replaces bytes that are \
            not UTF-8 with U+FFFD (a file name has none: its invalid bytes are already \\xhh).

            Examples:
              mapreduce index Fixtures/corpus
              mapreduce index --output index.tsv --quiet docs/
              mapreduce index --format csv --output index.csv docs/
            """
    )

    @Argument(help: "Files or directories to read; '-' or nothing (with piped input) reads standard input.")
    var paths: [String] = []

    @Option(help: "How many words to print, those found in the most files first.")
    var top: Int = 20

    @OptionGroup var dump: DumpOptions

    @OptionGroup var options: IndexOptions

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if self.top < 0 { throw ValidationError("--top must not be negative.") }
    }

    func run() async throws {
        let sources = try commandInputs(self.paths, what: "text")
        let job = self.options.makeJob()
        let progress = self.engine.makeProgressLine()
        let engine = MapReduceEngine(
            configuration: self.engine.engineConfiguration(registry: .builtIn, progress: progress)
        )
        let top = self.top
        let outputPath = self.dump.output
        let format = self.dump.dumpFormat
        let statsPath = self.engine.statsJSON
        try checkDestinations(
            [("--output", outputPath), ("--stats-json", statsPath), ("--timeline", self.engine.timeline)],
            inputs: self.paths
        )
        let ledger = OutputLedger()
        let hint = self.options.wordCount.invalidUTF8 == "strict"
        let (statistics, ranking) = try await runReportingFailures(
            ledger: ledger,
            invalidUTF8Hint: hint,
            progress: progress
        ) {
            let dump = try outputPath.map { try OutputFile(destination: $0, role: "output file") }
            let statsFile = try statsPath.map { try OutputFile(destination: $0, role: "statistics file") }
            ledger.opened(dump, statsFile)
            var ranking = IndexRanking(limit: top)
            var line: [UInt8] = []
            // TSV is the job's own escaped text; the other formats are a row per word and file.
            var writer = try dump.flatMap { format == .tsv ? nil : try IndexDump.writer(file: $0, format: format) }
            let statistics = try await engine.run(job, inputs: sources) { (word: RawSpan, files) in
                ranking.add(word, files)
                if writer != nil {
                    try IndexDump.write(word, files, to: &writer!)
                    return
                }
                guard let dump else { return }
                line.removeAll(keepingCapacity: true)
                word.withUnsafeBytes { line.append(contentsOf: $0) }
                IndexDump.appendFiles(files, to: &line)
                try dump.write(line)
            }
            try writer?.finish()
            try statsFile?.write(statistics.json())
            try ledger.commit(dump)
            try ledger.commit(statsFile)
            progress?.finish(summary: ProgressLine.summary(statistics))
            return (statistics, ranking)
        }
        if !self.engine.quiet && !ledger.dumpWentToStandardOutput {
            try writeToStandardOutput(ranking.formattedTable())
        }
        self.engine.reportTable(statistics)
        try exitIfSignalledAfterWork(ledger: ledger)
    }
}

/// The index's own options (word count's), shared by `index` and `streaming map index`.
struct IndexOptions: JobOptions {
    @OptionGroup var wordCount: WordCountOptions

    func makeJob() -> InvertedIndex { InvertedIndex(invalidUTF8: self.wordCount.makeJob().invalidUTF8) }

    func hint(for error: MapReduceError) -> String { self.wordCount.hint(for: error) }
}

/// The index's dump formats.
enum IndexDump {
    /// CSV `word,file,count` rows, JSON `{"word": {"file": count, ...}, ...}`, JSON Lines
    /// `{"word": "...", "files": {"file": count, ...}}`: file names as they are, not escaped.
    static let layout = DumpLayout(columns: ["word", "file", "count"], keyColumns: 2, linesGroupName: "files")

    /// A writer of the CSV, JSON or JSON Lines dump.
    static func writer(file: OutputFile, format: DumpFormat) throws -> DumpWriter {
        try DumpWriter(file: file, format: format, layout: Self.layout)
    }

    /// Writes a row per file of `word`, in the tally's order (by name).
    static func write(_ word: RawSpan, _ files: Tally<ByteString>, to writer: inout DumpWriter) throws {
        let word = DumpField.bytes(word.withUnsafeBytes { Array($0) })
        for entry in files {
            try writer.write(row: [word, .bytes(entry.element.bytes), .integer(entry.count)])
        }
    }

    /// Appends `<TAB>file:count,file:count` and a newline: the tally's streaming text, so that the dump
    /// and `streaming reduce index` write the same lines.
    static func appendFiles(_ files: Tally<ByteString>, to line: inout [UInt8]) {
        line.append(0x09)
        files.writeStreamingText(into: &line)
        line.append(0x0A)
    }
}

/// The words found in the most files, then with the most occurrences, then by word (code-point order):
/// the best `limit` only, so memory does not grow with the vocabulary.
struct IndexRanking {
    struct Row {
        var word: ByteString
        var files: Int
        var occurrences: Int
    }

    let limit: Int
    private var rows: [Row] = []
    /// The files of the worst row kept at the last trim: a word in fewer files cannot enter.
    private var floor = 0

    init(limit: Int) { self.limit = max(0, limit) }

    static func ranksBefore(_ a: Row, _ b: Row) -> Bool {
        if a.files != b.files { return a.files > b.files }
        if a.occurrences != b.occurrences { return a.occurrences > b.occurrences }
        return a.word < b.word
    }

    mutating func add(_ word: RawSpan, _ files: Tally<ByteString>) {
        guard self.limit > 0 else { return }
        if files.count < self.floor { return }
        let row = word.withUnsafeBytes { Row(word: ByteString($0), files: files.count, occurrences: files.total) }
        self.rows.append(row)
        if self.rows.count >= 2 * self.limit { self.trim() }
    }

    private mutating func trim() {
        self.rows.sort(by: Self.ranksBefore)
        if self.rows.count > self.limit { self.rows.removeLast(self.rows.count - self.limit) }
        if self.rows.count == self.limit { self.floor = self.rows[self.limit - 1].files }
    }

    /// A title, a header, then `word  files  occurrences` per row, words padded to the longest.
    func formattedTable() -> String {
        var ranking = self
        ranking.trim()
        let words = ranking.rows.map { String(decoding: $0.word.bytes, as: UTF8.self) }
        let width = max(4, words.map(\.unicodeScalars.count).max() ?? 0)
        func left(_ text: String) -> String {
            text + String(repeating: " ", count: width - text.unicodeScalars.count)
        }
        func right(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        var text = "\nTOP \(self.limit) WORDS BY NUMBER OF FILES\n\n"
        text += left("word") + "  " + right("files", 6) + "  " + right("occurrences", 11) + "\n"
        for (row, word) in zip(ranking.rows, words) {
            text += left(word) + "  " + right(String(row.files), 6) + "  " + right(String(row.occurrences), 11) + "\n"
        }
        return text
    }
}
