/// A sorted, de-duplicated collection of small values: the value of a job that collects, per key, the
/// distinct things it saw (the files a word occurs in, the hosts that asked for a page), combined by
/// ``UnionCombiner`` and reduced by ``CollectReducer``.
///
/// The bound: a set holds at most ``maximumCount`` elements when it is decoded, and the decoder checks
/// the count against it (and against the bytes left) before it allocates anything. Combining does not
/// check it, since combining cannot fail, but every value is decoded between the map side and the
/// reducer, so a key that collects more elements fails the job there, naming the limit. Each key's set
/// is held whole in a worker's memory while it is combined; ``UnionCombiner`` counts its buffer
/// (``heapBytes``) toward the worker's memory budget, but not the elements' own heap: keep the elements
/// small and the sets far below the bound, or count with a ``KeyPair`` key instead.
public struct SortedSet<Element: WireCodable & Comparable>: WireCodable, Sequence {
    /// The elements, ascending, without duplicates.
    @inlinable public var elements: [Element] { self.storage }
    @usableFromInline var storage: [Element]

    /// The most elements a decoded set may hold: 2^20.
    public static var maximumCount: Int { 1 << 20 }

    /// An empty set.
    @inlinable public init() { self.storage = [] }

    /// A set of one element: what a mapper emits.
    @inlinable public init(_ element: Element) { self.storage = [element] }

    /// The distinct elements of a sequence.
    @inlinable
    public init(_ elements: some Sequence<Element>) {
        var sorted = elements.sorted()
        sorted.removeAdjacentDuplicates()
        self.storage = sorted
    }

    /// How many elements there are.
    @inlinable public var count: Int { self.elements.count }

    /// The bytes of heap the elements take: the array's buffer, by capacity, with its header. The
    /// elements' own heap (a ``ByteString``'s bytes) is left out, as for ``Tally/heapBytes``.
    @inlinable public var heapBytes: Int {
        let capacity = self.storage.capacity
        return capacity == 0 ? 0 : arrayHeaderBytes + capacity * MemoryLayout<Element>.stride
    }

    /// Whether the set has no elements.
    @inlinable public var isEmpty: Bool { self.elements.isEmpty }

    @inlinable public func makeIterator() -> IndexingIterator<[Element]> { self.elements.makeIterator() }

    /// Whether `element` is in the set: a binary search.
    @inlinable
    public func contains(_ element: Element) -> Bool {
        let index = self.storage.insertionIndex(of: element)
        return index < self.elements.count && self.elements[index] == element
    }

    /// Adds one element, keeping the order.
    @inlinable
    public mutating func insert(_ element: Element) {
        // Elements often arrive in order: the end first.
        if let last = self.elements.last, last < element {
            self.storage.append(element)
            return
        }
        let index = self.storage.insertionIndex(of: element)
        if index < self.elements.count && self.elements[index] == element { return }
        self.storage.insert(element, at: index)
    }

    /// Adds every element of `other`: a merge of two sorted arrays.
    @inlinable
    public mutating func formUnion(_ other: SortedSet<Element>) {
        if other.elements.count == 1 {
            self.insert(other.elements[0])
            return
        }
        if other.isEmpty { return }
        if self.isEmpty {
            self = other
            return
        }
        var merged: [Element] = []
        merged.reserveCapacity(self.elements.count + other.elements.count)
        var i = 0
        var j = 0
        let left = self.elements
        let right = other.elements
        while i < left.count && j < right.count {
            if left[i] < right[j] {
                merged.append(left[i])
                i += 1
            } else if right[j] < left[i] {
                merged.append(right[j])
                j += 1
            } else {
                merged.append(left[i])
                i += 1
                j += 1
            }
        }
        merged.append(contentsOf: left[i...])
        merged.append(contentsOf: right[j...])
        self.storage = merged
    }

    /// The element count, then each element with its length in front, ascending.
    @inlinable
    public func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.elements.count)
        for element in self.elements { writer.writeLengthPrefixed(element) }
    }

    /// - Throws: ``MapReduceError`` when the count passes ``maximumCount`` or the bytes left (checked
    ///   before anything is allocated), or when the elements are malformed or not strictly ascending.
    @inlinable
    public init(decoding reader: inout WireReader) throws {
        // Every element takes at least its one-byte length.
        self.storage = try reader.readSortedElements(
            maximumCount: Self.maximumCount,
            minimumElementBytes: 1,
            what: "a sorted set's",
            by: <
        ) { try $0.readLengthPrefixed(Element.self) }
    }
}

extension SortedSet: Equatable where Element: Equatable {}
extension SortedSet: Hashable where Element: Hashable {}

/// Combines ``SortedSet`` values by union.
public struct UnionCombiner<Element: WireCodable & Comparable>: Combiner {
    /// Creates a union combiner.
    public init() {}

    @inlinable
    public func combine(_ accumulated: inout SortedSet<Element>, with next: SortedSet<Element>) {
        accumulated.formUnion(next)
    }

    /// The set's ``SortedSet/heapBytes``.
    @inlinable
    public func heapBytes(of value: SortedSet<Element>) -> Int { value.heapBytes }
}

/// Collects the distinct values of each key into one ``SortedSet``: the union of the sets emitted for it.
public typealias CollectReducer<Key: WireCodable, Element: WireCodable & Comparable> =
    CombiningReducer<Key, UnionCombiner<Element>>

extension CombiningReducer {
    /// The union of each key's sets.
    @inlinable
    public init<Element>() where C == UnionCombiner<Element> { self.init(UnionCombiner()) }
}

/// The header of an array's heap buffer on 64-bit platforms: an object header, the count and the
/// capacity.
@inlinable var arrayHeaderBytes: Int { 32 }

extension Array where Element: Comparable {
    /// The first index whose element is not below `element` (the array being sorted).
    @inlinable
    func insertionIndex(of element: Element) -> Int {
        var low = 0
        var high = self.count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < element { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Removes each element equal to the one before it (the array being sorted).
    @inlinable
    mutating func removeAdjacentDuplicates() {
        guard self.count > 1 else { return }
        var kept = 1
        for index in 1..<self.count where self[index] != self[kept - 1] {
            self[kept] = self[index]
            kept += 1
        }
        self.removeLast(self.count - kept)
    }
}
