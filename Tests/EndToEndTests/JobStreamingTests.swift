import MapReduce
import MapReduceJobs
import MapReduceTestSupport
import Testing

/// `mapreduce streaming map JOB | LC_ALL=C sort | mapreduce streaming reduce JOB` for the index and logs
/// jobs, against the job's own `--output` dump of the same input read from standard input.
@Suite("Index and logs under the streaming contract")
struct JobStreamingTests {
    /// Runs the streaming pipeline on `input` (a file), returning its standard output.
    func pipeline(_ job: String, input: String) throws -> ProcessResult {
        let binary = shellQuoted(TestEnvironment.binary)
        let script =
            "\(binary) streaming map \(job) < \(shellQuoted(input)) | LC_ALL=C sort"
            + " | \(binary) streaming combine \(job) | \(binary) streaming reduce \(job)"
        return try ChildProcess.run("/bin/bash", ["-c", "set -o pipefail; " + script])
    }

    @Test("streaming index gives the index dump, line for line")
    func index() throws {
        let scratch = try TemporaryDirectory("streaming-index")
        defer { scratch.remove() }
        var text: [UInt8] = []
        for name in Files.list(TestEnvironment.corpus) { text += try Files.read("\(TestEnvironment.corpus)/\(name)") }
        let input = scratch.file("input.txt")
        try Files.write(input, text)
        let dump = scratch.file("dump.tsv")
        let local = try TestEnvironment.mapreduce(
            ["index", "--quiet", "--workers", "2", "--output", dump, "-"],
            standardInput: text
        )
        try #require(local.status == 0, "\(local)")
        let streamed = try self.pipeline("index", input: input)
        try #require(streamed.status == 0, "\(streamed)")
        #expect(streamed.standardOutput == (try Files.read(dump)))
        #expect(streamed.stdout.contains("\t<stdin>:"), "every file is standard input")
    }

    @Test("streaming logs gives the report's rows once each bucket's clients are folded")
    func logs() throws {
        let scratch = try TemporaryDirectory("streaming-logs")
        defer { scratch.remove() }
        let input = scratch.file("access.log")
        try Files.write(input, try Files.read("\(TestEnvironment.fixtures)/logs/access.log"))
        let dump = scratch.file("dump.tsv")
        let local = try TestEnvironment.mapreduce(["logs", "--quiet", "--workers", "2", "--output", dump, input])
        try #require(local.status == 0, "\(local)")
        let streamed = try self.pipeline("logs", input: input)
        try #require(streamed.status == 0, "\(streamed)")
        // KEY<TAB>VALUE: `dimension,bucket,client<TAB>requests,bytes`, in key order: the pairs the job hands
        // the logs command, folded and written out as the command does.
        let folded = scratch.file("folded.tsv")
        let file = try OutputFile(destination: folded)
        var writer = try DumpWriter(file: file, format: .tsv, layout: AccessLogReport.Summary.dumpLayout)
        var summary = AccessLogReport.Summary()
        for line in streamed.standardOutput.split(separator: 0x0A) {
            let tab = try #require(line.firstIndex(of: 0x09), "\(line)")
            let key = try Array(line[..<tab]).withUnsafeBytes {
                try KeyTriple<UInt8, Int64, ByteString>(streamingText: $0)
            }
            let value = try Array(line[(tab + 1)...]).withUnsafeBytes { try Pair<Int, Int>(streamingText: $0) }
            if let row = summary.add(key, value) { try writer.write(row: row.dumpFields) }
        }
        if let row = summary.finish() { try writer.write(row: row.dumpFields) }
        for fields in summary.malformedDumpRows { try writer.write(row: fields) }
        try writer.finish()
        try file.commit()
        #expect(try Files.read(folded) == Files.read(dump))
    }
}
