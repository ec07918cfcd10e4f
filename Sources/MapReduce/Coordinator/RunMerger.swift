#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#elseif canImport(Darwin)
import Darwin
#else
#error("The MapReduce engine needs a POSIX C library (Glibc, Musl or Darwin).")
#endif

/// Reads the records of one run file in order: `keyLength key outputLength output`.
final class RunReader {
    let path: String
    let fd: CInt
    var buffer: [UInt8]
    var start = 0
    var end = 0
    var atEOF = false
    /// The current record, valid after a successful ``advance()``.
    var key: [UInt8] = []
    var output: [UInt8] = []

    init(path: String, bufferSize: Int = 64 << 10) throws {
        self.path = path
        do {
            self.fd = try Syscall.open(path, O_RDONLY)
        } catch {
            throw MapReduceError(.io, "cannot open a reduce output: \(describeError(error))", input: path)
        }
        self.buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    deinit { Syscall.close(self.fd) }

    /// Loads the next record; false at the end of the run.
    func advance() throws -> Bool {
        guard try self.fill(1) else { return false }
        let keyLength = try self.readVarint()
        try self.read(count: keyLength, into: &self.key)
        let outputLength = try self.readVarint()
        try self.read(count: outputLength, into: &self.output)
        return true
    }

    /// Makes at least `count` bytes available unless the file ends; false if none are left at all.
    private func fill(_ count: Int) throws -> Bool {
        if self.end - self.start >= count { return true }
        if self.start > 0 {
            self.buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + self.start, byteCount: self.end - self.start)
            }
            self.end -= self.start
            self.start = 0
        }
        while self.end - self.start < count && !self.atEOF {
            let got: Int
            do {
                got = try self.buffer.withUnsafeMutableBytes { raw in
                    try Syscall.read(self.fd, UnsafeMutableRawBufferPointer(rebasing: raw[self.end...]))
                }
            } catch {
                throw MapReduceError(.io, "cannot read a reduce output: \(describeError(error))", input: self.path)
            }
            if got == 0 { self.atEOF = true }
            self.end += got
        }
        return self.end > self.start
    }

    private func readVarint() throws -> Int {
        var result = 0
        var shift = 0
        while true {
            guard try self.fill(1), shift < 63 else { throw self.corrupt() }
            let byte = self.buffer[self.start]
            self.start += 1
            result |= Int(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    private func read(count: Int, into destination: inout [UInt8]) throws {
        destination.removeAll(keepingCapacity: true)
        var needed = count
        while needed > 0 {
            guard try self.fill(1) else { throw self.corrupt() }
            let take = min(needed, self.end - self.start)
            destination.append(contentsOf: self.buffer[self.start..<(self.start + take)])
            self.start += take
            needed -= take
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
    static func merge(runs paths: [String], _ body: (_ key: [UInt8], _ output: [UInt8]) throws -> Void) throws {
        var readers: [RunReader] = []
        var heap: [Int] = []
        for path in paths {
            let reader = try RunReader(path: path)
            if try reader.advance() {
                heap.append(readers.count)
                readers.append(reader)
            }
        }
        func less(_ a: Int, _ b: Int) -> Bool {
            readers[a].key.lexicographicallyPrecedes(readers[b].key)
        }
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { return }
                var smallest = left
                if left + 1 < heap.count && less(heap[left + 1], heap[left]) { smallest = left + 1 }
                if !less(heap[smallest], heap[parent]) { return }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        while let top = heap.first {
            try body(readers[top].key, readers[top].output)
            if try readers[top].advance() {
                siftDown(0)
            } else {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
                siftDown(0)
            }
        }
    }
}
