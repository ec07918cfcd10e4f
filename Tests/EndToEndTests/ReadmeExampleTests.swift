import MapReduceTestSupport
import Testing

/// The README's example program is code that compiles (it is the `LogReportExample` target) and runs.
@Suite("README example", .serialized)
struct ReadmeExampleTests {
    static var example: String {
        let binary = TestEnvironment.binary
        let directory = binary.lastIndex(of: "/").map { String(binary[..<$0]) } ?? "."
        return "\(directory)/LogReportExample"
    }

    /// The lines of Swift code that matter: no imports, no blank lines, no file header.
    static func codeLines(_ text: Substring) -> [Substring] {
        text.split(separator: "\n").filter { line in
            !line.hasPrefix("import ") && !line.hasPrefix("// The README") && !line.hasPrefix("// checks that")
        }
    }

    @Test("the README shows exactly the example program's code")
    func readmeMatchesExample() throws {
        let readme = String(decoding: try Files.read("\(TestEnvironment.packageRoot)/README.md"), as: UTF8.self)
        let section = try #require(readme.firstRange(of: "## Writing your own job"))
        var blocks: [Substring] = []
        var rest = readme[section.upperBound...]
        while blocks.count < 2, let open = rest.firstRange(of: "```swift\n"),
            let close = rest[open.upperBound...].firstRange(of: "```")
        {
            blocks.append(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        try #require(blocks.count == 2, "the section should show the job, then the program")
        let source = try Files.read("\(TestEnvironment.packageRoot)/Sources/LogReportExample/LogReport.swift")
        let example = String(decoding: source, as: UTF8.self)
        #expect(Self.codeLines(blocks[0]) + Self.codeLines(blocks[1]) == Self.codeLines(example[...]))
        // The documentation's Getting Started shows the same job.
        let article = try Files.read(
            "\(TestEnvironment.packageRoot)/Sources/MapReduce/Documentation.docc/GettingStarted.md"
        )
        let gettingStarted = String(decoding: article, as: UTF8.self)
        #expect(gettingStarted.contains(blocks[0]), "GettingStarted.md shows another job than the README")
    }

    @Test("the example program runs its job on worker processes")
    func exampleRuns() throws {
        let scratch = try TemporaryDirectory("readme-example")
        defer { scratch.remove() }
        try scratch.write("logs/a.log", "INFO started\nWARN disk\nINFO ready\n")
        try scratch.write("logs/b.log", "ERROR failed\nINFO again\n")
        // CRLF lines, and a last line without a newline, in a file large enough for several tasks.
        var log = ""
        for index in 0..<50_000 {
            log += ["INFO", "INFO", "WARN", "ERROR"][index % 4] + " message \(index)\r\n"
        }
        try scratch.write("logs/c.log", log + "DEBUG last line without newline")
        let result = try ChildProcess.run(Self.example, [scratch.file("logs")])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("DEBUG 1\nERROR 12501\nINFO 25003\nWARN 12501\n"), "\(result)")
        #expect(result.stdout.contains("local/0"), "the statistics table is missing: \(result)")
    }

    @Test("a process started as a worker that runs a job instead fails at once, saying why")
    func workerThatRunsAJob() throws {
        let scratch = try TemporaryDirectory("readme-not-worker")
        defer { scratch.remove() }
        try scratch.write("logs/a.log", "INFO started\n")
        let result = try ChildProcess.run(
            Self.example,
            [scratch.file("logs")],
            environment: ["MAPREDUCE_WORKER_OF": "1", "SWIFT_BACKTRACE": "enable=no"]
        )
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("started as a worker process"), "\(result)")
        #expect(result.stderr.contains("WorkerProcess.run(registry:)"), "\(result)")
    }

    @Test("mapreduce help wordcount gives the README's word count rules")
    func wordCountRulesInHelp() throws {
        let readme = String(decoding: try Files.read("\(TestEnvironment.packageRoot)/README.md"), as: UTF8.self)
        let help = try TestEnvironment.mapreduce(["help", "wordcount"])
        #expect(help.status == 0)
        // The stop words, as the README lists them, and the rules' key words.
        let stopWords = "a an and are as be by for if in is it of or py rst that the to with"
        #expect(readme.contains("`\(stopWords)`"))
        #expect(help.stdout.replacing("\n", with: " ").contains(stopWords), "\(help.stdout)")
        for phrase in [
            "universal newlines", "'..'", "string.punctuation", "str.split()", "str.lower()", "str.isalpha()",
        ] {
            #expect(help.stdout.contains(phrase), "help lacks \(phrase)")
        }
    }
}
