import MapReduceTestSupport
import Testing

/// `--max-record` on every streaming step: a line of exactly the limit (without its terminator) is
/// accepted, one byte more refused with an error naming where it starts, wherever the line stands.
@Suite("Streaming --max-record")
struct StreamingRecordLimitTests {
    /// Where the line under test stands, as (bytes before it, its terminator, bytes after it).
    static let positions: [(name: String, before: String, terminator: String, after: String)] = [
        ("first", "", "\n", "~\t1\n"),
        ("middle", "0\t1\n", "\n", "~\t1\n"),
        ("last, without a line feed", "0\t1\n", "", ""),
        ("between CRLF lines", "0\t1\r\n", "\r\n", "~\t1\r\n"),
    ]

    @Test(
        "--max-record is exact on every step: a line of the limit is accepted, one byte more refused, anywhere",
        arguments: [3, 100, 1024, 4097, 1 << 20, (2 << 20) + 3]
    )
    func maxRecordIsExact(limit: Int) throws {
        for step in ["map", "combine", "reduce"] {
            for position in Self.positions {
                for length in [limit, limit + 1] {
                    // A `KEY<TAB>1` line of `length` bytes (the map step reads it as the word and a number).
                    let key = String(repeating: "z", count: length - 2)
                    let input = position.before + key + "\t1" + position.terminator + position.after
                    let result = try TestEnvironment.mapreduce(
                        ["streaming", step, "wordcount", "--max-record", String(limit)],
                        standardInput: Array(input.utf8)
                    )
                    let what = "\(step), \(position.name), \(length) bytes, limit \(limit)"
                    if length <= limit {
                        #expect(result.status == 0, "\(what): \(result.stderr)")
                        #expect(
                            result.stdout.contains("\n\(key)\t1\n") || result.stdout.hasPrefix("\(key)\t1\n"),
                            "\(what)"
                        )
                    } else {
                        #expect(result.status == 1, "\(what): \(result.stderr)")
                        let offset = position.before.utf8.count
                        #expect(
                            result.stderr.hasPrefix("mapreduce: <stdin>:\(offset): a line longer than "),
                            "\(what): \(result.stderr)"
                        )
                    }
                }
            }
        }
    }

    @Test("--max-record counts a map line up to any of its universal newlines: \\n, \\r\\n or a lone \\r")
    func maxRecordUniversalNewlines() throws {
        let line = String(repeating: "a", count: 1024)
        for terminator in ["\n", "\r\n", "\r"] {
            let accepted = try TestEnvironment.mapreduce(
                ["streaming", "map", "wordcount", "--max-record", "1K"],
                standardInput: Array(("x" + terminator + line + terminator + "y" + terminator).utf8)
            )
            #expect(accepted.status == 0, "\(accepted)")
            #expect(accepted.stdout == "\(line)\t1\nx\t1\ny\t1\n", "\(accepted)")
            let refused = try TestEnvironment.mapreduce(
                ["streaming", "map", "wordcount", "--max-record", "1K"],
                standardInput: Array(("x" + terminator + line + "a" + terminator + "y" + terminator).utf8)
            )
            #expect(refused.status == 1, "\(refused)")
            let offset = 1 + terminator.utf8.count
            #expect(refused.stderr.hasPrefix("mapreduce: <stdin>:\(offset): a line longer than 1 KiB"), "\(refused)")
        }
    }
}
