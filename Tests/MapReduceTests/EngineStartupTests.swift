import MapReduce
import MapReduceTestSupport
import Testing

/// A worker executable that is not one: the job fails after a few tries with a line that says what is
/// wrong, instead of starting workers forever.
@Suite("Engine start-up")
struct EngineStartupTests {
    @Test("workers that exit before their handshake fail the job, naming the likely cause")
    func workersThatAreNotWorkers() async throws {
        let scratch = try TemporaryDirectory("not-workers")
        defer { scratch.remove() }
        try scratch.write("in.log", "INFO one\nWARN two\n")
        let engine = MapReduceEngine(
            configuration: .init(workers: 2, workerExecutable: "/bin/true", workerArguments: [])
        )
        let error = await #expect(throws: MapReduceError.self) {
            _ = try await engine.run(LengthsByInitial(), inputs: [.path(scratch.file("in.log"))]) {
                (_: ByteString, _: [Int]) in
            }
        }
        #expect(error?.code == .workerDied)
        #expect(
            error?.message.contains("3 worker processes in a row ended before their handshake") == true,
            "\(String(describing: error))"
        )
        #expect(error?.message.contains("WorkerProcess.run(registry:)") == true)
    }
}
