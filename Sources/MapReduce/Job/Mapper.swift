import CMapReduceShims

/// Where a block of input bytes came from: the file and the offset of its first byte.
public struct InputOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The input's path as the user gave it (`<stdin>` for standard input).
    public var path: String
    /// The byte offset, in that input, of the first byte handed to the mapper.
    public var offset: Int

    /// Creates an origin.
    public init(path: String, offset: Int) {
        self.path = path
        self.offset = offset
    }

    /// `path:offset`, the form errors use.
    public var description: String { "\(self.path):\(self.offset)" }

    /// The origin `distance` bytes further on.
    public func advanced(by distance: Int) -> InputOrigin {
        InputOrigin(path: self.path, offset: self.offset + distance)
    }
}

/// Turns input records into key/value pairs: the "map" of MapReduce.
///
/// Records are lines. A line ends at `\n`, `\r\n` or `\r` (Python's universal newlines); the record handed to
/// ``map(_:into:)`` excludes that terminator. Each worker process makes its own mapper with
/// ``MapReduceJob/makeMapper()``, so a mapper may keep mutable scratch state.
///
/// A mapper that can process many lines faster at once than one by one (for example with SIMD) implements
/// ``map(lines:at:into:)`` as well.
public protocol Mapper<Key, Value>: Sendable {
    /// The type of the keys emitted; keys are grouped, partitioned and ordered by their encoded bytes.
    associatedtype Key: WireCodable
    /// The type of the values emitted.
    associatedtype Value: WireCodable

    /// Called once per record. Implement this, or ``map(_:at:into:)`` when the mapper needs to know
    /// where the record comes from, or ``map(lines:at:into:)`` to take many lines at once; the others
    /// have defaults.
    /// - Parameters:
    ///   - record: The line, without its terminator; valid only during the call.
    ///   - output: Where to emit key/value pairs.
    /// - Throws: Any error fails the job, reported with the record's location.
    mutating func map(_ record: RawSpan, into output: inout Emitter<Key, Value>) throws

    /// Called once per record, with where it comes from: the input's path as the user gave it and the
    /// byte offset of the record's first byte. The default calls ``map(_:into:)``.
    /// - Parameters:
    ///   - record: The line, without its terminator; valid only during the call.
    ///   - origin: The record's input and offset.
    ///   - output: Where to emit key/value pairs.
    /// - Throws: Any error fails the job, reported with the record's location.
    mutating func map(_ record: RawSpan, at origin: InputOrigin, into output: inout Emitter<Key, Value>) throws

    /// Called with a block of whole lines: the block starts at the start of a line and ends just after a line
    /// terminator or at the end of the input (or, for a mapper that names a ``recordCutByte``, just
    /// before that byte in the middle of a record). The default splits the block into records and calls
    /// ``map(_:at:into:)`` for each, with its origin.
    /// - Parameters:
    ///   - lines: The bytes of whole lines; valid only during the call.
    ///   - origin: The input and offset of the block's first byte, for error messages.
    ///   - output: Where to emit key/value pairs.
    mutating func map(lines: RawSpan, at origin: InputOrigin, into output: inout Emitter<Key, Value>) throws

    /// A byte at which a record may be cut, so that several workers map one enormous record (a file
    /// that is a single line, say) in pieces; nil, the default, keeps every record whole, so one task
    /// maps it however long it is.
    ///
    /// A mapper that names a byte promises that mapping a record in pieces cut just before that byte,
    /// with ``map(piece:after:at:into:)``, emits the same pairs as mapping it whole. Word count names
    /// the space: no word contains one.
    static var recordCutByte: UInt8? { get }

    /// Called with whole lines like ``map(lines:at:into:)``, except that the first line is the rest
    /// of a record cut at ``recordCutByte``: `piece` starts with that byte, and `before` is the
    /// record's beginning, up to the cut, which another task maps. Only mappers that name a cut byte
    /// are called this way. The default maps `piece` as if it were whole lines.
    /// - Parameters:
    ///   - piece: From the cut to the end of the task's range (one or more lines).
    ///   - before: The record's bytes before the cut, for context only; they lie in memory just
    ///     before `piece` and are valid only during the call.
    ///   - origin: The input and offset of the first byte of `piece`.
    ///   - output: Where to emit key/value pairs.
    mutating func map(
        piece: RawSpan,
        after before: RawSpan,
        at origin: InputOrigin,
        into output: inout Emitter<Key, Value>
    ) throws

    /// Whether pairs with this key leave the map side: a filter on the keys the mapper emits, which the
    /// engine applies after map-side combining, once per distinct key each time the combined table is
    /// written out (and, for a job without a combiner, once per pair). The default keeps every key.
    ///
    /// Filtering here rather than in ``map(_:into:)`` pays when the keys to drop are the frequent ones,
    /// as stop words are in word count: each of their pairs then costs a table update, whose slot stays
    /// in the cache, instead of a test in the mapper's loop. The answer must depend on the key's bytes
    /// alone.
    ///
    /// The engine counts the keys it drops here (``JobStatistics/Counters/keysFiltered``): as it sees
    /// combined keys, that is one per distinct key per table written, not one per pair emitted.
    /// - Parameter key: The key's encoded bytes (for ``ByteString`` keys, the bytes themselves).
    func keepsKey(_ key: RawSpan) -> Bool
}

