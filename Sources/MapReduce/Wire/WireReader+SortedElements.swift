extension WireReader {
    /// Reads the elements of a sorted collection (``SortedSet``, ``Tally``): a count, then that many
    /// elements, each sorting strictly after the one before.
    ///
    /// The count is checked before anything is allocated: against `maximumCount`, and against what the
    /// bytes left can hold when every element takes at least `minimumElementBytes`.
    /// - Parameters:
    ///   - maximumCount: The most elements accepted.
    ///   - minimumElementBytes: The fewest bytes one element is encoded in (at least 1).
    ///   - what: Who the elements belong to, for the error: `a sorted set's`.
    ///   - areInIncreasingOrder: Whether the first element sorts before the second.
    ///   - readElement: Reads one element.
    /// - Throws: ``MapReduceError`` (`protocolViolation`) for a count over the bounds or elements out of
    ///   order; what `readElement` throws.
    @inlinable
    mutating func readSortedElements<Element>(
        maximumCount: Int,
        minimumElementBytes: Int,
        what: @autoclosure () -> String,
        by areInIncreasingOrder: (Element, Element) -> Bool,
        readElement: (inout WireReader) throws -> Element
    ) throws -> [Element] {
        let count = try self.readCount(limit: Swift.min(maximumCount, self.remaining / minimumElementBytes))
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            let element = try readElement(&self)
            if let last = elements.last, !areInIncreasingOrder(last, element) {
                throw MapReduceError(.protocolViolation, "\(what()) elements are not strictly ascending")
            }
            elements.append(element)
        }
        return elements
    }
}
