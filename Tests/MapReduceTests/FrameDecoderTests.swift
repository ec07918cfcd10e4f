import MapReduce
import NIOCore
import NIOTestUtils
import Testing

/// ``FrameDecoder``'s bounds: frames split anywhere, several at once, lengths over the limit refused as
/// soon as the header is in (never after buffering the payload), and a stream that ends inside a frame.
@Suite("Frame decoder bounds")
struct FrameDecoderTests {
    static let limit = 64

    /// A frame's bytes on the wire.
    static func wire(_ frame: Frame) -> ByteBuffer {
        ByteBuffer(bytes: Frame.header(kind: frame.kind, payloadCount: frame.payload.count) + frame.payload)
    }

    /// A header announcing `length` bytes, which need not follow.
    static func header(kind: UInt8 = 2, length: UInt32) -> [UInt8] {
        withUnsafeBytes(of: length.bigEndian) { Array($0) } + [kind]
    }

    /// Runs the decoder over `pieces`, then the end of the stream; returns the frames it produced.
    static func decode(_ pieces: [[UInt8]], limit: Int = Self.limit) throws -> [Frame] {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: limit))
        var frames: [Frame] = []
        for piece in pieces {
            try processor.process(buffer: ByteBuffer(bytes: piece)) { frames.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { frames.append($0) }
        return frames
    }

    @Test("frames split at every byte boundary, one or several to a buffer, decode the same")
    func verifier() throws {
        let frames = [
            Frame(kind: 1, payload: []),
            Frame(kind: 2, payload: [7]),
            Frame(kind: 64, payload: Array(0..<20)),
            Frame(kind: 255, payload: Array(repeating: 0xAB, count: Self.limit)),
        ]
        // Each input is one frame, two frames in one buffer, or a frame with an empty one behind it.
        var pairs = frames.map { (Self.wire($0), [$0]) }
        var two = Self.wire(frames[2])
        two.writeImmutableBuffer(Self.wire(frames[3]))
        pairs.append((two, [frames[2], frames[3]]))
        var trailingEmpty = Self.wire(frames[1])
        trailingEmpty.writeImmutableBuffer(Self.wire(frames[0]))
        pairs.append((trailingEmpty, [frames[1], frames[0]]))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(limit: Self.limit) }
    }

    @Test("a stream handed over in pieces of every size decodes to the same frames")
    func everySplit() throws {
        let frames = [
            Frame(kind: 3, payload: Array(0..<10)), Frame(kind: 4, payload: []), Frame(kind: 5, payload: [9]),
        ]
        let stream = frames.flatMap { Array(buffer: Self.wire($0)) }
        for cut in 0...stream.count {
            #expect(try Self.decode([Array(stream[..<cut]), Array(stream[cut...])]) == frames)
        }
        for size in 1...stream.count {
            let pieces = stride(from: 0, to: stream.count, by: size).map {
                Array(stream[$0..<min($0 + size, stream.count)])
            }
            #expect(try Self.decode(pieces) == frames)
        }
    }

    @Test(
        "a length over the limit is refused as soon as the header is in, with no payload sent",
        arguments: [UInt32(65), 128, UInt32(Int32.max), UInt32.max]
    )
    func overLimit(length: UInt32) throws {
        let header = Self.header(length: length)
        // The whole header at once, then byte by byte: refused at the fifth byte, before any payload.
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: Self.limit))
        #expect(throws: MapReduceError.self) {
            try processor.process(buffer: ByteBuffer(bytes: header)) { _ in Issue.record("decoded a frame") }
        }
        let dripped = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: Self.limit))
        for byte in header.dropLast() {
            try dripped.process(buffer: ByteBuffer(bytes: [byte])) { _ in Issue.record("decoded a frame") }
        }
        #expect(throws: MapReduceError.self) {
            try dripped.process(buffer: ByteBuffer(bytes: [header.last!])) { _ in Issue.record("decoded a frame") }
        }
    }

    @Test("UInt32.max is refused at the local pipe's limit too, and the limit itself is accepted")
    func localLimit() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: Frame.localPayloadLimit))
        #expect(throws: MapReduceError.self) {
            try processor.process(buffer: ByteBuffer(bytes: Self.header(length: .max))) { _ in }
        }
        let atLimit = Frame(kind: 9, payload: Array(repeating: 1, count: Self.limit))
        #expect(try Self.decode([Array(buffer: Self.wire(atLimit))]) == [atLimit])
        #expect(throws: MapReduceError.self) {
            try Self.decode([Array(buffer: Self.wire(atLimit))], limit: Self.limit - 1)
        }
    }

    @Test("a stream that ends inside a header or a payload is an error at the end of the stream")
    func truncatedAtEOF() throws {
        let frame = Frame(kind: 6, payload: Array(0..<12))
        let bytes = Array(buffer: Self.wire(frame))
        #expect(try Self.decode([]) == [])
        #expect(try Self.decode([bytes]) == [frame])
        for cut in 1..<bytes.count {
            #expect(throws: MapReduceError.self, "cut after \(cut) bytes") {
                try Self.decode([Array(bytes[..<cut])])
            }
            // After a whole frame too: the first one is delivered, then the end of the stream fails.
            var delivered: [Frame] = []
            let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: Self.limit))
            try processor.process(buffer: ByteBuffer(bytes: bytes + bytes[..<cut])) { delivered.append($0) }
            #expect(delivered == [frame])
            #expect(throws: MapReduceError.self) { try processor.finishProcessing(seenEOF: true) { _ in } }
        }
    }

    @Test("the blocking channel and the decoder share one header parser and agree on limits")
    func sharedHeader() throws {
        for length in [0, 1, Self.limit, Self.limit + 1, Int(UInt32.max)] {
            let header = Self.header(kind: 7, length: UInt32(length))
            let parsed = Result { try Frame.parseHeader(header, limit: Self.limit) }
            let decoded = Result {
                try NIOSingleStepByteToMessageProcessor(FrameDecoder(limit: Self.limit))
                    .process(buffer: ByteBuffer(bytes: header)) { _ in }
            }
            switch (parsed, decoded) {
            case (.success(let (kind, parsedLength)), .success):
                #expect(kind == 7 && parsedLength == length && length <= Self.limit)
            case (.failure, .failure):
                #expect(length > Self.limit)
            default:
                Issue.record("the parser and the decoder disagree about a length of \(length)")
            }
        }
    }
}
