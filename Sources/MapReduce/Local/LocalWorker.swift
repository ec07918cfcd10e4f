import Logging
import NIOCore
import NIOPosix

/// A local worker process and the framed socket to it: the pipe transport of a slot.
struct LocalWorker: Sendable {
    let processID: Int32
    let channel: NIOAsyncChannel<Frame, Frame>

    /// Spawns a worker and wraps its socket; the handshake happens in ``withTransport(hello:_:)``.
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

    /// Greets the worker, then hands its transport to `body`; the socket is closed when `body` returns.
    /// - Throws: ``SlotLoss`` when the worker dies or breaks the protocol; the caller replaces it. The
    ///   worker's own refusal of the job (an unknown job, say) is thrown as the ``MapReduceError`` it sent.
    func withTransport<R>(
        hello: WorkerHello,
        _ body: (inout Transport) async throws -> R
    ) async throws -> R {
        try await self.channel.executeThenClose { inbound, outbound in
            var transport = Transport(frames: inbound.makeAsyncIterator(), outbound: outbound)
            try await transport.greet(hello)
            return try await body(&transport)
        }
    }

    /// The socket of a greeted worker, as a ``SlotTransport``.
    struct Transport: SlotTransport {
        var frames: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<Frame>
        /// What the worker is doing, oldest first, for loss messages.
        var activities: [String] = []
        var greeted = false

        var depth: Int { 1 }

        mutating func greet(_ hello: WorkerHello) async throws {
            try await self.write(CoordinatorMessage.hello(hello).frame)
            switch try await self.read("starting") {
            case .ready(let version, _) where version == workerProtocolVersion:
                self.greeted = true
            case .taskFailed(let failure):
                throw failure.error
            default:
                throw SlotLoss(.protocolViolation, "the worker process did not answer its hello as expected")
            }
        }

        mutating func send(_ assignment: SlotAssignment) async throws(SlotLoss) {
            guard let message = assignment.message else { return }
            try await self.write(message.frame)
            self.activities.append(assignment.activity)
        }

        /// Sends a message that is not one of the scheduler's assignments (a peer's rewritten task).
        mutating func send(_ message: CoordinatorMessage, activity: String) async throws(SlotLoss) {
            try await self.write(message.frame)
            self.activities.append(activity)
        }

        mutating func receive() async throws(SlotLoss) -> WorkerMessage {
            let activity = self.activities.isEmpty ? "idle" : self.activities.removeFirst()
            return try await self.read(activity)
        }

        mutating func finish() async {
            try? await self.outbound.write(CoordinatorMessage.shutdown.frame)
        }

        mutating func write(_ frame: Frame) async throws(SlotLoss) {
            do {
                try await self.outbound.write(frame)
            } catch {
                throw SlotLoss(.crashed, "cannot send it a task: \(error)", beforeHandshake: !self.greeted)
            }
        }

        mutating func read(_ activity: String) async throws(SlotLoss) -> WorkerMessage {
            let frame: Frame?
            do {
                frame = try await self.frames.next()
            } catch {
                throw SlotLoss(
                    .crashed,
                    "its connection failed while \(activity): \(error)",
                    beforeHandshake: !self.greeted
                )
            }
            guard let frame else {
                throw SlotLoss(.crashed, "it went away while \(activity)", beforeHandshake: !self.greeted)
            }
            do {
                return try WorkerMessage(frame: frame)
            } catch {
                throw SlotLoss(
                    .protocolViolation,
                    "it sent a malformed message while \(activity): \(error)",
                    beforeHandshake: !self.greeted
                )
            }
        }
    }
}
