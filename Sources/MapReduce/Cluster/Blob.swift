/// A file range that a blob part is read from or written to.
package struct BlobFile: Sendable {
    /// The file's path, as bytes: an input file's name need not be UTF-8.
    package var path: [UInt8]
    /// Where the part's bytes are in the file.
    package var offset: Int
    package var length: Int

    package init(path: some Collection<UInt8>, offset: Int, length: Int) {
        self.path = Array(path)
        self.offset = offset
        self.length = length
    }

    package init(path: String, offset: Int, length: Int) {
        self.init(path: path.utf8, offset: offset, length: length)
    }
}

extension BlobFile {
    /// The path for messages, invalid UTF-8 escaped.
    package var name: String { PathName.display(self.path) }
}

/// Reads the parts of a blob from their files and compresses them into chunks of
/// ``ClusterLimits/chunkBytes`` raw bytes each: the sender holds one chunk at a time, whatever the blob's
/// size.
package struct BlobReader: ~Copyable {
    let sources: [BlobFile]
    var part = 0
    var offsetInPart = 0
    var descriptor: CInt = -1
    let scratch: ChunkBuffer
    var buffer: UnsafeMutableRawBufferPointer { self.scratch.memory }
    /// Raw and compressed bytes produced so far.
    package private(set) var rawBytes = 0
    package private(set) var compressedBytes = 0

    /// - Parameter scratch: Where chunks are read before they are compressed, reused from blob to blob.
    package init(sources: [BlobFile], scratch: ChunkBuffer) {
        self.sources = sources
        self.scratch = scratch
    }

    deinit {
        if self.descriptor >= 0 { Syscall.close(self.descriptor) }
    }

    /// The parts as the receiver sees them: each at its offset in its own file.
    package var parts: [BlobPart] { self.sources.map { BlobPart(offset: $0.offset, length: $0.length) } }

    /// The next compressed chunk, or nil when every byte was read.
    package mutating func nextChunk() throws -> [UInt8]? {
        try self.nextChunk(after: [], reserving: 0)
    }

    /// The next compressed chunk behind `prefix` (a message header), with room for `reserve` more bytes.
    package mutating func nextChunk(after prefix: [UInt8], reserving reserve: Int) throws -> [UInt8]? {
        var filled = 0
        while filled < ClusterLimits.chunkBytes, self.part < self.sources.count {
            let source = self.sources[self.part]
            let wanted = min(source.length - self.offsetInPart, ClusterLimits.chunkBytes - filled)
            if wanted > 0 {
                if self.descriptor < 0 {
                    do {
                        self.descriptor = try Syscall.openForReading(path: source.path)
                    } catch {
                        throw MapReduceError(
                            .io,
                            "cannot open it: \(error.message)",
                            input: source.name,
                            underlying: error
                        )
                    }
                }
                let target = UnsafeMutableRawBufferPointer(rebasing: self.buffer[filled..<(filled + wanted)])
                let read: Int
                do {
                    read = try Syscall.preadFully(self.descriptor, target, source.offset + self.offsetInPart)
                } catch {
                    throw MapReduceError(.io, "cannot read it: \(error.message)", input: source.name, underlying: error)
                }
                guard read == wanted else {
                    throw MapReduceError(.badInput, "was truncated while the job ran", input: source.name)
                }
                filled += wanted
                self.offsetInPart += wanted
            }
            if self.offsetInPart == source.length {
                if self.descriptor >= 0 { Syscall.close(self.descriptor) }
                self.descriptor = -1
                self.part += 1
                self.offsetInPart = 0
            }
        }
        guard filled > 0 else { return nil }
        let compressed = try LZ4Frame.compress(
            UnsafeRawBufferPointer(rebasing: self.buffer[0..<filled]),
            after: prefix,
            reserving: reserve
        )
        self.rawBytes += filled
        self.compressedBytes += compressed.count - prefix.count
        return compressed
    }
}

