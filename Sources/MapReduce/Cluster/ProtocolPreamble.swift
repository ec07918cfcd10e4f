package import NIOCore

/// The 8 bytes each side writes first on a new cluster connection: the magic `MAPRED` and the protocol
/// version as a big-endian `UInt16`.
///
/// Anything else that connects, a port scanner or a web browser, is told apart before a single frame is
/// decoded, and a peer of another version is named as such rather than failing on its first frame.
package enum ProtocolPreamble {
    /// `MAPRED` in ASCII.
    package static let magic: [UInt8] = Array("MAPRED".utf8)
    /// The bytes of a preamble.
    package static let size = 8

    /// The preamble of a protocol version.
    /// - Parameter version: ``clusterProtocolVersion`` unless testing.
    package static func bytes(version: Int = clusterProtocolVersion) -> [UInt8] {
        let version = UInt16(version)
        return magic + [UInt8(version >> 8), UInt8(truncatingIfNeeded: version)]
    }

    /// Checks a preamble, or as much of one as arrived.
    /// - Parameters:
    ///   - bytes: At most ``size`` bytes received first.
    ///   - version: The version this side speaks.
    /// - Returns: True when `bytes` is a whole preamble of `version`, false when it is the start of one.
    /// - Throws: ``MapReduceError`` with code ``MapReduceError/Code/protocolViolation`` when the bytes are
    ///   not a preamble, or ``MapReduceError/Code/incompatiblePeer`` when the version differs.
    static func check(_ bytes: [UInt8], version: Int) throws -> Bool {
        let magicCount = min(bytes.count, magic.count)
        guard bytes[..<magicCount].elementsEqual(magic[..<magicCount]) else {
            throw MapReduceError(.protocolViolation, "not a mapreduce peer: it sent \"\(Self.escape(bytes))\"")
        }
        guard bytes.count == size else { return false }
        let theirs = Int(bytes[6]) << 8 | Int(bytes[7])
        guard theirs == version else {
            throw MapReduceError(
                .incompatiblePeer,
                "the other side speaks cluster protocol version \(theirs), this node speaks version \(version); "
                    + "run the same mapreduce release on every node"
            )
        }
        return true
    }

    /// Printable ASCII as it is, anything else as `\xNN`.
    static func escape(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "\"") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                text += "\\x" + String(hexadecimal: [byte])
            }
        }
        return text
    }
}

extension ProtocolPreamble {
    /// The preamble in a buffer, to write first on a new connection.
    /// - Parameters:
    ///   - allocator: The channel's allocator.
    ///   - version: ``clusterProtocolVersion`` unless testing.
    package static func buffer(allocator: ByteBufferAllocator, version: Int = clusterProtocolVersion) -> ByteBuffer {
        allocator.buffer(bytes: Self.bytes(version: version))
    }
}
