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
