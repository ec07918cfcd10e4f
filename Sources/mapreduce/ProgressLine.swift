import MapReduce
import Synchronization

/// The live progress line on standard error: phase, a bar, bytes, speed, tasks, workers and peers, and
/// the time left; drawn in place once the job has run half a second, at most four times a second (the
/// engine's ticks), and replaced by one summary line when the job ends.
final class ProgressLine: Sendable {
    private struct State {
        var shown = false
        var finished = false
        var last: JobProgress?
    }

    private let state = Mutex(State())

    /// Whether a line should be drawn: `always`, or `auto` on a terminal (and never with --quiet).
    static func wanted(_ setting: String, quiet: Bool) -> Bool {
        switch setting {
        case "always": true
        case "never": false
        default: !quiet && isatty(STDERR_FILENO) == 1
        }
    }

    /// Takes one report from the engine.
    func report(_ progress: JobProgress) {
        self.state.withLock { state in
            guard !state.finished, progress.elapsed >= .milliseconds(500) else { return }
            state.last = progress
            state.shown = true
            Self.write("\r" + Self.line(progress, width: Self.terminalWidth()) + "\u{1B}[K")
        }
    }

    /// Clears the line, then, if it was shown, leaves `summary` in its place; draws nothing after this.
    func finish(summary: String?) {
        self.state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            guard state.shown else { return }
            Self.write("\r\u{1B}[K" + (summary.map { $0 + "\n" } ?? ""))
        }
    }

    /// The line left when the job is done: `done  268.4 MB in 2.1 s, 128 MB/s; 41 map and 64 reduce tasks
    /// on 2 workers; 26058 keys`.
    static func summary(_ statistics: JobStatistics) -> String {
        let workers = statistics.slots.filter { !$0.isPeer }.count
        let peers = statistics.slots.filter(\.isPeer).count
        var slots = workers == 1 ? "1 worker" : "\(workers) workers"
        if peers > 0 { slots += peers == 1 ? " and 1 peer" : " and \(peers) peers" }
        let seconds = (statistics.elapsedSeconds * 10).rounded() / 10
        return "done  \(megabytes(statistics.inputBytes)) MB in \(seconds) s, "
            + "\(Int(statistics.megabytesPerSecond)) MB/s; \(statistics.mapTasks) map and \(statistics.reduceTasks) "
            + "reduce tasks on \(slots); \(statistics.outputKeys) keys"
    }

    /// `map   [########............]  45%  120.3/268.4 MB  134 MB/s  37 tasks  2 workers  ETA 1 s`,
    /// cut to the terminal's width so that it never wraps (a wrapped line cannot be redrawn in place).
    static func line(_ progress: JobProgress, width: Int) -> String {
        let fraction: Double
        var parts: [String] = []
        switch progress.phase {
        case .map:
            fraction = progress.bytesTotal > 0 ? Double(progress.bytesDone) / Double(progress.bytesTotal) : 0
        case .reduce:
            fraction =
                progress.reduceTasksTotal > 0
                ? Double(progress.reduceTasksDone) / Double(progress.reduceTasksTotal) : 0
        case .merge:
            fraction = 1
        }
        let clamped = min(1, max(0, fraction))
        let barWidth = 20
        let filled = Int(clamped * Double(barWidth))
        parts.append(progress.phase.rawValue.padding(to: 6))
        parts.append(
            "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]"
        )
        parts.append(String(Int(clamped * 100)).leftPadding(to: 3) + "%")
        parts.append("\(megabytes(progress.bytesDone))/\(megabytes(progress.bytesTotal)) MB")
        if let speed = progress.bytesPerSecond { parts.append("\(Int(speed / 1e6)) MB/s") }
        switch progress.phase {
        case .map: parts.append("\(progress.mapTasksDone) tasks")
        case .reduce, .merge: parts.append("\(progress.reduceTasksDone)/\(progress.reduceTasksTotal) reduce tasks")
        }
        parts.append(progress.localWorkers == 1 ? "1 worker" : "\(progress.localWorkers) workers")
        if progress.peers > 0 { parts.append(progress.peers == 1 ? "1 peer" : "\(progress.peers) peers") }
        if progress.phase == .map, let speed = progress.bytesPerSecond, speed > 0 {
            let left = Double(progress.bytesTotal - progress.bytesDone) / speed
            parts.append("ETA " + seconds(left))
        }
        let text = parts.joined(separator: "  ")
        let limit = max(10, width - 1)
        return text.count > limit ? String(text.prefix(limit)) : text
    }

    private static func megabytes(_ bytes: Int) -> String {
        let value = Double(bytes) / 1e6
        return value >= 100 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
    }

    private static func seconds(_ value: Double) -> String {
        value < 60 ? "\(Int(value.rounded(.up))) s" : "\(Int(value / 60)) min \(Int(value) % 60) s"
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        self.count >= width ? self : self + String(repeating: " ", count: width - self.count)
    }

    fileprivate func leftPadding(to width: Int) -> String {
        self.count >= width ? self : String(repeating: " ", count: width - self.count) + self
    }
}
