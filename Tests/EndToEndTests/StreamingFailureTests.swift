import MapReduceTestSupport
import Testing

/// How streaming steps fail: with the rest of their input drained, so the process feeding them never
/// sees a broken pipe.
@Suite("Streaming steps that fail")
struct StreamingFailureTests {
    /// Runs a bash script with `$MR` set to the binary.
    func script(_ script: String, environment: [String: String] = [:]) throws -> ProcessResult {
        try ChildProcess.run(
            "/bin/bash",
            ["-c", "export LC_ALL=C; \(script)"],
            environment: environment.merging(["MR": TestEnvironment.binary]) { $1 }
        )
    }

    @Test(
        "a failing step reads its input to the end: the writer's 64 MiB all go through, the error is one line",
        arguments: [
            ("map wordcount --invalid-utf8 strict", "good\\n\\xff bad\\n", "mapreduce: <stdin>: invalid UTF-8"),
            ("map wordcount --max-record 1K", "x\\n%01100d\\n", "mapreduce: <stdin>:2: a line longer than 1 KiB"),
            ("combine wordcount", "a 1\\n", "mapreduce: <stdin>: line 1 has no tab"),
            ("reduce wordcount", "b\\t1\\na\\t2\\n", "mapreduce: <stdin>: line 2 is out of order"),
        ]
    )
    func drainsInput(step: String, badLines: String, message: String) throws {
        // The writer: the bad lines, then 64 MiB more; its status is 0 only if every write succeeded (a
        // broken pipe kills it with SIGPIPE, or fails its write with EPIPE where SIGPIPE is ignored).
        let result = try self.script(
            "{ printf \"$BAD\" 0; head -c 67108864 /dev/zero; } 2>/dev/null | \"$MR\" streaming \(step) > /dev/null;"
                + " echo \"${PIPESTATUS[*]}\"",
            environment: ["BAD": badLines]
        )
        #expect(result.stdout == "0 1\n", "writer and step statuses: \(result)")
        #expect(result.stderr.hasPrefix(message), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test("a failing step does not read a device it cannot drain: /dev/zero on standard input")
    func leavesDevicesAlone() throws {
        // Draining /dev/zero would never end: the step must see it is not a pipe and exit at once.
        let result = try self.script("\"$MR\" streaming reduce wordcount --max-record 1K < /dev/zero")
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.hasPrefix("mapreduce: <stdin>:0: a line longer than 1 KiB"), "\(result)")
    }

    @Test("a step whose output reader has gone stops at once, without draining its endless writer")
    func brokenOutputStops() throws {
        // `yes` never stops writing: a step that drained its input after `head` went would never end.
        let result = try self.script(
            "yes $'a\\t1\\nb\\t1' | \"$MR\" streaming combine wordcount | head -c 1 > /dev/null;"
                + " echo \"${PIPESTATUS[1]}\""
        )
        #expect(result.stdout == "141\n", "the step's status: \(result)")
        #expect(!result.stderr.contains("mapreduce"), "\(result)")
    }
}
