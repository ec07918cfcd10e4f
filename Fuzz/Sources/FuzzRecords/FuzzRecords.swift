import FuzzSupport
@_spi(Fuzzing) import MapReduce

/// The record codec: a spill segment (`keyLength key valueLength value` records, varint lengths) read
/// by the reduce side's hash path (`WireReader`), by its merge (`SegmentCursor`, which also checks the
/// key order) and by the spill sorter must give what a plain reading gives, or fail when it fails; each
/// value, decoded as each of the engine's value types, must encode and decode back to itself, and
/// integers must encode in numeric order.
///
/// The whole input is the segment.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)

    // The hash path reads varints of up to 10 bytes (a UInt64); the merge and the sorter, up to 8.
    let wide = referenceRecords(bytes, maxLengthBytes: 10)
    let hashed = EngineFuzzing.readRecordsWithWireReader(bytes)
    expect(hashed == wide, "WireReader read \(String(describing: hashed)), expected \(String(describing: wide))")

    let narrow = referenceRecords(bytes, maxLengthBytes: 8)
    let sorted = narrow.flatMap { records in
        zip(records, records.dropFirst()).allSatisfy { !$1.key.lexicographicallyPrecedes($0.key) } ? records : nil
    }
    let merged = EngineFuzzing.readRecordsWithSegmentCursor(bytes)
    expect(merged == sorted, "SegmentCursor read \(String(describing: merged)), expected \(String(describing: sorted))")

    let stable = narrow.map { records in
        records.enumerated().sorted {
            $0.element.key != $1.element.key
                ? $0.element.key.lexicographicallyPrecedes($1.element.key) : $0.offset < $1.offset
        }.map(\.element)
    }
    let sorter = EngineFuzzing.sortRecordsWithSpillSorter(bytes)
    expect(sorter == stable, "SpillSorter gave \(String(describing: sorter)), expected \(String(describing: stable))")

    var values = (wide ?? []).map(\.value)
    if values.isEmpty { values = [Array(bytes)] }
    for value in values {
        value.withUnsafeBytes { raw in
            checkValue(raw, as: Int.self)
            checkValue(raw, as: Int32.self)
            checkValue(raw, as: UInt64.self)
            checkValue(raw, as: UInt32.self)
            checkValue(raw, as: UInt8.self)
            checkValue(raw, as: Bool.self)
            checkValue(raw, as: String.self)
            checkValue(raw, as: ByteString.self)
            checkValue(raw, as: [Int].self)
            checkValue(raw, as: [String].self)
            checkValue(raw, as: [[UInt64]].self)
            if let value = try? Double(encodedBytes: raw) {
                let again = value.encodedBytes.withUnsafeBytes { try? Double(encodedBytes: $0) }
                expect(again?.bitPattern == value.bitPattern, "Double \(value) does not round-trip")
            }
        }
    }
    checkOrder(values, as: Int.self)
    checkOrder(values, as: UInt64.self)
    checkOrder(values, as: Int32.self)
    return 0
}

/// Decodes `raw` as a `T`; if that works, the value's encoding must decode to the same value and encode
/// to the same bytes.
func checkValue<T: WireCodable & Equatable>(_ raw: UnsafeRawBufferPointer, as type: T.Type) {
    guard let value = try? T(encodedBytes: raw) else { return }
    let encoded = value.encodedBytes
    let again = encoded.withUnsafeBytes { try? T(encodedBytes: $0) }
    expect(again == value, "\(T.self) \(value) decodes back as \(String(describing: again))")
    expect(again!.encodedBytes == encoded, "\(T.self) \(value) encodes two ways")
}

/// The values that decode as `T`, re-encoded, must be in the same byte order as their numeric order.
func checkOrder<T: WireCodable & BinaryInteger>(_ values: [[UInt8]], as type: T.Type) {
    let numbers = values.compactMap { value in value.withUnsafeBytes { try? T(encodedBytes: $0) } }
    for (a, b) in zip(numbers, numbers.dropFirst()) {
        let (ea, eb) = (a.encodedBytes, b.encodedBytes)
        expect((a < b) == ea.lexicographicallyPrecedes(eb), "\(T.self) \(a), \(b): bytes out of order")
        expect((a == b) == (ea == eb), "\(T.self) \(a), \(b): equal values, different bytes")
    }
}

/// The records of `bytes`, read the obvious way; nil if a length is malformed, longer than
/// `maxLengthBytes` bytes, over 64 bits, or runs past the end.
func referenceRecords(_ bytes: UnsafeRawBufferPointer, maxLengthBytes: Int) -> [EngineFuzzing.Record]? {
    var records: [EngineFuzzing.Record] = []
    var position = 0
    func length() -> Int? {
        var value: UInt64 = 0
        for index in 0..<maxLengthBytes {
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            position += 1
            let bits = UInt64(byte & 0x7f)
            guard index < 9 || bits <= 1 else { return nil }  // past 64 bits
            value |= bits << UInt64(7 * index)
            if byte < 0x80 { return value <= UInt64(bytes.count - position) ? Int(value) : nil }
        }
        return nil
    }
    while position < bytes.count {
        guard let keyLength = length() else { return nil }
        let key = Array(bytes[position..<(position + keyLength)])
        position += keyLength
        guard let valueLength = length() else { return nil }
        let value = Array(bytes[position..<(position + valueLength)])
        position += valueLength
        records.append(EngineFuzzing.Record(key: key, value: value))
    }
    return records
}
