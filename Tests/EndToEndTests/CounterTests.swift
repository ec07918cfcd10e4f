import MapReduceTestSupport
import Testing

/// Counters and the task timeline, from the built binary: word count's counters equal what the Python
/// rules count over the same files, whatever the workers, task sizes and faults; the timeline is a
/// well-formed, self-contained SVG with a bar per attempt and a lane per statistics row.
@Suite("Counters and timeline", .serialized)
struct CounterTests {
    static let inputs = [TestEnvironment.corpus, "\(TestEnvironment.fixtures)/adversarial"]

    /// `name value` lines from `Fixtures/reference/counters.py`.
    static let python: [String: Int] = {
        guard TestEnvironment.hasPython,
            let result = try? ChildProcess.run(
                "/usr/bin/env",
                ["python3", "\(TestEnvironment.fixtures)/reference/counters.py"] + inputs
            ), result.status == 0
        else { return [:] }
        var counts: [String: Int] = [:]
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = Int(fields[1]) { counts[String(fields[0])] = value }
        }
        return counts
    }()

    /// Runs word count over `inputs` with `arguments`; returns its statistics.
    func run(
        _ arguments: [String],
        inputs: [String] = Self.inputs,
        environment: [String: String] = [:],
        in scratch: TemporaryDirectory
    ) throws -> (StatisticsJSON, ProcessResult) {
        let stats = scratch.file("stats-\(UInt32.random(in: 0...UInt32.max)).json")
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--stats-json", stats] + arguments + inputs,
            environment: environment
        )
        try #require(result.status == 0, "\(result)")
        return (try StatisticsJSON(path: stats), result)
    }

    /// The counters that do not depend on how the work was cut up.
    func exactCounters(_ stats: StatisticsJSON) -> [String: Int?] {
        [
            "records": stats.engineCounter("records"),
            "input bytes": stats.engineCounter("input bytes"),
            "map output pairs": stats.engineCounter("map output pairs"),
            "tokens": stats.jobCounter("tokens"),
            "'..' lines skipped": stats.jobCounter("'..' lines skipped"),
            "stop words dropped": stats.jobCounter("stop words dropped"),
        ]
    }

    @Test(
        "word count's counters equal the Python rules' counts, with any workers and task size",
        .enabled(if: TestEnvironment.hasPython, "needs python3"),
        arguments: [["--workers", "1"], ["--workers", "2"], ["--workers", "2", "--chunksize", "64K"]]
    )
    func countersMatchPython(_ arguments: [String]) throws {
        let scratch = try TemporaryDirectory("counters")
        defer { scratch.remove() }
        let python = try #require(Self.python["lines"] != nil ? Self.python : nil, "counters.py failed")
        let (stats, _) = try self.run(arguments, in: scratch)
        #expect(stats.engineCounter("records") == python["lines"])
        #expect(stats.jobCounter("'..' lines skipped") == python["dotdot_lines"])
        #expect(stats.jobCounter("tokens") == python["tokens"])
        #expect(stats.engineCounter("map output pairs") == python["words"])
        #expect(stats.jobCounter("stop words dropped") == python["stop_words"])
        #expect(stats.engineCounter("input bytes") == stats.integer("input_bytes"))
        // Every distinct stop word is filtered at least once, and at most once per spill.
        let filtered = try #require(stats.engineCounter("keys filtered"))
        #expect(filtered >= 1 && filtered <= 21 * (stats.engineCounter("spills") ?? 0))
        #expect(stats.engineCounter("spills") == stats.integer("spills"))
    }

    @Test("counters are identical with one worker, two, small tasks and a table that spills in mid-task")
    func countersDoNotDependOnTheCut() throws {
        let scratch = try TemporaryDirectory("counters-cut")
        defer { scratch.remove() }
        let (one, _) = try self.run(["--workers", "1"], in: scratch)
        let (small, _) = try self.run(["--workers", "2", "--chunksize", "64K", "--worker-memory", "1M"], in: scratch)
        #expect(self.exactCounters(one) == self.exactCounters(small))
        #expect(!self.exactCounters(one).values.contains { $0 == nil }, "\(one.text)")
    }

    @Test("a worker killed in mid-task: its lost attempts show, and the counters count each task once")
    func countersAfterAKilledWorker() throws {
        let scratch = try TemporaryDirectory("counters-fault")
        defer { scratch.remove() }
        let arguments = ["--workers", "2", "--chunksize", "64K"]
        let (baseline, _) = try self.run(arguments, inputs: [TestEnvironment.corpus], in: scratch)
        let marker = scratch.file("killed-once")
        let timeline = scratch.file("fault.svg")
        let (faulty, _) = try self.run(
            arguments + ["--timeline", timeline],
            inputs: [TestEnvironment.corpus],
            environment: ["MAPREDUCE_FAULT_INJECTION": "kill-once-on-map=jargon@\(marker)"],
            in: scratch
        )
        #expect(Files.exists(marker), "the fault was never injected")
        #expect(faulty.integer("workers_lost") == 1)
        #expect(self.exactCounters(faulty) == self.exactCounters(baseline))
        let lost = faulty.attempts.filter { $0["outcome"] == "lost" }
        #expect(!lost.isEmpty, "\(faulty.text)")
        #expect(lost.contains { $0["phase"] == "map" && $0["input"]?.contains("jargon") == true }, "\(lost)")
        let svg = String(decoding: try Files.read(timeline), as: UTF8.self)
        #expect(XMLCheck.problem(in: svg) == nil)
        #expect(svg.components(of: "class=\"attempt ") == faulty.attempts.count)
        #expect(svg.components(of: " lost\"") == lost.count)
    }

    @Test("the timeline: well-formed, self-contained, one bar per attempt, one lane per statistics row")
    func timeline() throws {
        let scratch = try TemporaryDirectory("timeline")
        defer { scratch.remove() }
        let svgPath = scratch.file("timeline.svg")
        let stats = scratch.file("stats.json")
        let result = try TestEnvironment.mapreduce(
            [
                "wordcount", "--workers", "2", "--chunksize", "256K", "--stats", "--stats-json", stats,
                "--timeline", svgPath, TestEnvironment.corpus,
            ]
        )
        try #require(result.status == 0, "\(result)")
        let json = try StatisticsJSON(path: stats)
        let svg = String(decoding: try Files.read(svgPath), as: UTF8.self)
        #expect(XMLCheck.problem(in: svg) == nil, "\(XMLCheck.problem(in: svg) ?? "")")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!svg.lowercased().contains("<script"))
        #expect(!svg.contains("href"))
        #expect(!svg.contains("@import") && !svg.contains("url(http"))
        #expect(!svg.contains("onload=") && !svg.contains("onclick="), "no event handler attributes")
        let attempts = json.attempts
        #expect(attempts.count > 2)
        #expect(svg.components(of: "class=\"attempt ") == attempts.count)
        #expect(attempts.allSatisfy { $0["outcome"] == "committed" })
        #expect(Set(attempts.compactMap { $0["phase"] }) == ["map", "flush", "reduce"])
        // Lanes are named as the rows of the --stats table.
        let rows = result.stderr.split(separator: "\n").filter { $0.hasPrefix(" local/") }.map {
            String($0.dropFirst().prefix { $0 != " " })
        }
        #expect(rows == ["local/0", "local/1"], "\(result.stderr)")
        #expect(XMLCheck.texts(of: "text", marked: "class=\"lane\"", in: svg) == rows)
        // The --stats table has its counters block.
        #expect(result.stderr.contains(" counters:"), "\(result.stderr)")
        #expect(result.stderr.contains("tokens"))
        #expect(result.stderr.contains("map output pairs"))
        // Each bar's tooltip names its input and duration.
        #expect(svg.contains("<title>map task 0 on local/"))
        #expect(svg.contains(" ms, committed</title>"))
    }
}

@Suite("The tests' XML checker")
struct XMLCheckTests {
    @Test("it accepts well-formed XML and names what is wrong with the rest")
    func checker() {
        #expect(XMLCheck.problem(in: "<svg a=\"1\"><g><rect b='x &amp; y'/><text>a &lt; b</text></g></svg>\n") == nil)
        #expect(XMLCheck.problem(in: "<?xml version=\"1.0\"?><!-- c --><svg/>") == nil)
        let broken = [
            "<svg><g></svg>", "<svg>", "<svg></g>", "<svg a=1/>", "<svg a=\"1\" a=\"2\"/>", "<svg/><svg/>",
            "<svg>a & b</svg>", "<svg>a < b</svg>", "<svg><title>&nbsp;</title></svg>", "text", "",
            "<svg a=\"<\"/>",
        ]
        for text in broken {
            #expect(XMLCheck.problem(in: text) != nil, "\(text)")
        }
    }
}

extension String {
    /// How many times `needle` occurs.
    func components(of needle: String) -> Int {
        var count = 0
        var rest = Substring(self)
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
