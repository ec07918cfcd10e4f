/// Merges two values of the same key, map-side and reduce-side: the optional "combine" of MapReduce.
///
/// Combining must be associative and must not change the result: the reducer sees some mix of original and
/// combined values for each key. With a combiner, workers keep one value per distinct key in memory instead
/// of every pair, which is what keeps memory flat as the input grows.
///
/// A worker's combining table counts toward its memory budget (`--worker-memory`): its slots and keys,
/// and the heap its values own as ``heapBytes(of:)`` measures it. A combiner whose values grow as they
/// combine (a list, a set) implements ``heapBytes(of:)``, so that the table is written out before they
/// outgrow the budget; for values that own no heap (numbers) the default, zero, costs nothing.
public protocol Combiner<Value>: Sendable {
    /// The values combined.
    associatedtype Value: WireCodable
    /// Folds `next` into `accumulated`.
    func combine(_ accumulated: inout Value, with next: Value)
    /// The bytes of heap memory `value` owns beyond its inline size (its arrays' buffers, say), which a
    /// combining table counts toward the worker's memory budget.
    ///
    /// Called before and after each ``combine(_:with:)`` into a combining table (a worker's map side, a
    /// reduce task grouping unsorted spills, the streaming map step), so it must be cheap: constant
    /// time, an estimate from capacities rather than a walk over the elements. The default is 0, for
    /// values that own no heap or whose heap does not grow as they combine.
    func heapBytes(of value: Value) -> Int
}

extension Combiner {
    /// No heap: the default, for values such as numbers.
    @inlinable @inline(__always)
    public func heapBytes(of value: Value) -> Int { 0 }

    /// Puts `value` in a table's payload just inserted, or folds it into the value there; returns how
    /// much the heap that value owns grew (``heapBytes(of:)`` after, less before): zero, at no cost,
    /// for values that own none.
    @inlinable @inline(__always)
    func absorb(_ value: Value, into payload: UnsafeMutablePointer<Value>, inserted: Bool) -> Int {
        if inserted {
            payload.initialize(to: value)
            return self.heapBytes(of: payload.pointee)
        }
        let before = self.heapBytes(of: payload.pointee)
        self.combine(&payload.pointee, with: value)
        return self.heapBytes(of: payload.pointee) &- before
    }
}

/// How much heap a combining table's values may own beside a table of `footprint` bytes under `budget`
/// before it is written out: what the budget leaves, and at least a quarter of it, so that a table
/// whose slots alone fill the budget (one very long key) is not written out at every pair, and one
/// value larger than the budget is written out with the rest each time it has grown by that much.
@inlinable
func combinedHeapLimit(budget: Int, besideTable footprint: Int) -> Int {
    max(budget - footprint, budget / 4)
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
