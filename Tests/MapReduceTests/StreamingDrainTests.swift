import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Streaming steps drain their input when they fail")
struct StreamingDrainTests {
    /// Writes bytes into a pipe on a thread of its own, as Spark feeds a step.
    final class PipeWriter: @unchecked Sendable {
        // Safe: `bytes` and `descriptor` are only read on the thread, `written` is written there and read
        // only after `pthread_join`, which orders the two.
        let descriptor: CInt
        let bytes: [UInt8]
        var written = 0
        var thread = pthread_t()

        init(descriptor: CInt, bytes: [UInt8]) {
            self.descriptor = descriptor
            self.bytes = bytes
            let unmanaged = Unmanaged.passRetained(self)
            pthread_create(
                &self.thread,
                nil,
                { raw in
                    let writer = Unmanaged<PipeWriter>.fromOpaque(raw!).takeRetainedValue()
                    writer.bytes.withUnsafeBytes { buffer in
                        while writer.written < buffer.count {
                            let count = write(
                                writer.descriptor,
                                buffer.baseAddress! + writer.written,
                                buffer.count - writer.written
                            )
                            if count <= 0 { break }
                            writer.written += count
                        }
                    }
                    close(writer.descriptor)
                    return nil
                },
                unmanaged.toOpaque()
            )
        }

        /// Waits for the thread; returns how many bytes went through before a write failed.
        func join() -> Int {
            pthread_join(self.thread, nil)
            return self.written
        }
    }

    @Test(
        "a failed step reads its input to the end by default, and only then throws; turned off, it does not",
        arguments: [true, false]
    )
    func drainsInput(drains: Bool) throws {
        // A broken pipe must fail the writer's write, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        var descriptors: [CInt] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        // The step owns `output` and closes it, even when it throws: closing it here too would close
        // whatever file another test running alongside opened under the same number.
        let output = open("/dev/null", O_WRONLY)
        try #require(output >= 0)
        let bytes = Array("b\t1\na\t2\n".utf8) + [UInt8](repeating: 0x78, count: 8 << 20)
        let writer = PipeWriter(descriptor: descriptors[1], bytes: bytes)
        var options = Streaming.Options()
        options.drainsInputOnError = drains
        #expect {
            try Streaming.reduce(LineKeys(), input: descriptors[0], output: output, options: options)
        } throws: { error in
            (error as? MapReduceError)?.message.hasPrefix("line 2 is out of order") == true
        }
        // What the step's exit would do: the writer's next write then fails unless all went through.
        close(descriptors[0])
        let written = writer.join()
        if drains {
            #expect(written == bytes.count)
        } else {
            #expect(written < bytes.count)
        }
    }

    @Test("draining leaves a terminal or other device alone, and moves a regular file to its end")
    func drainsOnlyPipesAndFiles() throws {
        let zero = open("/dev/zero", O_RDONLY)
        defer { close(zero) }
        Streaming.drainInput(zero)  // would never return if it read /dev/zero
        let scratch = try TemporaryDirectory("streaming-drain")
        defer { scratch.remove() }
        let file = open(try scratch.write("in", [UInt8](repeating: 0x61, count: 5000)), O_RDONLY)
        defer { close(file) }
        Streaming.drainInput(file)
        #expect(lseek(file, 0, SEEK_CUR) == 5000)
    }
}

/// A job whose mapper and reducer cannot be made.
struct UnmakeableJob: MapReduceJob, Codable {
    static let name = "unmakeable"

    struct Refused: Error, CustomStringConvertible {
        var description: String { "refused" }
    }

    func makeMapper() throws -> LineKeys.Map { throw Refused() }
    func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
    func makeReducer() throws -> SumReducer<ByteString, Int> { throw Refused() }
}

@Suite("Streaming steps own their output")
struct StreamingOutputTests {
    @Test(
        "a step that fails before reading a line still closes its output, so the reader sees the end",
        arguments: ["map", "combine", "reduce"]
    )
    func closesOutputOnEarlyFailure(step: String) throws {
        var descriptors: [CInt] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        let readEnd = descriptors[0]
        defer { close(readEnd) }
        // Combine makes nothing that can fail, so it gets an input that cannot be read.
        let input = step == "combine" ? CInt(-1) : open("/dev/null", O_RDONLY)
        defer { if input >= 0 { close(input) } }
        #expect(throws: (any Error).self) {
            switch step {
            case "map": try Streaming.map(UnmakeableJob(), input: input, output: descriptors[1])
            case "combine": try Streaming.combine(UnmakeableJob(), input: input, output: descriptors[1])
            default: try Streaming.reduce(UnmakeableJob(), input: input, output: descriptors[1])
            }
        }
        // With the write end closed, poll reports the end at once; left open, it times out.
        var ready = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        try #require(poll(&ready, 1, 5000) == 1)
        var byte: UInt8 = 0
        #expect(read(readEnd, &byte, 1) == 0)
    }
}
