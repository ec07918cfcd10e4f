import ArgumentParser
import MapReduce
import MapReduceJobs

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Report on web server access logs: requests, bytes and clients per status and per hour.",
        discussion: """
            Reads access logs in the Common or Combined Log Format, for example
              127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "curl/8"
            and prints, per status code and per hour (UTC), the requests, the bytes sent (a size of '-' \
            is 0) and the distinct clients (the first field, as written), then the malformed lines.

            An empty line is skipped. A malformed line never stops the job (unless every line is: then the \
            input is not an access log, and the job fails with nothing written): it is counted under the first \
            of these rules it breaks, in this order: too-long (more than 8192 bytes); binary (a byte \
            outside printable ASCII, 0x20-0x7E); syntax (not 'host ident authuser [': three fields of \
            non-space bytes with one space after each; or no ']' after it); bad-date (between the brackets \
            is not DD/Mon/YYYY:HH:MM:SS +HHMM with a real date: English month abbreviations, years \
            1970-9999, seconds 00-59, a zone of at most +/-14:59); syntax (not a space, a quoted request in \
            which '\\' escapes the next byte, and a space); bad-status (the next field, up to a space or the \
            end, is not three digits from 100 to 599); syntax (not a space and a size, '-' or 1 to 12 \
            digits, then the end of the line, or a space, a quoted referer, a space, a quoted user agent \
            and the end of the line). A summary line on standard error counts them.

            --output writes tab-separated lines, sorted: 'status<TAB>CODE<TAB>requests<TAB>bytes<TAB>clients' \
            by code, then 'hour<TAB>YYYY-MM-DDTHH:00Z<TAB>requests<TAB>bytes<TAB>clients' by hour, then \
            'malformed<TAB>REASON<TAB>lines' in the order above, for the reasons seen. The file appears \
            only when the job succeeds.

            --format csv, json or jsonl writes the same rows with named fields: csv (RFC 4180, CRLF) a \
            'kind,key,requests,bytes,clients,lines' header, then a row per status, hour and malformation \
            reason (kind 'status', 'hour' or 'malformed'; status and hour rows leave lines empty, malformed \
            rows fill only lines); json one object nested by kind and key, \
            {"status": {"200": {"requests": N, "bytes": N, "clients": N}, ...}, "hour": {...}, \
            "malformed": {"syntax": {"lines": N}}}, a row per line (a kind without rows is left out); jsonl \
            an object per row, {"kind":"status","key":"200","requests":N,"bytes":N,"clients":N} or \
            {"kind":"malformed","key":"syntax","lines":N}. Keys are strings, counts JSON numbers.

            Examples:
              mapreduce logs /var/log/nginx/access.log
              mapreduce logs --output report.tsv --workers 2 logs/
              mapreduce logs --format json --output - --quiet access.log | jq .status
            """
    )

    @Argument(help: "Log files or directories to read; '-' or nothing (with piped input) reads standard input.")
    var paths: [String] = []

    @OptionGroup var dump: DumpOptions

    @OptionGroup var engine: EngineOptions

    func run() async throws {
        let sources = try commandInputs(self.paths, what: "a log")
        let progress = self.engine.makeProgressLine()
        let engine = MapReduceEngine(
            configuration: self.engine.engineConfiguration(registry: .builtIn, progress: progress)
        )
        let outputPath = self.dump.output
        let format = self.dump.dumpFormat
        let statsPath = self.engine.statsJSON
        try checkDestinations(
            [("--output", outputPath), ("--stats-json", statsPath), ("--timeline", self.engine.timeline)],
            inputs: self.paths
        )
        let ledger = OutputLedger()
        let paths = self.paths
        let (statistics, summary) = try await runReportingFailures(ledger: ledger, progress: progress) {
            let dump = try outputPath.map { try OutputFile(destination: $0, role: "output file") }
            let statsFile = try statsPath.map { try OutputFile(destination: $0, role: "statistics file") }
            ledger.opened(dump, statsFile)
            var summary = AccessLogReport.Summary()
            var writer = try dump.map {
                try DumpWriter(file: $0, format: format, layout: AccessLogReport.Summary.dumpLayout)
            }
            func write(_ row: AccessLogReport.Summary.Row?) throws {
                guard let row else { return }
                try writer?.write(row: row.dumpFields)
            }
            let statistics = try await engine.run(AccessLogReport(), inputs: sources) { key, value in
                try write(summary.add(key, value))
            }
            try write(summary.finish())
            if summary.statuses.isEmpty && summary.malformedLines > 0 {
                // Every line broke a rule: the wrong file, or another log format. A report of nothing would
                // only hide that.
                let lines = "\(summary.malformedLines) line\(summary.malformedLines == 1 ? "" : "s")"
                let what =
                    paths.count == 1
                    ? "not an access log: none of its \(lines)"
                    : "not access logs: none of the \(lines) of the \(paths.count) inputs"
                throw MapReduceError(
                    .invalidData,
                    "\(what) is in the Common or Combined Log Format (\(summary.malformedReasons))",
                    input: paths.count == 1 ? paths[0] : nil
                )
            }
            for fields in summary.malformedDumpRows { try writer?.write(row: fields) }
            try writer?.finish()
            try statsFile?.write(statistics.json())
            try ledger.commit(dump)
            try ledger.commit(statsFile)
            progress?.finish(summary: ProgressLine.summary(statistics))
            return (statistics, summary)
        }
        if !self.engine.quiet && !ledger.dumpWentToStandardOutput {
            try writeToStandardOutput(summary.formattedTable())
        }
        if !self.engine.quiet && summary.malformedLines > 0 {
            printToStandardError(
                "mapreduce: \(summary.malformedLines) malformed lines skipped (\(summary.malformedReasons))"
            )
        }
        self.engine.reportTable(statistics)
        try exitIfSignalledAfterWork(ledger: ledger)
    }
}

/// The logs job has no options of its own; `streaming map logs` takes none.
struct LogsOptions: JobOptions {
    func makeJob() -> AccessLogReport { AccessLogReport() }

    func hint(for error: MapReduceError) -> String { "" }
}
