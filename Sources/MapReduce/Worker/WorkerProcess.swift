import CMapReduceShims

/// The entry point of a worker process: serve tasks on the inherited socket until told to stop.
///
/// The coordinator starts workers as new processes of its own executable (spawn, then exec: never a bare
/// `fork()` of a multi-threaded process) with the hidden `worker` argument. A program that embeds the engine
/// calls ``run(registry:)`` when it sees that argument.
public enum WorkerProcess {
    /// The descriptor of the worker's end of its socket to the coordinator.
    package static let channelDescriptor: CInt = 3

    /// The argument that makes the executable a worker.
    public static let argument = "worker"

    /// Serves tasks until the coordinator says stop or goes away, then exits the process.
    /// - Parameter registry: The jobs this binary can run.
    public static func run(registry: JobRegistry) -> Never {
        // The coordinator decides when workers stop: the signals a terminal sends to the whole process
        // group (Ctrl-C, Ctrl-\, a hang-up) are its to handle. Workers end when told to, when their socket
        // closes (the orphan watchdog below), or by SIGTERM and SIGKILL.
        for ignored in [SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2] { signal(ignored, SIG_IGN) }
        unsetenv(WorkerSpawner.workerMarker)
        // Whatever a job prints must not reach the coordinator's standard output.
        dup2(STDERR_FILENO, STDOUT_FILENO)
        // So that a worker's memory is what its budget says, not the sum of every reduce task's tables:
        // on 40 million distinct words, glibc's moving threshold let a 24 MiB worker reach 85 MiB.
        mapreduce_return_large_blocks_on_free()
        startOrphanWatchdog()
        FaultInjection.atStart()
        let channel = BlockingFrameChannel(input: channelDescriptor, output: channelDescriptor)
        // `_exit`, not `exit`: a worker has nothing buffered to flush, and running the C library's exit
        // handlers while the runtime's other threads are still alive is how processes crash on the way out.
        do {
            try serve(channel: channel, registry: registry)
            _exit(0)
        } catch {
            let message = "mapreduce worker \(getpid()): \(error)\n"
            _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            _exit(70)
        }
    }

    static func serve(channel: BlockingFrameChannel, registry: JobRegistry) throws {
        guard let first = try channel.receive() else { return }
        guard case .hello(let hello) = try CoordinatorMessage(frame: first) else {
            throw MapReduceError(.protocolViolation, "the first message was not a hello")
        }
        guard hello.protocolVersion == workerProtocolVersion else {
            throw MapReduceError(
                .protocolViolation,
                "the coordinator speaks protocol \(hello.protocolVersion), this worker \(workerProtocolVersion)"
            )
        }
        let handler: WorkerJobHandler
        do {
            handler = try registry.makeHandler(for: hello, processID: Int(getpid()))
        } catch let error as MapReduceError {
            try channel.send(WorkerMessage.taskFailed(TaskFailure(taskID: 0, error: error)).frame)
            return
        }
        try channel.send(WorkerMessage.ready(protocolVersion: workerProtocolVersion, processID: Int(getpid())).frame)
        while let frame = try channel.receive() {
            let message = try CoordinatorMessage(frame: frame)
            if case .hello = message { throw MapReduceError(.protocolViolation, "a second hello") }
            guard let reply = handler.handle(message) else { return }
            try channel.send(reply.frame)
        }
    }

    /// A thread that ends the process as soon as the coordinator's end of the socket closes, even in the
    /// middle of a long task: a worker never outlives its coordinator.
    static func startOrphanWatchdog() {
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { _ in
                var descriptor = pollfd(fd: WorkerProcess.channelDescriptor, events: 0, revents: 0)
                while true {
                    let ready = poll(&descriptor, 1, -1)
                    if ready > 0 && descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                        _exit(0)
                    }
                    if ready < 0 && errno != EINTR { _exit(0) }
                }
            },
            nil
        )
        if result == 0 { pthread_detach(thread) }
    }
}
