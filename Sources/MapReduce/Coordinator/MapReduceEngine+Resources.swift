extension MapReduceEngine {
    /// Raises the soft descriptor limit to the hard one and checks that `workers` fit under it: each
    /// worker's socket, the event loops' descriptors, files being read and written. Running out in the
    /// middle of a job would fail deep inside the networking library, with no clean way out.
    static func reserveDescriptors(workers: Int) throws {
        let limit = Syscall.raiseDescriptorLimit()
        let needed = Syscall.openDescriptorCount + 3 * onlineCores + 2 * workers + 24
        guard limit >= UInt64(needed) else {
            throw MapReduceError(
                .systemResources,
                "too few file descriptors: the limit (ulimit -n) is \(limit), and \(workers) workers need about "
                    + "\(needed); raise the limit or use fewer workers"
            )
        }
    }

    /// Raises the soft limit on this user's processes and threads (`ulimit -u`) to the hard one and
    /// checks that the job's threads and workers fit under it: the event loops and the task pool
    /// (a few per core) and two threads per worker. Past it, thread creation fails inside the
    /// networking library, which stops the program with a trap. Other processes of the same user count
    /// against the limit too, so this catches limits that are too small for any job, not all.
    static func reserveProcesses(workers: Int) throws {
        guard let limit = Syscall.raiseProcessLimit() else { return }
        let needed = 2 * onlineCores + 2 * workers + 4
        guard limit >= UInt64(needed) else {
            throw MapReduceError(
                .systemResources,
                "too few processes allowed: the limit (ulimit -u) is \(limit), and \(workers) workers need at "
                    + "least \(needed) threads and processes; raise the limit or use fewer workers"
            )
        }
    }

    /// What the file system holding `directory` has free, less a reserve of a tenth of its size (at least
    /// 1 GiB): the default ``Configuration/spoolLimit``.
    static func defaultSpoolLimit(directory: String) -> Int {
        guard let (available, size) = try? Syscall.fileSystemSpace(directory) else { return .max }
        return max(0, available - max(1 << 30, size / 10))
    }

    func makeWorkDirectory() throws -> String {
        var base = self.configuration.temporaryDirectory ?? environmentValue("TMPDIR") ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        do {
            return try Syscall.makeTemporaryDirectory(template: "\(base)/mapreduce-\(Syscall.processID)-XXXXXX")
        } catch {
            throw MapReduceError(.io, "cannot create the job's temporary directory: \(error.message)", input: base)
        }
    }
}

extension MapReduceEngine {
    /// The job's encoded parameters, once checked to survive the trip to a worker: decoding them and
    /// encoding the result again must give the same bytes. A hand-written ``WireCodable/encode(into:)``
    /// and ``WireCodable/init(decoding:)`` that disagree (fields in another order, one forgotten) fail
    /// here, on the first run, in-process runs included.
    static func checkedParameters<J: MapReduceJob>(of job: J) throws -> [UInt8] {
        let parameters = job.encodedBytes
        let again: [UInt8]
        do {
            again = try parameters.withUnsafeBytes { try J(encodedBytes: $0) }.encodedBytes
        } catch {
            throw MapReduceError(
                .usage,
                "\(J.self)'s parameters do not decode: its init(decoding:) does not read what its "
                    + "encode(into:) writes (\(describeError(error)))"
            )
        }
        guard again == parameters else {
            throw MapReduceError(
                .usage,
                "\(J.self)'s encode(into:) and init(decoding:) disagree: its parameters change on the way to a "
                    + "worker (\(parameters.count) bytes written, \(again.count) after decoding and writing them again)"
            )
        }
        return parameters
    }
}
