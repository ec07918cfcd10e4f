import Logging
import NIOCore
import NIOPosix
import Synchronization

/// What the coordinator's side of a cluster job needs, for every peer.
struct ClusterContext: Sendable {
    var secret: ClusterSecret
    var fingerprint: BuildFingerprint
    var start: JobStart
    /// The mapper's ``Mapper/recordCutByte``: peers must find the same record boundaries.
    var cut: UInt8?
    var workDirectory: String
    var connectTimeout: Duration
    var handshakeTimeout: Duration
    var heartbeatInterval: Duration
    var heartbeatTimeout: Duration
    var logger: Logger
}

/// The traffic and the fate of one peer, for the statistics.
package struct PeerTraffic: Sendable, Equatable {
    package var address: String
    /// Slots the peer offered (its workers).
    package var slots = 0
    package var sentRawBytes = 0
    package var sentCompressedBytes = 0
    package var receivedRawBytes = 0
    package var receivedCompressedBytes = 0
    /// Why the peer was lost, if it was.
    package var lost: String?

    package init(address: String) {
        self.address = address
    }
}

/// The coordinator's end of one peer: the connection, the handshake, the peer's slots and heartbeats.
///
/// Each of the peer's workers is a slot of the scheduler (``SlotKind/peer(_:)``), multiplexed over the one
/// connection: a slot's task travels as a message and its bytes as LZ4 chunks, and may be queued behind
/// the one it runs. A reader demultiplexes the peer's replies to the slots, writing the map output and
/// sorted runs they carry into the job's temporary directory, so that committed output never depends on
/// the peer again. A peer that closes the connection, stays silent past the heartbeat timeout or sends
/// anything malformed is dropped; its slots are lost and their tasks go to the other slots.
final class PeerLink: Sendable {
    let address: PeerAddress
    let name: String
    let index: Int
    let context: ClusterContext
    let traffic: Mutex<PeerTraffic>
    /// The current generation of each slot, so that a lost peer can lose the slots it has now.
    let generations = Mutex<[Int]>([])
    let lastHeard = Atomic<Int>(0)
    let files = Atomic<Int>(0)

    init(address: PeerAddress, index: Int, context: ClusterContext) {
        self.address = address
        self.name = address.description
        self.index = index
        self.context = context
        self.traffic = Mutex(PeerTraffic(address: address.description))
    }

    /// Events for one slot, from the reader.
    enum SlotEvent: Sendable {
        case reply(generation: Int, WorkerMessage)
        case workerLost(generation: Int, String)
        case peerLost(SlotLoss)
    }

