import Synchronization

/// The scheduler slots talk to: it hands out assignments and takes reports, for every kind of slot.
///
/// The bookkeeping is a ``SchedulerStateMachine`` behind a `Mutex`; a slot with nothing to do waits on a
/// continuation until another slot's report frees work for it (a requeued task, the reduce phase, the end).
package final class Scheduler: Sendable {
    struct State: ~Copyable {
        var machine: SchedulerStateMachine
        var waiters: [SlotID: CheckedContinuation<SlotAssignment, Never>] = [:]
    }

    private let state: Mutex<State>

    package init(machine: SchedulerStateMachine) {
        self.state = Mutex(State(machine: machine))
    }

    /// The next assignment for `slot`, waiting if there is none yet.
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

    /// Applies an event to the state machine, then wakes every waiting slot that now has work.
    @discardableResult
    package func update<R: Sendable>(_ body: (inout SchedulerStateMachine) throws -> R) rethrows -> R {
        let (result, wakeups) = try self.state.withLock { state in
            let result = try body(&state.machine)
            var wakeups: [(CheckedContinuation<SlotAssignment, Never>, SlotAssignment)] = []
            for (slot, continuation) in state.waiters {
                if let assignment = state.machine.nextAssignment(for: slot) {
                    state.waiters[slot] = nil
                    wakeups.append((continuation, assignment))
                }
            }
            return (result, wakeups)
        }
        for (continuation, assignment) in wakeups { continuation.resume(returning: assignment) }
        return result
    }

    /// Reads the state machine.
    package func read<R: Sendable>(_ body: (borrowing SchedulerStateMachine) -> R) -> R {
        self.state.withLock { body($0.machine) }
    }

    package var isOver: Bool { self.read { $0.isOver } }

    /// Fails the job (unless it is already over) and tells every slot to stop.
    package func fail(_ error: MapReduceError) {
        self.update { $0.fail(error) }
    }
}
