extension Streaming {
    /// Reads and discards the rest of a failed step's input, so that the process writing it sees its
    /// writes succeed and the step's error, not a broken pipe, is what the job reports.
    ///
    /// A step that exits while its writer (Spark, Hadoop, a shell pipeline) is still feeding it leaves
    /// that writer's next write failing with `EPIPE`: Spark then reports a bare `Broken pipe` and drops
    /// the step's standard error. The steps call this themselves before they throw (see
    /// ``Options/drainsInputOnError``); a program that prints the error first turns that off and calls
    /// this after printing, as the `mapreduce` tool does.
    ///
    /// Reads through one fixed buffer until the end of the stream, so memory stays flat however much is
    /// left, and stops at the first read error. Only a pipe, a FIFO or a socket is read: a regular file
    /// is moved to its end instead (no writer waits on it), and a terminal or other device is left alone,
    /// since reading it would wait for a user.
    /// - Parameter descriptor: The input, standard input by default; not closed.
    public static func drainInput(_ descriptor: CInt = STDIN_FILENO) {
        guard let info = try? Syscall.fstat(descriptor) else { return }
        switch info.st_mode & S_IFMT {
        case S_IFIFO, S_IFSOCK:
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer { buffer.deallocate() }
            while let count = try? Syscall.read(descriptor, buffer), count > 0 {}
        case S_IFREG:
            _ = lseek(descriptor, 0, SEEK_END)
        default:
            return
        }
    }

    /// Runs a step writing to `output`, which the step's writer owns from the first line on, so that
    /// every way out closes it exactly once. When the step fails with anything but a broken output pipe,
    /// drains its input (if `options` say so) before rethrowing. A broken output pipe means the reader
    /// downstream has gone, as `head` does: the step then stops at once, as a pipeline stage should.
    @inlinable
    static func runStep(
        input: CInt,
        output: CInt,
        options: Options,
        _ step: (BufferedFileWriter) throws -> Void
    ) throws {
        let writer = BufferedFileWriter(descriptor: output, name: "standard output")
        do {
            try step(writer)
        } catch {
            if options.drainsInputOnError && !Self.isBrokenOutput(error) { Self.drainInput(input) }
            throw error
        }
    }

    /// Whether `error` is a write into a pipe whose reader has gone (`EPIPE`).
    @usableFromInline
    static func isBrokenOutput(_ error: any Error) -> Bool {
        (error as? MapReduceError)?.errorNumber == EPIPE
    }
}
