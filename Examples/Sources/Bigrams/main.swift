import MapReduce

// bigrams PATH...                                       count on this machine's cores
// bigrams --cluster H:P,... --secret-file F PATH...     ... and on peers (--no-local: on the peers only)
// bigrams serve HOST:PORT SECRET_FILE                   be a peer for those runs
// bigrams streaming map|combine|reduce                  a step of a Hadoop Streaming or Spark job
var registry = JobRegistry()
registry.register(Bigrams.self)
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == WorkerProcess.argument {
    WorkerProcess.run(registry: registry)  // a worker process of this program; never returns
}

@MainActor func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    defer { arguments.removeSubrange(index...(index + 1)) }
    return arguments[index + 1]
}

do {
    switch arguments.first {
    case "serve":
        let address = arguments[1].split(separator: ":")
        let server = PeerServer(
            configuration: .init(
                host: String(address[0]),
                port: Int(address[1]) ?? 0,
                secretFile: arguments[2],
                registry: registry,
                logger: .init(label: "bigrams-serve")
            )
        )
        try await TerminationSignals.run { try await server.run() }  // logs "listen=HOST:PORT … serving"
    case "streaming":
        switch arguments.dropFirst().first {
        case "map": try Streaming.map(Bigrams())
        case "combine": try Streaming.combine(Bigrams())
        default: try Streaming.reduce(Bigrams())
        }
    default:
        var configuration = MapReduceEngine.Configuration()
        configuration.workers = option("--workers").flatMap { Int($0) } ?? configuration.workers
        if let peers = option("--cluster"), let secret = option("--secret-file") {
            let local = !arguments.contains("--no-local")
            configuration.cluster = .init(
                peers: peers.split(separator: ",").map(String.init),
                secretFile: secret,
                registry: registry,
                useLocalWorkers: local
            )
        }
        let paths = arguments.filter { $0 != "--no-local" }.map { InputSource.path($0) }
        _ = try await MapReduceEngine(configuration: configuration).run(Bigrams(), inputs: paths) { bigram, count in
            print("\(bigram)\t\(count)")
        }
    }
} catch {
    print("bigrams: \(error)")
    exit(1)
}
