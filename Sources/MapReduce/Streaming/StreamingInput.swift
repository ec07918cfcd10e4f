/// Reads a stream (standard input, a pipe) through one reusable buffer, as blocks of whole lines for a
/// mapper or as single lines for the combine and reduce steps.
///
/// The buffer grows only while one line does not fit, and never past ``maximumRecordBytes`` (plus the
/// room for reading): a longer line is an error that names where it starts, not an allocation. The limit
/// is exact: a line of ``maximumRecordBytes`` bytes (without its terminator) is accepted wherever it
/// stands, one byte more is refused.
@usableFromInline
final class StreamingInput {
    @usableFromInline let descriptor: CInt
    /// What errors call the stream: `<stdin>`.
    @usableFromInline let name: String
    @usableFromInline let maximumRecordBytes: Int
    @usableFromInline var buffer: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int
    /// Unread bytes are `start..<end` of the buffer.
    @usableFromInline var start = 0
    @usableFromInline var end = 0
    /// The stream offset of the buffer's first byte.
    @usableFromInline var bufferOffset = 0
    @usableFromInline var atEnd = false
    /// Lines handed out by ``nextLine()``, for error messages.
    @usableFromInline var lineNumber = 0

    /// Bytes asked of the system per read, and the buffer's first size.
    static var readSize: Int { 1 << 20 }

    @usableFromInline
    init(descriptor: CInt, name: String, maximumRecordBytes: Int) {
        self.descriptor = descriptor
        self.name = name
        self.maximumRecordBytes = maximumRecordBytes
        self.capacity = Self.readSize
        self.buffer = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { self.buffer.deallocate() }

    /// The next block of whole lines (universal newlines: a block never ends between the `\r` and the
    /// `\n` of a `\r\n`), and the stream offset of its first byte; nil at the end of the stream. The block
    /// is valid until the next call.
    @usableFromInline
    func nextBlock() throws -> (lines: UnsafeRawBufferPointer, offset: Int)? {
        // Bytes at the front of the unread ones known to hold no terminator (but a final `\r`).
        var searched = 0
        while true {
            let unread = UnsafeRawBufferPointer(start: self.buffer + self.start, count: self.end - self.start)
            if self.atEnd {
                guard !unread.isEmpty else { return nil }
                try self.checkLineLengths(unread)
                return self.take(unread.count)
            }
            if let cut = Self.lastLineEnd(in: unread, after: searched) {
                try self.checkLineLengths(UnsafeRawBufferPointer(rebasing: unread[..<cut]))
                return self.take(cut)
            }
            searched = max(0, unread.count - 1)
            try self.fill()
        }
    }

    /// The next line, without its `\n` (or `\r\n`), and its number (from 1); nil at the end of the
    /// stream. A last line without a terminator counts. The line is valid until the next call.
    @usableFromInline
    func nextLine() throws -> UnsafeRawBufferPointer? {
        var searched = 0
        while true {
            let unread = UnsafeRawBufferPointer(start: self.buffer + self.start, count: self.end - self.start)
            if let newline = findByte(0x0A, in: unread.baseAddress! + searched, count: unread.count - searched) {
                let length = searched + newline
                let carriageReturn = length > 0 && unread[length - 1] == 0x0D
                let line = UnsafeRawBufferPointer(rebasing: unread[0..<(carriageReturn ? length - 1 : length)])
                guard line.count <= self.maximumRecordBytes else { throw self.lineTooLong() }
                self.start += length + 1
                self.lineNumber += 1
                return line
            }
            searched = unread.count
            if self.atEnd {
                guard !unread.isEmpty else { return nil }
                guard unread.count <= self.maximumRecordBytes else { throw self.lineTooLong() }
                self.start = self.end
                self.lineNumber += 1
                return unread
            }
            try self.fill()
        }
    }

    /// Where the line about to be handed out (or being filled) starts in the stream.
    @usableFromInline var offset: Int { self.bufferOffset + self.start }

    /// Throws ``lineTooLong(at:)`` for the first line of `block` (unread bytes from the front, whole
    /// lines under universal newlines) longer than the limit. From each line start, it looks back from
    /// one byte past the limit for a terminator: a block no longer than the limit costs nothing, and
    /// short lines cost a step or two per limit's worth of bytes.
    private func checkLineLengths(_ block: UnsafeRawBufferPointer) throws {
        var lineStart = 0
        while block.count - lineStart > self.maximumRecordBytes {
            // The line starting here fits only if one of its first limit + 1 bytes ends it.
            var index = lineStart + self.maximumRecordBytes
            while index >= lineStart && block[index] != 0x0A && block[index] != 0x0D { index -= 1 }
            guard index >= lineStart else { throw self.lineTooLong(at: self.offset + lineStart) }
            lineStart = index + 1
        }
    }

    /// The error for a line longer than the limit that starts at stream offset `offset` (by default,
    /// the unread bytes' first).
    private func lineTooLong(at offset: Int? = nil) -> MapReduceError {
        MapReduceError(
            .tooLarge,
            "a line longer than \(formatByteCount(self.maximumRecordBytes)) starts here; "
                + "--max-record SIZE raises the limit",
            input: "\(self.name):\(offset ?? self.offset)"
        )
    }

    private func take(_ count: Int) -> (lines: UnsafeRawBufferPointer, offset: Int) {
        let block = UnsafeRawBufferPointer(start: self.buffer + self.start, count: count)
        let offset = self.bufferOffset + self.start
        self.start += count
        return (block, offset)
    }

    /// Just past the last line terminator of `bytes` that surely ends a line: a `\r` at the very end may
    /// be the first half of a `\r\n`, so it counts only once the next byte is known.
    /// Looks only at `bytes[floor...]`.
    static func lastLineEnd(in bytes: UnsafeRawBufferPointer, after floor: Int = 0) -> Int? {
        var i = bytes.count - 1
        if i >= 0 && bytes[i] == 0x0D { i -= 1 }
        while i >= floor {
            let byte = bytes[i]
            if byte == 0x0A || byte == 0x0D { return i + 1 }
            i -= 1
        }
        return nil
    }

    /// Reads more: moves the unread bytes to the front, grows the buffer if they fill it, then reads.
    private func fill() throws {
        let unread = self.end - self.start
        if self.start > 0 {
            if unread > 0 { (self.buffer).copyMemory(from: self.buffer + self.start, byteCount: unread) }
            self.bufferOffset += self.start
            self.start = 0
            self.end = unread
        }
        if self.capacity - self.end < Self.readSize / 2 {
            // The unread bytes are one line without its end (but perhaps the `\r` of a `\r\n`): more than
            // the limit and that `\r` is too long already. Lines that fit are checked exactly as they
            // are handed out.
            guard unread - 1 <= self.maximumRecordBytes else { throw self.lineTooLong() }
            let capacity = self.capacity * 2
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            grown.copyMemory(from: self.buffer, byteCount: self.end)
            self.buffer.deallocate()
            self.buffer = grown
            self.capacity = capacity
        }
        let room = UnsafeMutableRawBufferPointer(start: self.buffer + self.end, count: self.capacity - self.end)
        let count: Int
        do {
            count = try Syscall.read(self.descriptor, room)
        } catch {
            throw MapReduceError(.io, "cannot read: \(error.message)", input: self.name, underlying: error)
        }
        if count == 0 { self.atEnd = true }
        self.end += count
    }
}
