import Synchronization

/// The scheduler slots talk to: it hands out assignments and takes reports, for every kind of slot.
///
/// The bookkeeping is a ``SchedulerStateMachine`` behind a `Mutex`. A slot with nothing to do waits on a
/// continuation; the machine's events say which waiting slots now have work (its ``Wakeup`` actions), and
/// those continuations are resumed here, outside the lock.
package final class Scheduler: Sendable {
    struct State: ~Copyable {
        var machine: SchedulerStateMachine
        var waiters: [SlotID: CheckedContinuation<SlotAssignment, Never>] = [:]
    }

    private let state: Mutex<State>

    package init(machine: SchedulerStateMachine) {
        self.state = Mutex(State(machine: machine))
    }

    /// The next assignment for `slot`, which runs nothing now, waiting if there is none yet.
    package func next(for slot: SlotID) async -> SlotAssignment {
        await withCheckedContinuation { continuation in
            let immediate = self.state.withLock { state -> SlotAssignment? in
                if let assignment = state.machine.nextAssignment(for: slot) { return assignment }
                state.waiters[slot] = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// A task for `slot` to queue behind the ones it runs, if one is ready now.
    package func ahead(for slot: SlotID) -> SlotAssignment? {
        self.state.withLock { $0.machine.assignmentAhead(for: slot) }
    }

    /// Applies an event to the state machine, then resumes the waiting slots it handed work to.
    package func update(_ body: (inout SchedulerStateMachine) throws -> [SchedulerStateMachine.Wakeup]) rethrows {
        let resumptions = try self.state.withLock { state in
            let wakeups = try body(&state.machine)
            return wakeups.compactMap { wakeup in
                state.waiters.removeValue(forKey: wakeup.slot).map { ($0, wakeup.assignment) }
            }
        }
        for (continuation, assignment) in resumptions { continuation.resume(returning: assignment) }
    }

    /// Reads the state machine.
    package func read<R: Sendable>(_ body: (borrowing SchedulerStateMachine) -> R) -> R {
        self.state.withLock { body($0.machine) }
    }

    package var isOver: Bool { self.read { $0.isOver } }

    /// A slot came to life.
    package func join(_ slot: SlotID) {
        self.state.withLock { $0.machine.slotJoined(slot) }
    }

    /// A slot was lost; its tasks go to the others.
    /// A slot that waits for work is resumed with `stop`.
    package func lost(_ slot: SlotID, _ loss: SlotLoss) {
        let resumptions = self.state.withLock { state in
            let wakeups = state.machine.slotLost(slot, loss)
            var resumptions = wakeups.compactMap { wakeup in
                state.waiters.removeValue(forKey: wakeup.slot).map { ($0, wakeup.assignment) }
            }
            if let waiter = state.waiters.removeValue(forKey: slot) { resumptions.append((waiter, .stop)) }
            return resumptions
        }
        for (continuation, assignment) in resumptions { continuation.resume(returning: assignment) }
    }

    /// A slot's worker ended before it joined: no task was lost, but the statistics count the worker.
    package func lostBeforeJoining(_ slot: SlotID) {
        self.state.withLock { $0.machine.slotLostBeforeJoining(slot) }
    }

    /// Applies a slot's reply.
    package func apply(_ reply: WorkerMessage, from slot: SlotID) throws {
        try self.update { try $0.apply(reply, from: slot) }
    }

    /// Fails the job (unless it is already over) and tells every slot to stop.
    package func fail(_ error: MapReduceError) {
        self.update { $0.fail(error) }
    }
}
