/// The counts a worker reports with a task: the engine's own and the job's named counters (see
/// ``Emitter/count(_:by:)``). Summed on the coordinator only when the task's output is committed, so that
/// a task that runs again after a lost worker counts once.
@usableFromInline
package struct TaskCounters: Sendable, Equatable {
    /// The most distinct job counter names one report may carry.
    package static let maximumNames = 256
    /// The longest job counter name, in UTF-8 bytes.
    package static let maximumNameBytes = 256

    /// Records (lines) whose first byte the task mapped.
    @usableFromInline package var records: Int
    /// Keys the mapper's ``Mapper/keepsKey(_:)`` left out of spills, after combining.
    @usableFromInline package var keysFiltered: Int
    /// The job's counters by name.
    @usableFromInline package var job: [String: Int]

    @usableFromInline package init(records: Int = 0, keysFiltered: Int = 0, job: [String: Int] = [:]) {
        self.records = records
        self.keysFiltered = keysFiltered
        self.job = job
    }

    /// Adds another report's counts.
    package mutating func add(_ other: TaskCounters) {
        self.records &+= other.records
        self.keysFiltered &+= other.keysFiltered
        for (name, value) in other.job { self.job[name, default: 0] &+= value }
    }

    /// Why these counters cannot travel, or nil if they can: too many names, or a name too long.
    package var limitViolation: String? {
        if self.job.count > Self.maximumNames {
            return "the job used \(self.job.count) counter names; at most \(Self.maximumNames) are allowed"
        }
        if let long = self.job.keys.first(where: { $0.utf8.count > Self.maximumNameBytes }) {
            return "a counter name is \(long.utf8.count) bytes long; at most \(Self.maximumNameBytes) are allowed"
        }
        return nil
    }

    package func encode(into writer: inout WireWriter) {
        writer.writeVarint(self.records)
        writer.writeVarint(self.keysFiltered)
        writer.writeVarint(self.job.count)
        // In name order, so that equal counters encode to equal bytes.
        for (name, value) in self.job.sorted(by: { $0.key < $1.key }) {
            writer.writeLengthPrefixed(name)
            writer.writeVarint(value)
        }
    }

    /// Decodes what ``encode(into:)`` wrote. The name count and each name's length are checked against
    /// the limits (and against what the payload can hold) before anything is allocated.
    @usableFromInline package init(decoding reader: inout WireReader) throws {
        self.records = try reader.readCount()
        self.keysFiltered = try reader.readCount()
        // A name and a value take at least two bytes.
        let count = try reader.readCount(limit: min(Self.maximumNames, reader.remaining / 2))
        var job: [String: Int] = [:]
        job.reserveCapacity(count)
        for _ in 0..<count {
            let length = try reader.readCount(limit: min(Self.maximumNameBytes, reader.remaining))
            let raw = try reader.readBytes(count: length)
            guard let name = String(validating: raw, as: UTF8.self) else {
                throw MapReduceError(.protocolViolation, "a counter name is not valid UTF-8")
            }
            let value = try reader.readCount()
            guard job.updateValue(value, forKey: name) == nil else {
                throw MapReduceError(.protocolViolation, "the counter '\(name)' is reported twice")
            }
        }
        self.job = job
    }
}
