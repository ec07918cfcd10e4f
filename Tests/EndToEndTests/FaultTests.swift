import MapReduceTestSupport
import Testing

/// Workers that die, tasks that kill them, signals, and a coordinator that is killed: the job either
/// produces exactly the right output or fails cleanly, and no process or temporary file is left behind.
@Suite("Faults", .serialized)
struct FaultTests {
    /// A corpus large enough that a job runs for a while: the Fixtures corpus repeated to about 96 MB.
    static let bigCorpus: String = {
        let path = "/tmp/mapreduce-tests-big-corpus-\(getuid()).txt"
        var text: [UInt8] = []
        for name in Files.list(TestEnvironment.corpus) {
            text += (try? Files.read("\(TestEnvironment.corpus)/\(name)")) ?? []
        }
        let copies = max(1, 96_000_000 / max(1, text.count))
        let size = copies * text.count
        if fileSize(path) == size { return path }
        var all: [UInt8] = []
        all.reserveCapacity(size)
        for _ in 0..<copies { all += text }
        try? Files.write(path, all)
        return path
    }()

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    /// Polls until `pid` has at least `count` children; returns them.
    func waitForWorkers(of pid: pid_t, count: Int = 1) -> [pid_t] {
        for _ in 0..<2000 {
            let children = ProcessTree.children(of: pid)
            if children.count >= count { return children }
            pause(milliseconds: 1)
        }
        return []
    }

    func expectGone(_ pids: [pid_t], sourceLocation: SourceLocation = #_sourceLocation) {
        for _ in 0..<300 where pids.contains(where: ProcessTree.isAlive) { pause(milliseconds: 10) }
        for pid in pids {
            #expect(!ProcessTree.isAlive(pid), "worker \(pid) outlived the job", sourceLocation: sourceLocation)
        }
    }