    /// Connects, authenticates, starts the job on the peer and runs its slots until the scheduler says
    /// stop or the peer is lost.
    /// - Throws: ``MapReduceError`` when the peer cannot be reached, refuses, or fails the handshake:
    ///   the job cannot run as configured.
    func run(scheduler: Scheduler) async throws {
        let limit = FrameLimit()
        let channel: ClusterConnection.Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(self.context.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: self.address.host, port: self.address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try ClusterConnection.configure(channel, limit: limit)
                    }
                }
        } catch {
            throw MapReduceError(
                .peerUnavailable,
                "cannot reach peer \(self.name): \(Self.describeConnectError(error))",
                underlying: error
            )
        }
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            var machine = HandshakeStateMachine(
                role: .coordinator,
                secret: self.context.secret,
                fingerprint: self.context.fingerprint,
                nonce: HandshakeStateMachine.makeNonce()
            )
            do {
                _ = try await ClusterConnection.handshake(
                    &machine,
                    channel: channel.channel,
                    frames: &frames,
                    outbound: outbound,
                    limit: limit,
                    remote: self.name,
                    deadline: self.context.handshakeTimeout
                )
            } catch let error as MapReduceError {
                throw self.handshakeError(error)
            }
            try await outbound.write(ClusterMessage.jobStart(self.context.start).frame)
            let slots = try await self.awaitReady(&frames)
            self.traffic.withLock { $0.slots = slots }
            self.generations.withLock { $0 = Array(repeating: 0, count: slots) }
            self.context.logger.debug("peer ready", metadata: ["peer": "\(self.name)", "slots": "\(slots)"])
            self.lastHeard.store(monotonicNanoseconds(), ordering: .relaxed)
            try await self.session(
                slots: slots,
                frames: &frames,
                outbound: outbound,
                channel: channel.channel,
                scheduler: scheduler
            )
        }
    }

    /// The job is running on the peer: its slots, the reader and the heartbeats, until all slots stop.
    func session(
        slots: Int,
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        channel: any Channel,
        scheduler: Scheduler
    ) async throws {
        var mailboxes: [AsyncStream<SlotEvent>] = []
        var continuations: [AsyncStream<SlotEvent>.Continuation] = []
        for _ in 0..<slots {
            let (stream, continuation) = AsyncStream<SlotEvent>.makeStream()
            mailboxes.append(stream)
            continuations.append(continuation)
        }
        let streams = mailboxes
        let deliveries = continuations
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { slotGroup in
                    for index in 0..<slots {
                        slotGroup.addTask {
                            await self.runSlot(
                                index: index,
                                mailbox: streams[index],
                                outbound: outbound,
                                scheduler: scheduler
                            )
                        }
                    }
                }
                // Every slot stopped: the job is over for this peer.
                try? await outbound.write(ClusterMessage.jobEnd.frame)
                channel.close(promise: nil)
            }
            group.addTask { await self.heartbeat(outbound: outbound, channel: channel) }
            let loss = await self.read(frames: &frames, deliveries: deliveries, scheduler: scheduler)
            if let loss, !scheduler.isOver {
                self.traffic.withLock { $0.lost = loss.reason }
                self.context.logger.warning(
                    "peer lost; its tasks go to the other slots",
                    metadata: ["peer": "\(self.name)", "reason": "\(loss.reason)"]
                )
            }
            channel.close(promise: nil)
            let ending = loss ?? SlotLoss(.disconnected, "peer \(self.name) closed the connection")
            for delivery in deliveries {
                delivery.yield(.peerLost(ending))
                delivery.finish()
            }
            // Slots waiting for work are lost too, so that they stop waiting.
            if loss != nil {
                for (index, generation) in self.generations.withLock({ $0 }).enumerated() {
                    scheduler.lost(SlotID(kind: .peer(self.name), index: index, generation: generation), ending)
                }
            }
            group.cancelAll()
        }
    }

    /// One of the peer's slots, through its worker's replacements (a new generation each).
    func runSlot(
        index: Int,
        mailbox: AsyncStream<SlotEvent>,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        scheduler: Scheduler
    ) async {
        var events = mailbox.makeAsyncIterator()
        var generation = 0
        let scratch = ChunkBuffer()
        while !scheduler.isOver && !Task.isCancelled {
            let slot = SlotID(kind: .peer(self.name), index: index, generation: generation)
            self.generations.withLock { $0[index] = generation }
            scheduler.join(slot)
            var transport = RemoteSlotTransport(
                link: self,
                index: index,
                generation: generation,
                events: events,
                outbound: outbound,
                scheduler: scheduler,
                scratch: scratch
            )
            do {
                try await SlotDriver.drive(&transport, slot: slot, scheduler: scheduler)
                return
            } catch {
                scheduler.lost(slot, error)
                events = transport.events
                // A worker of the peer died: the peer starts another, which is this slot's next generation.
                guard error.cause == .crashed else { return }
                generation += 1
            }
        }
    }

    /// Reads the peer's frames until the connection ends; returns why, if the peer was lost.
    func read(
        frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator,
        deliveries: [AsyncStream<SlotEvent>.Continuation],
        scheduler: Scheduler
    ) async -> SlotLoss? {
        let pending = PendingReplies()
        while true {
            let frame: Frame?
            do {
                frame = try await frames.next()
            } catch {
                if let timeout = self.traffic.withLock({ $0.lost }) { return SlotLoss(.timedOut, timeout) }
                return SlotLoss(.protocolViolation, "peer \(self.name): \(describeError(error))")
            }
            guard let frame else {
                if let timeout = self.traffic.withLock({ $0.lost }) { return SlotLoss(.timedOut, timeout) }
                return scheduler.isOver ? nil : SlotLoss(.disconnected, "peer \(self.name) closed the connection")
            }
            self.lastHeard.store(monotonicNanoseconds(), ordering: .relaxed)
            do {
                try self.handle(frame, pending: pending, deliveries: deliveries)
            } catch {
                return SlotLoss(.protocolViolation, "peer \(self.name) broke the protocol: \(describeError(error))")
            }
        }
    }

    /// One frame from the peer.
    func handle(
        _ frame: Frame,
        pending: PendingReplies,
        deliveries: [AsyncStream<SlotEvent>.Continuation]
    ) throws {
        if frame.kind == ClusterMessageKind.chunk {
            let (slot, generation, offset) = try ChunkFrame.header(of: frame)
            guard slot < deliveries.count, let reply = pending.replies[slot], reply.generation == generation else {
                throw MapReduceError(.protocolViolation, "a data chunk that no reply announced")
            }
            try frame.payload.withUnsafeBytes {
                try reply.writer.accept(UnsafeRawBufferPointer(rebasing: $0[offset...]))
            }
            let raw = reply.writer.rawBytes - reply.counted
            self.traffic.withLock {
                $0.receivedCompressedBytes += frame.payload.count - offset
                $0.receivedRawBytes += raw
            }
            reply.counted = reply.writer.rawBytes
            if reply.writer.isComplete {
                pending.replies[slot] = nil
                deliveries[slot].yield(.reply(generation: generation, reply.message))
            }
            return
        }
        switch try ClusterMessage(frame: frame) {
        case .heartbeat:
            break
        case .reply(let slot, let generation, let message, let parts):
            guard slot < deliveries.count else {
                throw MapReduceError(.protocolViolation, "a reply for slot \(slot) of \(deliveries.count)")
            }
            guard pending.replies[slot] == nil else {
                throw MapReduceError(.protocolViolation, "a reply before the previous one's data")
            }
            let (rewritten, destinations) = try self.localize(message, parts: parts)
            let reply = PendingReply(
                generation: generation,
                message: rewritten,
                destinations: destinations,
                scratch: pending.scratch
            )
            if reply.writer.isComplete {
                try reply.writer.createEmptyParts()
                deliveries[slot].yield(.reply(generation: generation, rewritten))
            } else {
                pending.replies[slot] = reply
            }
        case .chunk:
            throw MapReduceError(.protocolViolation, "a chunk decoded as a message")
        case .slotLost(let slot, let generation, let reason):
            guard slot < deliveries.count else {
                throw MapReduceError(.protocolViolation, "a loss of slot \(slot) of \(deliveries.count)")
            }
            pending.replies[slot] = nil
            deliveries[slot].yield(.workerLost(generation: generation, reason))
        case .jobStart, .task, .jobEnd, .jobReady, .jobRefused:
            throw MapReduceError(.protocolViolation, "an unexpected message of kind \(frame.kind)")
        }
    }

    /// Gives the files a reply carries paths in the job's temporary directory, and checks that the
    /// announced bytes are the ones the reply describes.
    func localize(_ message: WorkerMessage, parts: [BlobPart]) throws -> (WorkerMessage, [BlobFile]) {
        func spillFiles(_ spills: [Spill]) throws -> ([Spill], [BlobFile]) {
            guard parts.count == spills.count else {
                throw MapReduceError(.protocolViolation, "\(spills.count) spills arrived with \(parts.count) parts")
            }
            var local: [Spill] = []
            var files: [BlobFile] = []
            for (spill, part) in zip(spills, parts) {
                let first = spill.segments.first?.offset ?? 0
                // Lengths a peer sent are summed with overflow checks: hostile ones must not trap.
                var length = 0
                for segment in spill.segments {
                    let (sum, overflow) = length.addingReportingOverflow(segment.length)
                    guard !overflow else { throw MapReduceError(.protocolViolation, "a spill's lengths overflow") }
                    length = sum
                }
                guard part.offset == first, part.length == length else {
                    throw MapReduceError(.protocolViolation, "a spill's data does not match its segments")
                }
                var copy = spill
                copy.path = self.newFile("spill")
                local.append(copy)
                files.append(BlobFile(path: copy.path, offset: part.offset, length: part.length))
            }
            return (local, files)
        }
        switch message {
        case .mapDone(var report):
            let (spills, files) = try spillFiles(report.spills)
            report.spills = spills
            return (.mapDone(report), files)
        case .flushed(let spills, let counters):
            let (local, files) = try spillFiles(spills)
            return (.flushed(local, counters), files)
        case .reduceDone(var report):
            guard parts.count == 1, parts[0].offset == 0 else {
                throw MapReduceError(.protocolViolation, "a reduce reply without its run")
            }
            report.runPath = self.newFile("run")
            return (.reduceDone(report), [BlobFile(path: report.runPath, offset: 0, length: parts[0].length)])
        case .taskFailed:
            guard parts.isEmpty else { throw MapReduceError(.protocolViolation, "a failure with data") }
            return (message, [])
        case .ready:
            throw MapReduceError(.protocolViolation, "an unexpected ready message")
        }
    }

    func newFile(_ kind: String) -> String {
        let number = self.files.add(1, ordering: .relaxed).newValue
        return "\(self.context.workDirectory)/peer\(self.index)-\(kind)-\(number)"
    }

    /// Sends a heartbeat every interval, and drops the peer when it has been silent past the timeout.
    func heartbeat(outbound: NIOAsyncChannelOutboundWriter<Frame>, channel: any Channel) async {
        let timeout = self.context.heartbeatTimeout
        while true {
            do {
                try await Task.sleep(for: self.context.heartbeatInterval)
            } catch {
                return
            }
            let silent = monotonicNanoseconds() - self.lastHeard.load(ordering: .relaxed)
            if silent > timeout.milliseconds * 1_000_000 {
                self.traffic.withLock {
                    $0.lost =
                        "peer \(self.name) was silent for \(fixed(Double(silent) / 1e9, 1)) s "
                        + "(heartbeat timeout \(timeout.seconds) s)"
                }
                channel.close(promise: nil)
                return
            }
            try? await outbound.write(ClusterMessage.heartbeat.frame)
        }
    }

    /// Waits for the peer to accept the job.
    func awaitReady(_ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator) async throws -> Int {
        let frame: Frame?
        do {
            frame = try await frames.next()
        } catch {
            throw MapReduceError(.peerUnavailable, "peer \(self.name) failed: \(describeError(error))")
        }
        guard let frame else {
            throw MapReduceError(.peerUnavailable, "peer \(self.name) closed the connection before the job started")
        }
        switch try ClusterMessage(frame: frame) {
        case .jobReady(let slots) where slots > 0:
            return slots
        case .jobRefused(let failure):
            var error = failure.error
            error.message = "peer \(self.name) cannot run the job: \(error.message)"
            throw error
        default:
            throw MapReduceError(.protocolViolation, "peer \(self.name) did not answer the job as expected")
        }
    }

    /// The handshake's error, worded for the person at the coordinator.
    func handshakeError(_ error: MapReduceError) -> MapReduceError {
        var error = error
        if error.code == .authenticationFailed {
            error.message = "authentication failed for \(self.name): the peer does not hold the same secret"
            error.peer = nil
        }
        return error
    }

    static func describeConnectError(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describeConnectError(first.error)
        }
        if let error = error as? IOError { return errnoMessage(error.errnoCode) }
        if error is ChannelError { return "connection timed out" }
        return describeError(error)
    }
}