/// Decompresses a blob's chunks as they arrive and writes each part to its file, at its offset: the
/// receiver holds one chunk at a time.
package struct BlobWriter: ~Copyable {
    let destinations: [BlobFile]
    let scratch: ChunkBuffer
    var part = 0
    var offsetInPart = 0
    var remaining: Int
    var descriptor: CInt = -1
    package private(set) var rawBytes = 0
    package private(set) var compressedBytes = 0

    /// - Parameters:
    ///   - destinations: Where each announced part goes; the files are created (a part written at an
    ///     offset leaves a hole before it).
    ///   - scratch: Where chunks are decompressed, reused from blob to blob.
    package init(destinations: [BlobFile], scratch: ChunkBuffer) {
        self.destinations = destinations
        self.scratch = scratch
        self.remaining = destinations.reduce(0) { $0 + $1.length }
    }

    deinit {
        if self.descriptor >= 0 { Syscall.close(self.descriptor) }
    }

    /// Whether every byte arrived.
    package var isComplete: Bool { self.remaining == 0 }

    /// Creates the files of empty parts, so that every part's file exists once the blob is complete.
    package mutating func createEmptyParts() throws {
        while self.part < self.destinations.count, self.destinations[self.part].length == 0 {
            try self.open(self.destinations[self.part])
            try self.closePart()
        }
    }

    /// Takes one compressed chunk.
    /// - Throws: `protocolViolation` for a chunk that is corrupt, or larger or smaller than announced.
    package mutating func accept(_ compressed: UnsafeRawBufferPointer) throws {
        guard self.remaining > 0 else {
            throw MapReduceError(.protocolViolation, "a data chunk arrived after its message was complete")
        }
        let expected = min(self.remaining, ClusterLimits.chunkBytes)
        try LZ4Frame.decompress(compressed, exactly: expected, into: self.scratch.memory)
        self.rawBytes += expected
        self.compressedBytes += compressed.count
        self.remaining -= expected
        let raw = UnsafeRawBufferPointer(rebasing: self.scratch.memory[0..<expected])
        var done = 0
        while done < raw.count {
            try self.createEmptyParts()
            let destination = self.destinations[self.part]
            if self.descriptor < 0 { try self.open(destination) }
            let count = min(destination.length - self.offsetInPart, raw.count - done)
            do {
                try Syscall.pwriteFully(
                    self.descriptor,
                    UnsafeRawBufferPointer(rebasing: raw[done..<(done + count)]),
                    destination.offset + self.offsetInPart
                )
            } catch {
                throw MapReduceError(
                    .io,
                    "cannot write \(destination.name): \(describeError(error))",
                    underlying: error
                )
            }
            done += count
            self.offsetInPart += count
            if self.offsetInPart == destination.length { try self.closePart() }
        }
        if self.remaining == 0 { try self.createEmptyParts() }
    }

    mutating func open(_ destination: BlobFile) throws {
        do {
            self.descriptor = try Syscall.createForWriting(destination.name)
            // The file ends where the part ends: a hole before the part if it starts at an offset.
            try Syscall.setFileSize(self.descriptor, destination.offset + destination.length)
        } catch {
            throw MapReduceError(.io, "cannot create \(destination.name): \(describeError(error))", underlying: error)
        }
    }

    mutating func closePart() throws {
        if self.descriptor >= 0 { Syscall.close(self.descriptor) }
        self.descriptor = -1
        self.part += 1
        self.offsetInPart = 0
    }
}

/// One chunk's worth of memory, allocated once per slot or connection and reused for every chunk, so
/// that shipping a blob does not map and fault in fresh megabytes each time.
package final class ChunkBuffer: @unchecked Sendable {
    // @unchecked: one reader or one slot uses it at a time.
    package let memory: UnsafeMutableRawBufferPointer

    package init() {
        self.memory = .allocate(byteCount: ClusterLimits.chunkBytes, alignment: 64)
    }

    deinit {
        self.memory.deallocate()
    }
}