extension Mapper {
    /// Calls ``map(_:into:)``, without the origin.
    @inlinable
    public mutating func map(_ record: RawSpan, at origin: InputOrigin, into output: inout Emitter<Key, Value>) throws {
        try self.map(record, into: &output)
    }

    /// A mapper that implements ``map(_:at:into:)`` or ``map(lines:at:into:)`` need not implement this
    /// one: the engine never calls it then. One that implements none of the three stops here.
    public mutating func map(_ record: RawSpan, into output: inout Emitter<Key, Value>) throws {
        preconditionFailure(
            "\(Self.self) implements no map entry point: implement map(_:into:), map(_:at:into:) or map(lines:at:into:)"
        )
    }

    /// Records stay whole.
    public static var recordCutByte: UInt8? { nil }

    /// Keeps every key.
    @inlinable
    public func keepsKey(_ key: RawSpan) -> Bool { true }

    /// Maps `piece` as whole lines.
    @inlinable
    public mutating func map(
        piece: RawSpan,
        after before: RawSpan,
        at origin: InputOrigin,
        into output: inout Emitter<Key, Value>
    ) throws {
        try self.map(lines: piece, at: origin, into: &output)
    }
}

extension Mapper {
    /// Splits `lines` at universal newlines and maps each record.
    @inlinable
    public mutating func map(lines: RawSpan, at origin: InputOrigin, into output: inout Emitter<Key, Value>) throws {
        try lines.withUnsafeBytes { block in
            var lineStart = 0
            while lineStart < block.count {
                let (recordEnd, nextStart) = LineScanner.lineEnd(in: block, from: lineStart)
                let record = UnsafeRawBufferPointer(rebasing: block[lineStart..<recordEnd])
                do {
                    try self.map(RawSpan(_unsafeBytes: record), at: origin.advanced(by: lineStart), into: &output)
                } catch var error as MapReduceError {
                    if error.input == nil { error.input = origin.advanced(by: lineStart).description }
                    throw error
                } catch {
                    throw MapReduceError.mapperThrew(error, at: origin.advanced(by: lineStart))
                }
                lineStart = nextStart
            }
        }
    }
}

/// Finds line boundaries under universal newlines (`\n`, `\r\n`, `\r`).
public enum LineScanner {
    /// The end of the line that starts at `start` (excluding its terminator) and where the next line starts.
    @inlinable
    public static func lineEnd(in bytes: UnsafeRawBufferPointer, from start: Int) -> (end: Int, next: Int) {
        var i = start
        let count = bytes.count
        while i < count {
            let byte = bytes[i]
            if byte == 0x0A { return (i, i + 1) }
            if byte == 0x0D {
                if i + 1 < count && bytes[i + 1] == 0x0A { return (i, i + 2) }
                return (i, i + 1)
            }
            i += 1
        }
        return (count, count)
    }

    /// Whether a line starts at `position`: at the start, or just after a terminator (not between the two
    /// bytes of `\r\n`). `position == bytes.count` is a line start only if the bytes end with a terminator.
    @inlinable
    public static func isLineStart(_ bytes: UnsafeRawBufferPointer, at position: Int) -> Bool {
        if position == 0 { return true }
        let previous = bytes[position - 1]
        if previous == 0x0A { return true }
        if previous == 0x0D { return position == bytes.count || bytes[position] != 0x0A }
        return false
    }

    /// The first line start in `from..<before`, or nil if no line starts there; scans no further than
    /// `before`, so that the ranges cut from one enormous line cost only their own length.
    public static func firstLineStart(_ bytes: UnsafeRawBufferPointer, from start: Int, before end: Int) -> Int? {
        guard start < end else { return nil }
        if isLineStart(bytes, at: start) { return start }
        guard let terminator = firstTerminator(bytes, from: start, to: end) else { return nil }
        let next = lineStart(after: terminator, in: bytes)
        return next < end ? next : nil
    }

    /// The first line start at or after `position`, or `bytes.count` if there is none.
    public static func nextLineStart(_ bytes: UnsafeRawBufferPointer, atOrAfter position: Int) -> Int {
        if position >= bytes.count { return bytes.count }
        if isLineStart(bytes, at: position) { return position }
        guard let terminator = firstTerminator(bytes, from: position, to: bytes.count) else { return bytes.count }
        return lineStart(after: terminator, in: bytes)
    }

    /// Where the line after the terminator at `terminator` starts (past both bytes of `\r\n`).
    static func lineStart(after terminator: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        if bytes[terminator] == 0x0D && terminator + 1 < bytes.count && bytes[terminator + 1] == 0x0A {
            return terminator + 2
        }
        return terminator + 1
    }

    /// Lines are cut only where at least this many bytes of the line follow: a line shorter than this
    /// is never cut, and no piece of a cut line ends within this distance of the line's end.
    @usableFromInline package static var longLine: Int { 64 << 10 }

