import MapReduceTestSupport
import Testing

/// The index and logs jobs on loopback peers (`mapreduce serve` on 127.0.0.2 and 127.0.0.3): the same
/// dump and table as their Python references, with and without local workers.
@Suite("Index and logs on a cluster", .serialized, .enabled(if: TestEnvironment.hasPython, "needs python3"))
struct JobClusterTests {
    @Test("index and logs on two peers match their references", arguments: [true, false])
    func twoPeers(noLocal: Bool) throws {
        let scratch = try TemporaryDirectory("job-cluster")
        defer { scratch.remove() }
        let secret = try makeSecretFile(in: scratch)
        let peers = try (0..<2).map { index in
            try PeerProcess(host: "127.0.0.\(index + 2)", secretFile: secret, workers: 1, logDirectory: scratch.path)
        }
        defer { for peer in peers { peer.stop() } }
        let cluster =
            [
                "--workers", "1", "--chunksize", "64K", "--cluster", peers.map(\.address).joined(separator: ","),
                "--secret-file", secret,
            ] + (noLocal ? ["--no-local"] : [])
        let logs = scratch.file("logs")
        _ = mkdir(logs, 0o700)
        try generateAccessLog("\(logs)/big.log", seed: 7, size: 2_000_000, malformed: 0.05)
        try Files.write("\(logs)/small.log", try Files.read("\(TestEnvironment.fixtures)/logs/access.log"))
        try expectSameAsReference(
            job: "logs",
            reference: "Fixtures/reference/logs.py",
            [logs],
            flags: cluster,
            scratch: scratch
        )
        try expectSameAsReference(
            job: "index",
            reference: "Fixtures/reference/index.py",
            [TestEnvironment.corpus, "\(TestEnvironment.fixtures)/adversarial"],
            flags: cluster,
            scratch: scratch
        )
    }
}
