/// Decides which reduce partition a key belongs to.
///
/// A partitioner must be a pure function of the key's encoded bytes: every process that sees the key must
/// pick the same partition. Each job can supply its own, for example to keep related keys together.
public protocol Partitioner: Sendable {
    /// The partition, in `0..<count`, of a key.
    /// - Parameters:
    ///   - encodedKey: The key's encoded bytes.
    ///   - hash: ``KeyHash`` of those bytes, already computed by the engine.
    ///   - count: The number of partitions, at least 1.
    func partition(encodedKey: UnsafeRawBufferPointer, hash: UInt64, count: Int) -> Int
}

/// The default partitioner: ``KeyHash`` of the encoded key, modulo the number of partitions.
public struct HashPartitioner: Partitioner {
    /// Creates the default partitioner.
    public init() {}

    /// The key's hash modulo `count`.
    @inlinable
    public func partition(encodedKey: UnsafeRawBufferPointer, hash: UInt64, count: Int) -> Int {
        Int(hash % UInt64(count))
    }
}
