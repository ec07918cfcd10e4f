import Crypto
import MapReduce
import NIOCore
import NIOEmbedded
import Testing

@Suite("Sealed frames after the handshake")
struct FrameAuthenticationTests {
    static let key = SymmetricKey(data: [UInt8](repeating: 0x42, count: 32))
    static let otherKey = SymmetricKey(data: [UInt8](repeating: 0x43, count: 32))

    static let frames = [
        Frame(kind: 2, payload: Array("first task".utf8)),
        Frame(kind: 65, payload: []),
        Frame(kind: 4, payload: [UInt8](repeating: 0xAB, count: 100_000)),
        Frame(kind: 2, payload: Array("first task".utf8)),
    ]

    /// The frames as a sealer with `key` writes them.
    static func seal(_ frames: [Frame], key: SymmetricKey = key) throws -> [Frame] {
        let channel = EmbeddedChannel(handler: FrameSealer(key: key))
        var sealed: [Frame] = []
        for frame in frames {
            try channel.writeOutbound(frame)
            sealed.append(try #require(try channel.readOutbound(as: Frame.self)))
        }
        _ = try channel.finish()
        return sealed
    }

    /// A connected channel with a verifier, so that closing it shows.
    static func verifier(key: SymmetricKey = key) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: FrameVerifier(key: key))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return channel
    }

    /// Delivers `frames` in order; returns those passed on and the error that stopped them, if any.
    static func deliver(
        _ frames: [Frame],
        key: SymmetricKey = key
    ) throws -> (passed: [Frame], error: MapReduceError?, open: Bool) {
        let channel = try Self.verifier(key: key)
        var passed: [Frame] = []
        var error: MapReduceError?
        for frame in frames {
            do {
                try channel.writeInbound(frame)
            } catch let caught as MapReduceError {
                error = caught
            }
            while let frame = try channel.readInbound(as: Frame.self) { passed.append(frame) }
        }
        return (passed, error, channel.isActive)
    }

    @Test("sealed frames pass the verifier unchanged, in order")
    func roundTrip() throws {
        let sealed = try Self.seal(Self.frames)
        #expect(zip(sealed, Self.frames).allSatisfy { $0.payload.count == $1.payload.count + 32 && $0.kind == $1.kind })
        // Equal frames at different positions carry different tags.
        #expect(sealed[0] != sealed[3])
        let result = try Self.deliver(sealed)
        #expect(result.passed == Self.frames)
        #expect(result.error == nil)
        #expect(result.open)
    }

    @Test("keys from a handshake seal one way and verify the other")
    func withSessionKeys() throws {
        let secret = try ClusterSecret(bytes: Array("a shared cluster secret of some 40 chars".utf8))
        let fingerprint = BuildFingerprint(build: "0123456789abcdef", jobs: ["wordcount"])
        let run = HandshakeRun(
            coordinator: HandshakeStateMachine(
                role: .coordinator,
                secret: secret,
                fingerprint: fingerprint,
                nonce: HandshakeStateMachine.makeNonce()
            ),
            peer: HandshakeStateMachine(
                role: .peer,
                secret: secret,
                fingerprint: fingerprint,
                nonce: HandshakeStateMachine.makeNonce()
            )
        )
        let coordinatorKeys = try #require(run.coordinator.keys)
        let peerKeys = try #require(run.peer.keys)

        let sealer = EmbeddedChannel(handler: FrameSealer(keys: coordinatorKeys))
        try sealer.writeOutbound(Self.frames[0])
        let sealed = try #require(try sealer.readOutbound(as: Frame.self))

        let verifier = EmbeddedChannel(handler: FrameVerifier(keys: peerKeys))
        try verifier.writeInbound(sealed)
        #expect(try verifier.readInbound(as: Frame.self) == Self.frames[0])

        // Reflected back to the coordinator, the same frame is refused: each direction has its own key.
        let reflected = EmbeddedChannel(handler: FrameVerifier(keys: coordinatorKeys))
        #expect(throws: MapReduceError.self) { try reflected.writeInbound(sealed) }
    }

    static func expectRefused(_ frames: [Frame], passing count: Int, _ comment: Comment) throws {
        let result = try Self.deliver(frames)
        #expect(result.passed == Array(Self.frames.prefix(count)), comment)
        let error = try #require(result.error, comment)
        #expect(error.code == .protocolViolation, comment)
        #expect(error.description.contains("failed its authentication check"), comment)
        #expect(!result.open, "the channel is closed: \(comment)")
    }

    @Test("a replayed, reordered, dropped or foreign frame is refused and the channel closed")
    func replayAndReorder() throws {
        let sealed = try Self.seal(Self.frames)
        try Self.expectRefused([sealed[0], sealed[0]], passing: 1, "replayed")
        try Self.expectRefused([sealed[1], sealed[0]], passing: 0, "swapped")
        try Self.expectRefused([sealed[0], sealed[2]], passing: 1, "one dropped")
        try Self.expectRefused([sealed[0], sealed[1], sealed[1], sealed[2]], passing: 2, "replayed later")
        try Self.expectRefused(try Self.seal(Self.frames, key: Self.otherKey), passing: 0, "another key")
        // After a refusal nothing more is passed on, even frames that would have been valid.
        let result = try Self.deliver([sealed[1], sealed[0], sealed[1]])
        #expect(result.passed.isEmpty)
    }

    @Test("a flipped bit in the kind, the payload or the tag, and a short payload, are refused")
    func tampering() throws {
        let sealed = try Self.seal(Self.frames)
        var kind = sealed[0]
        kind.kind ^= 0x01
        try Self.expectRefused([kind], passing: 0, "kind")
        var payload = sealed[0]
        payload.payload[0] ^= 0x80
        try Self.expectRefused([payload], passing: 0, "payload")
        var tag = sealed[0]
        tag.payload[tag.payload.count - 1] ^= 0x01
        try Self.expectRefused([tag], passing: 0, "tag")
        var lastPayloadByte = sealed[2]
        lastPayloadByte.payload[lastPayloadByte.payload.count - 33] ^= 0x01
        try Self.expectRefused([sealed[0], sealed[1], lastPayloadByte], passing: 2, "last payload byte")
        try Self.expectRefused([Frame(kind: 2, payload: [UInt8](repeating: 0, count: 31))], passing: 0, "short")
        try Self.expectRefused([Frame(kind: 2, payload: [])], passing: 0, "empty")
        // A tag moved to a frame with another payload.
        var moved = sealed[1]
        moved.payload = Array("x".utf8) + sealed[1].payload
        try Self.expectRefused([moved], passing: 0, "extended")
    }
}

