import Synchronization

/// What a job leaves on the machine while it runs (its temporary directory, an output file's temporary
/// file, its worker processes), kept where an abrupt exit can still find it.
///
/// A job removes all of this itself when it ends, fails or is cancelled. This list is for the exits that
/// cannot wait for that: a second Ctrl-C, which must stop the program at once.
package final class EmergencyCleanup: Sendable {
    package static let shared = EmergencyCleanup()

    private struct State {
        var directories: Set<String> = []
        var files: Set<String> = []
        var processes: Set<Int32> = []
    }

    private let state = Mutex(State())

    package func add(directory: String) { self.state.withLock { _ = $0.directories.insert(directory) } }
    package func remove(directory: String) { self.state.withLock { _ = $0.directories.remove(directory) } }
    package func add(file: String) { self.state.withLock { _ = $0.files.insert(file) } }
    package func remove(file: String) { self.state.withLock { _ = $0.files.remove(file) } }
    package func add(process: Int32) { self.state.withLock { _ = $0.processes.insert(process) } }
    package func remove(process: Int32) { self.state.withLock { _ = $0.processes.remove(process) } }

    /// What is registered now (for tests).
    package var registered: (directories: Set<String>, files: Set<String>, processes: Set<Int32>) {
        self.state.withLock { ($0.directories, $0.files, $0.processes) }
    }

    /// Kills every registered process (and waits for it, so that it writes nothing more), then removes
    /// every registered file and directory. For the way out when the program cannot unwind.
    package func runNow() {
        let state = self.state.withLock { $0 }
        for pid in state.processes { Syscall.kill(pid, Signal.kill) }
        for pid in state.processes { _ = try? Syscall.wait(pid, block: true) }
        for file in state.files { Syscall.unlink(file) }
        // The job's own threads still run meanwhile (spooling standard input, say) and may create a file
        // in a directory as it goes, so that removing the directory fails: remove it again until it is gone.
        for directory in state.directories {
            for _ in 0..<100 {
                Syscall.removeTree(directory)
                guard case .some(.some) = try? Syscall.statIfExists(directory, followingLinks: false) else { break }
                Syscall.sleep(milliseconds: 1)
            }
        }
    }
}
