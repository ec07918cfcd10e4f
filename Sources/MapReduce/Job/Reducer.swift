/// Turns a key and all of its values into one output: the "reduce" of MapReduce.
///
/// Reduce runs in the worker processes, a range of partitions per task. Each worker makes its own reducer
/// with ``MapReduceJob/makeReducer()``.
public protocol Reducer<Key, Value>: Sendable {
    /// The key type, the mapper's.
    associatedtype Key: WireCodable
    /// The value type, the mapper's.
    associatedtype Value: WireCodable
    /// What each key reduces to.
    associatedtype Output: WireCodable

    /// Reduces one key.
    /// - Parameters:
    ///   - key: The key.
    ///   - values: Every value emitted for the key, some possibly already combined, in no particular order.
    /// - Returns: The key's output, handed to the caller of the job in key order.
    mutating func reduce(_ key: Key, values: some Sequence<Value>) throws -> Output
}

/// Adds up all values of a key.
public struct SumReducer<Key: WireCodable, Value: WireCodable & AdditiveArithmetic>: Reducer {
    /// Creates a summing reducer.
    public init() {}

    @inlinable
    public func reduce(_ key: Key, values: some Sequence<Value>) -> Value {
        values.reduce(.zero, +)
    }
}
