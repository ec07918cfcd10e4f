package import Crypto
package import NIOCore

/// The tag that ends every frame's payload after the handshake: HMAC-SHA256 under the direction's session key
/// over `sequence (UInt64 big-endian) ‖ kind ‖ payload`.
///
/// The sequence number is not sent: each side counts the frames of a direction from 0, so a replayed,
/// reordered, dropped or injected frame fails its check, as does any flipped bit in the kind, the payload or
/// the tag.
package enum FrameTag {
    /// The bytes a tag adds to a payload: a frame decoder after the handshake allows this much more.
    package static let size = SHA256.byteCount

    /// The tag of one frame.
    static func compute(
        key: SymmetricKey,
        sequence: UInt64,
        kind: UInt8,
        payload: UnsafeRawBufferPointer
    ) -> HMAC<SHA256>.MAC {
        var hmac = HMAC<SHA256>(key: key)
        withUnsafeBytes(of: sequence.bigEndian) { hmac.update(data: $0) }
        withUnsafeBytes(of: kind) { hmac.update(data: $0) }
        hmac.update(data: payload)
        return hmac.finalize()
    }

    /// Whether two byte ranges are equal, in time that depends only on their length: how far a forged
    /// tag matches must not show in how long it takes to refuse it.
    ///
    /// `HMAC.isValidAuthenticationCode` would need the sequence, kind and payload in one buffer, which is
    /// a copy of every payload; the tag is computed incrementally instead and compared here.
    static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Appends a ``FrameTag`` to the payload of every frame written, counting frames from 0.
///
/// Add it after the handshake, between the code writing frames and the ``Frame`` encoder.
package final class FrameSealer: ChannelOutboundHandler {
    package typealias OutboundIn = Frame
    package typealias OutboundOut = Frame

    private let key: SymmetricKey
    private var sequence: UInt64 = 0

    /// A sealer with the sending key of a connection.
    package init(key: SymmetricKey) {
        self.key = key
    }

    /// A sealer with `keys.sending`.
    package convenience init(keys: SessionKeys) {
        self.init(key: keys.sending)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var frame = Self.unwrapOutboundIn(data)
        let tag = frame.payload.withUnsafeBytes {
            FrameTag.compute(key: self.key, sequence: self.sequence, kind: frame.kind, payload: $0)
        }
        self.sequence += 1
        frame.payload.append(contentsOf: tag)
        context.write(Self.wrapOutboundOut(frame), promise: promise)
    }
}

/// Checks and strips the ``FrameTag`` of every frame read, counting frames from 0.
///
/// A frame whose tag does not check out fires ``MapReduceError`` with code
/// ``MapReduceError/Code/protocolViolation`` down the pipeline and closes the channel; nothing after it is
/// passed on.
package final class FrameVerifier: ChannelInboundHandler {
    package typealias InboundIn = Frame
    package typealias InboundOut = Frame

    private let key: SymmetricKey
    private var sequence: UInt64 = 0
    private var failed = false

    /// A verifier with the receiving key of a connection.
    package init(key: SymmetricKey) {
        self.key = key
    }

    /// A verifier with `keys.receiving`.
    package convenience init(keys: SessionKeys) {
        self.init(key: keys.receiving)
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.failed else { return }
        var frame = Self.unwrapInboundIn(data)
        let bodyCount = frame.payload.count - FrameTag.size
        guard bodyCount >= 0 else {
            self.fail(
                context: context,
                frame: frame,
                "its payload of \(frame.payload.count) bytes has no room for a tag"
            )
            return
        }
        let valid = frame.payload.withUnsafeBytes { raw in
            let expected = FrameTag.compute(
                key: self.key,
                sequence: self.sequence,
                kind: frame.kind,
                payload: UnsafeRawBufferPointer(rebasing: raw[..<bodyCount])
            )
            return expected.withUnsafeBytes {
                FrameTag.constantTimeEqual($0, UnsafeRawBufferPointer(rebasing: raw[bodyCount...]))
            }
        }
        guard valid else {
            self.fail(context: context, frame: frame, "its tag does not match")
            return
        }
        self.sequence += 1
        frame.payload.removeLast(FrameTag.size)
        context.fireChannelRead(Self.wrapInboundOut(frame))
    }

    private func fail(context: ChannelHandlerContext, frame: Frame, _ detail: String) {
        self.failed = true
        context.fireErrorCaught(
            MapReduceError(
                .protocolViolation,
                "a frame failed its authentication check (frame \(self.sequence), kind \(frame.kind): \(detail)); "
                    + "it was altered, replayed, reordered or forged"
            )
        )
        context.close(promise: nil)
    }
}

// MARK: - Sendable

// Channel handlers live on their channel's event loop; NIO marks its own handlers the same way.
@available(*, unavailable)
extension FrameSealer: Sendable {}

@available(*, unavailable)
extension FrameVerifier: Sendable {}
