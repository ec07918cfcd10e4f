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
    mutating func reduce(_ key: Key, values: ReduceValues<Value>) throws -> Output

    /// Reduces one key given as its encoded bytes: what the engine calls. The default decodes the key
    /// and calls ``reduce(_:values:)``; a reducer that never looks at its key (a sum, a count, a maximum)
    /// implements this instead to skip the decoding, which for ``ByteString`` or `String` keys is an
    /// allocation per key.
    /// - Parameters:
    ///   - encodedKey: The key's encoded bytes, valid only during the call.
    ///   - values: As for ``reduce(_:values:)``.
    mutating func reduce(encodedKey: RawSpan, values: ReduceValues<Value>) throws -> Output
}

extension Reducer {
    /// Decodes the key and calls ``reduce(_:values:)``.
    @inlinable
    public mutating func reduce(encodedKey: RawSpan, values: ReduceValues<Value>) throws -> Output {
        let key = try encodedKey.withUnsafeBytes { try Key(encodedBytes: $0) }
        return try self.reduce(key, values: values)
    }
}

/// The values of one key, as a reducer sees them: a sequence, in no particular order.
public struct ReduceValues<Value>: Sequence {
    @usableFromInline
    enum Storage {
        case one(Value)
        case many([Value])
    }

    @usableFromInline let storage: Storage

    @inlinable init(one value: Value) { self.storage = .one(value) }
    /// Values to hand a reducer by hand, in a unit test of the reducer, say.
    @inlinable public init(_ values: [Value]) { self.storage = .many(values) }

    /// How many values there are.
    @inlinable public var count: Int {
        switch self.storage {
        case .one: 1
        case .many(let values): values.count
        }
    }

    /// Iterates over the values once.
    public struct Iterator: IteratorProtocol {
        @usableFromInline let storage: Storage
        @usableFromInline var index = 0

        @inlinable init(storage: Storage) { self.storage = storage }

        /// The next value, or nil after the last.
        @inlinable public mutating func next() -> Value? {
            defer { self.index += 1 }
            switch self.storage {
            case .one(let value): return self.index == 0 ? value : nil
            case .many(let values): return self.index < values.count ? values[self.index] : nil
            }
        }
    }

    /// An iterator over the values.
    @inlinable public func makeIterator() -> Iterator { Iterator(storage: self.storage) }

    /// The number of values, exactly.
    @inlinable public var underestimatedCount: Int { self.count }
}

/// Adds up all values of a key.
public struct SumReducer<Key: WireCodable, Value: WireCodable & AdditiveArithmetic>: Reducer {
    /// Creates a summing reducer.
    public init() {}

    /// The sum of the values.
    @inlinable
    public func reduce(_ key: Key, values: ReduceValues<Value>) -> Value {
        values.reduce(.zero, +)
    }

    /// The sum, without decoding the key.
    @inlinable
    public func reduce(encodedKey: RawSpan, values: ReduceValues<Value>) -> Value {
        values.reduce(.zero, +)
    }
}
