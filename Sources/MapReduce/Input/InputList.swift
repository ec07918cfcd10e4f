/// The job's input files, kept compactly: a few bytes per file beyond its path, so that a million files
/// cost tens of megabytes at most, not hundreds.
///
/// Paths are bytes (Linux paths need not be UTF-8), stored once, end to end, in one arena; sizes and
/// modification times sit in flat arrays beside them. Empty files hold nothing to map: they are only
/// counted. Map tasks refer to files by their index here, and carry the path bytes only on the wire.
package struct InputList: Sendable {
    /// The paths' bytes, end to end.
    private var arena: [UInt8] = []
    /// Where each path ends in the arena; it starts where the one before ends.
    private var pathEnds: [Int] = []
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
        guard size > 0 else {
            self.emptyFiles += 1
            return
        }
        if let displayName { self.displayNames[self.sizes.count] = displayName }
        self.arena.append(contentsOf: path)
        self.pathEnds.append(self.arena.count)
        self.sizes.append(size)
        self.modificationTimes.append(modified)
        self.totalBytes += size
    }

    /// The bytes of the path of the file at `index`.
    package func path(at index: Int) -> ArraySlice<UInt8> {
        let start = index == 0 ? 0 : self.pathEnds[index - 1]
        return self.arena[start..<self.pathEnds[index]]
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
        self.arena = self.arena.withUnsafeBufferPointer { Array($0) }
        self.pathEnds = self.pathEnds.withUnsafeBufferPointer { Array($0) }
        self.sizes = self.sizes.withUnsafeBufferPointer { Array($0) }
        self.modificationTimes = self.modificationTimes.withUnsafeBufferPointer { Array($0) }
    }
}
