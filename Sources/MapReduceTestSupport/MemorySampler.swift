import Synchronization

#if canImport(Glibc)
@preconcurrency public import Glibc
#elseif canImport(Musl)
@preconcurrency public import Musl
#elseif canImport(Darwin)
public import Darwin
#else
#error("The test support needs a POSIX C library (Glibc, Musl or Darwin).")
#endif

/// Samples, from `/proc`, the peak resident memory (`VmHWM`) of a process and of every process below it
/// while it runs, so that a test can check what a whole job tree used.
public final class MemorySampler: Sendable {
    private let root: pid_t
    private let state = Mutex<(peaks: [pid_t: Int], running: Bool)>(([:], true))

    /// Starts sampling `root` and its descendants every few milliseconds, on a thread of its own.
    public init(root: pid_t) {
        self.root = root
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread,
            nil,
            { raw in
                let sampler = Unmanaged<MemorySampler>.fromOpaque(raw!).takeRetainedValue()
                while sampler.state.withLock({ $0.running }) {
                    sampler.sample()
                    usleep(2000)
                }
                return nil
            },
            box
        )
        pthread_detach(thread)
    }

    /// Stops sampling; returns each process's peak, in bytes.
    @discardableResult
    public func stop() -> [pid_t: Int] {
        self.state.withLock { state in
            state.running = false
            return state.peaks
        }
    }

    /// The coordinator's peak, in bytes.
    public var rootPeak: Int { self.state.withLock { $0.peaks[self.root] ?? 0 } }

    /// The largest peak of any process below the root (a worker), in bytes.
    public var largestChildPeak: Int {
        self.state.withLock { state in state.peaks.filter { $0.key != self.root }.values.max() ?? 0 }
    }

    private func sample() {
        var pending = [self.root]
        var found: [pid_t: Int] = [:]
        while let pid = pending.popLast() {
            if let peak = Self.peakResident(of: pid) { found[pid] = peak }
            pending += ProcessTree.children(of: pid)
        }
        self.state.withLock { state in
            for (pid, peak) in found { state.peaks[pid] = max(state.peaks[pid] ?? 0, peak) }
        }
    }

    /// `VmHWM` of a live process, in bytes.
    static func peakResident(of pid: pid_t) -> Int? {
        guard let bytes = try? Files.read("/proc/\(pid)/status") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst(6).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}
