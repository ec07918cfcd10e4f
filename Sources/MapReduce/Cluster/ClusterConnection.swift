import Logging
package import NIOCore
import NIOPosix
import Synchronization

/// The largest frame a cluster connection accepts now: small until the other side proved itself, then
/// room for a compressed chunk and its tag.
package final class FrameLimit: Sendable {
    let value = Atomic<Int>(HandshakeStateMachine.handshakePayloadLimit)

    package init() {}

    /// Lets frames as large as a compressed chunk and its tag through.
    package func raise() {
        self.value.store(ClusterLimits.payloadLimit + FrameTag.size, ordering: .relaxed)
    }
}

/// The decoder of a cluster connection: the other side's ``ProtocolPreamble`` first, refused at its first
/// wrong byte, then ``FrameDecoder`` frames under the connection's current limit.
package struct ClusterFrameDecoder: NIOSingleStepByteToMessageDecoder {
    package typealias InboundOut = Frame
    let limit: FrameLimit
    var preambleChecked = false

    package init(limit: FrameLimit) {
        self.limit = limit
    }

    package mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        if !self.preambleChecked {
            let count = min(buffer.readableBytes, ProtocolPreamble.size)
            let received = buffer.getBytes(at: buffer.readerIndex, length: count) ?? []
            guard try ProtocolPreamble.check(received, version: clusterProtocolVersion) else { return nil }
            buffer.moveReaderIndex(forwardBy: ProtocolPreamble.size)
            self.preambleChecked = true
        }
        var decoder = FrameDecoder(limit: self.limit.value.load(ordering: .relaxed))
        return try decoder.decode(buffer: &buffer)
    }

    package mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if !self.preambleChecked {
            if let frame = try self.decode(buffer: &buffer) { return frame }
            if !self.preambleChecked && buffer.readableBytes > 0 && seenEOF {
                throw MapReduceError(.protocolViolation, "the connection closed inside the preamble")
            }
            return nil
        }
        var decoder = FrameDecoder(limit: self.limit.value.load(ordering: .relaxed))
        return try decoder.decodeLast(buffer: &buffer, seenEOF: seenEOF)
    }
}

/// Writes this side's ``ProtocolPreamble`` as soon as the connection is up.
final class PreambleSender: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var sent = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.send(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        guard !self.sent else { return }
        self.sent = true
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(ProtocolPreamble.buffer(allocator: channel.allocator)))
            .whenFailure { _ in channel.close(promise: nil) }
    }

    typealias OutboundOut = ByteBuffer
}

/// A connection between a coordinator and a peer: the pipeline, the handshake, then authenticated frames.
///
/// Pipeline: preamble check → frame decoder → frame encoder → (after the handshake) frame verifier and
/// sealer → the async channel. The handshake runs on the async channel, with the pure
/// ``HandshakeStateMachine`` deciding every step; a connection that has not finished it within the
/// deadline is closed.
enum ClusterConnection {
    typealias Channel = NIOAsyncChannel<Frame, Frame>

    /// Sets up a new channel's pipeline; call it from the bootstrap's initializer.
    static func configure(_ channel: any NIOCore.Channel, limit: FrameLimit) throws -> Channel {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(PreambleSender())
        try operations.addHandler(ByteToMessageHandler(ClusterFrameDecoder(limit: limit)))
        try operations.addHandler(MessageToByteHandler(FrameEncoder()))
        // At most a few frames wait unread: each may be a 4 MiB chunk.
        return try Channel(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2))
        )
    }

    /// Runs the handshake on a configured channel.
    /// - Returns: The session keys; the verifier and sealer are in the pipeline.
    /// - Throws: ``MapReduceError`` naming `remote`: authentication failed, a version or fingerprint
    ///   mismatch, a refusal, a malformed message, the connection closing, or the deadline passing.
    static func handshake(
        _ machine: inout HandshakeStateMachine,
        channel: any NIOCore.Channel,
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        limit: FrameLimit,
        remote: String,
        deadline: Duration
    ) async throws -> SessionKeys {
        let finished = Atomic<Bool>(false)
        let timedOut = Atomic<Bool>(false)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(deadline)) {
            if !finished.load(ordering: .acquiring) {
                timedOut.store(true, ordering: .releasing)
                channel.close(promise: nil)
            }
        }
        defer { timer.cancel() }
        func failed(_ error: any Error) -> MapReduceError {
            if timedOut.load(ordering: .acquiring) {
                return MapReduceError(
                    .protocolViolation,
                    "the handshake did not finish within \(deadline.seconds) s",
                    peer: remote
                )
            }
            if var error = error as? MapReduceError {
                if error.peer == nil { error.peer = remote }
                return error
            }
            return MapReduceError(
                .protocolViolation,
                "the connection failed during the handshake: \(error)",
                peer: remote
            )
        }
        var action = machine.role == .coordinator ? machine.start() : .wait
        do {
            while true {
                switch action {
                case .send(let frame):
                    try await outbound.write(frame)
                    action = .wait
                case .sendAndComplete(let frame, let keys):
                    // The verifier goes in before the last handshake frame leaves: the other side's first
                    // authenticated frame can only come after it.
                    try await Self.install(keys, sealing: false, in: channel)
                    try await outbound.write(frame)
                    try await Self.install(keys, sealing: true, in: channel)
                    finished.store(true, ordering: .releasing)
                    limit.raise()
                    return keys
                case .complete(let keys):
                    try await Self.install(keys, sealing: false, in: channel)
                    try await Self.install(keys, sealing: true, in: channel)
                    finished.store(true, ordering: .releasing)
                    limit.raise()
                    return keys
                case .fail(let failure, let reply):
                    finished.store(true, ordering: .releasing)
                    if let reply { try? await outbound.write(reply) }
                    throw failure.error(peer: remote)
                case .wait:
                    guard let frame = try await frames.next() else {
                        throw MapReduceError(.protocolViolation, "the connection closed during the handshake")
                    }
                    action = machine.received(frame)
                }
            }
        } catch {
            throw failed(error)
        }
    }

    /// Puts the frame verifier (`sealing` false) or sealer between the frame encoder and the async channel.
    static func install(_ keys: SessionKeys, sealing: Bool, in channel: any NIOCore.Channel) async throws {
        try await channel.eventLoop.submit {
            let operations = channel.pipeline.syncOperations
            let encoder = try operations.handler(type: MessageToByteHandler<FrameEncoder>.self)
            if sealing {
                try operations.addHandler(FrameSealer(keys: keys), position: .after(encoder))
            } else {
                try operations.addHandler(FrameVerifier(keys: keys), position: .after(encoder))
            }
        }.get()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Duration {
    /// Seconds, for messages: `10`, `0.5`.
    var seconds: String {
        let (seconds, attoseconds) = self.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        return milliseconds == 0 ? "\(seconds)" : fixed(Double(seconds) + Double(milliseconds) / 1000, 1)
    }

    var milliseconds: Int {
        let (seconds, attoseconds) = self.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// A peer's address as the user wrote it: `HOST:PORT`, or `[IPv6]:PORT`.
package struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; `allowingAnyPort` accepts port 0 (a listener's "any free port").
    package init(parsing text: String, allowingAnyPort: Bool = false) throws {
        let lowest = allowingAnyPort ? 0 : 1
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (lowest...65535).contains(port)
        else {
            throw MapReduceError(.usage, "'\(text)' is not HOST:PORT (a port from \(lowest) to 65535)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw MapReduceError(.usage, "'\(text)' has no host before its port") }
        self.host = host
        self.port = port
    }

    package var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
