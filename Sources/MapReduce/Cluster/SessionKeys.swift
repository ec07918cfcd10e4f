package import Crypto

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
