import MapReduceTestSupport
import Testing

/// Cluster mode on loopback peers (127.0.0.2, 127.0.0.3, ...): real `mapreduce serve` processes, real
/// TCP, the real handshake. Every job's dump must equal the local one; every fault must end in the same
/// dump or in one clear line, and leave no process behind.
@Suite("Cluster", .serialized)
struct ClusterTests {
    let scratch: TemporaryDirectory
    let secret: String

    init() throws {
        self.scratch = try TemporaryDirectory("cluster")
        self.secret = try makeSecretFile(in: self.scratch)
    }

    /// The local dump of `inputs`, to compare cluster runs with.
    func localDump(_ inputs: [String], extra: [String] = []) throws -> [UInt8] {
        let path = self.scratch.file("local-\(UInt32.random(in: 0...UInt32.max)).tsv")
        let result = try TestEnvironment.mapreduce(["wordcount", "--output", path] + extra + inputs)
        try #require(result.status == 0, "\(result)")
        return try Files.read(path)
    }

    func peers(_ count: Int, workers: Int = 1, environment: [String: String] = [:]) throws -> [PeerProcess] {
        try (0..<count).map { index in
            try PeerProcess(
                host: "127.0.0.\(index + 2)",
                secretFile: self.secret,
                workers: workers,
                environment: environment,
                logDirectory: self.scratch.path
            )
        }
    }

    func cluster(_ peers: [PeerProcess]) -> [String] {
        ["--cluster", peers.map(\.address).joined(separator: ","), "--secret-file", self.secret]
    }

    /// Many files copied from the fixtures corpus, so that a job has many tasks.
    func manyFiles(copies: Int) throws -> String {
        let directory = self.scratch.file("many")
        if Files.exists(directory) { return directory }
        _ = mkdir(directory, 0o700)
        for copy in 0..<copies {
            for name in Files.list(TestEnvironment.corpus) {
                try Files.write("\(directory)/copy-\(copy)-\(name)", Files.read("\(TestEnvironment.corpus)/\(name)"))
            }
        }
        return directory
    }

    func expectGone(_ pids: [pid_t], sourceLocation: SourceLocation = #_sourceLocation) {
        for _ in 0..<500 where pids.contains(where: ProcessTree.isAlive) { pause(milliseconds: 10) }
        for pid in pids {
            #expect(!ProcessTree.isAlive(pid), "process \(pid) outlived its job", sourceLocation: sourceLocation)
        }
    }

    @Test("three peers give the local dump, with and without local workers, and report their traffic")
    func threePeers() throws {
        defer { self.scratch.remove() }
        let peers = try self.peers(3)
        defer { for peer in peers { peer.stop() } }
        let expected = try self.localDump([TestEnvironment.corpus])
        for noLocal in [true, false] {
            let output = self.scratch.file("cluster-\(noLocal).tsv")
            let stats = self.scratch.file("stats-\(noLocal).json")
            let result = try TestEnvironment.mapreduce(
                ["wordcount", "--workers", "1", "--output", output, "--stats", "--stats-json", stats]
                    + self.cluster(peers) + (noLocal ? ["--no-local"] : []) + [TestEnvironment.corpus]
            )
            try #require(result.status == 0, "\(result)")
            #expect(try Files.read(output) == expected, "no-local \(noLocal)")
            let json = String(decoding: try Files.read(stats), as: UTF8.self)
            for peer in peers {
                #expect(json.contains("\"peer\": \"\(peer.address)\""), "\(json)")
                #expect(result.stderr.contains(peer.address), "\(result.stderr)")
            }
            #expect(json.contains("\"compressedBytes\"") && json.contains("\"rawBytes\""), "\(json)")
            #expect(!json.contains("\"compressedBytes\": 0,\n"), "\(json)")
            #expect(noLocal == !json.contains("\"name\": \"local/0\""), "\(json)")
        }
        for peer in peers { #expect(peer.waitForLog("job wordcount"), "\(peer.log)") }
    }

    @Test("records cut at task boundaries and long lines come out as in local mode", arguments: [false, true])
    func adversarialInput(unicode: Bool) throws {
        defer { self.scratch.remove() }
        let directory = try TemporaryDirectory("cluster-adversarial")
        defer { directory.remove() }
        try AdversarialCorpus.writeTree(into: directory, seed: unicode ? 7 : 3, unicode: unicode)
        // Small tasks: many boundaries fall inside lines, and long lines are cut into pieces.
        let options = ["--chunksize", "64K", "--invalid-utf8", "replace"]
        let expected = try self.localDump([directory.path], extra: options)
        let peers = try self.peers(2)
        defer { for peer in peers { peer.stop() } }
        let output = self.scratch.file("adversarial.tsv")
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--output", output, "--no-local"] + options + self.cluster(peers) + [directory.path]
        )
        try #require(result.status == 0, "\(result)")
        #expect(try Files.read(output) == expected)
    }