    @Test("a worker that dies once is replaced and the output is identical")
    func workerDiesOnce() throws {
        let scratch = try TemporaryDirectory("dies-once")
        defer { scratch.remove() }
        let baseline = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--output", scratch.file("baseline.tsv"), TestEnvironment.corpus]
        )
        try #require(baseline.status == 0, "\(baseline)")
        let marker = scratch.file("killed-once")
        let result = try TestEnvironment.mapreduce(
            [
                "wordcount", "--workers", "2", "--chunksize", "64K", "--output", scratch.file("recovered.tsv"),
                "--stats-json", scratch.file("stats.json"), TestEnvironment.corpus,
            ],
            environment: ["MAPREDUCE_FAULT_INJECTION": "kill-once-on-map=jargon@\(marker)"]
        )
        #expect(result.status == 0, "\(result)")
        #expect(Files.exists(marker), "the fault was never injected")
        #expect(try Files.read(scratch.file("recovered.tsv")) == Files.read(scratch.file("baseline.tsv")))
        #expect(result.stdout == baseline.stdout)
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        #expect(stats.contains("\"workers_lost\": 1"), "\(stats)")
        #expect(!stats.contains("\"retries\": 0,"), "\(stats)")
    }

    @Test("a worker killed as it starts, before its handshake, is replaced and counted as lost")
    func workerDiesAtStart() throws {
        let scratch = try TemporaryDirectory("dies-at-start")
        defer { scratch.remove() }
        let baseline = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--output", scratch.file("baseline.tsv"), TestEnvironment.corpus]
        )
        try #require(baseline.status == 0, "\(baseline)")
        let marker = scratch.file("killed-at-start")
        let result = try TestEnvironment.mapreduce(
            [
                "wordcount", "--workers", "2", "--output", scratch.file("recovered.tsv"),
                "--stats-json", scratch.file("stats.json"), TestEnvironment.corpus,
            ],
            environment: ["MAPREDUCE_FAULT_INJECTION": "kill-once-at-start=\(marker)"]
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(Files.exists(marker), "the fault was never injected")
        #expect(try Files.read(scratch.file("recovered.tsv")) == Files.read(scratch.file("baseline.tsv")))
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        #expect(stats.contains("\"workers_lost\": 1"), "\(stats)")
        // It held no task: nothing is retried.
        #expect(stats.contains("\"retries\": 0,"), "\(stats)")
    }

    @Test("workers hold none of the descriptors the coordinator inherited without close-on-exec")
    func workersInheritNoDescriptors() throws {
        let scratch = try TemporaryDirectory("inherited-descriptors")
        defer { scratch.remove() }
        let held = scratch.file("held-open")
        let output = scratch.file("out.tsv")
        // The shell opens two descriptors without close-on-exec, as a parent's pipe or log would be, and
        // becomes the coordinator; every map task stalls 30 ms so that the workers can be looked at.
        let job = try ChildProcess(
            "/bin/bash",
            [
                "-c",
                "exec 7>'\(held)' 9<'\(held)'; exec \"$MR\" wordcount --workers 2 --chunksize 1M --output '\(output)' "
                    + "'\(Self.bigCorpus)'",
            ],
            environment: ["MR": TestEnvironment.binary, "MAPREDUCE_FAULT_INJECTION": "stall-on-map=big-corpus@30"]
        )
        var seen: [pid_t: [CInt: String]] = [:]
        for _ in 0..<2000 where seen.count < 2 {
            for worker in ProcessTree.children(of: job.processID) where seen[worker] == nil {
                // Only once it runs as a worker: before its exec it is a copy of the coordinator.
                let commandLine = (try? Files.read("/proc/\(worker)/cmdline")) ?? []
                guard commandLine.split(separator: 0).dropFirst().first.map(Array.init) == Array("worker".utf8) else {
                    continue
                }
                seen[worker] = ProcessTree.openFiles(of: worker)
            }
            pause(milliseconds: 2)
        }
        let coordinator = ProcessTree.openFiles(of: job.processID)
        let result = job.wait()
        #expect(result.status == 0, "\(result)")
        #expect(coordinator[7] == held && coordinator[9] == held, "the shell did not set up: \(coordinator)")
        try #require(seen.count == 2, "saw \(seen.count) workers")
        for (worker, files) in seen {
            #expect(!files.values.contains(held), "worker \(worker) holds \(held): \(files)")
            #expect(files[7] == nil && files[9] == nil, "worker \(worker): \(files)")
        }
    }

    @Test("a worker lost after spilling in the middle of a task loses nothing")
    func workerDiesAfterPartialSpills() throws {
        let scratch = try TemporaryDirectory("partial-spills")
        defer { scratch.remove() }
        // 1 MiB of table holds a fraction of the corpus's 26K words: workers spill in mid-task.
        let arguments = ["wordcount", "--workers", "2", "--chunksize", "256K", "--worker-memory", "1M"]
        let baseline = try TestEnvironment.mapreduce(
            arguments + ["--output", scratch.file("a.tsv"), TestEnvironment.corpus]
        )
        try #require(baseline.status == 0, "\(baseline)")
        for victim in ["jargon", "kjv", "devils"] {
            let marker = scratch.file("killed-\(victim)")
            let result = try TestEnvironment.mapreduce(
                arguments + [
                    "--output", scratch.file("b.tsv"), "--stats-json", scratch.file("s.json"), TestEnvironment.corpus,
                ],
                environment: ["MAPREDUCE_FAULT_INJECTION": "kill-once-on-map=\(victim)@\(marker)"]
            )
            #expect(result.status == 0, "\(result)")
            #expect(Files.exists(marker))
            #expect(
                try Files.read(scratch.file("b.tsv")) == Files.read(scratch.file("a.tsv")),
                "lost counts after killing a worker on \(victim)"
            )
            let stats = String(decoding: try Files.read(scratch.file("s.json")), as: UTF8.self)
            #expect(!stats.contains("\"spills\": 2,"), "the budget should force more spills: \(stats)")
        }
    }

    @Test("a task that kills every worker fails the job, naming its input")
    func poisonTask() throws {
        let scratch = try TemporaryDirectory("deadly")
        defer { scratch.remove() }
        try scratch.write("input/fine.txt", "ordinary words\n")
        try scratch.write("input/poison.txt", "these words kill workers\n")
        let temporary = scratch.file("tmp")
        _ = try ChildProcess.run("/bin/mkdir", ["-p", temporary])
        let result = try TestEnvironment.mapreduce(
            ["wordcount", "--workers", "2", "--output", scratch.file("out.tsv"), scratch.file("input")],
            environment: ["MAPREDUCE_FAULT_INJECTION": "kill-on-map=poison.txt", "TMPDIR": temporary]
        )
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("poison.txt"), "\(result)")
        #expect(result.stderr.contains("killed 3 workers"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(!Files.exists(scratch.file("out.tsv")))
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
    }

    @Test("a worker killed from outside mid-job is replaced and the output is identical")
    func workerKilledFromOutside() throws {
        let scratch = try TemporaryDirectory("sigkill")
        defer { scratch.remove() }
        let arguments = ["wordcount", "--workers", "2", "--chunksize", "1M", "--top", "5"]
        let baseline = try TestEnvironment.mapreduce(arguments + ["--output", scratch.file("a.tsv"), Self.bigCorpus])
        try #require(baseline.status == 0, "\(baseline)")
        // Every map task stalls 30 ms, so that the job (about 96 tasks on 2 workers) is surely still
        // mapping when the kill lands, however loaded the machine is.
        let job = try ChildProcess(
            TestEnvironment.binary,
            arguments + [
                "--output", scratch.file("b.tsv"), "--stats-json", scratch.file("stats.json"), Self.bigCorpus,
            ],
            environment: ["MAPREDUCE_FAULT_INJECTION": "stall-on-map=mapreduce-tests-big-corpus@30"]
        )
        let workers = self.waitForWorkers(of: job.processID, count: 2)
        pause(milliseconds: 40)
        let victim = try #require(workers.first)
        #expect(ProcessTree.isAlive(victim) && kill(victim, SIGKILL) == 0, "the worker was gone before the kill")
        let result = job.wait()
        #expect(result.status == 0, "\(result)")
        #expect(try Files.read(scratch.file("b.tsv")) == Files.read(scratch.file("a.tsv")))
        #expect(result.stdout == baseline.stdout)
        let stats = String(decoding: try Files.read(scratch.file("stats.json")), as: UTF8.self)
        #expect(stats.contains("\"workers_lost\": 1"), "\(stats)")
        self.expectGone(workers)
    }

    @Test(
        "HUP, INT, QUIT, TERM and USR1 stop the job: exit 128 + the signal, no output, no temporary files, no workers",
        arguments: [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1]
    )
    func interrupted(signal: Int32) throws {
        let scratch = try TemporaryDirectory("interrupt")
        defer { scratch.remove() }
        let temporary = scratch.file("tmp")
        _ = try ChildProcess.run("/bin/mkdir", ["-p", temporary])
        let job = try ChildProcess(
            TestEnvironment.binary,
            [
                "wordcount", "--workers", "2", "--chunksize", "256K", "--output", scratch.file("out.tsv"),
                Self.bigCorpus,
            ],
            environment: ["TMPDIR": temporary]
        )
        let workers = self.waitForWorkers(of: job.processID, count: 2)
        #expect(workers.count == 2)
        pause(milliseconds: 30)
        job.signal(signal)
        let result = job.wait()
        #expect(result.status == 128 + signal, "\(result)")
        #expect(result.stderr.contains("nothing written"), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(!Files.exists(scratch.file("out.tsv")))
        #expect(Files.list(scratch.path) == ["tmp"], "\(Files.list(scratch.path))")
        #expect(Files.list(temporary).isEmpty, "temporary files left: \(Files.list(temporary))")
        self.expectGone(workers)
    }

    @Test("workers never outlive a coordinator that is killed")
    func coordinatorKilled() throws {
        let scratch = try TemporaryDirectory("orphans")
        defer { scratch.remove() }
        let job = try ChildProcess(
            TestEnvironment.binary,
            ["wordcount", "--workers", "2", "--chunksize", "256K", Self.bigCorpus],
            environment: ["TMPDIR": scratch.path]
        )
        let workers = self.waitForWorkers(of: job.processID, count: 2)
        #expect(workers.count == 2)
        pause(milliseconds: 20)
        job.signal(SIGKILL)
        _ = job.wait()
        self.expectGone(workers)
    }
}
