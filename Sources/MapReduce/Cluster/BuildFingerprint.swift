import Crypto

/// What a node runs: its binary and the jobs compiled into it.
///
/// A coordinator and a peer must run the same build: a peer runs only jobs compiled into its own binary, and
/// two builds of one job may encode keys differently. The handshake compares fingerprints and refuses a
/// mismatch, naming both.
package struct BuildFingerprint: Sendable, Equatable, CustomStringConvertible {
    /// The most bytes of one string (the build or a job name) a decoder accepts.
    package static let maximumStringBytes = 1024
    /// The most job names a decoder accepts.
    package static let maximumJobs = 256

    /// Identifies the binary: the first 16 hex characters of the SHA-256 of the executable file.
    package var build: String
    /// The names of the registered jobs, sorted.
    package var jobs: [String]

    /// A fingerprint with an explicit build, for tests or for a binary hashed elsewhere.
    /// - Parameters:
    ///   - build: Identifies the binary.
    ///   - jobs: The names of the registered jobs, in any order.
    package init(build: String, jobs: [String]) {
        self.build = build
        self.jobs = jobs.sorted()
    }

    /// This process's fingerprint: ``executableHash()`` and the given jobs.
    /// - Parameter jobs: The names of the jobs this binary registers.
    /// - Throws: ``MapReduceError`` when the executable cannot be read.
    package static func current(jobs: [String]) throws -> BuildFingerprint {
        BuildFingerprint(build: try self.executableHash(), jobs: jobs)
    }

    /// The first 16 hex characters of the SHA-256 of this process's executable (`/proc/self/exe`),
    /// computed on first use and then cached.
    /// - Throws: ``MapReduceError`` with code ``MapReduceError/Code/io`` when the executable cannot be read.
    package static func executableHash() throws -> String {
        try cachedExecutableHash.get()
    }

    /// Hashed once per process: a static `let` is initialised lazily and exactly once.
    private static let cachedExecutableHash: Result<String, MapReduceError> = Result {
        try hashFile("/proc/self/exe")
    }.mapError { $0 as? MapReduceError ?? MapReduceError(.io, describeError($0)) }

    /// The first 16 hex characters of the SHA-256 of a file's contents.
    static func hashFile(_ path: String) throws -> String {
        let fd: CInt
        do {
            fd = try Syscall.openForReading(path)
        } catch {
            throw MapReduceError(.io, "cannot read \(path) to fingerprint the build: \(describeError(error))")
        }
        defer { Syscall.close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try Syscall.read(fd, $0) }
            } catch {
                throw MapReduceError(.io, "cannot read \(path) to fingerprint the build: \(describeError(error))")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return String(hexadecimal: hasher.finalize().prefix(8))
    }

    package var description: String {
        "build \(self.build.escapedForDisplay), jobs [\(self.jobs.map(\.escapedForDisplay).joined(separator: ", "))]"
    }
}

// MARK: - Wire encoding

extension BuildFingerprint: WireCodable {
    /// Appends the build, the number of jobs and each job name, strings length-prefixed.
    package func encode(into writer: inout WireWriter) {
        writer.writeLengthPrefixed(self.build)
        writer.writeVarint(self.jobs.count)
        for job in self.jobs { writer.writeLengthPrefixed(job) }
    }

    /// Reads what ``encode(into:)`` wrote, bounding every length and count before allocating.
    package init(decoding reader: inout WireReader) throws {
        let build = try reader.readBoundedString(limit: Self.maximumStringBytes, what: "a build fingerprint")
        // Each name takes at least its one-byte length, which bounds the count by the bytes left.
        let count = try reader.readCount(limit: min(Self.maximumJobs, reader.remaining))
        var jobs: [String] = []
        jobs.reserveCapacity(count)
        for _ in 0..<count {
            jobs.append(try reader.readBoundedString(limit: Self.maximumStringBytes, what: "a job name"))
        }
        // Kept in the order sent: a reordered list is a different fingerprint, not one to repair.
        self.build = build
        self.jobs = jobs
    }
}

extension WireReader {
    /// Reads a length-prefixed UTF-8 string of at most `limit` bytes.
    mutating func readBoundedString(limit: Int, what: String) throws -> String {
        let count = try self.readVarint()
        guard count <= UInt64(limit) else {
            throw MapReduceError(.protocolViolation, "\(what) of \(count) bytes is longer than the limit of \(limit)")
        }
        let raw = try self.readBytes(count: Int(count))
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw MapReduceError(.protocolViolation, "\(what) is not valid UTF-8")
        }
        return string
    }
}

extension String {
    /// Lowercase hexadecimal digits for bytes.
    init(hexadecimal bytes: some Sequence<UInt8>) {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        self.init(decoding: text, as: UTF8.self)
    }

    /// The string with control characters shown as `\u{…}` escapes, so that text a remote party chose cannot
    /// move the cursor or recolour a terminal when it is printed.
    var escapedForDisplay: String {
        var result = ""
        for scalar in self.unicodeScalars {
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
