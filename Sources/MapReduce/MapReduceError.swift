import SystemPackage

/// The one error the engine throws.
///
/// ``description`` is the single line a command-line tool prints: what went wrong and where. ``code`` says
/// which kind of failure it is; new codes can be added without breaking existing `switch`es on them,
/// because ``Code`` is a struct rather than an enum.
public struct MapReduceError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Raw values travel in workers' failure reports: never renumber one.
        enum Storage: UInt8, Sendable {
            case badInput = 0
            case invalidData = 1
            case workerDied = 2
            case poisonTask = 3
            case jobFailed = 4
            case protocolViolation = 5
            case cancelled = 6
            case io = 7
            case usage = 8
            case limitExceeded = 9
            case systemResources = 10
            case tooLarge = 11
            case authenticationFailed = 12
            case incompatiblePeer = 13
            case peerUnavailable = 14
        }

        let storage: Storage

        /// An input path is missing, unreadable, of the wrong type, or names nothing to read.
        public static var badInput: Self { Self(storage: .badInput) }
        /// The contents of an input cannot be processed, for example invalid UTF-8.
        public static var invalidData: Self { Self(storage: .invalidData) }
        /// Worker processes died and could not be replaced.
        public static var workerDied: Self { Self(storage: .workerDied) }
        /// One task killed a worker every time it ran.
        public static var poisonTask: Self { Self(storage: .poisonTask) }
        /// The job's own code threw an error.
        public static var jobFailed: Self { Self(storage: .jobFailed) }
        /// A worker or peer sent a frame that breaks the protocol.
        public static var protocolViolation: Self { Self(storage: .protocolViolation) }
        /// The job was cancelled, for example by SIGINT.
        public static var cancelled: Self { Self(storage: .cancelled) }
        /// A system call on a file or pipe failed.
        public static var io: Self { Self(storage: .io) }
        /// The engine was configured or called wrongly.
        public static var usage: Self { Self(storage: .usage) }
        /// A limit set for the job was reached, such as the spool limit for streamed input.
        public static var limitExceeded: Self { Self(storage: .limitExceeded) }
        /// The system refused a resource: file descriptors, processes, memory.
        public static var systemResources: Self { Self(storage: .systemResources) }
        /// A key or record is larger than a worker may hold within its memory budget.
        public static var tooLarge: Self { Self(storage: .tooLarge) }
        /// A cluster peer or coordinator did not prove that it holds the shared secret.
        public static var authenticationFailed: Self { Self(storage: .authenticationFailed) }
        /// A cluster peer runs another protocol version or another build, or refused the connection.
        public static var incompatiblePeer: Self { Self(storage: .incompatiblePeer) }
        /// A peer could not be reached, or every slot of the job was lost.
        public static var peerUnavailable: Self { Self(storage: .peerUnavailable) }

        /// The code's name, such as `badInput`.
        public var description: String { String(describing: self.storage) }
    }

    /// Which kind of failure this is.
    public var code: Code
    /// What went wrong, in one line, without the location.
    public var message: String
    /// Where in the input, as `path:offset` or `path`, when known.
    public var input: String?
    /// The peer or worker involved, when there is one.
    public var peer: String?
    /// The error underneath, if another error caused this one.
    public var underlying: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: One line saying what went wrong.
    ///   - input: Where in the input, as `path:offset` or `path`.
    ///   - peer: The worker or peer involved.
    ///   - underlying: The error that caused this one.
    public init(
        _ code: Code,
        _ message: String,
        input: String? = nil,
        peer: String? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.input = input
        self.peer = peer
        self.underlying = underlying
    }

    /// The C library's error number underneath, such as `EPIPE` or `ENOSPC`, when a system call failed.
    public var errorNumber: Int32? {
        var error = self.underlying
        while let current = error {
            if let errno = current as? Errno { return errno.rawValue }
            error = (current as? MapReduceError)?.underlying
        }
        return nil
    }

    /// `input: message (peer)`, on one line.
    public var description: String {
        var line = ""
        if let input { line += "\(input): " }
        line += self.message
        if let peer { line += " (\(peer))" }
        return line.replacingNewlines()
    }
}

extension MapReduceError {
    /// A key longer than a worker may hold (``Emitter/maximumKeyBytes``): names the key's length, the
    /// limit and the option that raises it.
    /// - Parameters:
    ///   - length: The key's length in bytes, or a lower bound of it.
    ///   - limit: ``Emitter/maximumKeyBytes``.
    ///   - input: Where the key is, as `path:offset` or `path`.
    public static func keyTooLong(_ length: Int, limit: Int, input: String?) -> MapReduceError {
        MapReduceError(
            .tooLarge,
            "a key of \(length) bytes is longer than the \(limit) bytes a worker holds for one key "
                + "(a quarter of its memory budget); raise it with --worker-memory",
            input: input
        )
    }

    /// What a mapper's error becomes: a ``MapReduceError`` as it is, anything else a job failure
    /// (`the mapper threw: …`) at `origin`, with the error underneath. Out of line: it is the cold path of
    /// every map loop, which catches once per block, never per record.
    @usableFromInline
    static func mapperThrew(_ error: any Error, at origin: InputOrigin) -> MapReduceError {
        if let error = error as? MapReduceError { return error }
        return MapReduceError(.jobFailed, "the mapper threw: \(error)", input: origin.description, underlying: error)
    }
}

extension String {
    /// The string with every line break turned into a space, so an error stays on one line.
    func replacingNewlines() -> String {
        String(String.UnicodeScalarView(self.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }
}
