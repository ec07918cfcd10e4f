/// A sorted, de-duplicated collection of small values, each with a count: a ``SortedSet`` that also
/// says how often each element was seen (the files a word occurs in, and how many times in each).
/// Combined by ``TallyCombiner``, which adds the counts of equal elements.
///
/// The bound is ``SortedSet``'s: at most ``maximumCount`` elements when decoded, checked before anything
/// is allocated; each key's tally is held whole in a worker's memory while it is combined, and counted
/// toward the worker's memory budget as ``heapBytes``.
public struct Tally<Element: WireCodable & Comparable>: WireCodable, Sequence {
    /// One element and how many times it was seen.
    public struct Entry {
        /// The element.
        public var element: Element
        /// How many times it was seen, at least 1.
        public var count: Int

        /// An element seen `count` times.
        @inlinable
        public init(_ element: Element, count: Int) {
            self.element = element
            self.count = count
        }
    }

    /// The entries, by ascending element, one per element.
    @inlinable public var entries: [Entry] { self.storage }
    @usableFromInline var storage: [Entry]

    /// The most elements a decoded tally may hold: 2^20.
    public static var maximumCount: Int { 1 << 20 }

    /// An empty tally.
    @inlinable public init() { self.storage = [] }

    /// One element seen `count` times: what a mapper emits.
    @inlinable public init(_ element: Element, count: Int = 1) { self.storage = [Entry(element, count: count)] }

    /// How many distinct elements there are.
    @inlinable public var count: Int { self.entries.count }

    /// Whether the tally has no elements.
    @inlinable public var isEmpty: Bool { self.entries.isEmpty }

    /// The bytes of heap the entries take: the array's buffer, by capacity, with its header.
    ///
    /// The elements' own heap (a ``ByteString``'s bytes) is left out: a mapper usually emits one element
    /// many times (the index emits the file it is reading), all sharing one buffer, which counting per
    /// entry would count again and again. What grows with the pairs combined is the entries.
    @inlinable public var heapBytes: Int {
        let capacity = self.storage.capacity
        return capacity == 0 ? 0 : arrayHeaderBytes + capacity * MemoryLayout<Entry>.stride
    }

    /// The sum of the counts.
    @inlinable public var total: Int { self.entries.reduce(0) { $0 + $1.count } }

    @inlinable public func makeIterator() -> IndexingIterator<[Entry]> { self.entries.makeIterator() }

    /// Counts `element` `count` more times, keeping the order.
    @inlinable
    public mutating func add(_ element: Element, count: Int = 1) {
        let last = self.storage.count - 1
        // Most additions are to the last element (the same file again) or after it.
        if last >= 0 && self.storage[last].element == element {
            self.storage[last].count += count
            return
        }
        if last < 0 || self.storage[last].element < element {
            self.storage.append(Entry(element, count: count))
            return
        }
        var low = 0
        var high = self.storage.count
        while low < high {
            let middle = (low + high) / 2
            if self.storage[middle].element < element { low = middle + 1 } else { high = middle }
        }
        if low < self.storage.count && self.storage[low].element == element {
            self.storage[low].count += count
        } else {
            self.storage.insert(Entry(element, count: count), at: low)
        }
    }

    /// Adds every count of `other`: a merge of two sorted arrays.
    @inlinable
    public mutating func formSum(_ other: Tally<Element>) {
        if other.storage.count == 1 {
            // What a mapper emits: one element, most often the one counted last. Compared in place,
            // without copying the entry out (which costs reference counting on the hot path).
            let last = self.storage.count - 1
            if last >= 0 && self.storage[last].element == other.storage[0].element {
                self.storage[last].count += other.storage[0].count
                return
            }
            self.add(other.storage[0].element, count: other.storage[0].count)
            return
        }
        if other.storage.isEmpty { return }
        if self.storage.isEmpty {
            self = other
            return
        }
        var merged: [Entry] = []
        merged.reserveCapacity(self.storage.count + other.storage.count)
        var i = 0
        var j = 0
        let left = self.storage
        let right = other.storage
        while i < left.count && j < right.count {
            if left[i].element < right[j].element {
                merged.append(left[i])
                i += 1
            } else if right[j].element < left[i].element {
                merged.append(right[j])
                j += 1
            } else {
                merged.append(Entry(left[i].element, count: left[i].count + right[j].count))
                i += 1
                j += 1
            }
        }
        merged.append(contentsOf: left[i...])
        merged.append(contentsOf: right[j...])
        self.storage = merged
    }

    /// The entry count, then per entry the element with its length in front and the count.
    @inlinable
    public func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.entries.count)
        for entry in self.entries {
            writer.writeLengthPrefixed(entry.element)
            writer.writeVarint(entry.count)
        }
    }

    /// - Throws: ``MapReduceError`` when the count passes ``maximumCount`` or what the bytes left can
    ///   hold (checked before anything is allocated), or when an element is malformed, out of order or
    ///   counted less than once.
    @inlinable
    public init(decoding reader: inout WireReader) throws {
        // Every entry takes at least two bytes: the element's length and its count.
        self.storage = try reader.readSortedElements(
            maximumCount: Self.maximumCount,
            minimumElementBytes: 2,
            what: "a tally's",
            by: { $0.element < $1.element },
            readElement: { reader in
                let element = try reader.readLengthPrefixed(Element.self)
                let times = try reader.readCount(limit: Int.max)
                guard times >= 1 else { throw MapReduceError(.protocolViolation, "a tally counts an element 0 times") }
                return Entry(element, count: times)
            }
        )
    }
}

extension Tally.Entry: Sendable {}
extension Tally.Entry: Equatable where Element: Equatable {}
extension Tally: Equatable where Element: Equatable {}

/// Combines ``Tally`` values by adding the counts of equal elements.
public struct TallyCombiner<Element: WireCodable & Comparable>: Combiner {
    /// Creates a tally combiner.
    public init() {}

    @inlinable
    public func combine(_ accumulated: inout Tally<Element>, with next: Tally<Element>) {
        accumulated.formSum(next)
    }

    /// The tally's ``Tally/heapBytes``.
    @inlinable
    public func heapBytes(of value: Tally<Element>) -> Int { value.heapBytes }
}

extension CombiningReducer {
    /// The sum of each key's tallies.
    @inlinable
    public init<Element>() where C == TallyCombiner<Element> { self.init(TallyCombiner()) }
}