    @Test("a peer SIGKILLed in the middle of a job: its tasks run elsewhere, the dump and counters are identical")
    func peerKilled() throws {
        defer { self.scratch.remove() }
        let corpus = try self.manyFiles(copies: 12)
        let localStats = self.scratch.file("local.json")
        let expected = try self.localDump([corpus], extra: ["--stats-json", localStats])
        let timeline = self.scratch.file("killed.svg")
        let victim = try PeerProcess(
            host: "127.0.0.2",
            secretFile: self.secret,
            environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=copy-@100"],
            logDirectory: self.scratch.path
        )
        let survivor = try PeerProcess(host: "127.0.0.3", secretFile: self.secret, logDirectory: self.scratch.path)
        defer { survivor.stop() }
        let output = self.scratch.file("killed.tsv")
        let stats = self.scratch.file("killed.json")
        let coordinator = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--output", output, "--stats", "--stats-json", stats, "--timeline", timeline, "--no-local"]
                + self.cluster([victim, survivor]) + [corpus]
        )
        // Once the victim's worker runs (stalled on its first file), kill the whole peer.
        var workers: [pid_t] = []
        for _ in 0..<500 where workers.isEmpty {
            workers = victim.workers
            pause(milliseconds: 10)
        }
        pause(milliseconds: 300)
        victim.kill()
        let result = coordinator.wait()
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(output) == expected)
        let json = String(decoding: try Files.read(stats), as: UTF8.self)
        #expect(json.contains("\"lost\": \"peer \(victim.address)"), "\(json)")
        #expect(result.stderr.contains("lost: peer \(victim.address)"), "\(result.stderr)")
        // Counters count the committed attempts only: the victim's lost tasks count once, on the survivor.
        let local = try StatisticsJSON(path: localStats)
        let cluster = StatisticsJSON(json)
        for name in ["records", "input bytes", "map output pairs"] {
            #expect(
                cluster.engineCounter(name) != nil && cluster.engineCounter(name) == local.engineCounter(name),
                "\(name)"
            )
        }
        for name in ["tokens", "stop words dropped"] {
            #expect(cluster.jobCounter(name) != nil && cluster.jobCounter(name) == local.jobCounter(name), "\(name)")
        }
        let attempts = cluster.attempts
        #expect(attempts.contains { $0["slot"] == victim.address && $0["outcome"] == "lost" }, "\(attempts)")
        let svg = String(decoding: try Files.read(timeline), as: UTF8.self)
        #expect(XMLCheck.problem(in: svg) == nil)
        let lanes = XMLCheck.texts(of: "text", marked: "class=\"lane\"", in: svg)
        #expect(Set(lanes) == [victim.address, survivor.address] && lanes.count == 2, "\(lanes)")
        self.expectGone(workers)
        // The killed peer could not remove its job's directory; the next peer to start there does.
        let left = Files.list(self.scratch.path).filter { $0.hasPrefix("mapreduce-peer-\(victim.process.processID)-") }
        #expect(left.count == 1, "\(Files.list(self.scratch.path))")
        let next = try PeerProcess(host: "127.0.0.4", secretFile: self.secret, logDirectory: self.scratch.path)
        next.stop()
        #expect(!Files.list(self.scratch.path).contains { left.contains($0) }, "\(Files.list(self.scratch.path))")
        #expect(next.log.contains("no longer runs"), "\(next.log)")
    }

    @Test("a peer SIGSTOPped past its heartbeat timeout is dropped; it serves again once resumed")
    func peerStopped() throws {
        defer { self.scratch.remove() }
        let corpus = try self.manyFiles(copies: 6)
        let expected = try self.localDump([corpus])
        let frozen = try PeerProcess(
            host: "127.0.0.2",
            secretFile: self.secret,
            environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=copy-@100"],
            logDirectory: self.scratch.path
        )
        defer { frozen.kill() }
        let healthy = try PeerProcess(host: "127.0.0.3", secretFile: self.secret, logDirectory: self.scratch.path)
        defer { healthy.stop() }
        let output = self.scratch.file("stopped.tsv")
        let started = ContinuousClock.now
        let coordinator = try ChildProcess(
            TestEnvironment.binary,
            [
                "wordcount", "--output", output, "--stats", "--no-local", "--heartbeat", "0.2", "--heartbeat-timeout",
                "1",
            ]
                + self.cluster([frozen, healthy]) + [corpus]
        )
        for _ in 0..<500 where frozen.workers.isEmpty { pause(milliseconds: 10) }
        frozen.process.signal(SIGSTOP)
        let result = coordinator.wait()
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(output) == expected)
        #expect(result.stderr.contains("heartbeat timeout"), "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(60))
        // Resumed, the peer finds its coordinator gone, ends that job and takes the next one.
        frozen.process.signal(SIGCONT)
        #expect(frozen.waitForLog("job wordcount"), "\(frozen.log)")
        let again = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--output", self.scratch.file("again.tsv"), "--no-local"]
                + ["--cluster", frozen.address, "--secret-file", self.secret, TestEnvironment.corpus]
        )
        #expect(again.status == 0, "\(again)")
    }

    @Test("every peer lost: one line naming each and why, a non-zero status, no output file")
    func everyPeerLost() throws {
        defer { self.scratch.remove() }
        let corpus = try self.manyFiles(copies: 6)
        let peers = try self.peers(2, environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=copy-@100"])
        let output = self.scratch.file("none.tsv")
        let coordinator = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--output", output, "--no-local"] + self.cluster(peers) + [corpus]
        )
        for _ in 0..<500 where peers.contains(where: { $0.workers.isEmpty }) { pause(milliseconds: 10) }
        for peer in peers { peer.kill() }
        let result = coordinator.wait()
        #expect(result.status == 1, "\(result)")
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("mapreduce:") }
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("every peer was lost"), "\(result.stderr)")
        for peer in peers { #expect(result.stderr.contains(peer.address), "\(result.stderr)") }
        #expect(!Files.exists(output))
    }

    @Test("a wrong secret fails the coordinator within a second; the peer logs it and keeps serving")
    func wrongSecret() throws {
        defer { self.scratch.remove() }
        let peers = try self.peers(1)
        defer { for peer in peers { peer.stop() } }
        let other = try makeSecretFile(in: self.scratch, name: "other.secret")
        let output = self.scratch.file("wrong.tsv")
        let started = ContinuousClock.now
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--output", output, "--no-local", "--cluster", peers[0].address, "--secret-file", other]
                + [TestEnvironment.corpus]
        )
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("authentication failed for \(peers[0].address)"), "\(result.stderr)")
        #expect(!result.stderr.contains(String(decoding: try Files.read(other), as: UTF8.self).prefix(20)))
        #expect(!Files.exists(output))
        #expect(peers[0].waitForLog("authentication failed"), "\(peers[0].log)")
        let good = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--no-local"] + self.cluster(peers) + [TestEnvironment.corpus]
        )
        #expect(good.status == 0, "\(good)")
    }

    @Test("a secret file that others can read, or that is short, is refused by peer and coordinator alike")
    func unsafeSecret() throws {
        defer { self.scratch.remove() }
        let open = try self.scratch.write("open.secret", String(repeating: "x", count: 40) + "\n")
        chmod(open, 0o644)
        let short = try self.scratch.write("short.secret", "tooshort\n")
        chmod(short, 0o600)
        for file in [open, short] {
            let serve = try TestEnvironment.mapreduce(["serve", "--listen", "127.0.0.2:0", "--secret-file", file])
            #expect(serve.status == 1, "\(serve)")
            #expect(serve.stderr.contains(file), "\(serve)")
            let coordinator = try TestEnvironment.mapreduce(
                ["wordcount", "--cluster", "127.0.0.2:9", "--secret-file", file, TestEnvironment.corpus]
            )
            #expect(coordinator.status == 1, "\(coordinator)")
            #expect(coordinator.stderr.contains(file), "\(coordinator)")
        }
        #expect(try TestEnvironment.mapreduce(["serve", "--listen", "127.0.0.2:0"]).status != 0)
        // `mapreduce secret` never overwrites.
        #expect(try TestEnvironment.mapreduce(["secret", self.secret]).status == 1)
    }

    @Test("another build is refused with both fingerprints named")
    func fingerprintMismatch() throws {
        defer { self.scratch.remove() }
        // The same program with one more byte at its end: it runs, and it is another build.
        let copy = self.scratch.file("mapreduce-other")
        try Files.write(copy, try Files.read(TestEnvironment.binary) + [0])
        chmod(copy, 0o755)
        let peer = try PeerProcess(
            host: "127.0.0.2",
            secretFile: self.secret,
            binary: copy,
            logDirectory: self.scratch.path
        )
        defer { peer.stop() }
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--no-local", "--cluster", peer.address, "--secret-file", self.secret]
                + [TestEnvironment.corpus]
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("fingerprint mismatch"), "\(result.stderr)")
        #expect(result.stderr.ranges(of: "build ").count >= 2, "\(result.stderr)")
    }

    @Test("a peer that speaks another protocol version is refused with both versions named")
    func versionMismatch() throws {
        defer { self.scratch.remove() }
        let peers = try self.peers(1)
        defer { for peer in peers { peer.stop() } }
        let connection = try RawConnection(host: "127.0.0.2", port: peers[0].port)
        connection.send(Array("MAPRED".utf8) + [0, 99])
        let (reply, closed) = connection.readUntilClosed(milliseconds: 3000)
        #expect(closed)
        #expect(reply.starts(with: Array("MAPRED".utf8)))
        #expect(peers[0].waitForLog("version 99"), "\(peers[0].log)")
    }

    @Test("garbage, HTTP, a slow drip and a huge length prefix are closed; the next job runs", arguments: [0, 1, 2, 3])
    func hostileConnections(kind: Int) throws {
        defer { self.scratch.remove() }
        let peer = try PeerProcess(
            host: "127.0.0.2",
            secretFile: self.secret,
            arguments: ["--handshake-timeout", "1"],
            logDirectory: self.scratch.path
        )
        defer { peer.stop() }
        let connection = try RawConnection(host: "127.0.0.2", port: peer.port)
        let preamble = Array("MAPRED".utf8) + [0, 1]
        switch kind {
        case 0: connection.send((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        case 1: connection.send(Array("GET / HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n".utf8))
        case 2:
            for byte in preamble.prefix(4) {
                connection.send([byte])
                pause(milliseconds: 300)
            }
        default: connection.send(preamble + [0xFF, 0xFF, 0xFF, 0xF0, 200])
        }
        let (_, closed) = connection.readUntilClosed(milliseconds: 4000)
        #expect(closed, "connection \(kind) was not closed")
        #expect(peer.waitForLog("refused connection"), "\(peer.log)")
        let good = try TestEnvironment.mapreduce(
            ["wordcount", "--quiet", "--no-local", "--cluster", peer.address, "--secret-file", self.secret]
                + [TestEnvironment.corpus]
        )
        #expect(good.status == 0, "\(good)")
    }

    @Test("a peer restarted between two jobs serves the second; SIGTERM leaves no worker or file behind")
    func restartedPeer() throws {
        defer { self.scratch.remove() }
        let temporary = try TemporaryDirectory("peer-tmp")
        defer { temporary.remove() }
        let expected = try self.localDump([TestEnvironment.corpus])
        var port = 0
        for round in 0..<2 {
            let peer = try PeerProcess(
                host: "127.0.0.2",
                port: port,
                secretFile: self.secret,
                arguments: ["--temporary-directory", temporary.path],
                logDirectory: self.scratch.path
            )
            port = peer.port
            let output = self.scratch.file("round-\(round).tsv")
            let result = try TestEnvironment.mapreduce(
                [
                    "wordcount", "--output", output, "--no-local", "--cluster", peer.address, "--secret-file",
                    self.secret,
                ]
                    + [TestEnvironment.corpus]
            )
            #expect(result.status == 0, "\(result)")
            #expect(try Files.read(output) == expected)
            let workers = peer.workers
            let stopped = peer.stop()
            #expect(stopped.status == 0, "\(stopped)")
            self.expectGone(workers)
            #expect(Files.list(temporary.path).isEmpty, "\(Files.list(temporary.path))")
        }
    }

    @Test("a second coordinator is refused while the first runs; the first finishes")
    func twoCoordinators() throws {
        defer { self.scratch.remove() }
        let corpus = try self.manyFiles(copies: 4)
        let expected = try self.localDump([corpus])
        let peers = try self.peers(1, environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=copy-@50"])
        defer { for peer in peers { peer.stop() } }
        let output = self.scratch.file("first.tsv")
        let first = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--output", output, "--no-local"] + self.cluster(peers) + [corpus]
        )
        for _ in 0..<500 where peers[0].workers.isEmpty { pause(milliseconds: 10) }
        let second = try TestEnvironment.mapreduce(
            ["wordcount", "--no-local"] + self.cluster(peers) + [TestEnvironment.corpus]
        )
        #expect(second.status == 1, "\(second)")
        #expect(second.stderr.contains("busy"), "\(second.stderr)")
        let result = first.wait()
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(output) == expected)
    }

    @Test("an unreachable peer is named within the connect timeout")
    func unreachable() throws {
        defer { self.scratch.remove() }
        let started = ContinuousClock.now
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--cluster", "127.0.0.9:9", "--secret-file", self.secret, "--connect-timeout", "2"]
                + [TestEnvironment.corpus]
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("cannot reach peer 127.0.0.9:9"), "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("Ctrl-C on the coordinator stops the job on every peer")
    func interrupted() throws {
        defer { self.scratch.remove() }
        let corpus = try self.manyFiles(copies: 6)
        let peers = try self.peers(2, environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=copy-@100"])
        defer { for peer in peers { peer.stop() } }
        let coordinator = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--output", self.scratch.file("int.tsv"), "--no-local"] + self.cluster(peers) + [corpus]
        )
        for _ in 0..<500 where peers.contains(where: { $0.workers.isEmpty }) { pause(milliseconds: 10) }
        let workers = peers.flatMap(\.workers)
        coordinator.signal(SIGINT)
        let result = coordinator.wait()
        #expect(result.status == 130, "\(result)")
        self.expectGone(workers)
        for peer in peers { #expect(peer.waitForLog("job wordcount"), "\(peer.log)") }
    }
}

extension ClusterTests {
    @Test("a peer's worker that crashes on every attempt at one input fails the job, naming the input")
    func poisonOnPeer() throws {
        defer { self.scratch.remove() }
        let peers = try self.peers(1, environment: ["MAPREDUCE_FAULT_INJECTION": "crash-on-map=jargon"])
        defer { for peer in peers { peer.stop() } }
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--no-local", "--chunksize", "64K"] + self.cluster(peers) + [TestEnvironment.corpus]
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("jargon-file-4.4.7.txt"), "\(result.stderr)")
        #expect(result.stderr.contains("killed 3 workers"), "\(result.stderr)")
        #expect(peers[0].waitForLog("worker lost"), "\(peers[0].log)")
    }
}
