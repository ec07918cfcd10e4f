import Synchronization

/// Turns the signals that ask a program to stop (SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
/// SIGXCPU, SIGALRM) into task cancellation, so that a job stops its workers, removes its temporary files
/// and writes no output before the program exits with the conventional status, 128 + the signal's number.
///
/// A second such signal does not wait for the job to unwind: it kills the workers, removes the temporary
/// files (see `EmergencyCleanup`) and exits at once. SIGPIPE and SIGXFSZ are ignored while `body` runs,
/// so that a closed pipe or a file size limit is an error the program reports (`EPIPE`, `EFBIG`) rather
/// than a silent death that leaves files behind.
public enum TerminationSignals {
    /// Thrown by ``run(_:)`` when a signal cancelled the work.
    public struct Received: Error, Sendable, CustomStringConvertible {
        /// The signal number, such as `SIGINT`.
        public var signal: Int32
        /// Whether `body` had already returned when the signal was handled: its work (an output file,
        /// say) is complete, though the program was then asked to stop.
        public var workCompleted: Bool
        /// The conventional exit status for it (130 for SIGINT).
        public var exitStatus: Int32 { 128 + self.signal }
        /// `interrupted by SIGINT`, say: the line a program prints.
        public var description: String { "interrupted by \(signalName(self.signal))" }

        /// Describes a signal.
        public init(signal: Int32, workCompleted: Bool) {
            self.signal = signal
            self.workCompleted = workCompleted
        }
    }

    /// The signals handled.
    public static let handled: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGXCPU, SIGALRM]

    /// Runs `body` in a task that the first stopping signal cancels; a second one exits at once.
    /// - Returns: What `body` returned, if no signal arrived.
    /// - Throws: ``Received`` if a signal arrived (after `body` has finished unwinding), else what `body`
    ///   threw.
    public static func run<R: Sendable>(_ body: @escaping @Sendable () async throws -> R) async throws -> R {
        // The handlers go in before the work starts: a signal that lands as the job makes its first
        // files must find them, not the default action that would leave those files behind.
        let started = Mutex<(task: Task<R, any Error>?, cancelled: Bool)>((nil, false))
        self.install {
            let task = started.withLock { started in
                started.cancelled = true
                return started.task
            }
            task?.cancel()
        }
        let task = Task { try await body() }
        if started.withLock({ started in
            started.task = task
            return started.cancelled
        }) {
            task.cancel()
        }
        let result = await task.result
        let completed = (try? result.get()) != nil
        // From here on a signal is not cancellation any more: one that arrives later is left pending, and
        // the caller decides what the program says.
        if let signal = state.withLock({ state -> Int32? in
            state.bodyEnded = true
            return state.received
        }) {
            throw Received(signal: signal, workCompleted: completed)
        }
        return try result.get()
    }

    /// The first signal that arrived after `body` ended, if any; the caller may report it.
    public static var receivedAfterWork: Int32? {
        state.withLock { $0.bodyEnded ? $0.received : nil }
    }

    /// Writes the program's one line about the signal that stopped it (`mapreduce: interrupted by
    /// SIGINT; stopped, nothing written`) to standard error. A further signal that arrives after it still
    /// ends the program at once, but without a second line; one that came before ends the program with
    /// its own line, and this call does not return.
    public static func reportStop(_ line: String) {
        var text = line
        if !text.hasSuffix("\n") { text += "\n" }
        state.withLock { state in
            text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
            state.reported = true
        }
    }

    private struct State {
        var received: Int32?
        var bodyEnded = false
        /// The program's line about the stop is written (``reportStop(_:)``).
        var reported = false
        var onSignal: (@Sendable () -> Void)?
        var installed = false
    }

    private static let state = Mutex(State())

    /// Installs the handlers once; they write the signal number to a pipe that a thread watches.
    private static func install(_ action: @escaping @Sendable () -> Void) {
        let first = state.withLock { state -> Bool in
            state.onSignal = action
            state.received = nil
            state.bodyEnded = false
            defer { state.installed = true }
            return !state.installed
        }
        guard first else { return }
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipeWriteEnd = fds[1]
        var thread = pthread_t()
        let readEnd = UnsafeMutablePointer<CInt>.allocate(capacity: 1)
        readEnd.pointee = fds[0]
        let created = pthread_create(
            &thread,
            nil,
            { argument in
                let fd = argument!.assumingMemoryBound(to: CInt.self).pointee
                var byte: UInt8 = 0
                while true {
                    let n = read(fd, &byte, 1)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return nil }
                    TerminationSignals.handle(Int32(byte))
                }
            },
            readEnd
        )
        guard created == 0 else { return }
        pthread_detach(thread)
        for signal in handled {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    /// On the watching thread: the first signal cancels the work, a second one ends the program now.
    private static func handle(_ signal: Int32) {
        // The second signal does all its work under the lock, so that ``reportStop(_:)`` cannot write a
        // line between its cleanup and its exit, nor the program exit before it says why.
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            guard let first = state.received else {
                state.received = signal
                return state.bodyEnded ? nil : state.onSignal
            }
            EmergencyCleanup.shared.runNow()
            // The program has already said why it stops: a second line would contradict it.
            if state.reported { _exit(128 + first) }
            let line = "mapreduce: interrupted by \(signalName(signal)) again; stopped at once\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            _exit(128 + signal)
        }
        action?()
    }
}

/// The pipe the signal handler writes to; set once, before the handlers are installed, and only read
/// afterwards (from the handler, where nothing but `write` is safe).
nonisolated(unsafe) private var signalPipeWriteEnd: CInt = -1
