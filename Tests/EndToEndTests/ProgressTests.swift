import MapReduceTestSupport
import Testing

/// Whether tmux is installed.
private let hasTmux = (try? ChildProcess.run("/bin/sh", ["-c", "command -v tmux"]).status) == 0

/// The progress line, read off a real terminal: `mapreduce` runs in a tmux pane, and the test reads the
/// screen while the job runs and after it ends.
@Suite(
    "Progress line",
    .serialized,
    .enabled(if: hasTmux, "needs tmux (make deps installs it)")
)
struct ProgressTests {
    /// A job of a few seconds: every map task of the corpus stalls 100 ms.
    static let slowJob = "MAPREDUCE_FAULT_INJECTION=stall-on-map=.txt@100"

    /// Runs `command` in a new tmux server of its own (its socket in `scratch`), in a 120×20 pane, and
    /// returns the screens seen every 100 ms until the command has ended, and the last one.
    func screens(of command: String, in scratch: TemporaryDirectory) throws -> (during: [String], final: String) {
        let socket = scratch.file("tmux.sock")
        let done = scratch.file("done")
        let tmux = ["-S", socket]
        let started = try ChildProcess.run(
            "/usr/bin/env",
            ["tmux"] + tmux + [
                "new-session", "-d", "-x", "120", "-y", "20",
                "\(command); touch '\(done)'; sleep 60",
            ],
            environment: ["MR": TestEnvironment.binary, "TERM": "xterm"]
        )
        try #require(started.status == 0, "\(started)")
        defer { _ = try? ChildProcess.run("/usr/bin/env", ["tmux"] + tmux + ["kill-server"]) }
        var during: [String] = []
        for _ in 0..<300 {
            let screen = try ChildProcess.run("/usr/bin/env", ["tmux"] + tmux + ["capture-pane", "-p"]).stdout
            if Files.exists(done) {
                return (during, screen)
            }
            during.append(screen)
            pause(milliseconds: 100)
        }
        Issue.record("the command did not end within 30 s")
        return (during, "")
    }

    func lines(_ screen: String) -> [Substring] {
        screen.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
    }

    @Test("on a terminal, a live line with phase, bar, bytes, speed, tasks, workers and ETA, then one summary line")
    func liveLine() throws {
        let scratch = try TemporaryDirectory("progress")
        defer { scratch.remove() }
        let (during, final) = try self.screens(
            of: "\(Self.slowJob) \"$MR\" wordcount --workers 2 --chunksize 64K --top 2 '\(TestEnvironment.corpus)'",
            in: scratch
        )
        let progressLines = during.flatMap(self.lines).filter { $0.hasPrefix("map ") }
        #expect(!progressLines.isEmpty, "no progress line seen in \(during.count) screens")
        if let line = progressLines.last {
            #expect(line.contains("[") && line.contains("%") && line.contains("MB/s"), "\(line)")
            #expect(line.contains("/3.1 MB"), "\(line)")
            #expect(line.contains("tasks") && line.contains("2 workers") && line.contains("ETA"), "\(line)")
            #expect(line.count < 120, "the line must fit the terminal: \(line)")
        }
        // Redrawn in place: never more than one progress line on the screen at once.
        for screen in during {
            #expect(self.lines(screen).filter { $0.hasPrefix("map ") || $0.hasPrefix("reduce ") }.count <= 1)
        }
        let finalLines = self.lines(final)
        #expect(!finalLines.contains { $0.hasPrefix("map ") || $0.hasPrefix("reduce ") }, "\(final)")
        #expect(finalLines.first?.hasPrefix("done  3.1 MB in ") == true, "\(final)")
        #expect(finalLines.first?.hasSuffix("on 2 workers; 26058 keys") == true, "\(final)")
        #expect(finalLines.contains { $0.contains("TOP 2 WORDS BY FREQUENCY") }, "\(final)")
    }

    @Test(
        "no line with --progress never, --quiet, or a job shorter than half a second",
        arguments: [
            "\(slowJob) \"$MR\" wordcount --progress never --chunksize 64K --top 2",
            "\(slowJob) \"$MR\" wordcount --quiet --chunksize 64K --output /dev/null",
            "\"$MR\" wordcount --top 2",
        ]
    )
    func noLine(command: String) throws {
        let scratch = try TemporaryDirectory("progress-none")
        defer { scratch.remove() }
        let (during, final) = try self.screens(of: "\(command) '\(TestEnvironment.corpus)'", in: scratch)
        for screen in during + [final] {
            #expect(!self.lines(screen).contains { $0.hasPrefix("map ") || $0.hasPrefix("done ") }, "\(screen)")
        }
    }

    @Test("standard error that is not a terminal gets no progress, unless --progress always")
    func notATerminal() throws {
        let quiet = try TestEnvironment.mapreduce(
            ["wordcount", "--chunksize", "64K", "--top", "1", TestEnvironment.corpus],
            environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=.txt@50"]
        )
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty, "\(quiet)")
        let forced = try TestEnvironment.mapreduce(
            ["wordcount", "--progress", "always", "--chunksize", "64K", "--top", "1", TestEnvironment.corpus],
            environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=.txt@50"]
        )
        #expect(forced.status == 0)
        #expect(forced.stderr.contains("\rmap "), "\(forced)")
        #expect(forced.stderr.contains("done  3.1 MB in "), "\(forced)")
    }

    @Test("a bad --progress value is a usage error")
    func badValue() throws {
        let result = try TestEnvironment.mapreduce(["wordcount", "--progress", "sometimes", TestEnvironment.corpus])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--progress must be 'auto', 'always' or 'never'"))
    }
}
