import FuzzSupport
@_spi(Fuzzing) import MapReduce

/// LZ4 batch decoding: `LZ4Frame.decompress(_:limit:)` on arbitrary bytes never crashes, never returns
/// more than its limit, and what it returns compresses and decompresses back to itself; any input
/// compresses and decompresses back to itself, and is refused under a limit one byte too small.
///
/// The first byte picks the limit; the rest is the frame.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLZ4(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let limits = [0, 1, 15, 64, 1000, 4096, 65_536, 1 << 20]
    let limit = limits[Int(data[0]) % limits.count]
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)

    if let output = try? EngineFuzzing.lz4Decompress(input, limit: limit) {
        expect(output.count <= limit, "decompressed \(output.count) bytes under a limit of \(limit)")
        let again = output.withUnsafeBytes { try! EngineFuzzing.lz4Compress($0) }
        let back = again.withUnsafeBytes { try? EngineFuzzing.lz4Decompress($0, limit: output.count) }
        expect(back == output, "decompressed output does not round-trip")
    }

    // Any bytes round-trip, and a limit one byte short refuses them.
    let frame = try! EngineFuzzing.lz4Compress(input)
    let back = frame.withUnsafeBytes { try? EngineFuzzing.lz4Decompress($0, limit: input.count) }
    expect(back == Array(input), "\(input.count) bytes do not round-trip through LZ4")
    if input.count > 0 {
        let short = frame.withUnsafeBytes { try? EngineFuzzing.lz4Decompress($0, limit: input.count - 1) }
        expect(short == nil, "a limit one byte short of the content was not enforced")
    }
    return 0
}
