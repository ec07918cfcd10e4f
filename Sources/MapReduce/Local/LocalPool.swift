import Logging
import Synchronization

/// The local worker processes of a job: one slot per worker, each kept staffed until the scheduler says
/// stop, a dead worker replaced by a new process.
struct LocalPool: Sendable {
    let executable: String
    let arguments: [String]
    let logger: Logger
    let live = LiveProcesses()

    /// Keeps slot `index` staffed with a live worker until the scheduler says stop.
    func staff(index: Int, hello: WorkerHello, scheduler: Scheduler) async {
        var generation = 0
        var failedStarts = 0
        var diedBeforeHandshake = 0
        while !scheduler.isOver && !Task.isCancelled {
            let slot = SlotID(kind: .local, index: index, generation: generation)
            generation += 1
            let worker: LocalWorker
            do {
                worker = try await LocalWorker.start(executable: self.executable, arguments: self.arguments)
            } catch {
                failedStarts += 1
                if failedStarts >= 3 {
                    scheduler.fail(error as? MapReduceError ?? MapReduceError(.workerDied, "\(error)"))
                }
                continue
            }
            self.live.add(worker.processID)
            var joined = false
            do {
                try await worker.withTransport(hello: hello) { transport in
                    scheduler.join(slot)
                    joined = true
                    try await SlotDriver.drive(&transport, slot: slot, scheduler: scheduler)
                }
                _ = await WorkerSpawner.terminate(worker.processID)
                self.live.remove(worker.processID)
                return
            } catch let lost as SlotLoss {
                let status = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                self.live.remove(worker.processID)
                if Task.isCancelled || scheduler.isOver { return }
                let reason = "worker \(index) (pid \(worker.processID)) \(status): \(lost.reason)"
                self.logger.info("worker lost; replacing it", metadata: ["slot": "\(index)", "reason": "\(reason)"])
                diedBeforeHandshake = lost.beforeHandshake ? diedBeforeHandshake + 1 : 0
                if diedBeforeHandshake >= 3 {
                    scheduler.fail(
                        MapReduceError(
                            .workerDied,
                            "\(diedBeforeHandshake) worker processes in a row ended before their handshake (last: "
                                + "\(status)); the worker executable \(self.executable) must call "
                                + "WorkerProcess.run(registry:) first thing when its first argument is "
                                + "'\(WorkerProcess.argument)'"
                        )
                    )
                    return
                }
                guard joined else {
                    scheduler.lostBeforeJoining(slot)
                    continue
                }
                // A worker that died reading a file that shrank under it (SIGBUS on the mapping) says
                // nothing about the task: the input changed, and the job stops saying so.
                if let changed = scheduler.read({ $0.runningMapTask(on: slot) }).flatMap(InputCheck.changedInput) {
                    scheduler.fail(changed)
                    return
                }
                scheduler.lost(slot, SlotLoss(lost.cause, reason))
                failedStarts = 0
            } catch {
                _ = await WorkerSpawner.terminate(worker.processID, grace: .milliseconds(500))
                self.live.remove(worker.processID)
                scheduler.fail(error as? MapReduceError ?? MapReduceError(.workerDied, "\(error)"))
                return
            }
        }
    }

    /// Stops every worker at once (cancellation).
    func signalAll(_ signal: CInt) {
        self.live.signalAll(signal)
    }
}

/// The worker processes alive right now, so that cancellation can signal them all at once.
final class LiveProcesses: Sendable {
    private let pids = Mutex<Set<Int32>>([])

    func add(_ pid: Int32) {
        self.pids.withLock { _ = $0.insert(pid) }
        EmergencyCleanup.shared.add(process: pid)
    }

    func remove(_ pid: Int32) {
        self.pids.withLock { _ = $0.remove(pid) }
        EmergencyCleanup.shared.remove(process: pid)
    }

    func signalAll(_ signal: CInt) {
        for pid in self.pids.withLock({ $0 }) { Syscall.kill(pid, signal) }
    }
}
