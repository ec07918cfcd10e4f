import ArgumentParser
import MapReduce
import MapReduceJobs

@main
struct MapReduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mapreduce",
        abstract: "A MapReduce engine for every core of this machine, and more machines.",
        discussion: """
            Jobs run on a pool of worker processes of this same program, one per core by default, and with \
            --cluster on peer nodes that run mapreduce serve.
            """,
        version: "0.1.0",
        subcommands: [
            WordCountCommand.self, StreamingCommand.self, ServeCommand.self, SecretCommand.self, WorkerCommand.self,
        ],
        defaultSubcommand: nil
    )
}

/// The hidden entry point of worker processes (see `WorkerProcess`).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: WorkerProcess.argument,
        abstract: "Serve tasks for a coordinator (started by mapreduce itself).",
        shouldDisplay: false
    )

    func run() {
        WorkerProcess.run(registry: .builtIn)
    }
}
