/// Merges two values of the same key, map-side and reduce-side: the optional "combine" of MapReduce.
///
/// Combining must be associative and must not change the result: the reducer sees some mix of original and
/// combined values for each key. With a combiner, workers keep one value per distinct key in memory instead
/// of every pair, which is what keeps memory flat as the input grows.
public protocol Combiner<Value>: Sendable {
    /// The values combined.
    associatedtype Value: WireCodable
    /// Folds `next` into `accumulated`.
    func combine(_ accumulated: inout Value, with next: Value)
}

/// Marks the combiner type of jobs that do not combine.
public protocol AbsentCombiner: Combiner {}

/// The combiner of a job that has none; it is never called.
public struct NoCombiner<Value: WireCodable>: AbsentCombiner {
    /// Creates the placeholder.
    public init() {}

    /// Never called: stops the program.
    public func combine(_ accumulated: inout Value, with next: Value) {
        preconditionFailure("NoCombiner is never asked to combine")
    }
}

/// Adds values: the combiner of counting jobs such as word count.
public struct SumCombiner<Value: WireCodable & AdditiveArithmetic>: Combiner {
    /// Creates a summing combiner.
    public init() {}

    /// Adds `next` to `accumulated`.
    @inlinable
    public func combine(_ accumulated: inout Value, with next: Value) {
        accumulated += next
    }
}
