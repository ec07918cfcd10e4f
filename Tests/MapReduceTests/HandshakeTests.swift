import Crypto
@_spi(Fuzzing) import MapReduce
import Testing

/// Two handshake machines passing frames to each other, as two ends of a connection would.
struct HandshakeRun {
    enum Outcome: Equatable {
        case pending
        case completed(SessionKeys)
        case failed(HandshakeFailure)

        var keys: SessionKeys? {
            if case .completed(let keys) = self { return keys }
            return nil
        }
    }

    var coordinator: Outcome = .pending
    var peer: Outcome = .pending
    /// Every frame sent, in order, with who sent it.
    var frames: [(fromCoordinator: Bool, frame: Frame)] = []
    var kinds: [UInt8] { self.frames.map(\.frame.kind) }

    /// Runs the handshake to its end; `tamper` may change or replace each frame in transit.
    init(
        coordinator: HandshakeStateMachine,
        peer: HandshakeStateMachine,
        tamper: (_ index: Int, _ frame: Frame) -> Frame = { $1 }
    ) {
        var coordinatorMachine = coordinator
        var peerMachine = peer
        // Indices into `frames` of the frames in flight each way.
        var toPeer: [Int] = []
        var toCoordinator: [Int] = []
        self.apply(coordinatorMachine.start(), fromCoordinator: true, outbox: &toPeer)
        self.apply(peerMachine.start(), fromCoordinator: false, outbox: &toCoordinator)
        while !toPeer.isEmpty || !toCoordinator.isEmpty {
            if !toPeer.isEmpty {
                let index = toPeer.removeFirst()
                let frame = tamper(index, self.frames[index].frame)
                if self.peer == .pending {
                    self.apply(peerMachine.received(frame), fromCoordinator: false, outbox: &toCoordinator)
                }
            }
            if !toCoordinator.isEmpty {
                let index = toCoordinator.removeFirst()
                let frame = tamper(index, self.frames[index].frame)
                if self.coordinator == .pending {
                    self.apply(coordinatorMachine.received(frame), fromCoordinator: true, outbox: &toPeer)
                }
            }
        }
    }

    private mutating func apply(_ action: HandshakeStateMachine.Action, fromCoordinator: Bool, outbox: inout [Int]) {
        func send(_ frame: Frame) {
            outbox.append(self.frames.count)
            self.frames.append((fromCoordinator, frame))
        }
        var outcome: Outcome = .pending
        switch action {
        case .send(let frame):
            send(frame)
        case .sendAndComplete(let frame, let keys):
            send(frame)
            outcome = .completed(keys)
        case .complete(let keys):
            outcome = .completed(keys)
        case .fail(let failure, let reply):
            if let reply { send(reply) }
            outcome = .failed(failure)
        case .wait:
            break
        }
        if fromCoordinator { self.coordinator = outcome } else { self.peer = outcome }
    }
}

@Suite("The cluster handshake")
struct HandshakeTests {
    static let secretBytes = Array("7f3a9c0e5b2d4186a9e7c3f05d1b8e42".utf8)
    static let otherSecretBytes = Array("e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6".utf8)
    static let fingerprint = BuildFingerprint(build: "1a2b3c4d5e6f7a8b", jobs: ["wordcount", "logs"])
    static let coordinatorNonce = [UInt8](repeating: 0xC0, count: 32)
    static let peerNonce = [UInt8](repeating: 0x9E, count: 32)

    static func coordinator(
        secret: [UInt8] = secretBytes,
        fingerprint: BuildFingerprint = fingerprint,
        nonce: [UInt8] = coordinatorNonce,
        version: Int = clusterProtocolVersion
    ) throws -> HandshakeStateMachine {
        HandshakeStateMachine(
            role: .coordinator,
            secret: try ClusterSecret(bytes: secret),
            fingerprint: fingerprint,
            nonce: nonce,
            version: version
        )
    }

    static func peer(
        secret: [UInt8] = secretBytes,
        fingerprint: BuildFingerprint = fingerprint,
        nonce: [UInt8] = peerNonce,
        version: Int = clusterProtocolVersion,
        busyReason: String? = nil
    ) throws -> HandshakeStateMachine {
        HandshakeStateMachine(
            role: .peer,
            secret: try ClusterSecret(bytes: secret),
            fingerprint: fingerprint,
            nonce: nonce,
            version: version,
            busyReason: busyReason
        )
    }

