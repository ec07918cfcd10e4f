/// What a peer needs to map a task exactly as a local worker would, without a shared file system.
///
/// A local worker maps the lines (or, for a mapper that cuts long lines, the pieces) that start inside its
/// split, and looks at bytes around the split to find where they start and end. The coordinator finds the
/// same boundaries with the same ``LineScanner`` functions and ships every byte they look at: from just
/// before the split (or the start of a cut line, which a mapper sees as context) to a little past the
/// end of the last line or piece. The peer writes those bytes at their own offsets of a file of its own
/// (a hole before them), so that the worker finds the same boundaries and reports the same offsets.
enum RemoteInput {
    /// One split's bytes to ship.
    struct Part {
        var split: InputSplit
        var source: BlobFile
    }

    /// The parts of a map task; splits with nothing to map are left out, as a local worker skips them.
    /// - Parameter cut: The mapper's ``Mapper/recordCutByte``.
    /// - Throws: ``MapReduceError`` when an input changed or cannot be read.
    static func parts(of task: MapTask, cut: UInt8?) throws -> [Part] {
        var parts: [Part] = []
        for split in task.splits {
            let file = try MappedFile(input: split)
            let whole = file.bytes
            let count = whole.count
            guard
                let (first, high, midRecord) = LineScanner.mappedRange(
                    whole,
                    start: split.start,
                    end: split.end,
                    cut: cut
                )
            else { continue }
            // The scans look at the byte before the split, and before a piece, back to its line's start.
            var low = split.start == 0 ? 0 : split.start - 1
            var lookAhead = 2
            if cut != nil {
                if midRecord {
                    low = min(low, max(0, LineScanner.lineStart(before: first, in: whole, floor: 0) - 1))
                }
                // Whether a cut byte qualifies depends on the next `longLine` bytes of its line: ship them
                // when the line at either end of the split is that long; otherwise the scans stop at a
                // line end before `high`.
                func isLong(_ position: Int) -> Bool {
                    position < count
                        && LineScanner.firstTerminator(
                            whole,
                            from: position,
                            to: min(count, position + LineScanner.longLine)
                        ) == nil
                }
                if isLong(split.start) || isLong(split.end) { lookAhead = LineScanner.longLine + 2 }
            }
            let shippedEnd = min(count, max(high, split.end) + lookAhead)
            try file.checkUnchanged()
            parts.append(Part(split: split, source: BlobFile(path: split.path, offset: low, length: shippedEnd - low)))
        }
        return parts
    }
}
