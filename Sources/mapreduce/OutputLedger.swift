import MapReduce

/// What a command has written, so that its last line can tell the truth: which files were committed, and
/// which direct destinations (a FIFO, a pipe, a device) received part of an output before the job stopped.
///
/// `@unchecked Sendable`: the files are set and used by the job's task, and read by the command only after
/// that task has ended (``TerminationSignals/run(_:)`` awaits it); nothing touches them concurrently.
final class OutputLedger: @unchecked Sendable {
    private var files: [OutputFile] = []

    /// Records the destinations the work opened.
    func opened(_ files: OutputFile?...) {
        self.files = files.compactMap { $0 }
    }

    /// Commits a file.
    func commit(_ file: OutputFile?) throws {
        try file?.commit()
    }

    /// Whether the dump went to standard output.
    var dumpWentToStandardOutput: Bool {
        self.files.contains { $0.role == "output file" && $0.isStandardOutput }
    }

    /// "writing the output file counts.tsv", or "the job had finished" when nothing was asked for.
    func summary(complete: Bool) -> String {
        if complete {
            let written = self.files.filter(\.isCommitted).map { "the \($0.role) \($0.destination)" }
            return written.isEmpty ? "the job had finished" : "writing " + written.joined(separator: " and ")
        }
        return self.partialSummary ?? "nothing written"
    }

    /// Direct destinations that received part of their output, or nil.
    var partialSummary: String? {
        let partial = self.files.filter { $0.isDirect && !$0.isCommitted && $0.bytesDelivered > 0 }
        guard !partial.isEmpty else { return nil }
        return partial.map { "the \($0.role) \($0.destination) received part of its output, not all" }
            .joined(separator: " and ")
    }
}
