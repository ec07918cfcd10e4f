/// The job's input files, kept compactly: a few bytes per file beyond its name, so that a million files
/// cost tens of megabytes at most, not hundreds.
///
/// Paths are bytes (Linux paths need not be UTF-8). Each directory's path is stored once, and each file
/// as its name and the index of its directory; names, sizes and modification times sit in flat arrays.
/// Empty files hold nothing to map: they are only counted. Map tasks refer to files by their index
/// here, and carry the path bytes only on the wire.
package struct InputList: Sendable {
    /// Each directory's path with its final slash, end to end; the first is empty, for whole paths.
    private var directoryBytes: [UInt8] = []
    /// Where each directory's path ends in `directoryBytes`; it starts where the one before ends.
    private var directoryEnds: [Int] = [0]
    /// The files' names (their paths after their directory's), end to end.
    private var nameBytes: [UInt8] = []
    /// Where each name ends in `nameBytes`; it starts where the one before ends.
    private var nameEnds: [Int] = []
    private var directories: [UInt32] = []
    private var sizes: [Int] = []
    private var modificationTimes: [Int] = []
    /// Names for the few files whose messages must not show their path (standard input's spool file).
    private var displayNames: [Int: String] = [:]

    /// Files that were empty when the job started: counted, never mapped.
    package private(set) var emptyFiles = 0
    /// The bytes of every file, as they were when the job started.
    package private(set) var totalBytes = 0

    package init() {}

    /// Non-empty files, the ones that map tasks read.
    package var count: Int { self.sizes.count }

    /// Every file, empty ones included.
    package var fileCount: Int { self.sizes.count + self.emptyFiles }

    /// Adds a file as it is now.
    /// - Parameters:
    ///   - path: Where workers open it.
    ///   - size: Its size; an empty file is only counted.
    ///   - modified: Its modification time, in nanoseconds since the epoch.
    ///   - displayName: How messages name it, when not by its path.
    package mutating func append(
        path: some Collection<UInt8>,
        size: Int,
        modified: Int,
        displayName: String? = nil
    ) {
        self.append(name: path, inDirectory: 0, size: size, modified: modified, displayName: displayName)
    }

    /// Stores a directory's path (ending with a slash) once, for the files in it; returns its index.
    package mutating func addDirectory(_ path: some Collection<UInt8>) -> Int {
        self.directoryBytes.append(contentsOf: path)
        self.directoryEnds.append(self.directoryBytes.count)
        return self.directoryEnds.count - 1
    }

    /// Adds a file of a directory stored with ``addDirectory(_:)``, by its name there.
    package mutating func append(
        name: some Collection<UInt8>,
        inDirectory directory: Int,
        size: Int,
        modified: Int,
        displayName: String? = nil
    ) {
        guard size > 0 else {
            self.emptyFiles += 1
            return
        }
        if let displayName { self.displayNames[self.sizes.count] = displayName }
        self.nameBytes.append(contentsOf: name)
        self.nameEnds.append(self.nameBytes.count)
        self.directories.append(UInt32(directory))
        self.sizes.append(size)
        self.modificationTimes.append(modified)
        self.totalBytes += size
    }

    /// The bytes of the path of the file at `index`: its directory's path, then its name.
    package func path(at index: Int) -> [UInt8] {
        let directory = Int(self.directories[index])
        let directoryStart = directory == 0 ? 0 : self.directoryEnds[directory - 1]
        let nameStart = index == 0 ? 0 : self.nameEnds[index - 1]
        var path: [UInt8] = []
        path.reserveCapacity(self.directoryEnds[directory] - directoryStart + self.nameEnds[index] - nameStart)
        path += self.directoryBytes[directoryStart..<self.directoryEnds[directory]]
        path += self.nameBytes[nameStart..<self.nameEnds[index]]
        return path
    }

    package func size(at index: Int) -> Int { self.sizes[index] }

    package func modified(at index: Int) -> Int { self.modificationTimes[index] }

    /// How messages name the file at `index`: its path, invalid UTF-8 escaped, or its display name.
    package func displayName(at index: Int) -> String {
        self.displayNames[index] ?? PathName.display(self.path(at: index))
    }

    /// The explicit display name of the file at `index`, if it has one.
    package func explicitDisplayName(at index: Int) -> String? {
        self.displayNames[index]
    }

    /// Gives back the room the arrays grew into but do not use (up to half of each, as they double).
    package mutating func shrinkToFit() {
        // `Array(array)` would share the same storage; a copy from a buffer allocates only `count`.
        self.directoryBytes = self.directoryBytes.withUnsafeBufferPointer { Array($0) }
        self.directoryEnds = self.directoryEnds.withUnsafeBufferPointer { Array($0) }
        self.nameBytes = self.nameBytes.withUnsafeBufferPointer { Array($0) }
        self.nameEnds = self.nameEnds.withUnsafeBufferPointer { Array($0) }
        self.directories = self.directories.withUnsafeBufferPointer { Array($0) }
        self.sizes = self.sizes.withUnsafeBufferPointer { Array($0) }
        self.modificationTimes = self.modificationTimes.withUnsafeBufferPointer { Array($0) }
    }
}
