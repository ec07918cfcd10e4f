import MapReduceTestSupport
import Testing

@Suite("Command line")
struct CommandLineTests {
    @Test("--help shows the options and examples; the worker subcommand stays hidden")
    func help() throws {
        let top = try TestEnvironment.mapreduce(["--help"])
        #expect(top.status == 0)
        #expect(top.stdout.contains("wordcount"))
        #expect(!top.stdout.split(separator: "\n").contains { $0.hasPrefix("  worker") })
        let wordcount = try TestEnvironment.mapreduce(["wordcount", "--help"])
        #expect(wordcount.status == 0)
        for fragment in [
            "--workers", "--chunksize", "--reduce-chunksize", "--top", "--output", "--stats", "--stats-json", "--quiet",
            "--invalid-utf8", "Examples:",
        ] {
            #expect(wordcount.stdout.contains(fragment), "help lacks \(fragment)")
        }
    }

    @Test("--stats prints a table per worker; --stats-json writes the same numbers")
    func statistics() throws {
        let scratch = try TemporaryDirectory("stats")
        defer { scratch.remove() }
        let result = try TestEnvironment.mapreduce(
            [
                "wordcount", "--workers", "2", "--stats", "--stats-json", scratch.file("s.json"), "--top", "3",
                TestEnvironment.corpus,
            ]
        )
        #expect(result.status == 0, "\(result)")
        for fragment in ["local/0", "local/1", "% of tasks", "task time sum", "MB/s"] {
            #expect(result.stderr.contains(fragment), "stats lack \(fragment): \(result.stderr)")
        }
        let json = String(decoding: try Files.read(scratch.file("s.json")), as: UTF8.self)
        for field in [
            "\"input_bytes\": 3055197", "\"input_files\": 3", "\"output_keys\": 26058", "\"slots\": [",
            "\"megabytes_per_second\"",
        ] {
            #expect(json.contains(field), "json lacks \(field): \(json)")
        }
        #expect(result.stdout.hasPrefix("\nTOP 3 WORDS BY FREQUENCY\n\n"))
    }

    @Test("--quiet prints nothing on success")
    func quiet() throws {
        let result = try TestEnvironment.mapreduce(["wordcount", "--quiet", TestEnvironment.corpus])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty && result.stderr.isEmpty)
    }

    @Test("an existing output file is replaced whole, never half-written")
    func atomicOutput() throws {
        let scratch = try TemporaryDirectory("atomic")
        defer { scratch.remove() }
        let output = try scratch.write("out.tsv", "old contents\n")
        let failed = try TestEnvironment.mapreduce(["wordcount", "--output", output, scratch.file("missing.txt")])
        #expect(failed.status == 1)
        #expect(try Files.read(output) == Array("old contents\n".utf8))
        let succeeded = try TestEnvironment.mapreduce([
            "wordcount", "--quiet", "--output", output, "\(TestEnvironment.fixtures)/adversarial/no-final-newline.txt",
        ])
        #expect(succeeded.status == 0)
        #expect(String(decoding: try Files.read(output), as: UTF8.self).hasPrefix("counted\t1\nends\t1\n"))
        #expect(Files.list(scratch.path) == ["out.tsv"])
    }
}
