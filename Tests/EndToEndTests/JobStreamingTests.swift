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
        // KEY<TAB>VALUE: `dimension,bucket,client<TAB>requests,bytes`, in key order. Fold each bucket's
        // clients as the command does.
        var rows: [String] = []
        var open: (dimension: Int, bucket: Int, requests: Int, bytes: Int, clients: Int)?
        func close() {
            guard let row = open else { return }
            let label = row.dimension == 1 ? String(row.bucket) : hourLabel(row.bucket)
            rows.append(
                "\(row.dimension == 1 ? "status" : "hour")\t\(label)\t\(row.requests)\t\(row.bytes)\t\(row.clients)"
            )
            open = nil
        }
        var malformed: [String] = []
        let reasons = ["", "too-long", "binary", "syntax", "bad-date", "bad-status"]
        for line in streamed.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            try #require(fields.count == 2, "\(line)")
            let key = fields[0].split(separator: ",", omittingEmptySubsequences: false)
            let value = fields[1].split(separator: ",")
            let (dimension, bucket) = (Int(key[0])!, Int(key[1])!)
            let (requests, bytes) = (Int(value[0])!, Int(value[1])!)
            if dimension == 3 {
                close()
                malformed.append("malformed\t\(reasons[bucket])\t\(requests)")
            } else if let row = open, row.dimension == dimension, row.bucket == bucket {
                open = (dimension, bucket, row.requests + requests, row.bytes + bytes, row.clients + 1)
            } else {
                close()
                open = (dimension, bucket, requests, bytes, 1)
            }
        }
        close()
        let expected = String(decoding: try Files.read(dump), as: UTF8.self)
        #expect((rows + malformed).map { $0 + "\n" }.joined() == expected)
    }
}

/// `YYYY-MM-DDTHH:00Z` for hours since 1970-01-01T00:00Z (Howard Hinnant's civil_from_days).
func hourLabel(_ hours: Int) -> String {
    let days = hours >= 0 ? hours / 24 : (hours - 23) / 24
    let z = days + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let dayOfEra = z - era * 146097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(year)-\(two(month))-\(two(day))T\(two(hours - days * 24)):00Z"
}
