package import Crypto

/// Why a handshake failed.
package enum HandshakeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The other side does not hold the same secret: its proof did not check out, or it refused ours.
    case authenticationFailed
    /// The two sides speak different protocol versions.
    case versionMismatch(ours: Int, theirs: Int)
    /// The two sides run different builds or register different jobs.
    case fingerprintMismatch(ours: BuildFingerprint, theirs: BuildFingerprint)
    /// The other side refused the connection, for the reason it gave.
    case refused(String)
    /// This peer refused the coordinator because it is busy, for the reason its caller gave.
    case busy(String)
    /// A frame of the wrong kind, out of order, truncated, too long or otherwise not a valid message.
    case malformed(String)

    package var description: String {
        switch self {
        case .authenticationFailed:
            "authentication failed: the two sides do not hold the same cluster secret"
        case .versionMismatch(let ours, let theirs):
            "cluster protocol version mismatch: ours is \(ours), theirs is \(theirs)"
        case .fingerprintMismatch(let ours, let theirs):
            "build fingerprint mismatch: ours is \(ours); theirs is \(theirs)"
        case .refused(let reason):
            "the other side refused the connection: \(reason.escapedForDisplay)"
        case .busy(let reason):
            "busy: \(reason)"
        case .malformed(let detail):
            "malformed handshake: \(detail)"
        }
    }

    /// The engine's error for this failure: code ``MapReduceError/Code/authenticationFailed``,
    /// ``MapReduceError/Code/incompatiblePeer`` or ``MapReduceError/Code/protocolViolation``.
    /// - Parameter peer: The other side's address, for the message.
    package func error(peer: String? = nil) -> MapReduceError {
        switch self {
        case .authenticationFailed:
            MapReduceError(.authenticationFailed, self.description, peer: peer)
        case .versionMismatch, .refused, .busy:
            MapReduceError(.incompatiblePeer, self.description, peer: peer)
        case .fingerprintMismatch:
            MapReduceError(
                .incompatiblePeer,
                self.description + "; run the same mapreduce binary on every node",
                peer: peer
            )
        case .malformed:
            MapReduceError(.protocolViolation, self.description, peer: peer)
        }
    }

    /// The reason a refusal carrying this failure gives the other side.
    var refusalReason: HandshakeRefusal.Reason {
        switch self {
        case .authenticationFailed: .authenticationFailed
        case .versionMismatch: .versionMismatch
        case .fingerprintMismatch: .fingerprintMismatch
        case .refused: .other
        case .busy: .busy
        case .malformed: .malformed
        }
    }
}

/// The two keys that authenticate frames after the handshake, one per direction.
///
/// Both are derived with HKDF-SHA256 from the cluster secret, salted with both nonces, so every connection
/// has its own keys and a frame from one direction or one connection is never valid in another.
package struct SessionKeys: Sendable, Equatable, CustomStringConvertible {
    /// The key that seals the frames this side sends.
    package let sending: SymmetricKey
    /// The key that verifies the frames this side receives.
    package let receiving: SymmetricKey

    /// The `info` both sides give HKDF, followed by the direction.
    static let info = "mapreduce session v1"

    /// Derives the keys of one connection.
    /// - Parameters:
    ///   - secret: The shared secret.
    ///   - coordinatorNonce: The nonce of the hello.
    ///   - peerNonce: The nonce of the challenge.
    ///   - role: Which side holds the keys: it decides which key sends.
    init(
        secret: ClusterSecret,
        coordinatorNonce: [UInt8],
        peerNonce: [UInt8],
        role: HandshakeStateMachine.Role
    ) {
        let salt = coordinatorNonce + peerNonce
        func derive(_ direction: String) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: secret.key,
                salt: salt,
                info: Array((Self.info + " " + direction).utf8),
                outputByteCount: 32
            )
        }
        let toPeer = derive("coordinator to peer")
        let toCoordinator = derive("peer to coordinator")
        switch role {
        case .coordinator:
            self.sending = toPeer
            self.receiving = toCoordinator
        case .peer:
            self.sending = toCoordinator
            self.receiving = toPeer
        }
    }

    package var description: String { "SessionKeys(<redacted>)" }
}
