/// How one slot's tasks reach the place that runs them and its replies come back: a function call in this
/// process (``InProcessTransport``), a local worker process's socket, or a peer node's connection. The
/// scheduler's loop (``SlotDriver``) is written once, against this protocol.
///
/// Replies come back in the order the tasks were sent. A transport that can hold more than one task
/// (``depth`` above 1) lets the driver send the next task before the current one is answered, so that
/// shipping a batch overlaps computing the one before it.
package protocol SlotTransport: ~Copyable {
    /// How many tasks may be sent and not yet answered.
    var depth: Int { get }
    /// Sends one task.
    /// - Throws: ``SlotLoss`` when the slot is gone.
    mutating func send(_ assignment: SlotAssignment) async throws(SlotLoss)
    /// The reply to the oldest task sent and not yet answered.
    /// - Throws: ``SlotLoss`` when the slot is gone or its reply is malformed.
    mutating func receive() async throws(SlotLoss) -> WorkerMessage
    /// There is no more work: tell the other end to stop (best effort).
    mutating func finish() async
}

/// The assignment → message → reply loop of every slot.
package enum SlotDriver {
    /// Runs the scheduler's assignments on one slot until the scheduler says stop.
    /// - Throws: ``SlotLoss`` when the slot is lost; the caller tells the scheduler, which re-queues the
    ///   slot's tasks.
    package static func drive(
        _ transport: inout some SlotTransport & ~Copyable,
        slot: SlotID,
        scheduler: Scheduler
    ) async throws(SlotLoss) {
        var outstanding = 0
        while true {
            if outstanding == 0 {
                let assignment = await scheduler.next(for: slot)
                if case .stop = assignment {
                    await transport.finish()
                    return
                }
                try await transport.send(assignment)
                outstanding += 1
            }
            while outstanding < transport.depth, let assignment = scheduler.ahead(for: slot) {
                try await transport.send(assignment)
                outstanding += 1
            }
            let reply = try await transport.receive()
            outstanding -= 1
            do {
                try scheduler.apply(reply, from: slot)
            } catch {
                throw SlotLoss(.protocolViolation, "its reply broke the protocol: \(error)")
            }
        }
    }
}

/// The in-process slot: the same scheduler and worker code, with a function call for a transport.
struct InProcessTransport: SlotTransport {
    let handler: WorkerJobHandler
    var replies: [WorkerMessage] = []

    init(handler: WorkerJobHandler) {
        self.handler = handler
    }

    var depth: Int { 1 }

    mutating func send(_ assignment: SlotAssignment) async throws(SlotLoss) {
        let message: CoordinatorMessage
        switch assignment {
        case .map(let task): message = .map(task)
        case .flush: message = .flush
        case .reduce(let task): message = .reduce(task)
        case .stop: return
        }
        guard let reply = self.handler.handle(message) else {
            throw SlotLoss(.protocolViolation, "the in-process worker did not answer")
        }
        self.replies.append(reply)
    }

    mutating func receive() async throws(SlotLoss) -> WorkerMessage {
        guard !self.replies.isEmpty else { throw SlotLoss(.protocolViolation, "no task is outstanding") }
        return self.replies.removeFirst()
    }

    mutating func finish() async {}
}

extension SlotAssignment {
    /// The message that carries this assignment to a worker, nil for `stop`.
    package var message: CoordinatorMessage? {
        switch self {
        case .map(let task): .map(task)
        case .flush: .flush
        case .reduce(let task): .reduce(task)
        case .stop: nil
        }
    }

    /// What a slot is doing while it runs this, for messages.
    package var activity: String {
        switch self {
        case .map(let task): "mapping \(task.firstInput)"
        case .flush: "writing its map output"
        case .reduce(let task): "reducing partitions \(task.partitions)"
        case .stop: "stopping"
        }
    }
}
