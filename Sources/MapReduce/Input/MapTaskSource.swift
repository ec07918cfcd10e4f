/// Cuts the job's input files into map tasks of a requested size, on demand.
///
/// Large files are cut into byte ranges, so one huge file keeps every worker busy; small files are grouped
/// into one task. Cuts fall anywhere: the worker moves each end of a range forward to the next line start,
/// so neighbouring ranges share no line and miss none.
package struct MapTaskSource: Sendable {
    package let files: [InputFile]
    var fileIndex = 0
    var offset = 0
    var nextID = 0
    package private(set) var remainingBytes: Int

    /// At most this many splits per task, which bounds a task's frame for inputs of many tiny files.
    static let maximumSplits = 512

    package init(files: [InputFile]) {
        self.files = files.filter { $0.size > 0 }
        self.remainingBytes = self.files.reduce(0) { $0 + $1.size }
    }

    package var isExhausted: Bool { self.fileIndex >= self.files.count }

    /// The next task, of about `chunkBytes` bytes.
    package mutating func next(chunkBytes: Int) -> MapTask {
        precondition(!self.isExhausted)
        let chunk = max(1, chunkBytes)
        var splits: [InputSplit] = []
        var taken = 0
        while taken < chunk, !self.isExhausted, splits.count < Self.maximumSplits {
            let file = self.files[self.fileIndex]
            var end = min(file.size, self.offset + (chunk - taken))
            // Do not leave a sliver of a file behind for a task of its own.
            if file.size - end < chunk / 8 { end = file.size }
            splits.append(
                InputSplit(
                    path: file.path,
                    displayName: file.displayName,
                    fileSize: file.size,
                    start: self.offset,
                    end: end
                )
            )
            taken += end - self.offset
            if end == file.size {
                self.fileIndex += 1
                self.offset = 0
            } else {
                self.offset = end
            }
        }
        self.remainingBytes -= taken
        return self.makeTask(splits: splits)
    }

    /// A task with a fresh id, for splits cut here or taken out of an earlier task.
    package mutating func makeTask(splits: [InputSplit]) -> MapTask {
        defer { self.nextID += 1 }
        return MapTask(id: self.nextID, splits: splits)
    }
}
