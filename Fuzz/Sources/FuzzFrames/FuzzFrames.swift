import FuzzSupport
@_spi(Fuzzing) import MapReduce

/// The frame decoder and the message decoders: the bytes go through `FrameDecoder` in pieces of
/// varying sizes, and what it returns must be what a plain reading of `length | kind | payload`
/// returns, whatever the pieces; every frame, and the input itself taken as one payload, is decoded as
/// a coordinator and a worker message, and whatever decodes must encode and decode back to itself.
///
/// Byte 0 picks the payload limit, byte 1 the piece sizes and the kind of the whole-input payload; the
/// rest is the stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let limits = [0, 1, 16, 255, 4096, 64 << 20]
    let limit = limits[Int(data[0]) % limits.count]
    let pattern = Int(data[1])
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    let expected = referenceFrames(stream, limit: limit)
    let pieces = [[], [1], [2, 3], [5], [7, 1, 64], [4096]][pattern % 6]
    let decoded = EngineFuzzing.decodeFrames(stream, limit: limit, pieceSizes: pieces)
    expect(decoded == expected, "FrameDecoder read \(decoded), a plain reading gives \(expected)")

    for (kind, payload) in zip(decoded.kinds, decoded.frames) {
        checkMessage(kind: kind, payload: payload)
    }
    let kinds: [UInt8] = [1, 2, 3, 4, 5, 64, 65, 66, 67, 68, 0, 255]
    checkMessage(kind: kinds[(pattern / 6) % kinds.count], payload: stream)
    return 0
}

func checkMessage(kind: UInt8, payload: [UInt8]) {
    let coordinator = EngineFuzzing.decodeCoordinatorMessage(kind: kind, payload: payload)
    if case .mismatch(let what) = coordinator { fail("coordinator message: \(what)") }
    let worker = EngineFuzzing.decodeWorkerMessage(kind: kind, payload: payload)
    if case .mismatch(let what) = worker { fail("worker message: \(what)") }
}

/// The frames of `stream`, read the obvious way: a 4-byte big-endian length, a kind byte, the payload;
/// a failure at a length over the limit or at a stream that ends inside a frame.
func referenceFrames(_ stream: [UInt8], limit: Int) -> EngineFuzzing.DecodedFrames {
    var result = EngineFuzzing.DecodedFrames(frames: [], kinds: [], failed: false)
    var offset = 0
    while offset < stream.count {
        guard stream.count - offset >= 5 else {
            result.failed = true
            break
        }
        var length = 0
        for byte in stream[offset..<(offset + 4)] { length = length * 256 + Int(byte) }
        let kind = stream[offset + 4]
        guard length <= limit, stream.count - offset - 5 >= length else {
            result.failed = true
            break
        }
        result.kinds.append(kind)
        result.frames.append(Array(stream[(offset + 5)..<(offset + 5 + length)]))
        offset += 5 + length
    }
    return result
}
