package import NIOCore

/// Splits a byte stream into ``Frame``s, refusing any frame longer than the limit before buffering it.
///
/// The header is parsed by ``Frame/parseHeader(_:limit:)``, the parser ``BlockingFrameChannel`` uses too,
/// as soon as its five bytes have arrived: a length over the limit fails the stream then, not after the
/// payload has been buffered.
package struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    package typealias InboundOut = Frame

    package let limit: Int

    package init(limit: Int) {
        self.limit = limit
    }

    package mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard buffer.readableBytes >= Frame.headerSize else { return nil }
        let (kind, length) = try Frame.parseHeader(
            buffer.readableBytesView.prefix(Frame.headerSize),
            limit: self.limit
        )
        guard buffer.readableBytes - Frame.headerSize >= length else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readBytes(length: length) ?? []
        return Frame(kind: kind, payload: payload)
    }

    package mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if let frame = try self.decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 && seenEOF {
            throw MapReduceError(.protocolViolation, "the connection closed inside a frame")
        }
        return nil
    }
}

/// Writes ``Frame``s with the header ``Frame/header(kind:payloadCount:)`` makes.
package struct FrameEncoder: MessageToByteEncoder {
    package typealias OutboundIn = Frame

    package init() {}

    package func encode(data: Frame, out: inout ByteBuffer) throws {
        out.reserveCapacity(minimumWritableBytes: Frame.headerSize + data.payload.count)
        out.writeBytes(Frame.header(kind: data.kind, payloadCount: data.payload.count))
        out.writeBytes(data.payload)
    }
}
