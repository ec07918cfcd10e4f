/// One message on a pipe or connection: `length: UInt32 big-endian | kind: UInt8 | payload`.
///
/// `length` counts the payload only. Readers check it against a limit before allocating anything.
package struct Frame: Sendable, Equatable {
    /// The message kind; see ``MessageKind``.
    package var kind: UInt8
    /// The encoded message.
    package var payload: [UInt8]

    package init(kind: UInt8, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }

    /// Bytes of header in front of every payload.
    package static let headerSize = 5

    /// The largest payload accepted on a local worker pipe.
    package static let localPayloadLimit = 64 << 20

    /// The header for a payload of `count` bytes: the one place a header is encoded.
    package static func header(kind: UInt8, payloadCount count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(UInt32.max), "a frame's payload is at most 4 GiB")
        let length = UInt32(count)
        return [
            UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
            UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), kind,
        ]
    }

    /// Parses a header, checking the length against `limit`: the one header parser, used by
    /// ``BlockingFrameChannel`` and ``FrameDecoder``.
    package static func parseHeader(_ bytes: some Collection<UInt8>, limit: Int) throws -> (kind: UInt8, length: Int) {
        precondition(bytes.count >= headerSize)
        var iterator = bytes.makeIterator()
        var length = 0
        for _ in 0..<4 { length = length << 8 | Int(iterator.next()!) }
        let kind = iterator.next()!
        guard length <= limit else {
            throw MapReduceError(
                .protocolViolation,
                "a frame of kind \(kind) announces \(length) bytes, over the limit of \(limit)"
            )
        }
        return (kind, length)
    }
}

/// Blocking frame I/O on a file descriptor, for worker processes (one thread, one pipe).
package struct BlockingFrameChannel {
    package let input: CInt
    package let output: CInt
    package let limit: Int

    package init(input: CInt, output: CInt, limit: Int = Frame.localPayloadLimit) {
        self.input = input
        self.output = output
        self.limit = limit
    }

    /// The next frame, or nil at a clean end of stream.
    package func receive() throws -> Frame? {
        var header = [UInt8](repeating: 0, count: Frame.headerSize)
        let got = try header.withUnsafeMutableBytes { try Syscall.readFully(self.input, $0) }
        if got == 0 { return nil }
        guard got == Frame.headerSize else {
            throw MapReduceError(.protocolViolation, "the stream ended inside a frame header")
        }
        let (kind, length) = try Frame.parseHeader(header, limit: self.limit)
        var payload = [UInt8](repeating: 0, count: length)
        let read = try payload.withUnsafeMutableBytes { try Syscall.readFully(self.input, $0) }
        guard read == length else { throw MapReduceError(.protocolViolation, "the stream ended inside a frame") }
        return Frame(kind: kind, payload: payload)
    }

    package func send(_ frame: Frame) throws {
        var bytes = Frame.header(kind: frame.kind, payloadCount: frame.payload.count)
        bytes.append(contentsOf: frame.payload)
        try bytes.withUnsafeBytes { try Syscall.writeFully(self.output, $0) }
    }
}
