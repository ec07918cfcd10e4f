import NIOCore

/// Splits a byte stream into ``Frame``s, refusing any frame longer than the limit before buffering it.
struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = Frame

    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let kind = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self)
        else { return nil }
        guard Int(length) <= self.limit else {
            throw MapReduceError(
                .protocolViolation,
                "a frame of kind \(kind) announces \(length) bytes, over the limit of \(self.limit)"
            )
        }
        guard buffer.readableBytes >= Frame.headerSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.headerSize)
        let payload = buffer.readBytes(length: Int(length)) ?? []
        return Frame(kind: kind, payload: payload)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if let frame = try self.decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 && seenEOF {
            throw MapReduceError(.protocolViolation, "the connection closed inside a frame")
        }
        return nil
    }
}

/// Writes ``Frame``s with their header.
struct FrameEncoder: MessageToByteEncoder {
    typealias OutboundIn = Frame

    init() {}

    func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.payload.count))
        out.writeInteger(data.kind)
        out.writeBytes(data.payload)
    }
}
