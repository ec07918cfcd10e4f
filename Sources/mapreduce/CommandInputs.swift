import ArgumentParser
import MapReduce

/// The inputs a job command names: its paths as the bytes they were given as (a name that is not UTF-8
/// is opened by those bytes), `-` for standard input, and standard input when no path is named and it
/// is not a terminal.
/// - Throws: `ValidationError` when nothing is named and standard input is a terminal.
func commandInputs(_ paths: [String], what: String) throws -> [InputSource] {
    let inputs: [InputSource] = try RawArguments.bytes(of: paths).map {
        $0 == Array("-".utf8) ? .standardInput : .rawPath($0)
    }
    if !inputs.isEmpty { return inputs }
    guard isatty(STDIN_FILENO) == 0 else {
        throw ValidationError("No input: name files or directories, or pipe \(what) to standard input.")
    }
    return [.standardInput]
}
