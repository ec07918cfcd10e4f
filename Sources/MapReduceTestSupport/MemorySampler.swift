import Synchronization

/// Samples the anonymous memory (`RssAnon` in `/proc/<pid>/status`) of a process and of its children
/// on a thread of its own, about every millisecond, and keeps each process's peak.
///
/// Anonymous memory is what a process allocates itself; files it maps (its input, spills) are page
/// cache and do not count. Sampling can miss a peak shorter than its interval, never make one up.
public final class MemorySampler: Sendable {
    struct State {
        var running = true
        var peaks: [pid_t: Int] = [:]
    }

    /// The process whose tree is sampled.
    public let processID: pid_t
    private let state = Mutex(State())
    private let thread = Mutex<pthread_t?>(nil)

    /// Starts sampling `pid` and its children.
    public init(_ pid: pid_t) {
        self.processID = pid
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(
            &thread,
            nil,
            { raw in
                let sampler = Unmanaged<MemorySampler>.fromOpaque(raw!).takeRetainedValue()
                sampler.run()
                return nil
            },
            box
        )
        self.thread.withLock { $0 = thread }
    }

    private func run() {
        while self.state.withLock({ $0.running }) {
            var sample: [pid_t: Int] = [:]
            for pid in [self.processID] + ProcessTree.children(of: self.processID) {
                if let bytes = Self.anonymousBytes(of: pid) { sample[pid] = bytes }
            }
            self.state.withLock { state in
                for (pid, bytes) in sample { state.peaks[pid] = max(state.peaks[pid] ?? 0, bytes) }
            }
            usleep(1000)
        }
    }

    /// Stops sampling; returns the peak of the process and of each child seen, in bytes.
    public func stop() -> (process: Int, children: [pid_t: Int]) {
        self.state.withLock { $0.running = false }
        if let thread = self.thread.withLock({ $0 }) { pthread_join(thread, nil) }
        var peaks = self.state.withLock { $0.peaks }
        let process = peaks.removeValue(forKey: self.processID) ?? 0
        return (process, peaks)
    }

    /// `RssAnon` of `pid`, in bytes; nil if it is gone.
    public static func anonymousBytes(of pid: pid_t) -> Int? {
        guard let bytes = try? Files.read("/proc/\(pid)/status") else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("RssAnon:") {
            guard let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}
