import MapReduce
import MapReduceTestSupport
import Testing

@Suite("Cluster secret files")
struct ClusterSecretTests {
    static let goodSecret = String(repeating: "0123456789abcdef", count: 2) + "\n"

    /// Writes `text` to a file in `directory` with the given mode.
    static func writeSecret(_ directory: TemporaryDirectory, _ text: String, mode: mode_t) throws -> String {
        let path = try directory.write("secret", text)
        #expect(chmod(path, mode) == 0)
        return path
    }

    static func loadError(_ path: String) throws -> MapReduceError {
        try #require(throws: MapReduceError.self) { try ClusterSecret.load(path: path) }
    }

    @Test("a file only its owner may read is accepted, and the secret is never shown")
    func ownerOnly() throws {
        let directory = try TemporaryDirectory("secret")
        defer { directory.remove() }
        let path = try Self.writeSecret(directory, Self.goodSecret, mode: 0o600)
        let secret = try ClusterSecret.load(path: path)
        #expect(secret.description == "ClusterSecret(<redacted>)")
        #expect(!"\(secret)".contains("0123456789"))
        #expect(!String(reflecting: secret).contains("0123456789"))
        // Mode 400 is as good as 600.
        #expect(chmod(path, 0o400) == 0)
        _ = try ClusterSecret.load(path: path)
    }

    @Test(
        "a file that group or others may read or write is refused, as ssh refuses a key",
        arguments: [
            0o644, 0o640, 0o604, 0o620, 0o602, 0o660,
        ] as [mode_t]
    )
    func openToOthers(mode: mode_t) throws {
        let directory = try TemporaryDirectory("secret")
        defer { directory.remove() }
        let path = try Self.writeSecret(directory, Self.goodSecret, mode: mode)
        let error = try Self.loadError(path)
        #expect(error.code == .usage)
        #expect(error.description.contains(path))
        #expect(error.description.contains("(mode \(String(mode, radix: 8)))"))
        #expect(error.description.contains("chmod 600"))
        #expect(!error.description.contains("0123456789"))
    }

    @Test("a secret shorter than 32 characters is refused, naming the minimum")
    func short() throws {
        let directory = try TemporaryDirectory("secret")
        defer { directory.remove() }
        // 31 characters and a newline: the newline does not count.
        let path = try Self.writeSecret(directory, String(repeating: "x", count: 31) + "\n", mode: 0o600)
        let error = try Self.loadError(path)
        #expect(error.code == .usage)
        #expect(error.description.contains(path))
        #expect(error.description.contains("31 characters"))
        #expect(error.description.contains("32"))
        #expect(error.description.contains("mapreduce secret"))
        // Exactly 32 without a newline is enough; so is 32 with one.
        _ = try Self.writeSecret(directory, String(repeating: "x", count: 32), mode: 0o600)
        _ = try ClusterSecret.load(path: path)
        // An empty file is short too.
        _ = try Self.writeSecret(directory, "", mode: 0o600)
        #expect(try Self.loadError(path).description.contains("0 characters"))
    }

    @Test("a missing file, a directory and an oversized file are refused, naming the file")
    func notASecretFile() throws {
        let directory = try TemporaryDirectory("secret")
        defer { directory.remove() }
        let missing = directory.file("absent")
        let error = try Self.loadError(missing)
        #expect(error.code == .usage)
        #expect(error.description.contains(missing))
        #expect(error.description.contains("no such file"))
        #expect(!error.description.contains("\n"))

        #expect(chmod(directory.path, 0o700) == 0)
        #expect(try Self.loadError(directory.path).description.contains("not a regular file"))

        let large = try Self.writeSecret(directory, String(repeating: "x", count: 5000), mode: 0o600)
        #expect(try Self.loadError(large).description.contains("more than the 4096"))
    }

    @Test("generate writes a 64-hex-character secret with mode 600 that loads, and never overwrites")
    func generate() throws {
        let directory = try TemporaryDirectory("secret")
        defer { directory.remove() }
        let path = directory.file("cluster.secret")
        try ClusterSecret.generate(path: path)

        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let contents = try Files.read(path)
        #expect(contents.count == 65)
        #expect(contents.last == UInt8(ascii: "\n"))
        #expect(contents.dropLast().allSatisfy { Array("0123456789abcdef".utf8).contains($0) })
        _ = try ClusterSecret.load(path: path)

        // A second call refuses to overwrite: the first secret stays as it was.
        let error = try #require(throws: MapReduceError.self) { try ClusterSecret.generate(path: path) }
        #expect(error.code == .usage)
        #expect(error.description.contains("already exists"))
        #expect(error.description.contains(path))
        #expect(try Files.read(path) == contents)

        // Two secrets are not the same.
        let other = directory.file("other.secret")
        try ClusterSecret.generate(path: other)
        #expect(try Files.read(other) != contents)
    }

    @Test("a secret built from bytes must be long enough too")
    func fromBytes() throws {
        _ = try ClusterSecret(bytes: Array(repeating: 7, count: 32))
        let error = try #require(throws: MapReduceError.self) {
            try ClusterSecret(bytes: Array(repeating: 7, count: 31))
        }
        #expect(error.code == .usage)
    }
}
