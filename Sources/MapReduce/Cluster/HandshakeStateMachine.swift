import Crypto

/// The handshake that opens every cluster connection, as a pure state machine: frames in, actions out, with
/// no I/O, no clock and the nonce handed in, so that every path can be tested without a network.
///
/// ```
/// coordinator                                   peer
///   hello(version, nonce C, fingerprint)  ──►   checks the version (or refuses: version, busy)
///                                         ◄──   challenge(version, nonce P, fingerprint)
///   proof = HMAC(secret, "coordinator" ‖ T) ──► checks it in constant time (or refuses), then the
///                                               fingerprint (or refuses, naming both)
///                                         ◄──   proof = HMAC(secret, "peer" ‖ T ‖ coordinator proof)
///   checks it, then the fingerprint
/// ```
///
/// `T`, the transcript, is the exact hello and challenge payloads, each behind a 4-byte length. Both sides
/// prove that they hold the secret (mutual authentication) without sending it; the nonces make every
/// transcript fresh, so a recorded proof is worthless. Both sides then derive ``SessionKeys`` from the secret
/// and both nonces.
package struct HandshakeStateMachine {
    /// Which end of the connection this machine drives.
    package enum Role: Sendable, Equatable {
        /// Opens the connection and sends the hello.
        case coordinator
        /// Serves: waits for the hello.
        case peer
    }

    /// What the caller does next.
    package enum Action: Sendable, Equatable {
        /// Send the frame, then feed the next frame received to ``received(_:)``.
        case send(Frame)
        /// Send the frame; the handshake succeeded, and what follows is sealed with the keys.
        case sendAndComplete(Frame, SessionKeys)
        /// The handshake succeeded; what follows is sealed with the keys.
        case complete(SessionKeys)
        /// The handshake failed: send the reply if there is one, then close the connection.
        case fail(HandshakeFailure, reply: Frame?)
        /// Wait for the next frame.
        case wait
    }

    private enum State {
        /// The coordinator before ``start()``.
        case idle
        /// The peer, waiting for the hello.
        case awaitingHello
        /// The coordinator, having sent `hello`.
        case awaitingChallenge(hello: [UInt8])
        /// The peer, having sent its challenge.
        case awaitingCoordinatorProof(transcript: [UInt8], coordinator: HandshakeGreeting)
        /// The coordinator, having sent its proof.
        case awaitingPeerProof(transcript: [UInt8], coordinatorProof: [UInt8], peer: HandshakeGreeting)
        case completed
        case failed
    }

    /// The largest handshake payload accepted: give the frame decoder this limit until the handshake ends.
    package static let handshakePayloadLimit = 4096

    package let role: Role
    private let secret: ClusterSecret
    private let fingerprint: BuildFingerprint
    private let nonce: [UInt8]
    private let version: Int
    private let busyReason: String?
    private var state: State

    /// Creates a machine for one connection.
    /// - Parameters:
    ///   - role: Which end this is.
    ///   - secret: The shared secret.
    ///   - fingerprint: This node's build fingerprint.
    ///   - nonce: ``handshakeNonceSize`` fresh random bytes, never used for another connection.
    ///   - version: The protocol version this node speaks; ``clusterProtocolVersion`` unless testing.
    ///   - busyReason: For a peer that cannot take a coordinator now: why. The peer then refuses the hello
    ///     with this reason.
    package init(
        role: Role,
        secret: ClusterSecret,
        fingerprint: BuildFingerprint,
        nonce: [UInt8],
        version: Int = clusterProtocolVersion,
        busyReason: String? = nil
    ) {
        precondition(nonce.count == handshakeNonceSize, "a handshake nonce is \(handshakeNonceSize) bytes")
        precondition(role == .peer || busyReason == nil, "only a peer refuses because it is busy")
        self.role = role
        self.secret = secret
        self.fingerprint = fingerprint
        self.nonce = nonce
        self.version = version
        self.busyReason = busyReason
        self.state = role == .coordinator ? .idle : .awaitingHello
    }

    /// ``handshakeNonceSize`` bytes from the system's secure random number generator.
    package static func makeNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<handshakeNonceSize).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Starts the handshake once the connection is open: the coordinator sends its hello, the peer waits.
    package mutating func start() -> Action {
        switch self.state {
        case .idle:
            let hello = HandshakeGreeting(version: self.version, nonce: self.nonce, fingerprint: self.fingerprint)
            let payload = hello.payload
            self.state = .awaitingChallenge(hello: payload)
            return .send(Frame(kind: HandshakeMessageKind.hello, payload: payload))
        case .awaitingHello:
            return .wait
        case .awaitingChallenge, .awaitingCoordinatorProof, .awaitingPeerProof, .completed, .failed:
            preconditionFailure("the handshake was started twice")
        }
    }

    /// Handles a frame from the other side.
    package mutating func received(_ frame: Frame) -> Action {
        let action: Action
        do throws(HandshakeFailure) {
            action = try self.handle(frame)
        } catch {
            // A peer tells the coordinator why, unless it is answering a refusal; a coordinator simply closes
            // the connection.
            var reply: Frame? = nil
            if self.role == .peer && frame.kind != HandshakeMessageKind.refusal {
                reply = HandshakeRefusal(error.refusalReason, error.description, version: self.version).frame
            }
            action = .fail(error, reply: reply)
        }
        switch action {
        case .sendAndComplete, .complete: self.state = .completed
        case .fail: self.state = .failed
        case .send, .wait: break
        }
        return action
    }

    private mutating func handle(_ frame: Frame) throws(HandshakeFailure) -> Action {
        switch self.state {
        case .idle:
            throw .malformed("\(HandshakeMessageKind.name(frame.kind)) arrived before the hello was sent")
        case .completed, .failed:
            throw .malformed("\(HandshakeMessageKind.name(frame.kind)) arrived after the handshake ended")
        case .awaitingHello:
            try self.refuseIfRefusal(frame, peer: nil)
            try Self.expect(HandshakeMessageKind.hello, frame)
            return try self.receivedHello(frame.payload)
        case .awaitingChallenge(let hello):
            try self.refuseIfRefusal(frame, peer: nil)
            try Self.expect(HandshakeMessageKind.challenge, frame)
            return try self.receivedChallenge(frame.payload, hello: hello)
        case .awaitingCoordinatorProof(let transcript, let coordinator):
            try self.refuseIfRefusal(frame, peer: nil)
            try Self.expect(HandshakeMessageKind.proof, frame)
            return try self.receivedCoordinatorProof(frame.payload, transcript: transcript, coordinator: coordinator)
        case .awaitingPeerProof(let transcript, let coordinatorProof, let peer):
            try self.refuseIfRefusal(frame, peer: peer)
            try Self.expect(HandshakeMessageKind.proof, frame)
            return try self.receivedPeerProof(
                frame.payload,
                transcript: transcript,
                coordinatorProof: coordinatorProof,
                peer: peer
            )
        }
    }

    // MARK: - The peer's steps

    private mutating func receivedHello(_ payload: [UInt8]) throws(HandshakeFailure) -> Action {
        let theirVersion = try HandshakeGreeting.version(of: payload)
        guard theirVersion == self.version else {
            throw .versionMismatch(ours: self.version, theirs: theirVersion)
        }
        if let busyReason = self.busyReason { throw .busy(busyReason) }
        let hello = try HandshakeGreeting(payload: payload)
        let challenge = HandshakeGreeting(version: self.version, nonce: self.nonce, fingerprint: self.fingerprint)
        let challengePayload = challenge.payload
        let transcript = Self.transcript(hello: payload, challenge: challengePayload)
        self.state = .awaitingCoordinatorProof(transcript: transcript, coordinator: hello)
        return .send(Frame(kind: HandshakeMessageKind.challenge, payload: challengePayload))
    }

    private func receivedCoordinatorProof(
        _ proof: [UInt8],
        transcript: [UInt8],
        coordinator: HandshakeGreeting
    ) throws(HandshakeFailure) -> Action {
        try Self.checkProofSize(proof)
        let authenticated = HMAC<SHA256>.isValidAuthenticationCode(
            proof,
            authenticating: Self.label(.coordinator) + transcript,
            using: self.secret.key
        )
        guard authenticated else { throw .authenticationFailed }
        // Only now, with the coordinator proven, does it learn that the builds differ.
        guard coordinator.fingerprint == self.fingerprint else {
            throw .fingerprintMismatch(ours: self.fingerprint, theirs: coordinator.fingerprint)
        }
        let ourProof = Self.prove(.peer, transcript + proof, secret: self.secret)
        let keys = SessionKeys(
            secret: self.secret,
            coordinatorNonce: coordinator.nonce,
            peerNonce: self.nonce,
            role: .peer
        )
        return .sendAndComplete(Frame(kind: HandshakeMessageKind.proof, payload: ourProof), keys)
    }

    // MARK: - The coordinator's steps

    private mutating func receivedChallenge(_ payload: [UInt8], hello: [UInt8]) throws(HandshakeFailure) -> Action {
        let theirVersion = try HandshakeGreeting.version(of: payload)
        guard theirVersion == self.version else {
            throw .versionMismatch(ours: self.version, theirs: theirVersion)
        }
        let challenge = try HandshakeGreeting(payload: payload)
        // A peer that echoes our nonce is a reflection of this very connection, not a peer.
        guard challenge.nonce != self.nonce else { throw .malformed("the challenge repeats the hello's nonce") }
        let transcript = Self.transcript(hello: hello, challenge: payload)
        let proof = Self.prove(.coordinator, transcript, secret: self.secret)
        self.state = .awaitingPeerProof(transcript: transcript, coordinatorProof: proof, peer: challenge)
        return .send(Frame(kind: HandshakeMessageKind.proof, payload: proof))
    }

    private func receivedPeerProof(
        _ proof: [UInt8],
        transcript: [UInt8],
        coordinatorProof: [UInt8],
        peer: HandshakeGreeting
    ) throws(HandshakeFailure) -> Action {
        try Self.checkProofSize(proof)
        let authenticated = HMAC<SHA256>.isValidAuthenticationCode(
            proof,
            authenticating: Self.label(.peer) + transcript + coordinatorProof,
            using: self.secret.key
        )
        guard authenticated else { throw .authenticationFailed }
        guard peer.fingerprint == self.fingerprint else {
            throw .fingerprintMismatch(ours: self.fingerprint, theirs: peer.fingerprint)
        }
        let keys = SessionKeys(
            secret: self.secret,
            coordinatorNonce: self.nonce,
            peerNonce: peer.nonce,
            role: .coordinator
        )
        return .complete(keys)
    }

    // MARK: - Shared steps

    /// Turns a refusal from the other side into this side's failure.
    private func refuseIfRefusal(_ frame: Frame, peer: HandshakeGreeting?) throws(HandshakeFailure) {
        guard frame.kind == HandshakeMessageKind.refusal else { return }
        let refusal = try HandshakeRefusal(payload: frame.payload)
        switch refusal.reason {
        case .authenticationFailed:
            throw .authenticationFailed
        case .versionMismatch where refusal.version != self.version:
            throw .versionMismatch(ours: self.version, theirs: refusal.version)
        case .fingerprintMismatch:
            if let peer { throw .fingerprintMismatch(ours: self.fingerprint, theirs: peer.fingerprint) }
            throw .refused(refusal.message)
        case .other, .versionMismatch, .malformed, .busy:
            throw .refused(refusal.message)
        }
    }

    private static func expect(_ kind: UInt8, _ frame: Frame) throws(HandshakeFailure) {
        guard frame.kind == kind else {
            throw .malformed(
                "expected \(HandshakeMessageKind.name(kind)), got \(HandshakeMessageKind.name(frame.kind))"
            )
        }
    }

    private static func checkProofSize(_ proof: [UInt8]) throws(HandshakeFailure) {
        guard proof.count == SHA256.byteCount else {
            throw .malformed("a proof of \(proof.count) bytes, not \(SHA256.byteCount)")
        }
    }

    /// The hello and the challenge, each behind its length as a 4-byte big-endian integer, so that no
    /// other pair of payloads makes the same transcript.
    static func transcript(hello: [UInt8], challenge: [UInt8]) -> [UInt8] {
        var transcript: [UInt8] = []
        transcript.reserveCapacity(8 + hello.count + challenge.count)
        for part in [hello, challenge] {
            let count = UInt32(part.count)
            transcript += [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16)]
            transcript += [UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
            transcript += part
        }
        return transcript
    }

    /// What a side's proof starts with, so that one side's proof is never valid as the other's.
    private static func label(_ role: Role) -> [UInt8] {
        Array(role == .coordinator ? "mapreduce handshake v1 coordinator\0".utf8 : "mapreduce handshake v1 peer\0".utf8)
    }

    private static func prove(_ role: Role, _ data: [UInt8], secret: ClusterSecret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Self.label(role) + data, using: secret.key))
    }
}
