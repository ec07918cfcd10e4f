import ArgumentParser
import MapReduce
import MapReduceJobs

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#else
#error("mapreduce needs a POSIX C library (Glibc, Musl or Darwin).")
#endif

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

    @Option(
        name: .customLong("invalid-utf8"),
        help: "'strict' fails on invalid UTF-8 naming the file and offset; 'replace' reads it as U+FFFD."
    )
    var invalidUTF8: String = "strict"

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        if self.top < 0 { throw ValidationError("--top must not be negative.") }
        if self.invalidUTF8 != "strict" && self.invalidUTF8 != "replace" {
            throw ValidationError("--invalid-utf8 must be 'strict' or 'replace', not '\(self.invalidUTF8)'.")
        }
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
        let job = WordCount(invalidUTF8: self.invalidUTF8 == "replace" ? .replace : .strict)
        let engine = MapReduceEngine(configuration: self.engine.engineConfiguration())
        let top = self.top
        let outputPath = self.output
        do {
            let (statistics, topWords) = try await TerminationSignals.run {
                let dump = try outputPath.map { try AtomicFileWriter(destination: $0) }
                var topWords = TopWords(limit: top)
                let statistics = try await engine.run(job, inputs: sources) { (word: RawSpan, count) in
                    topWords.add(word, count: count)
                    if let dump {
                        try word.withUnsafeBytes { try dump.write($0) }
                        try dump.write(tabbedCount: count)
                    }
                }
                try dump?.commit()
                return (statistics, topWords)
            }
            if !self.engine.quiet {
                print(topWords.formattedTable(), terminator: "")
                // The statistics go to standard error: let the table come first even when piped.
                fflush(nil)
            }
            try self.engine.report(statistics)
        } catch let signal as TerminationSignals.Received {
            printToStandardError("mapreduce: \(signal); stopped, nothing written")
            throw ExitCode(130)
        } catch let error as MapReduceError {
            var line = "mapreduce: \(error)"
            if error.code == .invalidData && job.invalidUTF8 == .strict {
                line += "; use --invalid-utf8 replace to read it anyway"
            }
            printToStandardError(line)
            throw ExitCode(error.code == .cancelled ? 130 : 1)
        }
    }
}

extension AtomicFileWriter {
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
