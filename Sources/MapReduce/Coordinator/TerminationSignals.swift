import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#else
#error("The MapReduce engine needs a POSIX C library (Glibc, Musl or Darwin).")
#endif

/// Turns SIGINT and SIGTERM into task cancellation, so that a job stops its workers, removes its temporary
/// files and writes no output before the program exits.
public enum TerminationSignals {
    /// Thrown by ``run(_:)`` when a signal cancelled the work.
    public struct Received: Error, Sendable, CustomStringConvertible {
        /// The signal number, such as `SIGINT`.
        public var signal: Int32
        /// The conventional exit status for it (130 for SIGINT).
        public var exitStatus: Int32 { 128 + self.signal }
        public var description: String { "interrupted by \(signalName(self.signal))" }
    }

    /// Runs `body` in a task that the first SIGINT or SIGTERM cancels; a second one exits at once.
    /// - Returns: What `body` returned, if no signal arrived.
    /// - Throws: ``Received`` if a signal arrived (after `body` has finished unwinding), else what `body`
    ///   threw.
    public static func run<R: Sendable>(_ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let task = Task { try await body() }
        self.install { task.cancel() }
        let result = await task.result
        if let signal = received.withLock({ $0 }) { throw Received(signal: signal) }
        return try result.get()
    }

    private static let received = Mutex<Int32?>(nil)
    private static let onSignal = Mutex<(@Sendable () -> Void)?>(nil)

    /// Installs the handlers once; they write the signal number to a pipe that a thread watches.
    private static func install(_ action: @escaping @Sendable () -> Void) {
        onSignal.withLock { $0 = action }
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
                    let signal = Int32(byte)
                    let first = TerminationSignals.received.withLock { current -> Bool in
                        if current != nil { return false }
                        current = signal
                        return true
                    }
                    if first {
                        TerminationSignals.onSignal.withLock { $0 }?()
                    } else {
                        _exit(128 + signal)
                    }
                }
            },
            readEnd
        )
        guard created == 0 else { return }
        pthread_detach(thread)
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }
}

/// The pipe the signal handler writes to; set once, before the handlers are installed, and only read
/// afterwards (from the handler, where nothing but `write` is safe).
nonisolated(unsafe) private var signalPipeWriteEnd: CInt = -1
