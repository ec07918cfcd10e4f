/// What kind of place a slot is: a worker process of this machine, or a worker of a peer node.
package enum SlotKind: Hashable, Sendable, CustomStringConvertible {
    /// A local worker process (or the calling process, in-process).
    case local
    /// A worker of the peer node at this `HOST:PORT`.
    case peer(String)

    /// Slots whose speed is measured together: every local worker alike, every peer's worker alike (a
    /// remote task's time includes shipping its bytes).
    package var family: Family { if case .local = self { .local } else { .remote } }

    package enum Family: Hashable, Sendable {
        case local
        case remote
    }

    package var description: String {
        switch self {
        case .local: "local"
        case .peer(let address): address
        }
    }
}

/// One slot: a place that runs tasks, one at a time, such as a local worker process or one worker of a
/// peer. A replaced worker keeps the slot's kind and index and gets a new generation.
package struct SlotID: Hashable, Sendable, CustomStringConvertible {
    package var kind: SlotKind
    package var index: Int
    package var generation: Int

    package init(kind: SlotKind = .local, index: Int, generation: Int) {
        self.kind = kind
        self.index = index
        self.generation = generation
    }

    /// The row of the statistics this slot's tasks count in: `local/N` per local worker, `HOST:PORT` per
    /// peer (all its workers together).
    package var lane: String {
        switch self.kind {
        case .local: "local/\(self.index)"
        case .peer(let address): address
        }
    }

    package var description: String {
        switch self.kind {
        case .local: "worker \(self.index)"
        case .peer(let address): "peer \(address) slot \(self.index)"
        }
    }
}

/// Why a slot was lost. Only a crash is evidence against the task the slot was running: a network drop,
/// a timeout or a garbled reply says nothing about the task, so those do not count toward the limit of
/// attempts that fails a poison task.
package struct SlotLoss: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Cause: Sendable, Equatable {
        /// The worker process died, with this status (a signal, an exit code).
        case crashed
        /// The connection or pipe to it closed.
        case disconnected
        /// It sent something the protocol does not allow.
        case protocolViolation
        /// It stayed silent past its heartbeat timeout.
        case timedOut
    }

    package var cause: Cause
    package var reason: String
    /// The process ended before it answered its hello: it may not be a worker at all.
    package var beforeHandshake = false

    package init(_ cause: Cause, _ reason: String, beforeHandshake: Bool = false) {
        self.cause = cause
        self.reason = reason
        self.beforeHandshake = beforeHandshake
    }

    package var countsAgainstTask: Bool { self.cause == .crashed }

    package var description: String { self.reason }
}
