import ArgumentParser
import MapReduce
import MapReduceJobs

struct WordCountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wordcount",
        abstract: "Count words exactly as the Python multiprocessing reference does.",
        discussion: """
            Reads UTF-8 text from files, directories (recursively) or standard input, and prints the most \
            frequent words, by count and then by word. --output writes every word with its count, sorted by \
            word, as 'word<TAB>count' lines (--format csv, json or jsonl for others); the file appears only \
            when the job succeeds.

            The rules (those of the Python reference, Fixtures/reference/wordcount.py):
              1. Lines end at \\n, \\r or \\r\\n (universal newlines).
              2. A line that starts with '..' after its leading whitespace is skipped.
              3. Every character of Python's string.punctuation becomes a space; the line is split at \
            whitespace as str.split() does (ASCII whitespace with \\x1c-\\x1f, and Unicode whitespace).
              4. Each word is lowercased as str.lower() does (full Unicode mapping, final sigma) and kept if \
            every character is a letter (str.isalpha()) and it is not a stop word: a an and are as be by for \
            if in is it of or py rst that the to with.
            With --invalid-utf8 replace, invalid bytes read as U+FFFD, and a word containing one is dropped.

            Examples:
              mapreduce wordcount Fixtures/corpus
              mapreduce wordcount --workers 2 --top 10 --stats book.txt
              mapreduce wordcount --output counts.tsv --quiet logs/
              zcat big.txt.gz | mapreduce wordcount --chunksize 8M -
            """
    )

    @Argument(help: "Files or directories to read; '-' or nothing (with piped input) reads standard input.")
    var paths: [String] = []

    @Option(help: "How many of the most frequent words to print.")
    var top: Int = 20

    @OptionGroup var dump: DumpOptions

    @OptionGroup var wordCount: WordCountOptions

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if self.top < 0 { throw ValidationError("--top must not be negative.") }
    }

    func run() async throws {
        let inputs = try commandInputs(self.paths, what: "text")
        let sources = inputs
        let job = self.wordCount.makeJob()
        let progress = self.engine.makeProgressLine()
        let engine = MapReduceEngine(
            configuration: self.engine.engineConfiguration(registry: .builtIn, progress: progress)
        )
        let top = self.top
        let outputPath = self.dump.output
        let format = self.dump.dumpFormat
        let statsPath = self.engine.statsJSON
        let timelinePath = self.engine.timeline
        try checkDestinations(
            [("--output", outputPath), ("--stats-json", statsPath), ("--timeline", timelinePath)],
            inputs: self.paths
        )
        let ledger = OutputLedger()
        let hint = self.wordCount.invalidUTF8 == "strict"
        let (statistics, topWords) = try await runReportingFailures(
            ledger: ledger,
            invalidUTF8Hint: hint,
            progress: progress
        ) {
            // Every destination is opened before the work starts: an unwritable one fails at once.
            let dumpFile = try outputPath.map { try OutputFile(destination: $0, role: "output file") }
            let statsFile = try statsPath.map { try OutputFile(destination: $0, role: "statistics file") }
            let timelineFile = try timelinePath.map { try OutputFile(destination: $0, role: "timeline file") }
            ledger.opened(dumpFile, statsFile, timelineFile)
            var dump = try dumpFile.map {
                try DumpWriter(file: $0, format: format, keyColumn: "word", valueColumn: "count")
            }
            var topWords = TopWords(limit: top)
            var counted = 0
            var statistics = try await engine.run(job, inputs: sources) { (word: RawSpan, count) in
                counted &+= count
                topWords.add(word, count: count)
                try word.withUnsafeBytes { try dump?.write(key: $0, value: count) }
            }
            try dump?.finish()
            // The engine drops stop words after combining, where it sees each once per table written
            // (its `keys filtered`): the occurrences are the words emitted less the words counted.
            statistics.counters.job["stop words dropped"] = statistics.counters.mapOutputPairs - counted
            try statsFile?.write(statistics.json())
            try timelineFile?.write(statistics.timelineSVG())
            try ledger.commit(dumpFile)
            try ledger.commit(statsFile)
            try ledger.commit(timelineFile)
            progress?.finish(summary: ProgressLine.summary(statistics))
            return (statistics, topWords)
        }
        // A dump written to standard output is the output: the table would only get in its way.
        if !self.engine.quiet && !ledger.dumpWentToStandardOutput {
            try writeToStandardOutput(topWords.formattedTable())
        }
        self.engine.reportTable(statistics)
        try exitIfSignalledAfterWork(ledger: ledger)
    }
}

/// Where and how a job writes its full output.
struct DumpOptions: ParsableArguments {
    @Option(
        name: .shortAndLong,
        help: "Write the full dump (every key with its value, in key order) to this file; '-' is standard output."
    )
    var output: String?

