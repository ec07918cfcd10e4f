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
    do {
        try findDestinationConflict(destinations, inputs: inputs)
    } catch let conflict as DestinationConflict {
        printToStandardError("mapreduce: \(conflict.message)")
        throw ExitCode(64)
    }
}

private struct DestinationConflict: Error {
    var message: String
}

private func findDestinationConflict(_ destinations: [(flag: String, path: String?)], inputs: [String]) throws {
    var seen: [(flag: String, path: String, resolved: String)] = []
    for case (let flag, let path?) in destinations where path != "-" {
        guard let resolved = resolvedDestination(path) else { continue }
        if let other = seen.first(where: { $0.resolved == resolved }) {
            throw DestinationConflict(message: "\(other.flag) and \(flag) name the same file, \(path)")
        }
        seen.append((flag, path, resolved))
    }
    for input in inputs where input != "-" {
        guard let resolved = realPath(input) else { continue }
        var info = stat()
        let isDirectory = stat(input, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        for destination in seen {
            if destination.resolved == resolved {
                throw DestinationConflict(
                    message: "\(destination.flag) names an input, \(input): the output would replace what it reads"
                )
            }
            if isDirectory && destination.resolved.hasPrefix(resolved == "/" ? "/" : resolved + "/") {
                throw DestinationConflict(
                    message: "\(destination.flag) \(destination.path) is inside the input directory \(input): it "
                        + "would be read as input; write it elsewhere"
                )
            }
        }
    }
}

/// Where a destination's file is or would be, links followed; nil for a special file or when its
/// directory cannot be resolved.
private func resolvedDestination(_ path: String, depth: Int = 0) -> String? {
    var info = stat()
    if stat(path, &info) == 0 {
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }
        return realPath(path)
    }
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    // A link to a file not there yet: the output is created where it points.
    if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0, depth < 16 else { return nil }
        let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return resolvedDestination(target.hasPrefix("/") ? target : directory + "/" + target, depth: depth + 1)
    }
    guard !name.isEmpty, let resolvedDirectory = realPath(directory) else { return nil }
    return resolvedDirectory == "/" ? "/" + name : resolvedDirectory + "/" + name
}

private func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
