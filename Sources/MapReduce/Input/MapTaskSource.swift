/// A map task as the coordinator keeps it: a run of consecutive input files, from an offset in the first
/// to an offset in the last. It names files by their index in the ``InputList``, so a task the
/// coordinator holds costs a few words whatever its files' paths; ``MapTaskSource/task(for:)`` turns it
/// into the ``MapTask`` a worker receives.
package struct MapTaskPlan: Sendable, Equatable {
    package var id: Int
    package var firstFile: Int
    /// The offset in the first file where the task starts.
    package var start: Int
    package var lastFile: Int
    /// The offset in the last file where the task ends.
    package var end: Int

    package var splitCount: Int { self.lastFile - self.firstFile + 1 }
}

/// Cuts the job's input files into map tasks of a requested size, on demand.
///
/// Large files are cut into byte ranges, so one huge file keeps every worker busy; small files are grouped
/// into one task. Cuts fall anywhere: the worker moves each end of a range forward to the next line start,
/// so neighbouring ranges share no line and miss none.
package struct MapTaskSource: Sendable {
    package let files: InputList
    var fileIndex = 0
    var offset = 0
    var nextID = 0
    package private(set) var remainingBytes: Int

    /// At most this many splits per task, which bounds a task's frame for inputs of many tiny files: a
    /// million files of a few bytes each make about two thousand tasks, not one, and not a million.
    static let maximumSplits = 512

    package init(files: InputList) {
        self.files = files
        self.remainingBytes = files.totalBytes
    }

    package var isExhausted: Bool { self.fileIndex >= self.files.count }

    /// The next task, of about `chunkBytes` bytes.
    package mutating func next(chunkBytes: Int) -> MapTaskPlan {
        precondition(!self.isExhausted)
        let chunk = max(1, chunkBytes)
        let firstFile = self.fileIndex
        let start = self.offset
        var lastFile = firstFile
        var end = start
        var taken = 0
        var splits = 0
        while taken < chunk, !self.isExhausted, splits < Self.maximumSplits {
            let size = self.files.size(at: self.fileIndex)
            end = min(size, self.offset + (chunk - taken))
            // Do not leave a sliver of a file behind for a task of its own.
            if size - end < chunk / 8 { end = size }
            lastFile = self.fileIndex
            splits += 1
            taken += end - self.offset
            if end == size {
                self.fileIndex += 1
                self.offset = 0
            } else {
                self.offset = end
            }
        }
        self.remainingBytes -= taken
        return self.makePlan(firstFile: firstFile, start: start, lastFile: lastFile, end: end)
    }

    /// The task a worker receives for a plan: one split per file, with the files' paths.
    package func task(for plan: MapTaskPlan) -> MapTask {
        var splits: [InputSplit] = []
        splits.reserveCapacity(plan.splitCount)
        for file in plan.firstFile...plan.lastFile {
            let size = self.files.size(at: file)
            splits.append(
                InputSplit(
                    path: self.files.path(at: file),
                    displayName: self.files.explicitDisplayName(at: file),
                    fileSize: size,
                    modified: self.files.modified(at: file),
                    start: file == plan.firstFile ? plan.start : 0,
                    end: file == plan.lastFile ? plan.end : size
                )
            )
        }
        return MapTask(id: plan.id, splits: splits)
    }

    /// A plan's files as tasks of their own, with fresh ids: to find which input kills workers.
    package mutating func splitOneByOne(_ plan: MapTaskPlan) -> [MapTaskPlan] {
        (plan.firstFile...plan.lastFile).map { file in
            self.makePlan(
                firstFile: file,
                start: file == plan.firstFile ? plan.start : 0,
                lastFile: file,
                end: file == plan.lastFile ? plan.end : self.files.size(at: file)
            )
        }
    }

    /// `path:offset` of a plan's first byte, for error messages.
    package func firstInput(of plan: MapTaskPlan) -> String {
        "\(self.files.displayName(at: plan.firstFile)):\(plan.start)"
    }

    mutating func makePlan(firstFile: Int, start: Int, lastFile: Int, end: Int) -> MapTaskPlan {
        defer { self.nextID += 1 }
        return MapTaskPlan(id: self.nextID, firstFile: firstFile, start: start, lastFile: lastFile, end: end)
    }
}