/// Replies whose data is still arriving, per slot; only the reader touches it.
final class PendingReplies {
    var replies: [Int: PendingReply] = [:]
    let scratch = ChunkBuffer()
}

final class PendingReply {
    let generation: Int
    let message: WorkerMessage
    var writer: BlobWriter
    var counted = 0

    init(generation: Int, message: WorkerMessage, destinations: [BlobFile], scratch: ChunkBuffer) {
        self.generation = generation
        self.message = message
        self.writer = BlobWriter(destinations: destinations, scratch: scratch)
    }
}

/// One slot of a peer, as the scheduler's driver sees it: tasks go out over the shared connection with
/// their bytes, replies come from the reader. Two tasks may be outstanding, so that the next batch
/// travels while the peer computes the current one.
struct RemoteSlotTransport: SlotTransport {
    let link: PeerLink
    let index: Int
    let generation: Int
    var events: AsyncStream<PeerLink.SlotEvent>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<Frame>
    let scheduler: Scheduler
    let scratch: ChunkBuffer

    var depth: Int { 2 }

    mutating func send(_ assignment: SlotAssignment) async throws(SlotLoss) {
        var sources: [BlobFile] = []
        let message: CoordinatorMessage
        switch assignment {
        case .map(let task):
            let parts: [RemoteInput.Part]
            do {
                parts = try RemoteInput.parts(of: task, cut: self.link.context.cut)
            } catch {
                self.scheduler.fail(error as? MapReduceError ?? MapReduceError(.io, "\(error)"))
                throw SlotLoss(.disconnected, "the job failed")
            }
            sources = parts.map(\.source)
            message = .map(MapTask(id: task.id, splits: parts.map(\.split)))
        case .flush:
            message = .flush
        case .reduce(let task):
            sources = task.inputs.map { BlobFile(path: $0.path, offset: $0.offset, length: $0.length) }
            message = .reduce(task)
        case .stop:
            return
        }
        var reader = BlobReader(sources: sources, scratch: self.scratch)
        let parts = reader.parts
        do {
            try await self.outbound.write(
                ClusterMessage.task(slot: self.index, generation: self.generation, message: message, parts: parts)
                    .frame
            )
            while let chunk = try ChunkFrame.next(from: &reader, slot: self.index, generation: self.generation) {
                try await self.outbound.write(chunk)
            }
        } catch let error as MapReduceError where error.code != .protocolViolation {
            self.scheduler.fail(error)
            throw SlotLoss(.disconnected, "the job failed")
        } catch {
            throw SlotLoss(.disconnected, "cannot send to peer \(self.link.name): \(describeError(error))")
        }
        let (raw, compressed) = (reader.rawBytes, reader.compressedBytes)
        self.link.traffic.withLock {
            $0.sentRawBytes += raw
            $0.sentCompressedBytes += compressed
        }
    }

    mutating func receive() async throws(SlotLoss) -> WorkerMessage {
        while let event = await self.events.next() {
            switch event {
            case .reply(let generation, let message) where generation == self.generation:
                return message
            case .reply:
                continue
            case .workerLost(let generation, let reason) where generation == self.generation:
                throw SlotLoss(.crashed, "peer \(self.link.name) lost worker \(self.index): \(reason)")
            case .workerLost:
                continue
            case .peerLost(let loss):
                throw loss
            }
        }
        throw SlotLoss(.disconnected, "peer \(self.link.name) is gone")
    }

    mutating func finish() async {}
}
