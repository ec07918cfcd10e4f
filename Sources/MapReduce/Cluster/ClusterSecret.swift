import Crypto
import SystemPackage

/// The secret a coordinator and its peers share, read from a file only its owner may read.
///
/// There is no default secret: every node loads one with ``load(path:)``, and ``generate(path:)`` makes a
/// fresh one. The bytes never leave this type except as an HMAC key; ``description`` never shows them.
package struct ClusterSecret: Sendable, CustomStringConvertible {
    /// The fewest characters a secret may have: 32 random hex characters hold 128 bits.
    package static let minimumLength = 32
    /// The most bytes read from a secret file; a longer file is refused before anything is allocated for it.
    package static let maximumFileSize = 4096

    private let bytes: [UInt8]

    /// Wraps secret bytes, for tests and for callers that hold the secret elsewhere.
    /// - Throws: ``MapReduceError`` with code ``MapReduceError/Code/usage`` when it is shorter than
    ///   ``minimumLength``.
    package init(bytes: [UInt8]) throws {
        guard bytes.count >= Self.minimumLength else {
            throw MapReduceError(
                .usage,
                "a cluster secret of \(bytes.count) characters is shorter than the \(Self.minimumLength) it needs"
            )
        }
        self.bytes = bytes
    }

    /// The secret as an HMAC and HKDF key.
    var key: SymmetricKey { SymmetricKey(data: self.bytes) }

    package var description: String { "ClusterSecret(<redacted>)" }

    /// Reads the secret from a file, as ssh reads a private key: refused unless it is a regular file that
    /// neither group nor others may read or write.
    ///
    /// The secret is the file's contents less one trailing newline.
    /// - Parameter path: The secret file.
    /// - Throws: ``MapReduceError`` with code ``MapReduceError/Code/usage``, one line naming the file, when
    ///   the file is missing, unreadable, not a regular file, open to group or others, larger than
    ///   ``maximumFileSize`` bytes, or shorter than ``minimumLength`` characters.
    package static func load(path: String) throws -> ClusterSecret {
        let fd: CInt
        do {
            // Non-blocking, so that a FIFO in its place is refused below instead of hanging the open.
            fd = try Syscall.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)
        } catch {
            var message = "cannot read secret file \(path): \(describeError(error))"
            if error == .noSuchFileOrDirectory { message += "; make one with `mapreduce secret \(path)`" }
            throw MapReduceError(.usage, message, underlying: error)
        }
        defer { Syscall.close(fd) }
        let info: stat
        do {
            info = try Syscall.fstat(fd)
        } catch {
            throw MapReduceError(.usage, "cannot read secret file \(path): \(describeError(error))", underlying: error)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw MapReduceError(.usage, "secret file \(path) is not a regular file")
        }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw MapReduceError(
                .usage,
                "secret file \(path) is readable or writable by group or others "
                    + "(mode \(String(permissions, radix: 8))); chmod 600 it"
            )
        }
        guard info.st_size <= Self.maximumFileSize else {
            throw MapReduceError(
                .usage,
                "secret file \(path) holds \(info.st_size) bytes, more than the \(Self.maximumFileSize) a secret "
                    + "file may have"
            )
        }
        // One byte more than allowed, so that a file grown since the fstat is still caught.
        var contents = [UInt8](repeating: 0, count: Self.maximumFileSize + 1)
        let count: Int
        do {
            count = try contents.withUnsafeMutableBytes { try Syscall.readFully(fd, $0) }
        } catch {
            throw MapReduceError(.usage, "cannot read secret file \(path): \(describeError(error))", underlying: error)
        }
        guard count <= Self.maximumFileSize else {
            throw MapReduceError(
                .usage,
                "secret file \(path) holds more than the \(Self.maximumFileSize) bytes a secret file may have"
            )
        }
        contents.removeSubrange(count...)
        if contents.last == UInt8(ascii: "\n") { contents.removeLast() }
        guard contents.count >= Self.minimumLength else {
            throw MapReduceError(
                .usage,
                "secret file \(path) holds \(contents.count) characters, fewer than the \(Self.minimumLength) "
                    + "a secret needs; make a new one with `mapreduce secret FILE`"
            )
        }
        return try ClusterSecret(bytes: contents)
    }

    /// Writes a fresh random secret to a new file only its owner may read: 32 random bytes as 64 lowercase
    /// hex characters and a newline.
    /// - Parameter path: Where to write it; nothing may be there yet.
    /// - Throws: ``MapReduceError`` with code ``MapReduceError/Code/usage`` when something is already at
    ///   `path`, or ``MapReduceError/Code/io`` when the file cannot be written.
    package static func generate(path: String) throws {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let text = Array((String(hexadecimal: random) + "\n").utf8)

        let fd: CInt
        do {
            fd = try Syscall.open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOCTTY, 0o600)
        } catch {
            if error == .fileExists {
                throw MapReduceError(
                    .usage,
                    "secret file \(path) already exists; not overwriting it (remove it first to replace it)",
                    underlying: error
                )
            }
            throw MapReduceError(.io, "cannot create secret file \(path): \(describeError(error))", underlying: error)
        }
        do {
            try Syscall.fchmod(fd, 0o600)
            try text.withUnsafeBytes { try Syscall.writeFully(fd, $0) }
            try Syscall.fsync(fd)
        } catch {
            Syscall.close(fd)
            Syscall.unlink(path)
            throw MapReduceError(.io, "cannot write secret file \(path): \(describeError(error))", underlying: error)
        }
        Syscall.close(fd)
    }
}
