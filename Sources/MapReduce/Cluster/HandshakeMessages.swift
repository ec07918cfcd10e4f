/// The version of the cluster protocol (preamble, handshake and the messages after it); both ends must agree.
package let clusterProtocolVersion = 2

/// Frame kinds of the handshake, in a range of their own (200...209) so that they are never mistaken for
/// task messages.
package enum HandshakeMessageKind {
    /// Every kind the handshake may ever use.
    package static let range: ClosedRange<UInt8> = 200...209
    /// Coordinator to peer: version, coordinator nonce, coordinator fingerprint.
    package static let hello: UInt8 = 200
    /// Peer to coordinator: version, peer nonce, peer fingerprint.
    package static let challenge: UInt8 = 201
    /// Either way: an HMAC over the transcript that proves the sender holds the secret.
    package static let proof: UInt8 = 202
    /// Either way: why the sender ends the handshake.
    package static let refusal: UInt8 = 203

    /// A name for a kind, for error messages.
    static func name(_ kind: UInt8) -> String {
        switch kind {
        case hello: "a hello"
        case challenge: "a challenge"
        case proof: "a proof"
        case refusal: "a refusal"
        default: "a frame of unknown kind \(kind)"
        }
    }
}

/// The bytes of a nonce: fresh randomness from each side makes every transcript, and so every proof and
/// session key, unique.
package let handshakeNonceSize = 32

/// A hello or a challenge: the two carry the same fields.
struct HandshakeGreeting: Equatable {
    var version: Int
    var nonce: [UInt8]
    var fingerprint: BuildFingerprint

    var payload: [UInt8] {
        var writer = WireWriter()
        writer.writeVarint(self.version)
        writer.write(self.nonce)
        self.fingerprint.encode(into: &writer)
        return writer.bytes
    }

    /// The version alone, read first so that a greeting from another version is refused by its version
    /// rather than by whatever else that version changed.
    static func version(of payload: [UInt8]) throws(HandshakeFailure) -> Int {
        try decodeHandshakePayload(payload, complete: false) { try $0.readVersion() }
    }

    init(version: Int, nonce: [UInt8], fingerprint: BuildFingerprint) {
        self.version = version
        self.nonce = nonce
        self.fingerprint = fingerprint
    }

    init(payload: [UInt8]) throws(HandshakeFailure) {
        self = try decodeHandshakePayload(payload) { reader in
            let version = try reader.readVersion()
            let nonce = Array(try reader.readBytes(count: handshakeNonceSize))
            let fingerprint = try BuildFingerprint(decoding: &reader)
            return HandshakeGreeting(version: version, nonce: nonce, fingerprint: fingerprint)
        }
    }
}

/// Why a side ends the handshake, as it travels.
struct HandshakeRefusal: Equatable {
    /// The reason in a form the other side acts on; unknown values read as ``other``.
    enum Reason: UInt8 {
        case other = 0
        case authenticationFailed = 1
        case versionMismatch = 2
        case fingerprintMismatch = 3
        case malformed = 4
        case busy = 5
    }

    /// The most bytes of a refusal's message a decoder accepts.
    static let maximumMessageBytes = 1024

    /// The sender's protocol version, first as in every handshake message.
    var version: Int
    var reason: Reason
    /// For people: what the sender saw, naming both sides' values where there are two.
    var message: String

    init(_ reason: Reason, _ message: String, version: Int = clusterProtocolVersion) {
        self.version = version
        self.reason = reason
        // Cut to the limit the other side accepts, on a character boundary.
        var message = message
        while message.utf8.count > Self.maximumMessageBytes { message.removeLast() }
        self.message = message
    }

    var frame: Frame {
        var writer = WireWriter()
        writer.writeVarint(self.version)
        writer.write(self.reason.rawValue)
        writer.writeLengthPrefixed(self.message)
        return Frame(kind: HandshakeMessageKind.refusal, payload: writer.bytes)
    }

    init(payload: [UInt8]) throws(HandshakeFailure) {
        self = try decodeHandshakePayload(payload) { reader in
            let version = try reader.readVersion()
            let reason = Reason(rawValue: try reader.readByte()) ?? .other
            let message = try reader.readBoundedString(limit: Self.maximumMessageBytes, what: "a refusal")
            return HandshakeRefusal(reason, message, version: version)
        }
    }
}

/// Decodes a handshake payload, turning every decoding error into a ``HandshakeFailure/malformed(_:)`` and,
/// when `complete`, refusing bytes left over.
func decodeHandshakePayload<T>(
    _ payload: [UInt8],
    complete: Bool = true,
    _ body: (inout WireReader) throws -> T
) throws(HandshakeFailure) -> T {
    do {
        return try payload.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            let value = try body(&reader)
            if complete && !reader.isAtEnd {
                throw MapReduceError(.protocolViolation, "\(reader.remaining) bytes after the end of the message")
            }
            return value
        }
    } catch let error as MapReduceError {
        throw .malformed(error.message)
    } catch {
        throw .malformed(describeError(error))
    }
}

extension WireReader {
    /// Reads a protocol version: a varint no larger than the preamble's 16 bits can carry.
    fileprivate mutating func readVersion() throws -> Int {
        try self.readCount(limit: Int(UInt16.max))
    }
}
