/// Keeps the smallest value: the combiner of a minimum.
public struct MinCombiner<Value: WireCodable & Comparable>: Combiner {
    /// Creates a minimum combiner.
    public init() {}

    @inlinable
    public func combine(_ accumulated: inout Value, with next: Value) {
        if next < accumulated { accumulated = next }
    }
}

/// Keeps the largest value: the combiner of a maximum.
public struct MaxCombiner<Value: WireCodable & Comparable>: Combiner {
    /// Creates a maximum combiner.
    public init() {}

    @inlinable
    public func combine(_ accumulated: inout Value, with next: Value) {
        if accumulated < next { accumulated = next }
    }
}

/// Reduces a key's values by folding them with a combiner: the reducer that matches a combiner, so that a
/// job combines map-side and reduces with the same function.
///
/// ```swift
/// func makeCombiner() -> MaxCombiner<Int>? { MaxCombiner() }
/// func makeReducer() -> CombiningReducer<ByteString, MaxCombiner<Int>> { CombiningReducer(MaxCombiner()) }
/// ```
public struct CombiningReducer<Key: WireCodable, C: Combiner>: Reducer {
    /// The combiner the values are folded with.
    public let combiner: C

    /// Folds each key's values with `combiner`.
    @inlinable
    public init(_ combiner: C) {
        self.combiner = combiner
    }

    @inlinable
    public func reduce(_ key: Key, values: ReduceValues<C.Value>) throws -> C.Value {
        try self.fold(values)
    }

    /// The fold, without decoding the key.
    @inlinable
    public func reduce(encodedKey: RawSpan, values: ReduceValues<C.Value>) throws -> C.Value {
        try self.fold(values)
    }

    @inlinable
    func fold(_ values: ReduceValues<C.Value>) throws -> C.Value {
        var iterator = values.makeIterator()
        guard var accumulated = iterator.next() else {
            throw MapReduceError(.jobFailed, "a key without values")
        }
        while let next = iterator.next() { self.combiner.combine(&accumulated, with: next) }
        return accumulated
    }
}

/// The smallest value of each key.
public typealias MinReducer<Key: WireCodable, Value: WireCodable & Comparable> = CombiningReducer<
    Key, MinCombiner<Value>
>
/// The largest value of each key.
public typealias MaxReducer<Key: WireCodable, Value: WireCodable & Comparable> = CombiningReducer<
    Key, MaxCombiner<Value>
>

extension CombiningReducer {
    /// Folds with a combiner made by its `init()`.
    @inlinable
    public init<Value>() where C == MinCombiner<Value> { self.init(MinCombiner()) }

    /// Folds with a combiner made by its `init()`.
    @inlinable
    public init<Value>() where C == MaxCombiner<Value> { self.init(MaxCombiner()) }
}

/// Counts the values of each key, whatever they are.
///
/// It counts the values it is handed, so it belongs to a job *without* a combiner: a combiner hands it
/// fewer, combined values. A job with a combiner counts by emitting 1 with ``SumCombiner`` and
/// ``SumReducer``, as word count does.
public struct CountReducer<Key: WireCodable, Value: WireCodable>: Reducer {
    /// Creates a counting reducer.
    public init() {}

    @inlinable
    public func reduce(_ key: Key, values: ReduceValues<Value>) -> Int { values.count }

    /// The count, without decoding the key.
    @inlinable
    public func reduce(encodedKey: RawSpan, values: ReduceValues<Value>) -> Int { values.count }
}

// MARK: - Pairs of aggregates

/// Two values carried as one: several aggregates of one key (a count and a sum, a minimum and a
/// maximum) in a single value, combined component-wise by a ``PairCombiner``. Nest pairs for more.
///
/// Encoded as ``first`` with its length in front, then ``second``.
public struct Pair<A: WireCodable, B: WireCodable>: WireCodable {
    /// The first value.
    public var first: A
    /// The second value.
    public var second: B

    /// Two values as one.
    @inlinable
    public init(_ first: A, _ second: B) {
        self.first = first
        self.second = second
    }

    @inlinable
    public func encode(into writer: inout WireWriter) {
        writer.writeLengthPrefixed(self.first)
        self.second.encode(into: &writer)
    }

    /// - Throws: ``MapReduceError`` when either value is malformed.
    @inlinable
    public init(decoding reader: inout WireReader) throws {
        self.first = try reader.readLengthPrefixed(A.self)
        self.second = try B(decoding: &reader)
    }
}

extension Pair: Equatable where A: Equatable, B: Equatable {}
extension Pair: Hashable where A: Hashable, B: Hashable {}

extension Pair: CustomStringConvertible {
    public var description: String { "(\(self.first), \(self.second))" }
}

/// Combines ``Pair`` values component-wise: the first values with one combiner, the second with another.
///
/// ```swift
/// // Requests and bytes per key, summed together:
/// func makeCombiner() -> PairCombiner<SumCombiner<Int>, SumCombiner<Int>>? { PairCombiner(SumCombiner(), SumCombiner()) }
/// ```
public struct PairCombiner<C1: Combiner, C2: Combiner>: Combiner {
    /// Combines the first values.
    public let firstCombiner: C1
    /// Combines the second values.
    public let secondCombiner: C2

    /// Combines pairs with `first` on their first values and `second` on their second ones.
    @inlinable
    public init(_ first: C1, _ second: C2) {
        self.firstCombiner = first
        self.secondCombiner = second
    }

    @inlinable
    public func combine(_ accumulated: inout Pair<C1.Value, C2.Value>, with next: Pair<C1.Value, C2.Value>) {
        self.firstCombiner.combine(&accumulated.first, with: next.first)
        self.secondCombiner.combine(&accumulated.second, with: next.second)
    }

    /// The heap both combiners count for their values.
    @inlinable
    public func heapBytes(of value: Pair<C1.Value, C2.Value>) -> Int {
        self.firstCombiner.heapBytes(of: value.first) + self.secondCombiner.heapBytes(of: value.second)
    }
}

/// Sums both values of a pair: two counts at once.
public typealias SumPairCombiner<A: WireCodable & AdditiveArithmetic, B: WireCodable & AdditiveArithmetic> =
    PairCombiner<SumCombiner<A>, SumCombiner<B>>

extension PairCombiner {
    /// Sums both values.
    @inlinable
    public init<A, B>() where C1 == SumCombiner<A>, C2 == SumCombiner<B> {
        self.init(SumCombiner(), SumCombiner())
    }
}
