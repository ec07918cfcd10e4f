/// Reads the records of one run file in order (``RecordFormat``: `keyLength key outputLength output`),
/// parsing them in place in a buffer that is refilled as it drains.
///
/// A noncopyable value rather than a class: the merge loop calls ``advance()`` once per output key, and
/// a class there cost a retain and a release per call.
struct RunReader: ~Copyable {
    let path: String
    private let fd: CInt
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var atEOF = false
    /// The current record, valid until the next ``advance()``.
    private(set) var key = UnsafeRawBufferPointer(start: nil, count: 0)
    private(set) var output = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The key's first eight bytes as a big-endian integer: comparing these orders most keys.
    private(set) var prefix: UInt64 = 0

    init(path: String, capacity: Int = 64 << 10) throws {
        self.path = path
        do {
            self.fd = try Syscall.openForReading(path)
        } catch {
            throw MapReduceError(.io, "cannot open a reduce output: \(error.message)", input: path)
        }
        self.capacity = capacity
        self.buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        Syscall.close(self.fd)
        self.buffer.deallocate()
    }

    /// Loads the next record; false at the end of the run.
    mutating func advance() throws -> Bool {
        if self.end - self.start < 20 { try self.fill(minimum: 20) }
        guard self.end > self.start else { return false }
        var position = self.start
        let keyLength = try self.varint(at: &position)
        if self.end - position < keyLength + 10 {
            try self.fill(minimum: position - self.start + keyLength + 10)
            position = self.start
            _ = try self.varint(at: &position)
        }
        guard self.end - position >= keyLength else { throw self.corrupt() }
        let keyStart = position
        position += keyLength
        let outputLength = try self.varint(at: &position)
        if self.end - position < outputLength {
            // Keep the whole record in the buffer, moved to its front.
            let recordOffset = keyStart - self.start
            let outputOffset = position - self.start
            try self.fill(minimum: outputOffset + outputLength)
            guard self.end - self.start >= outputOffset + outputLength else { throw self.corrupt() }
            self.key = UnsafeRawBufferPointer(start: self.buffer + self.start + recordOffset, count: keyLength)
            self.output = UnsafeRawBufferPointer(start: self.buffer + self.start + outputOffset, count: outputLength)
            self.start += outputOffset + outputLength
        } else {
            self.key = UnsafeRawBufferPointer(start: self.buffer + keyStart, count: keyLength)
            self.output = UnsafeRawBufferPointer(start: self.buffer + position, count: outputLength)
            self.start = position + outputLength
        }
        self.prefix = keyPrefix(self.key)
        return true
    }

    /// A length at `position`, whose bytes may not be buffered yet; small enough that adding to it
    /// cannot overflow.
    private func varint(at position: inout Int) throws -> Int {
        guard let value = RecordFormat.readVarint(self.buffer, &position, self.end), value <= UInt64(Int.max >> 2)
        else { throw self.corrupt() }
        return Int(value)
    }

    /// Moves what is left to the front and reads until `minimum` bytes are buffered or the run ends.
    private mutating func fill(minimum: Int) throws {
        if self.start > 0 {
            (self.buffer).copyMemory(from: self.buffer + self.start, byteCount: self.end - self.start)
            self.end -= self.start
            self.start = 0
        }
        if minimum > self.capacity {
            let grown = UnsafeMutableRawPointer.allocate(byteCount: minimum * 2, alignment: 16)
            grown.copyMemory(from: self.buffer, byteCount: self.end)
            self.buffer.deallocate()
            self.buffer = grown
            self.capacity = minimum * 2
        }
        while self.end < minimum && !self.atEOF {
            let got: Int
            do {
                got = try Syscall.read(
                    self.fd,
                    UnsafeMutableRawBufferPointer(start: self.buffer + self.end, count: self.capacity - self.end)
                )
            } catch {
                throw MapReduceError(.io, "cannot read a reduce output: \(error.message)", input: self.path)
            }
            if got == 0 { self.atEOF = true }
            self.end += got
        }
    }

    private func corrupt() -> MapReduceError {
        MapReduceError(.io, "a reduce output file is truncated or corrupt", input: self.path)
    }
}

/// Merges runs sorted by key bytes into one stream sorted by key bytes.
///
/// Each key lives in exactly one partition, hence one run, so the merge never sees a key twice. Memory is
/// one buffer per run, whatever the size of the output.
enum RunMerger {
    static func merge(
        runs paths: [String],
        _ body: (_ key: UnsafeRawBufferPointer, _ output: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let readers = UnsafeMutablePointer<RunReader>.allocate(capacity: max(1, paths.count))
        var opened = 0
        defer {
            readers.deinitialize(count: opened)
            readers.deallocate()
        }
        for path in paths {
            (readers + opened).initialize(to: try RunReader(path: path))
            opened += 1
        }
        let tree = try LoserTree(count: opened) { run in
            try readers[run].advance() ? (readers[run].prefix, readers[run].key) : nil
        }
        defer { tree.deallocate() }
        while let top = tree.top {
            try body(readers[top].key, readers[top].output)
            if try readers[top].advance() {
                tree.replaceTop(prefix: readers[top].prefix, key: readers[top].key)
            } else {
                tree.removeTop()
            }
        }
    }
}
