import ArgumentParser

/// The command line as the bytes the program was given.
///
/// Linux paths are bytes and need not be UTF-8, but `CommandLine.arguments`, and so ArgumentParser,
/// hand them over as `String`s in which each invalid byte became U+FFFD: such a path could no longer
/// be opened. `CommandLine.unsafeArgv` still holds the bytes, so each parsed path is mapped back to the
/// argument it came from:
///
/// - a path that holds no U+FFFD was valid UTF-8, and its bytes are its UTF-8;
/// - otherwise it is the next argument, in order, that is not valid UTF-8 and decodes to the same
///   string. Paths are parsed in their order on the command line, so the n-th such path is the n-th
///   such argument, unless an option's value (`--output`) decodes to the same string too: then which
///   is which cannot be told, and the command says so rather than guess.
enum RawArguments {
    /// `argv[1...]` as bytes.
    static func commandLine() -> [[UInt8]] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return [] }
            var length = 0
            while argument[length] != 0 { length += 1 }
            return Array(UnsafeRawBufferPointer(start: argument, count: length))
        }
    }

    /// The bytes each of `paths` was given as.
    /// - Throws: `ValidationError` when a path that was not UTF-8 cannot be matched to one argument.
    static func bytes(of paths: [String], arguments: [[UInt8]] = commandLine()) throws -> [[UInt8]] {
        // The arguments a String cannot hold, with the strings ArgumentParser saw for them.
        let invalid: [(bytes: [UInt8], decoded: String)] = arguments.compactMap { bytes in
            String(validating: bytes, as: UTF8.self) == nil ? (bytes, String(decoding: bytes, as: UTF8.self)) : nil
        }
        var next = 0
        return try paths.map { path in
            guard path.unicodeScalars.contains("\u{FFFD}"), !invalid.isEmpty else { return Array(path.utf8) }
            let sameArguments = invalid.count { $0.decoded == path }
            let samePaths = paths.count { $0 == path }
            guard sameArguments == 0 || sameArguments == samePaths else {
                throw ValidationError(
                    "Cannot tell which argument the path '\(path)' (not UTF-8) is: \(sameArguments) arguments read the same."
                )
            }
            guard let found = invalid[next...].firstIndex(where: { $0.decoded == path }) else {
                return Array(path.utf8)
            }
            next = found + 1
            return invalid[found].bytes
        }
    }
}
