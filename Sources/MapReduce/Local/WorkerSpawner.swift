import CMapReduceShims
import SystemPackage

/// Starts worker processes: `posix_spawn` of an executable (our own, by default), never a bare `fork()`.
enum WorkerSpawner {
    /// Spawns `executable arguments…` with `channel` as its descriptor 3 and default signal handling.
    /// Descriptors this process inherited without close-on-exec (say, a pipe of the shell or test harness
    /// that started it) are closed in the child, so that a worker never holds someone else's pipe open.
    static func spawn(executable: String, arguments: [String], channel: CInt) throws -> pid_t {
        var channel = channel
        var moved: CInt = -1
        if channel == WorkerProcess.channelDescriptor {
            // dup2 onto itself would keep close-on-exec set; move it out of the way first.
            moved = fcntl(channel, F_DUPFD_CLOEXEC, 10)
            guard moved >= 0 else { throw spawnError(errno, executable) }
            channel = moved
        }
        defer { if moved >= 0 { close(moved) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, channel, WorkerProcess.channelDescriptor)
        // Everything above the channel closes in the child: all at once where the C library can (race
        // free: a descriptor another thread opens meanwhile is covered too), else by the list open now.
        if mapreduce_spawn_close_from(&actions, WorkerProcess.channelDescriptor + 1) != 0 {
            for fd in inheritableDescriptors() where fd > WorkerProcess.channelDescriptor && fd != channel {
                posix_spawn_file_actions_addclose(&actions, fd)
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { for pointer in argv { free(pointer) } }
        var argvNullTerminated = argv + [nil]
        let environment = workerEnvironment()
        defer { for pointer in environment { free(pointer) } }
        var environmentNullTerminated = environment + [nil]
        var pid = pid_t()
        let result = argvNullTerminated.withUnsafeMutableBufferPointer { argvBuffer in
            environmentNullTerminated.withUnsafeMutableBufferPointer { environmentBuffer in
                posix_spawn(
                    &pid,
                    executable,
                    &actions,
                    &attributes,
                    argvBuffer.baseAddress!,
                    environmentBuffer.baseAddress!
                )
            }
        }
        guard result == 0 else { throw spawnError(result, executable) }
        return pid
    }

    /// The variable that tells a new process it was started as a worker (see ``WorkerProcess``).
    static let workerMarker = "MAPREDUCE_WORKER_OF"

    /// This process's environment for a worker, plus two entries: the worker marker (the coordinator's
    /// pid), and, unless the user chose otherwise, `SWIFT_BACKTRACE=enable=no`, because a worker's crash is
    /// reported by the coordinator in one line, and a backtrace of a hundred lines on the user's terminal
    /// would bury it.
    static func workerEnvironment() -> [UnsafeMutablePointer<CChar>?] {
        var entries: [UnsafeMutablePointer<CChar>?] = []
        var hasBacktraceSetting = false
        var cursor = environ
        while let entry = cursor.pointee {
            cursor += 1
            if strncmp(entry, workerMarker + "=", workerMarker.utf8.count + 1) == 0 { continue }
            if strncmp(entry, "SWIFT_BACKTRACE=", 16) == 0 { hasBacktraceSetting = true }
            entries.append(strdup(entry))
        }
        entries.append(strdup("\(workerMarker)=\(getpid())"))
        if !hasBacktraceSetting { entries.append(strdup("SWIFT_BACKTRACE=enable=no")) }
        return entries
    }

    /// Open descriptors above standard error that an exec would pass on.
    static func inheritableDescriptors() -> [CInt] {
        guard let names = try? Syscall.listDirectory("/proc/self/fd") else { return [] }
        return names.compactMap { CInt($0) }.filter { fd in
            guard fd > STDERR_FILENO else { return false }
            let flags = fcntl(fd, F_GETFD)
            return flags >= 0 && flags & FD_CLOEXEC == 0
        }
    }

    static func spawnError(_ code: CInt, _ executable: String) -> MapReduceError {
        let exhausted = [EAGAIN, ENOMEM, EMFILE, ENFILE].contains(code)
        let hint = code == EAGAIN ? " (too many processes: see ulimit -u)" : ""
        return MapReduceError(
            exhausted ? .systemResources : .workerDied,
            "cannot start a worker process (\(executable)): \(Errno(rawValue: code).message)\(hint)"
        )
    }

    /// Waits up to `grace` for `pid` to exit, then sends SIGTERM, waits again, then SIGKILL; always reaps.
    static func terminate(_ pid: pid_t, grace: Duration = .seconds(2)) async -> ExitStatus {
        if let status = await waitForExit(pid, within: grace) { return status }
        Syscall.kill(pid, SIGTERM)
        if let status = await waitForExit(pid, within: grace) { return status }
        Syscall.kill(pid, SIGKILL)
        let status = (try? Syscall.wait(pid, block: true)) ?? nil
        return status.map(ExitStatus.init(waitStatus:)) ?? .signalled(SIGKILL)
    }

    /// Polls for `pid`'s exit without blocking a thread; nil if it is still running after `within`.
    static func waitForExit(_ pid: pid_t, within: Duration) async -> ExitStatus? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: within)
        var pause = Duration.microseconds(200)
        while true {
            do {
                if let status = try Syscall.wait(pid, block: false) { return ExitStatus(waitStatus: status) }
            } catch {
                // ECHILD: already reaped by someone else; nothing left to wait for.
                return .exited(0)
            }
            if clock.now >= deadline { return nil }
            if Task.isCancelled {
                // A cancelled task's sleep returns at once; block briefly instead of spinning.
                usleep(UInt32(pause.components.attoseconds / 1_000_000_000_000))
            } else {
                try? await Task.sleep(for: pause)
            }
            pause = min(pause * 2, .milliseconds(20))
        }
    }
}