@Suite("The protocol preamble and the cluster frame decoder")
struct ProtocolPreambleTests {
    static let firstFrame = Frame(kind: 200, payload: [1, 2, 3])
    static let firstFrameBytes: [UInt8] = Frame.header(kind: 200, payloadCount: 3) + [1, 2, 3]

    /// A connected channel with a cluster connection's decoder.
    static func channel(limit: FrameLimit = FrameLimit()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClusterFrameDecoder(limit: limit)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return channel
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    /// Every frame decoded so far.
    static func frames(_ channel: EmbeddedChannel) throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try channel.readInbound(as: Frame.self) { frames.append(frame) }
        return frames
    }

    @Test("the preamble is MAPRED and the version as a big-endian UInt16")
    func bytes() {
        #expect(ProtocolPreamble.bytes() == Array("MAPRED".utf8) + [0, UInt8(clusterProtocolVersion)])
        #expect(ProtocolPreamble.bytes(version: 0x0102) == Array("MAPRED".utf8) + [1, 2])
        #expect(ProtocolPreamble.size == 8)
        var buffer = ProtocolPreamble.buffer(allocator: ByteBufferAllocator())
        #expect(buffer.readBytes(length: buffer.readableBytes) == ProtocolPreamble.bytes())
    }

    @Test("a good preamble is consumed, then frames are decoded")
    func good() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.buffer(ProtocolPreamble.bytes()))
        #expect(try Self.frames(channel).isEmpty)
        try channel.writeInbound(Self.buffer(Self.firstFrameBytes))
        #expect(try Self.frames(channel) == [Self.firstFrame])
        #expect(channel.isActive)
    }

    @Test("the first frame in the same read as the preamble is decoded, not lost")
    func preambleAndFirstFrame() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.buffer(ProtocolPreamble.bytes() + Self.firstFrameBytes + Self.firstFrameBytes))
        #expect(try Self.frames(channel) == [Self.firstFrame, Self.firstFrame])
    }

    @Test("a preamble in pieces, the last one sharing a read with the first frame")
    func inPieces() throws {
        let channel = try Self.channel()
        let preamble = ProtocolPreamble.bytes()
        try channel.writeInbound(Self.buffer(Array(preamble[0..<3])))
        try channel.writeInbound(Self.buffer(Array(preamble[3..<7])))
        #expect(try Self.frames(channel).isEmpty)
        try channel.writeInbound(Self.buffer(Array(preamble[7...]) + Self.firstFrameBytes))
        #expect(try Self.frames(channel) == [Self.firstFrame])
    }

    static func refusal(_ bytes: [UInt8]) throws -> MapReduceError {
        let channel = try Self.channel()
        let error = try #require(throws: MapReduceError.self) { try channel.writeInbound(Self.buffer(bytes)) }
        #expect(try Self.frames(channel).isEmpty)
        return error
    }

    @Test("garbage and an HTTP request are refused as not a mapreduce peer, showing what they sent")
    func garbage() throws {
        let http = try Self.refusal(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(http.code == .protocolViolation)
        #expect(http.description == "not a mapreduce peer: it sent \"GET / HT\"")

        let binary = try Self.refusal([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1])
        #expect(binary.description.contains("\\x16\\x03\\x01"))

        // Refused at the first byte that differs, without waiting for all eight.
        let short = try Self.refusal(Array("MAPX".utf8))
        #expect(short.description.contains("\"MAPX\""))
    }

    @Test("a preamble of another version is refused naming both versions")
    func versionMismatch() throws {
        let other = clusterProtocolVersion + 1
        let error = try Self.refusal(ProtocolPreamble.bytes(version: other) + Self.firstFrameBytes)
        #expect(error.code == .incompatiblePeer)
        #expect(error.description.contains("version \(other)"))
        #expect(error.description.contains("version \(clusterProtocolVersion)"))
    }

    @Test("a connection that closes inside the preamble is reported")
    func closedEarly() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.buffer(Array("MAPR".utf8)))
        let error = try #require(throws: MapReduceError.self) { try channel.finish() }
        #expect(error.description.contains("inside the preamble"))
    }

    @Test("frames are bounded by the handshake's limit until the handshake raises it")
    func limits() throws {
        let limit = FrameLimit()
        let channel = try Self.channel(limit: limit)
        let big = Frame.header(kind: 140, payloadCount: 8192) + [UInt8](repeating: 7, count: 8192)
        try channel.writeInbound(Self.buffer(ProtocolPreamble.bytes()))
        #expect(throws: MapReduceError.self) { try channel.writeInbound(Self.buffer(big)) }

        let raised = FrameLimit()
        raised.raise()
        let open = try Self.channel(limit: raised)
        try open.writeInbound(Self.buffer(ProtocolPreamble.bytes() + big))
        #expect(try Self.frames(open).map(\.payload.count) == [8192])
        let huge = Frame.header(kind: 140, payloadCount: ClusterLimits.payloadLimit + FrameTag.size + 1)
        #expect(throws: MapReduceError.self) { try open.writeInbound(Self.buffer(huge)) }
    }
}
