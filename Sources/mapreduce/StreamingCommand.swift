import ArgumentParser
import MapReduce
import MapReduceJobs

/// `mapreduce streaming map|combine|reduce JOB`: a built-in job's steps under the Hadoop Streaming
/// contract, for Hadoop, Spark's `pipe` and Unix pipelines.
struct StreamingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streaming",
        abstract: "Run a job's map, combine or reduce step on standard input, for Hadoop Streaming and Spark.",
        discussion: """
            Each step reads lines on standard input and writes lines on standard output: 'map' reads text \
            (records are lines, as in local mode) and writes KEY<TAB>VALUE lines, combined in memory; \
            'combine' combines runs of lines with equal keys; 'reduce' reads KEY<TAB>VALUE lines sorted by \
            key and writes the job's output lines, the same as its --output dump. Keys are escaped text \
            (\\\\ \\t \\n \\r, and \\xHH for other control bytes and bytes that are not UTF-8); numbers \
            are decimal. Sort between the steps with LC_ALL=C sort, which orders lines by key bytes.

            Example, the same dump as 'mapreduce wordcount --output':
              cat books/*.txt | mapreduce streaming map wordcount | LC_ALL=C sort \\
                | mapreduce streaming reduce wordcount > counts.tsv

            Jobs: \(StreamingJobs.names.joined(separator: ", ")).
            """,
        subcommands: [StreamingMapCommand.self, StreamingCombineCommand.self, StreamingReduceCommand.self]
    )
}

struct StreamingMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map text on standard input to KEY<TAB>VALUE lines, combined in memory."
    )

    @OptionGroup var step: StreamingStepOptions

    func run() throws { try self.step.run(.map) }
}

struct StreamingCombineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "combine",
        abstract: "Combine runs of KEY<TAB>VALUE lines with equal keys (any order; sorted input combines fully)."
    )

    @OptionGroup var step: StreamingStepOptions

    func run() throws { try self.step.run(.combine) }
}

struct StreamingReduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reduce",
        abstract: "Reduce KEY<TAB>VALUE lines sorted by key to the job's output lines."
    )

    @OptionGroup var step: StreamingStepOptions

    func run() throws { try self.step.run(.reduce) }
}

/// What every streaming step takes: the job, its options, and the step's limits.
struct StreamingStepOptions: ParsableArguments {
    @Argument(help: "The job: \(StreamingJobs.names.joined(separator: ", ")).")
    var job: String

    @Option(
        name: .customLong("worker-memory"),
        help: "What the combining table (map) or one key's values (reduce) may hold: a size such as 24M."
    )
    var workerMemory: String = "24M"

    @Option(name: .customLong("max-record"), help: "The longest input line accepted: a size such as 64M.")
    var maxRecord: String = "64M"

    @Argument(
        parsing: .allUnrecognized,
        help: "The job's own options, as for its command (wordcount, index: --invalid-utf8 strict|replace)."
    )
    var jobOptions: [String] = []

    enum Step {
        case map, combine, reduce
    }

    func validate() throws {
        guard case .fixed(let memory) = ChunkSize(parsing: self.workerMemory), memory >= 1 << 20 else {
            throw ValidationError(
                "--worker-memory must be a size of at least 1M, such as 24M, not '\(self.workerMemory)'."
            )
        }
        guard case .fixed = ChunkSize(parsing: self.maxRecord) else {
            throw ValidationError("--max-record must be a size such as 64M, not '\(self.maxRecord)'.")
        }
        switch self.job {
        case WordCount.name: _ = try StreamingJobs.parse(WordCountOptions.self, self.jobOptions)
        case InvertedIndex.name: _ = try StreamingJobs.parse(IndexOptions.self, self.jobOptions)
        case AccessLogReport.name: _ = try StreamingJobs.parse(LogsOptions.self, self.jobOptions)
        default:
            throw ValidationError(
                "No job named '\(self.job)'; the jobs are: \(StreamingJobs.names.joined(separator: ", "))."
            )
        }
    }

    func run(_ step: Step) throws {
        var options = Streaming.Options()
        if case .fixed(let memory) = ChunkSize(parsing: self.workerMemory) { options.memoryBudget = memory }
        if case .fixed(let record) = ChunkSize(parsing: self.maxRecord) { options.maximumRecordBytes = record }
        switch self.job {
        case WordCount.name:
            try StreamingJobs.run(WordCountOptions.self, arguments: self.jobOptions, step: step, options: options)
        case InvertedIndex.name:
            try StreamingJobs.run(IndexOptions.self, arguments: self.jobOptions, step: step, options: options)
        case AccessLogReport.name:
            try StreamingJobs.run(LogsOptions.self, arguments: self.jobOptions, step: step, options: options)
        default:
            preconditionFailure("validate() accepts only known jobs")
        }
    }
}

/// The built-in jobs that speak the streaming contract, each with the options of its own command.
enum StreamingJobs {
    static let names = [WordCount.name, InvertedIndex.name, AccessLogReport.name]

    static func run<Options: JobOptions>(
        _ type: Options.Type,
        arguments: [String],
        step: StreamingStepOptions.Step,
        options: Streaming.Options
    ) throws
    where
        Options.Job.JobMapper.Key: StreamingTextCodable,
        Options.Job.JobMapper.Value: StreamingTextCodable,
        Options.Job.JobReducer.Output: StreamingTextCodable
    {
        let parsed = try Self.parse(type, arguments)
        let job = parsed.makeJob()
        // The error line goes out first, then the rest of the input is drained: a human watching a
        // pipeline sees the error at once, and the writer (Spark, Hadoop) never sees a broken pipe.
        var options = options
        options.drainsInputOnError = false
        do {
            switch step {
            case .map: try Streaming.map(job, options: options)
            case .combine: try Streaming.combine(job, options: options)
            case .reduce: try Streaming.reduce(job, options: options)
            }
        } catch let error as MapReduceError {
            if error.errorNumber == EPIPE { throw ExitCode(128 + SIGPIPE) }
            printToStandardError("mapreduce: \(error)\(parsed.hint(for: error))")
            Streaming.drainInput()
            throw ExitCode(1)
        } catch {
            Streaming.drainInput()
            throw error
        }
    }
}

extension StreamingJobs {
    /// The job's options, or a usage error that names the job.
    static func parse<Options: JobOptions>(_ type: Options.Type, _ arguments: [String]) throws -> Options {
        do {
            return try Options.parse(arguments)
        } catch {
            throw ValidationError("\(Options.Job.name): \(Options.message(for: error))")
        }
    }
}

/// A job's own options, shared by its command and its streaming steps.
protocol JobOptions: ParsableArguments {
    associatedtype Job: MapReduceJob
    /// The job these options describe.
    func makeJob() -> Job
    /// What to add to an error's line to say how to get past it, or "".
    func hint(for error: MapReduceError) -> String
}
