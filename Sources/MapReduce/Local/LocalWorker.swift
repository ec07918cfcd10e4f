import Logging
import NIOCore
import NIOPosix

/// A local worker process and the framed socket to it: the pipe transport of a slot.
struct LocalWorker: Sendable {
    let processID: Int32
    let channel: NIOAsyncChannel<Frame, Frame>

    /// Spawns a worker and wraps its socket; the handshake happens in ``serve(slot:hello:scheduler:logger:)``.
    static func start(executable: String, arguments: [String]) async throws -> LocalWorker {
        let (mine, theirs): (CInt, CInt)
        do {
            (mine, theirs) = try Syscall.socketPair()
        } catch {
            throw MapReduceError(
                .systemResources,
                "cannot create a socket for a worker process: \(error.message)",
                underlying: error
            )
        }
        let pid: Int32
        do {
            pid = try WorkerSpawner.spawn(executable: executable, arguments: arguments, channel: theirs)
        } catch {
            Syscall.close(mine)
            Syscall.close(theirs)
            throw error
        }
        Syscall.close(theirs)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .withConnectedSocket(mine) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FrameDecoder(limit: Frame.localPayloadLimit))
                        )
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                    }
                }
            return LocalWorker(processID: pid, channel: channel)
        } catch {
            Syscall.close(mine)
            Syscall.kill(pid, Signal.kill)
            _ = try? Syscall.wait(pid, block: true)
            throw MapReduceError(.workerDied, "cannot talk to a new worker process: \(error)", underlying: error)
        }
    }

    /// Greets the worker, then runs the scheduler's assignments on it until told to stop.
    /// - Throws: ``WorkerLost`` when the worker dies or breaks the protocol; the caller replaces it.
    func serve(slot: SlotID, hello: WorkerHello, scheduler: Scheduler, logger: Logger) async throws {
        try await self.channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            func receive(_ waitingFor: String, greeted: Bool = true) async throws -> WorkerMessage {
                let frame: Frame?
                do {
                    frame = try await frames.next()
                } catch {
                    throw WorkerLost(
                        reason: "its connection failed while \(waitingFor): \(error)",
                        beforeHandshake: !greeted
                    )
                }
                guard let frame else {
                    throw WorkerLost(reason: "it went away while \(waitingFor)", beforeHandshake: !greeted)
                }
                do {
                    return try WorkerMessage(frame: frame)
                } catch {
                    throw WorkerLost(
                        reason: "it sent a malformed message while \(waitingFor): \(error)",
                        beforeHandshake: !greeted
                    )
                }
            }
            func send(_ message: CoordinatorMessage, greeted: Bool = true) async throws {
                do {
                    try await outbound.write(message.frame)
                } catch {
                    throw WorkerLost(reason: "cannot send it a task: \(error)", beforeHandshake: !greeted)
                }
            }

            try await send(.hello(hello), greeted: false)
            switch try await receive("starting", greeted: false) {
            case .ready(let version, _) where version == workerProtocolVersion:
                break
            case .taskFailed(let failure):
                throw failure.error
            default:
                throw MapReduceError(.protocolViolation, "the worker process did not answer its hello as expected")
            }
            logger.debug("worker ready", metadata: ["slot": "\(slot.index)", "pid": "\(self.processID)"])

            while true {
                let assignment = await scheduler.next(for: slot)
                let request: CoordinatorMessage
                let doing: String
                switch assignment {
                case .stop:
                    try? await outbound.write(CoordinatorMessage.shutdown.frame)
                    return
                case .map(let task):
                    request = .map(task)
                    doing = "mapping \(task.firstInput)"
                case .flush:
                    request = .flush
                    doing = "writing its map output"
                case .reduce(let task):
                    request = .reduce(task)
                    doing = "reducing partitions \(task.partitions)"
                }
                try await send(request)
                let reply = try await receive(doing)
                do {
                    try scheduler.update { try $0.apply(reply, from: slot) }
                } catch {
                    throw WorkerLost(reason: "its reply broke the protocol while \(doing): \(error)")
                }
            }
        }
    }
}

/// A worker died or misbehaved; its slot gets a new worker and its work is done again.
package struct WorkerLost: Error, CustomStringConvertible {
    package var reason: String
    /// The process ended before it answered its hello: it may not be a worker at all.
    package var beforeHandshake = false
    package var description: String { self.reason }
}
