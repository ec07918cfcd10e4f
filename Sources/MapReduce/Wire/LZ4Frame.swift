private import CLZ4

/// LZ4 frame-format compression (liblz4), for batches of input chunks and map output sent to and from
/// peer nodes.
package enum LZ4Frame {
    /// Compresses `bytes` into one LZ4 frame.
    package static func compress(_ bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        try self.compress(bytes, after: [], reserving: 0)
    }

    /// `prefix`, then `bytes` compressed into one LZ4 frame, in one array with room for `reserve` more
    /// bytes: a message header and its compressed body without a copy, and no zero-filling.
    package static func compress(
        _ bytes: UnsafeRawBufferPointer,
        after prefix: [UInt8],
        reserving reserve: Int
    )
        throws -> [UInt8]
    {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.contentSize = UInt64(bytes.count)
        preferences.frameInfo.blockSizeID = LZ4F_max4MB
        let bound = LZ4F_compressFrameBound(bytes.count, &preferences)
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: prefix.count + bound + reserve) { buffer, count in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            written = LZ4F_compressFrame(base + prefix.count, bound, bytes.baseAddress, bytes.count, &preferences)
            count = LZ4F_isError(written) != 0 ? 0 : prefix.count + written
        }
        if LZ4F_isError(written) != 0 {
            throw MapReduceError(.io, "LZ4 compression failed: \(String(cString: LZ4F_getErrorName(written)))")
        }
        return output
    }

    /// Decompresses one LZ4 frame that must hold exactly `count` bytes, into `destination` (at least
    /// `count` bytes), in one pass.
    /// - Throws: `protocolViolation` for a corrupt or truncated frame, or one that holds more or fewer bytes.
    package static func decompress(
        _ frame: UnsafeRawBufferPointer,
        exactly count: Int,
        into destination: UnsafeMutableRawBufferPointer
    ) throws {
        precondition(destination.count >= count)
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else {
            throw MapReduceError(.io, "cannot create an LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var produced = 0
        var consumed = 0
        // One byte of room past `count`: a frame that holds more shows itself by filling it.
        var spare: UInt8 = 0
        while true {
            var sourceSize = frame.count - consumed
            var destinationSize = count - produced
            let hint: Int
            if destinationSize > 0 {
                hint = LZ4F_decompress(
                    context,
                    destination.baseAddress.map { $0 + produced },
                    &destinationSize,
                    frame.baseAddress.map { $0 + consumed },
                    &sourceSize,
                    nil
                )
            } else {
                destinationSize = 1
                hint = LZ4F_decompress(
                    context,
                    &spare,
                    &destinationSize,
                    frame.baseAddress.map { $0 + consumed },
                    &sourceSize,
                    nil
                )
                if LZ4F_isError(hint) == 0 && destinationSize > 0 {
                    throw MapReduceError(.protocolViolation, "LZ4 data expands beyond the \(count) bytes announced")
                }
            }
            if LZ4F_isError(hint) != 0 {
                throw MapReduceError(
                    .protocolViolation,
                    "corrupt LZ4 data: \(String(cString: LZ4F_getErrorName(hint)))"
                )
            }
            consumed += sourceSize
            produced += destinationSize
            if hint == 0 {
                guard produced == count, consumed == frame.count else {
                    throw MapReduceError(
                        .protocolViolation,
                        produced == count
                            ? "LZ4 data has bytes after its frame" : "LZ4 data holds \(produced) bytes, not \(count)"
                    )
                }
                return
            }
            if sourceSize == 0 && destinationSize == 0 {
                throw MapReduceError(.protocolViolation, "truncated LZ4 frame")
            }
        }
    }

    /// Decompresses one LZ4 frame, refusing to produce more than `limit` bytes.
    /// - Throws: ``MapReduceError`` with code `protocolViolation` for a corrupt frame or one that would
    ///   exceed the limit, before allocating beyond it.
    package static func decompress(_ frame: UnsafeRawBufferPointer, limit: Int) throws -> [UInt8] {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else {
            throw MapReduceError(.io, "cannot create an LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(max(limit, 1), 1 << 20))
        var consumed = 0
        while true {
            var sourceSize = frame.count - consumed
            var destinationSize = chunk.count
            let hint = chunk.withUnsafeMutableBytes { out in
                LZ4F_decompress(
                    context,
                    out.baseAddress,
                    &destinationSize,
                    frame.baseAddress.map { $0 + consumed },
                    &sourceSize,
                    nil
                )
            }
            if LZ4F_isError(hint) != 0 {
                throw MapReduceError(
                    .protocolViolation,
                    "corrupt LZ4 data: \(String(cString: LZ4F_getErrorName(hint)))"
                )
            }
            consumed += sourceSize
            guard output.count + destinationSize <= limit else {
                throw MapReduceError(.protocolViolation, "LZ4 data expands beyond the limit of \(limit) bytes")
            }
            output.append(contentsOf: chunk[0..<destinationSize])
            if hint == 0 { return output }
            if sourceSize == 0 && destinationSize == 0 {
                throw MapReduceError(.protocolViolation, "truncated LZ4 frame")
            }
        }
    }
}
