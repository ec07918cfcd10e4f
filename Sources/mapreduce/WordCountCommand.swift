import ArgumentParser
import MapReduce
import MapReduceJobs

struct WordCountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wordcount",
        abstract: "Count words exactly as the Python multiprocessing reference does.",
        discussion: """
            Reads UTF-8 text from files, directories (recursively) or standard input, and prints the most \
            frequent words. --output writes every word with its count, sorted by word, as 'word<TAB>count' \
            lines; the file appears only when the job succeeds.

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

    @Option(name: .shortAndLong, help: "Write the full 'word<TAB>count' dump to this file.")
    var output: String?

    @OptionGroup var wordCount: WordCountOptions

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if self.top < 0 { throw ValidationError("--top must not be negative.") }
    }

    func run() async throws {
        // Paths are bytes: a name that is not UTF-8 is opened by the bytes it was given as.
        var inputs: [InputSource] = try RawArguments.bytes(of: self.paths).map {
            $0 == Array("-".utf8) ? .standardInput : .rawPath($0)
        }
        if inputs.isEmpty {
            guard isatty(STDIN_FILENO) == 0 else {
                throw ValidationError("No input: name files or directories, or pipe text to standard input.")
            }
            inputs = [.standardInput]
        }
        let sources = inputs
        let job = self.wordCount.makeJob()
        let engine = MapReduceEngine(configuration: self.engine.engineConfiguration(registry: .builtIn))
        let top = self.top
        let outputPath = self.output
        let statsPath = self.engine.statsJSON
        let ledger = OutputLedger()
        let (statistics, topWords) = try await runReportingFailures(ledger: ledger, job: job) {
            // Every destination is opened before the work starts: an unwritable one fails at once.
            let dump = try outputPath.map { try OutputFile(destination: $0, role: "output file") }
            let statsFile = try statsPath.map { try OutputFile(destination: $0, role: "statistics file") }
            ledger.opened(dump, statsFile)
            var topWords = TopWords(limit: top)
            let statistics = try await engine.run(job, inputs: sources) { (word: RawSpan, count) in
                topWords.add(word, count: count)
                if let dump {
                    try word.withUnsafeBytes { try dump.write($0) }
                    try dump.write(tabbedCount: count)
                }
            }
            try statsFile?.write(statistics.json())
            try ledger.commit(dump)
            try ledger.commit(statsFile)
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
/// line on standard error and the conventional exit status.
func runReportingFailures<R: Sendable>(
    ledger: OutputLedger,
    job: WordCount,
    _ body: @escaping @Sendable () async throws -> R
) async throws -> R {
    do {
        return try await TerminationSignals.run(body)
    } catch let signal as TerminationSignals.Received {
        if signal.workCompleted {
            printToStandardError("mapreduce: \(signal) after \(ledger.summary(complete: true))")
        } else {
            printToStandardError("mapreduce: \(signal); stopped, \(ledger.summary(complete: false))")
        }
        throw ExitCode(signal.exitStatus)
    } catch let error as MapReduceError {
        if error.errorNumber == EPIPE { throw ExitCode(128 + SIGPIPE) }
        var line = "mapreduce: \(error)"
        if error.code == .invalidData && job.invalidUTF8 == .strict {
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
        printToStandardError("mapreduce: \(received) after \(ledger.summary(complete: true))")
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

extension OutputFile {
    /// Appends a tab, `count` in decimal and a newline, formatted without building a string.
    func write(tabbedCount count: Int) throws {
        try withUnsafeTemporaryAllocation(byteCount: 24, alignment: 1) { buffer in
            var position = buffer.count
            buffer[position - 1] = UInt8(ascii: "\n")
            position -= 1
            var remaining = count.magnitude
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            if count < 0 {
                position -= 1
                buffer[position] = UInt8(ascii: "-")
            }
            position -= 1
            buffer[position] = UInt8(ascii: "\t")
            try self.write(UnsafeRawBufferPointer(rebasing: buffer[position...]))
        }
    }
}

/// Writes one line to standard error.
func printToStandardError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}
