import MapReduceTestSupport
import Testing

/// Cluster mode across real network namespaces: each peer is another host with its own address and its own
/// loopback, reached from the coordinator's namespace over a veth link. Where the machine does not allow
/// namespaces (not root, no iproute2, an unprivileged container) the test is skipped with its reason.
@Suite("Network namespaces", .serialized)
struct NetworkNamespaceTests {
    @Test(
        "peers in their own network namespaces, reached over veth links, give the local dump",
        .enabled(if: NetworkNamespaces.available, "needs root and ip netns (iproute2)")
    )
    func peersOnOtherHosts() throws {
        let scratch = try TemporaryDirectory("netns")
        defer { scratch.remove() }
        let secret = try makeSecretFile(in: scratch)
        let expected = scratch.file("local.tsv")
        let local = try TestEnvironment.mapreduce(["wordcount", "--output", expected, TestEnvironment.corpus])
        try #require(local.status == 0, "\(local)")

        let network = NetworkNamespaces(peers: 2)
        defer { network.remove() }
        try network.create()
        let peers = try network.peers.indices.map { index in
            try PeerProcess(
                host: network.peerAddress(index),
                port: 7420,
                secretFile: secret,
                binary: network.wrapper(running: TestEnvironment.binary, in: network.peers[index], scratch: scratch),
                logDirectory: scratch.path
            )
        }
        // Declared after `network`, so the peers stop before their namespaces go.
        defer { for peer in peers { peer.stop() } }

        let output = scratch.file("cluster.tsv")
        let result = try ChildProcess.run(
            network.ip,
            ["netns", "exec", network.coordinator, TestEnvironment.binary, "wordcount", "--output", output]
                + ["--no-local", "--cluster", peers.map(\.address).joined(separator: ","), "--secret-file", secret]
                + [TestEnvironment.corpus]
        )
        try #require(result.status == 0, "\(result)")
        #expect(try Files.read(output) == Files.read(expected))
        for (index, peer) in peers.enumerated() {
            // The coordinator reached each peer from its own end of that peer's link, not over a loopback.
            #expect(peer.waitForLog("job wordcount for \(network.coordinatorAddress(index)):"), "\(peer.log)")
        }
    }
}

/// A coordinator namespace and peer namespaces, each peer joined to the coordinator by its own veth pair: on
/// link `n` (from 1) the coordinator is 10.213.n.1 and the peer 10.213.n.2. Only these namespaces are
/// touched, never the root namespace's interfaces or routes; deleting them removes the links.
private struct NetworkNamespaces {
    /// `ip` from iproute2, if installed.
    static let installedIP: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        access($0, X_OK) == 0
    }

    /// Whether namespaces can be made here: tried once with a probe namespace.
    static let available: Bool = {
        guard getuid() == 0, let ip = installedIP else { return false }
        let probe = "mrtest-probe-\(getpid())"
        guard (try? ChildProcess.run(ip, ["netns", "add", probe]).status) == 0 else { return false }
        return (try? ChildProcess.run(ip, ["netns", "del", probe]).status) == 0
    }()

    let ip = Self.installedIP ?? "ip"
    let coordinator = "mrtest-c-\(getpid())"
    let peers: [String]

    init(peers count: Int) {
        self.peers = (1...count).map { "mrtest-p\($0)-\(getpid())" }
    }

    func peerAddress(_ index: Int) -> String { "10.213.\(index + 1).2" }
    func coordinatorAddress(_ index: Int) -> String { "10.213.\(index + 1).1" }

    /// Makes the namespaces and links, with every loopback up.
    func create() throws {
        for namespace in [self.coordinator] + self.peers {
            try self.run(["netns", "add", namespace])
            try self.run(["-n", namespace, "link", "set", "lo", "up"])
        }
        for (index, peer) in self.peers.enumerated() {
            let link = "mr\(index + 1)"
            try self.run([
                "-n", self.coordinator, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", peer,
            ])
            let (near, far) = (self.coordinatorAddress(index), self.peerAddress(index))
            try self.run(["-n", self.coordinator, "address", "add", "\(near)/24", "dev", link])
            try self.run(["-n", peer, "address", "add", "\(far)/24", "dev", "eth0"])
            try self.run(["-n", self.coordinator, "link", "set", link, "up"])
            try self.run(["-n", peer, "link", "set", "eth0", "up"])
        }
    }

    /// Deletes every namespace this made (those not made yet fail quietly).
    func remove() {
        for namespace in [self.coordinator] + self.peers {
            _ = try? ChildProcess.run(self.ip, ["netns", "del", namespace])
        }
    }

    /// A script that runs `binary` with its arguments inside `namespace`, for ``PeerProcess``'s `binary:`.
    /// `ip netns exec` execs the program, so signals sent to the script's process reach `mapreduce` itself.
    func wrapper(running binary: String, in namespace: String, scratch: TemporaryDirectory) throws -> String {
        let path = try scratch.write(
            "in-\(namespace).sh",
            "#!/bin/sh\nexec '\(self.ip)' netns exec '\(namespace)' '\(binary)' \"$@\"\n"
        )
        chmod(path, 0o755)
        return path
    }

    private func run(_ arguments: [String]) throws {
        let result = try ChildProcess.run(self.ip, arguments)
        guard result.status == 0 else { throw POSIXFailure("ip \(arguments.joined(separator: " ")): \(result)") }
    }
}