    @Option(
        help: """
            The dump's format: tsv (the job's tab-separated lines), csv (RFC 4180, with a header row), \
            json (one object, a member per key) or jsonl (JSON Lines, an object per line); see the \
            command's description.
            """
    )
    var format: String = "tsv"

    func validate() throws {
        guard DumpFormat(rawValue: self.format) != nil else {
            let formats = DumpFormat.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--format must be one of \(formats), not '\(self.format)'.")
        }
    }

    var dumpFormat: DumpFormat { DumpFormat(rawValue: self.format) ?? .tsv }
}

/// Word count's own options, shared by `wordcount` and `streaming map wordcount`.
struct WordCountOptions: JobOptions {
    @Option(
        name: .customLong("invalid-utf8"),
        help: "'strict' fails on invalid UTF-8 naming the file and offset; 'replace' reads it as U+FFFD."
    )
    var invalidUTF8: String = "strict"

    static let strictHint = "; use --invalid-utf8 replace to read it anyway"

    func validate() throws {
        if self.invalidUTF8 != "strict" && self.invalidUTF8 != "replace" {
            throw ValidationError("--invalid-utf8 must be 'strict' or 'replace', not '\(self.invalidUTF8)'.")
        }
    }

    func makeJob() -> WordCount {
        WordCount(invalidUTF8: self.invalidUTF8 == "replace" ? .replace : .strict)
    }

    func hint(for error: MapReduceError) -> String {
        error.code == .invalidData && self.invalidUTF8 == "strict" ? Self.strictHint : ""
    }
}

// MARK: - Reporting

/// Runs the job's work under ``TerminationSignals`` and turns every way it can end badly into one true
/// line on standard error and the conventional exit status. `invalidUTF8Hint`: whether invalid UTF-8
/// stopped a job that `--invalid-utf8 replace` would let through.
func runReportingFailures<R: Sendable>(
    ledger: OutputLedger,
    invalidUTF8Hint: Bool = false,
    progress: ProgressLine? = nil,
    _ body: @escaping @Sendable () async throws -> R
) async throws -> R {
    do {
        return try await TerminationSignals.run(body)
    } catch {
        // The progress line goes before the error's line is written.
        progress?.finish(summary: nil)
        return try reportFailure(error, ledger: ledger, invalidUTF8Hint: invalidUTF8Hint)
    }
}

private func reportFailure<R>(_ error: any Error, ledger: OutputLedger, invalidUTF8Hint: Bool) throws -> R {
    do {
        throw error
    } catch let signal as TerminationSignals.Received {
        if signal.workCompleted {
            TerminationSignals.reportStop("mapreduce: \(signal) after \(ledger.summary(complete: true))")
        } else {
            TerminationSignals.reportStop("mapreduce: \(signal); stopped, \(ledger.summary(complete: false))")
        }
        throw ExitCode(signal.exitStatus)
    } catch let error as MapReduceError {
        if error.errorNumber == EPIPE { throw ExitCode(128 + SIGPIPE) }
        var line = "mapreduce: \(error)"
        if error.code == .invalidData && invalidUTF8Hint {
            line += WordCountOptions.strictHint
        } else if error.code == .limitExceeded {
            line += "; --spool-limit SIZE raises the limit"
        }
        if let partial = ledger.partialSummary { line += "; \(partial)" }
        printToStandardError(line)
        throw ExitCode(error.code == .cancelled ? 130 : 1)
    }
}

/// A signal that arrived after the work was done still ends the program as that signal asks, and says
/// what was written.
func exitIfSignalledAfterWork(ledger: OutputLedger) throws {
    if let signal = TerminationSignals.receivedAfterWork {
        let received = TerminationSignals.Received(signal: signal, workCompleted: true)
        TerminationSignals.reportStop("mapreduce: \(received) after \(ledger.summary(complete: true))")
        throw ExitCode(received.exitStatus)
    }
}

/// Writes to standard output, checking every write: a full disk is an error; a closed pipe ends the
/// program quietly with the status a death by SIGPIPE would give, as Unix tools do.
func writeToStandardOutput(_ text: String) throws {
    var text = text
    do {
        try text.withUTF8 { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(STDOUT_FILENO, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StandardOutputError(code: errno)
                }
                done += n
            }
        }
    } catch let error as StandardOutputError {
        if error.code == EPIPE { throw ExitCode(128 + SIGPIPE) }
        printToStandardError("mapreduce: cannot write to standard output: \(error)")
        throw ExitCode(1)
    }
}

struct StandardOutputError: Error, CustomStringConvertible {
    var code: Int32
    var description: String {
        let text = String(cString: strerror(self.code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}

/// Writes one line to standard error.
func printToStandardError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}
