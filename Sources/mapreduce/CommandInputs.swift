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

/// Checks, before any work, that the files a command writes are distinct and that none of them is one
/// of its inputs or lies inside an input directory: the stats written over the output, or the output
/// over the text it counts (or counted as input on the next run), would lose data without a word.
/// Standard output (`-`) and devices, FIFOs and other special files are left alone (`/dev/null` twice
/// is fine); a path that cannot be resolved is left for opening it to report.
/// - Parameters:
///   - destinations: Each flag and the path given for it, if any.
///   - inputs: The input paths as given.
/// - Throws: `ExitCode(64)`, a usage error, after one line on standard error naming the flags and the
///   path.
func checkDestinations(_ destinations: [(flag: String, path: String?)], inputs: [String]) throws {
    if let conflict = destinationConflict(destinations, inputs: inputs) {
        printToStandardError("mapreduce: \(conflict)")
        throw ExitCode(64)
    }
}

/// What ``checkDestinations(_:inputs:)`` refuses, in a line; nil when nothing is wrong.
private func destinationConflict(_ destinations: [(flag: String, path: String?)], inputs: [String]) -> String? {
    var seen: [(flag: String, path: String, resolved: String)] = []
    for case (let flag, let path?) in destinations {
        guard let resolved = OutputFile.finalFile(of: path) else { continue }
        if let other = seen.first(where: { $0.resolved == resolved }) {
            return "\(other.flag) and \(flag) name the same file, \(path)"
        }
        seen.append((flag, path, resolved))
    }
    for input in inputs where input != "-" {
        guard let resolved = canonicalPath(input) else { continue }
        var info = stat()
        let isDirectory = stat(input, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        for destination in seen {
            if destination.resolved == resolved {
                return "\(destination.flag) names an input, \(input): the output would replace what it reads"
            }
            if isDirectory && destination.resolved.hasPrefix(resolved == "/" ? "/" : resolved + "/") {
                return "\(destination.flag) \(destination.path) is inside the input directory \(input): it would be "
                    + "read as input; write it elsewhere"
            }
        }
    }
    return nil
}