    /// Whether `needle` occurs anywhere in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }

    /// No frame, nor all frames run together, holds the secret or a long piece of it.
    static func expectSecretNeverSent(_ run: HandshakeRun, _ secrets: [[UInt8]] = [secretBytes, otherSecretBytes]) {
        let all = run.frames.flatMap {
            Frame.header(kind: $0.frame.kind, payloadCount: $0.frame.payload.count) + $0.frame.payload
        }
        for secret in secrets {
            for start in stride(from: 0, through: secret.count - 8, by: 4) {
                #expect(!contains(all, Array(secret[start..<(start + 8)])))
            }
        }
    }

    @Test("a full handshake gives both sides the same keys, crosswise, and never sends the secret")
    func success() throws {
        let run = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer())
        let coordinatorKeys = try #require(run.coordinator.keys)
        let peerKeys = try #require(run.peer.keys)
        #expect(coordinatorKeys.sending == peerKeys.receiving)
        #expect(coordinatorKeys.receiving == peerKeys.sending)
        #expect(coordinatorKeys.sending != coordinatorKeys.receiving)
        #expect(run.kinds == [200, 201, 202, 202])
        #expect(run.frames.map(\.fromCoordinator) == [true, false, true, false])
        #expect(run.frames.allSatisfy { $0.frame.payload.count <= HandshakeStateMachine.handshakePayloadLimit })
        #expect(coordinatorKeys.description == "SessionKeys(<redacted>)")
        Self.expectSecretNeverSent(run)
        // The keys themselves never travel either.
        for key in [coordinatorKeys.sending, coordinatorKeys.receiving] {
            let bytes = key.withUnsafeBytes { Array($0) }
            #expect(!run.frames.contains { Self.contains($0.frame.payload, bytes) })
        }
    }

    @Test("fresh nonces give fresh keys and fresh proofs")
    func freshNonces() throws {
        let first = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer())
        let second = HandshakeRun(
            coordinator: try Self.coordinator(nonce: HandshakeStateMachine.makeNonce()),
            peer: try Self.peer(nonce: HandshakeStateMachine.makeNonce())
        )
        let firstKeys = try #require(first.coordinator.keys)
        let secondKeys = try #require(second.coordinator.keys)
        #expect(firstKeys.sending != secondKeys.sending)
        #expect(firstKeys.receiving != secondKeys.receiving)
        #expect(first.frames[2].frame.payload != second.frames[2].frame.payload)
        #expect(first.frames[3].frame.payload != second.frames[3].frame.payload)
        #expect(HandshakeStateMachine.makeNonce() != HandshakeStateMachine.makeNonce())
        #expect(HandshakeStateMachine.makeNonce().count == 32)
    }

    @Test("different secrets: the peer refuses the coordinator's proof and both fail with authenticationFailed")
    func wrongSecret() throws {
        for (coordinatorSecret, peerSecret) in [
            (Self.otherSecretBytes, Self.secretBytes), (Self.secretBytes, Self.otherSecretBytes),
        ] {
            let run = HandshakeRun(
                coordinator: try Self.coordinator(secret: coordinatorSecret),
                peer: try Self.peer(secret: peerSecret)
            )
            #expect(run.coordinator == .failed(.authenticationFailed))
            #expect(run.peer == .failed(.authenticationFailed))
            // Hello, challenge, the coordinator's proof, then the peer's refusal: the peer never proves anything.
            #expect(run.kinds == [200, 201, 202, 203])
            Self.expectSecretNeverSent(run)
            #expect(HandshakeFailure.authenticationFailed.error().code == .authenticationFailed)
        }
    }

    @Test("a fingerprint mismatch is not revealed to a side that does not hold the secret")
    func wrongSecretAndFingerprint() throws {
        let run = HandshakeRun(
            coordinator: try Self.coordinator(secret: Self.otherSecretBytes),
            peer: try Self.peer(fingerprint: BuildFingerprint(build: "ffffffffffffffff", jobs: ["wordcount"]))
        )
        #expect(run.coordinator == .failed(.authenticationFailed))
        #expect(run.peer == .failed(.authenticationFailed))
    }

    @Test("the coordinator refuses a peer proof that does not check out, after the peer thinks it is done")
    func badPeerProof() throws {
        let run = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer()) { index, frame in
            guard index == 3 else { return frame }
            var altered = frame
            altered.payload[5] ^= 0x01
            return altered
        }
        #expect(run.peer.keys != nil)
        #expect(run.coordinator == .failed(.authenticationFailed))
        #expect(run.kinds == [200, 201, 202, 202])
    }

    @Test("a recorded handshake replayed against fresh nonces fails on both sides")
    func replay() throws {
        let recorded = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer())
        let frames = recorded.frames.map(\.frame)

        // An impostor peer replays the recorded challenge and peer proof to a coordinator with a new nonce.
        var coordinator = try Self.coordinator(nonce: [UInt8](repeating: 1, count: 32))
        guard case .send = coordinator.start() else {
            Issue.record("the coordinator sent no hello")
            return
        }
        guard case .send = coordinator.received(frames[1]) else {
            Issue.record("the challenge was refused")
            return
        }
        #expect(coordinator.received(frames[3]) == .fail(.authenticationFailed, reply: nil))

        // An impostor coordinator replays the recorded hello and coordinator proof to a peer with a new nonce.
        var peer = try Self.peer(nonce: [UInt8](repeating: 2, count: 32))
        #expect(peer.start() == .wait)
        guard case .send = peer.received(frames[0]) else {
            Issue.record("the hello was refused")
            return
        }
        guard case .fail(.authenticationFailed, let reply) = peer.received(frames[2]) else {
            Issue.record("the replayed proof was accepted")
            return
        }
        #expect(reply?.kind == 203)

        // A coordinator's proof reflected back as the peer's is not valid either: the labels differ.
        var reflected = try Self.coordinator()
        _ = reflected.start()
        _ = reflected.received(frames[1])
        #expect(reflected.received(frames[2]) == .fail(.authenticationFailed, reply: nil))
    }

    @Test("a version mismatch is refused by the peer and named with both versions on both sides")
    func versionMismatch() throws {
        let run = HandshakeRun(coordinator: try Self.coordinator(version: 2), peer: try Self.peer(version: 1))
        #expect(run.peer == .failed(.versionMismatch(ours: 1, theirs: 2)))
        #expect(run.coordinator == .failed(.versionMismatch(ours: 2, theirs: 1)))
        #expect(run.kinds == [200, 203])
        let description = HandshakeFailure.versionMismatch(ours: 2, theirs: 1).description
        #expect(description.contains("ours is 2"))
        #expect(description.contains("theirs is 1"))
        #expect(HandshakeFailure.versionMismatch(ours: 2, theirs: 1).error().code == .incompatiblePeer)

        // A coordinator also checks the challenge's version.
        var coordinator = try Self.coordinator()
        _ = coordinator.start()
        var challenge = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer()).frames[1].frame
        challenge.payload[0] = 9
        #expect(
            coordinator.received(challenge)
                == .fail(.versionMismatch(ours: clusterProtocolVersion, theirs: 9), reply: nil)
        )
    }

    @Test("a fingerprint mismatch is refused once the coordinator is proven, naming both builds and job lists")
    func fingerprintMismatch() throws {
        let theirs = BuildFingerprint(build: "0000111122223333", jobs: ["wordcount"])
        let run = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer(fingerprint: theirs))
        #expect(run.peer == .failed(.fingerprintMismatch(ours: theirs, theirs: Self.fingerprint)))
        #expect(run.coordinator == .failed(.fingerprintMismatch(ours: Self.fingerprint, theirs: theirs)))
        #expect(run.kinds == [200, 201, 202, 203])
        guard case .failed(let failure) = run.coordinator else { return }
        let error = failure.error(peer: "127.0.0.2:7000")
        #expect(error.code == .incompatiblePeer)
        #expect(error.description.contains("build 1a2b3c4d5e6f7a8b, jobs [logs, wordcount]"))
        #expect(error.description.contains("build 0000111122223333, jobs [wordcount]"))
        #expect(error.description.contains("127.0.0.2:7000"))
        // The refusal the peer sends names both as well.
        let refusal = run.frames[3].frame.payload
        #expect(Self.contains(refusal, Array("1a2b3c4d5e6f7a8b".utf8)))
        #expect(Self.contains(refusal, Array("0000111122223333".utf8)))
    }

    @Test("a busy peer refuses with its reason")
    func busy() throws {
        let reason = "running a job for 127.0.0.9"
        let run = HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer(busyReason: reason))
        #expect(run.peer == .failed(.busy(reason)))
        #expect(run.kinds == [200, 203])
        guard case .failed(.refused(let message)) = run.coordinator else {
            Issue.record("the coordinator did not see a refusal: \(run.coordinator)")
            return
        }
        #expect(message.contains(reason))
        #expect(HandshakeFailure.refused(message).error().code == .incompatiblePeer)
        #expect(HandshakeFailure.refused(message).error().description.contains(reason))
    }

    // MARK: - Malformed input

    /// The peer's answer to a first frame, and the coordinator's to a second one.
    static func peerFails(on frame: Frame) throws -> HandshakeFailure? {
        var peer = try Self.peer()
        _ = peer.start()
        guard case .fail(let failure, let reply) = peer.received(frame) else { return nil }
        #expect(reply?.kind == 203)
        return failure
    }

    static func coordinatorFails(onChallenge frame: Frame) throws -> HandshakeFailure? {
        var coordinator = try Self.coordinator()
        _ = coordinator.start()
        guard case .fail(let failure, let reply) = coordinator.received(frame) else { return nil }
        #expect(reply == nil)
        return failure
    }

    static func isMalformed(_ failure: HandshakeFailure?, _ detail: String = "") -> Bool {
        guard case .malformed(let description) = failure else { return false }
        return detail.isEmpty || description.contains(detail)
    }

    static var goodFrames: [Frame] {
        get throws { HandshakeRun(coordinator: try Self.coordinator(), peer: try Self.peer()).frames.map(\.frame) }
    }

    @Test("frames out of order or of unknown kinds are malformed")
    func outOfOrder() throws {
        let frames = try Self.goodFrames
        #expect(Self.isMalformed(try Self.peerFails(on: frames[2]), "expected a hello, got a proof"))
        #expect(Self.isMalformed(try Self.peerFails(on: frames[1]), "expected a hello, got a challenge"))
        #expect(Self.isMalformed(try Self.peerFails(on: Frame(kind: 7, payload: [])), "unknown kind 7"))
        #expect(Self.isMalformed(try Self.coordinatorFails(onChallenge: frames[0]), "expected a challenge"))
        #expect(Self.isMalformed(try Self.coordinatorFails(onChallenge: frames[3]), "expected a challenge"))

        // A coordinator that has not started, and any machine after its end, refuse every frame.
        var idle = try Self.coordinator()
        #expect(Self.isMalformed(Self.failure(idle.received(frames[1])), "before the hello"))
        var peer = try Self.peer()
        _ = peer.received(frames[0])
        guard case .sendAndComplete = peer.received(frames[2]) else {
            Issue.record("the peer did not complete")
            return
        }
        #expect(Self.isMalformed(Self.failure(peer.received(frames[2])), "after the handshake ended"))

        // A hello sent again in place of the proof.
        var repeated = try Self.peer()
        _ = repeated.received(frames[0])
        #expect(Self.isMalformed(Self.failure(repeated.received(frames[0])), "expected a proof"))
    }

    static func failure(_ action: HandshakeStateMachine.Action) -> HandshakeFailure? {
        if case .fail(let failure, _) = action { return failure }
        return nil
    }

    @Test("truncated, padded and oversized payloads are malformed")
    func badPayloads() throws {
        let frames = try Self.goodFrames
        let hello = frames[0]
        for cut in [0, 1, 5, 32, hello.payload.count - 1] {
            let truncated = Frame(kind: hello.kind, payload: Array(hello.payload.prefix(cut)))
            #expect(Self.isMalformed(try Self.peerFails(on: truncated)), "hello cut to \(cut) bytes")
        }
        #expect(
            Self.isMalformed(try Self.peerFails(on: Frame(kind: 200, payload: hello.payload + [0])), "after the end")
        )

        // A build string over 1 KiB, and a job count far beyond the bytes that follow.
        var writer = WireWriter()
        writer.writeVarint(clusterProtocolVersion)
        writer.write([UInt8](repeating: 1, count: 32))
        writer.writeLengthPrefixed(String(repeating: "b", count: 2000))
        writer.writeVarint(0)
        #expect(Self.isMalformed(try Self.peerFails(on: Frame(kind: 200, payload: writer.bytes)), "longer than"))
        writer = WireWriter()
        writer.writeVarint(clusterProtocolVersion)
        writer.write([UInt8](repeating: 1, count: 32))
        writer.writeLengthPrefixed("build")
        writer.writeVarint(1 << 40)
        #expect(Self.isMalformed(try Self.peerFails(on: Frame(kind: 200, payload: writer.bytes)), "exceeds the limit"))

        // Proofs of the wrong size, after a good hello and challenge.
        for size in [0, 31, 33, 4096] {
            var peer = try Self.peer()
            _ = peer.received(hello)
            let failure = Self.failure(peer.received(Frame(kind: 202, payload: [UInt8](repeating: 0, count: size))))
            #expect(Self.isMalformed(failure, "a proof of \(size) bytes"))
        }

        // A challenge cut short, and one that echoes the coordinator's nonce back.
        let challenge = frames[1]
        let shortChallenge = Frame(kind: 201, payload: Array(challenge.payload.prefix(20)))
        #expect(Self.isMalformed(try Self.coordinatorFails(onChallenge: shortChallenge)))
        var echo = challenge
        echo.payload.replaceSubrange(1..<33, with: Self.coordinatorNonce)
        #expect(Self.isMalformed(try Self.coordinatorFails(onChallenge: echo), "nonce"))

        // A refusal is not answered with another.
        var refused = try Self.peer()
        let refusal = Frame(kind: 203, payload: [1, 0, 3] + Array("bye".utf8))
        #expect(refused.received(refusal) == .fail(.refused("bye"), reply: nil))

        // A refusal that is not one.
        #expect(Self.isMalformed(try Self.coordinatorFails(onChallenge: Frame(kind: 203, payload: [1, 0, 200]))))
        #expect(HandshakeFailure.malformed("x").error().code == .protocolViolation)
    }

    @Test("the whole handshake fits the frame decoder's handshake limit, and a larger frame is refused")
    func framing() throws {
        let frames = try Self.goodFrames
        let stream = frames.flatMap { Frame.header(kind: $0.kind, payloadCount: $0.payload.count) + $0.payload }
        let decoded = EngineFuzzing.decodeFrames(
            stream,
            limit: HandshakeStateMachine.handshakePayloadLimit,
            pieceSizes: [1, 7, 64]
        )
        #expect(!decoded.failed)
        #expect(decoded.kinds == frames.map(\.kind))
        #expect(decoded.frames == frames.map(\.payload))

        let oversized =
            Frame.header(kind: HandshakeMessageKind.hello, payloadCount: 4097) + [UInt8](repeating: 0, count: 10)
        let refused = EngineFuzzing.decodeFrames(
            oversized,
            limit: HandshakeStateMachine.handshakePayloadLimit,
            pieceSizes: []
        )
        #expect(refused.failed)
        #expect(refused.frames.isEmpty)
    }

    @Test("a fingerprint round-trips and reads well")
    func fingerprintEncoding() throws {
        #expect(Self.fingerprint.jobs == ["logs", "wordcount"])
        #expect(Self.fingerprint.description == "build 1a2b3c4d5e6f7a8b, jobs [logs, wordcount]")
        let current = try BuildFingerprint.current(jobs: ["b", "a"])
        #expect(current.build.count == 16)
        #expect(current.build.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(current.jobs == ["a", "b"])
        #expect(try BuildFingerprint.executableHash() == current.build)
        var writer = WireWriter()
        Self.fingerprint.encode(into: &writer)
        let decoded = try writer.bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let fingerprint = try BuildFingerprint(decoding: &reader)
            #expect(reader.isAtEnd)
            return fingerprint
        }
        #expect(decoded == Self.fingerprint)
        // A job count beyond the limit is refused before anything is allocated for it.
        writer = WireWriter()
        writer.writeLengthPrefixed("b")
        writer.writeVarint(BuildFingerprint.maximumJobs + 1)
        writer.write([UInt8](repeating: 0, count: 1000))
        #expect(throws: MapReduceError.self) {
            try writer.bytes.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                _ = try BuildFingerprint(decoding: &reader)
            }
        }
        let hostile = BuildFingerprint(build: "x\u{1B}[31m", jobs: [])
        #expect(!hostile.description.contains("\u{1B}"))
    }
}