    /// The first position at or after `position` where a piece may begin when records may be cut just
    /// before `cut`: a line start, or a cut byte followed by at least ``longLine`` bytes of its line
    /// (`midRecord`). Being such a position depends on the position alone, so a range's end and the
    /// next range's start always agree. Nil if the answer is at or past `limit`; scans no further than
    /// `limit` plus ``longLine`` bytes (or the first cut byte plus ``longLine``).
    @usableFromInline
    package static func boundary(
        _ bytes: UnsafeRawBufferPointer,
        atOrAfter position: Int,
        cut: UInt8,
        limit: Int
    ) -> (position: Int, midRecord: Bool)? {
        let limit = min(limit, bytes.count)
        guard position < limit, let base = bytes.baseAddress else { return nil }
        if isLineStart(bytes, at: position) { return (position, false) }
        func lineStartAfter(_ terminator: Int) -> (position: Int, midRecord: Bool)? {
            let next = lineStart(after: terminator, in: bytes)
            return next < limit ? (next, false) : nil
        }
        // A line that ends this close: no cut byte before its end qualifies.
        let near = min(bytes.count, position + longLine)
        if let terminator = firstTerminator(bytes, from: position, to: near) { return lineStartAfter(terminator) }
        guard let cutAt = findByte(cut, in: base + position, count: limit - position).map({ $0 + position }) else {
            return firstTerminator(bytes, from: near, to: max(near, limit)).flatMap(lineStartAfter)
        }
        // The first cut byte qualifies unless a line ends within `longLine` after it (or before it).
        if let terminator = firstTerminator(bytes, from: near, to: max(near, min(bytes.count, cutAt + longLine))) {
            return lineStartAfter(terminator)
        }
        return (cutAt, true)
    }

    /// Where a task's range that ends at `position` stops when records may be cut just before `cut`:
    /// where the next range's piece begins.
    @usableFromInline
    static func pieceEnd(_ bytes: UnsafeRawBufferPointer, atOrAfter position: Int, cut: UInt8) -> Int {
        self.boundary(bytes, atOrAfter: position, cut: cut, limit: bytes.count)?.position ?? bytes.count
    }

    /// The bytes a split's task maps: from the first line (or, for a mapper that lets records be cut
    /// at `cut`, the first piece) that starts in `start..<end`, to the end of the last; `midRecord` when
    /// that first piece is in the middle of a line. Nil when nothing starts in the split. Local workers
    /// and the coordinator that ships a split to a peer both cut records here, so they always agree.
    @inlinable
    package static func mappedRange(
        _ bytes: UnsafeRawBufferPointer,
        start: Int,
        end: Int,
        cut: UInt8?
    ) -> (start: Int, end: Int, midRecord: Bool)? {
        if let cut {
            guard let (position, midRecord) = self.boundary(bytes, atOrAfter: start, cut: cut, limit: end) else {
                return nil
            }
            return (position, self.pieceEnd(bytes, atOrAfter: end, cut: cut), midRecord)
        }
        guard let position = self.firstLineStart(bytes, from: start, before: end) else { return nil }
        return (position, end >= bytes.count ? bytes.count : self.nextLineStart(bytes, atOrAfter: end), false)
    }

    /// The lines whose first byte lies in `start..<end`, a range ``mappedRange(_:start:end:cut:)``
    /// returned: each line of an input counts in exactly one task, the one that maps its start. One
    /// vectorised pass over the range; a range that starts in the middle of a line (`midRecord`) does
    /// not count that line.
    @usableFromInline
    package static func lineStarts(in bytes: UnsafeRawBufferPointer, start: Int, end: Int, midRecord: Bool) -> Int {
        guard start < end, let base = bytes.baseAddress else { return 0 }
        // A line starts after every terminator before `end - 1`: the range ends at a line start (or
        // the input's end, or a cut), so a terminator that ends just before `end` starts no line in it.
        let terminators = mapreduce_count_line_terminators(base + start, UInt(end - 1 - start))
        return (midRecord ? 0 : 1) + Int(terminators)
    }

    /// Where the line holding `position` starts, looking back no further than `floor` (returned if no
    /// line ends in `floor..<position`).
    @usableFromInline
    static func lineStart(before position: Int, in bytes: UnsafeRawBufferPointer, floor: Int) -> Int {
        guard position > floor, let base = bytes.baseAddress else { return floor }
        let newline = findLastByte(0x0A, in: base + floor, count: position - floor)
        let carriageReturn = findLastByte(0x0D, in: base + floor, count: position - floor)
        let last = max(newline ?? -1, carriageReturn ?? -1)
        return last >= 0 ? floor + last + 1 : floor
    }

    /// The first `\n` or `\r` in `from..<to`, found with the C library's vectorized `memchr`.
    static func firstTerminator(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        guard start < end, let base = bytes.baseAddress else { return nil }
        let newline = findByte(0x0A, in: base + start, count: end - start).map { $0 + start }
        let returnEnd = newline ?? end
        let carriageReturn = findByte(0x0D, in: base + start, count: returnEnd - start).map { $0 + start }
        return carriageReturn ?? newline
    }
}
