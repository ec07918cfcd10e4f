/// Deterministic crashes for testing the engine's recovery, driven by `MAPREDUCE_FAULT_INJECTION`.
///
/// - `kill-on-map=NAME`: a worker SIGKILLs itself whenever it starts mapping an input whose name contains
///   `NAME` (a poison input: the job must fail after the allowed attempts).
/// - `kill-once-on-map=NAME@MARKER`: the same, but only if the file `MARKER` does not exist yet; the worker
///   creates it first, so exactly one worker dies and the job must still produce the right output.
/// - `grow-on-map=NAME`: a worker appends a line to an input whose name contains `NAME` as it starts
///   mapping it, as a writer that keeps appending to a log would (the job must notice and fail).
/// - `crash-on-map=NAME`: a worker dies of SIGSEGV whenever it starts mapping such an input (a crash, as
///   a bug in a job's code would cause).
/// - `kill-once-at-start=MARKER`: a worker SIGKILLs itself before its handshake if the file `MARKER` does
///   not exist yet (creating it first): one worker dies as it starts, holding no task.
/// - `truncate-on-map=NAME`: a worker empties such an input after mapping it into memory and before
///   reading it, as someone truncating the file under a running job would: the read dies of SIGBUS.
///
/// Unset, this costs one check of a constant per input split.
@usableFromInline
enum FaultInjection {
    enum Rule {
        case killOnMap(name: String)
        case killOnceOnMap(name: String, marker: String)
        case killOnceAtStart(marker: String)
        case crashOnMap(name: String)
        case truncateOnMap(name: String)
        case growOnMap(name: String)
        case stallOnMap(name: String, milliseconds: Int)
    }

    static let rule: Rule? = {
        guard let spec = environmentValue("MAPREDUCE_FAULT_INJECTION"), !spec.isEmpty else { return nil }
        if spec.hasPrefix("kill-on-map=") {
            return .killOnMap(name: String(spec.dropFirst("kill-on-map=".count)))
        }
        if spec.hasPrefix("kill-once-at-start=") {
            return .killOnceAtStart(marker: String(spec.dropFirst("kill-once-at-start=".count)))
        }
        if spec.hasPrefix("crash-on-map=") {
            return .crashOnMap(name: String(spec.dropFirst("crash-on-map=".count)))
        }
        if spec.hasPrefix("truncate-on-map=") {
            return .truncateOnMap(name: String(spec.dropFirst("truncate-on-map=".count)))
        }
        if spec.hasPrefix("grow-on-map=") {
            return .growOnMap(name: String(spec.dropFirst("grow-on-map=".count)))
        }
        if spec.hasPrefix("stall-on-map=") {
            let rest = spec.dropFirst("stall-on-map=".count)
            guard let at = rest.firstIndex(of: "@"), let milliseconds = Int(rest[rest.index(after: at)...]) else {
                return nil
            }
            return .stallOnMap(name: String(rest[..<at]), milliseconds: milliseconds)
        }
        if spec.hasPrefix("kill-once-on-map=") {
            let rest = spec.dropFirst("kill-once-on-map=".count)
            guard let at = rest.firstIndex(of: "@") else { return nil }
            return .killOnceOnMap(name: String(rest[..<at]), marker: String(rest[rest.index(after: at)...]))
        }
        return nil
    }()

    /// Called by a worker before it reads its hello.
    static func atStart() {
        guard case .killOnceAtStart(let marker) = rule else { return }
        if Syscall.createExclusively(marker) { Syscall.kill(Syscall.processID, Signal.kill) }
    }

    @usableFromInline
    static func beforeMapping(_ inputName: String, path: [UInt8]) {
        guard let rule else { return }
        switch rule {
        case .crashOnMap(let name):
            // raise, not kill: the signal must hit this thread now, not whichever thread takes it later.
            if inputName.contains(name) { Syscall.raise(Signal.segmentationFault) }
        case .truncateOnMap(let name):
            if inputName.contains(name) { Syscall.truncate(path: path) }
        case .killOnMap(let name):
            if inputName.contains(name) { Syscall.kill(Syscall.processID, Signal.kill) }
        case .killOnceOnMap(let name, let marker):
            guard inputName.contains(name) else { return }
            if Syscall.createExclusively(marker) { Syscall.kill(Syscall.processID, Signal.kill) }
        case .killOnceAtStart:
            return
        case .stallOnMap(let name, let milliseconds):
            if inputName.contains(name) { Syscall.sleep(milliseconds: milliseconds) }
        case .growOnMap(let name):
            guard inputName.contains(name), let fd = try? Syscall.openForAppending(path: path) else { return }
            defer { Syscall.close(fd) }
            let line: [UInt8] = Array("appended while the job ran\n".utf8)
            _ = line.withUnsafeBytes { try? Syscall.writeFully(fd, $0) }
        }
    }
}
