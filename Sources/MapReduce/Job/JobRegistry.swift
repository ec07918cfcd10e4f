/// The jobs compiled into this binary, by name.
///
/// Worker processes and peer nodes receive a job's name and its encoded parameters, look the name up here,
/// and run only the code registered under it: nothing that arrives over a pipe or the network is executed
/// as code. Register every job in the module that defines it (or in `main`), so that the engine's generic
/// worker code is specialised for it there:
///
/// ```swift
/// var registry = JobRegistry()
/// registry.register(WordCount.self)
/// ```
public struct JobRegistry: Sendable {
    @usableFromInline
    typealias Factory = @Sendable (WorkerHello, Int) throws -> WorkerJobHandler

    @usableFromInline var factories: [String: Factory] = [:]

    /// An empty registry.
    public init() {}

    /// The names of the registered jobs, sorted.
    public var jobNames: [String] { self.factories.keys.sorted() }

    /// Whether a job of this name is registered.
    public func contains(_ name: String) -> Bool { self.factories[name] != nil }

    /// Registers a job type under ``MapReduceJob/name``.
    @inlinable
    public mutating func register<J: MapReduceJob>(_ job: J.Type) {
        precondition(self.factories[J.name] == nil, "a job named \(J.name) is already registered")
        self.factories[J.name] = { hello, processID in
            let job = try hello.jobParameters.withUnsafeBytes { try J(encodedBytes: $0) }
            return try WorkerRuntime<J>.makeHandler(job: job, hello: hello, processID: processID)
        }
    }

    @usableFromInline
    func makeHandler(for hello: WorkerHello, processID: Int) throws -> WorkerJobHandler {
        guard let factory = self.factories[hello.jobName] else {
            throw MapReduceError(
                .usage,
                "this binary has no job named \(hello.jobName); it has \(self.jobNames.joined(separator: ", "))"
            )
        }
        return try factory(hello, processID)
    }
}
