extension MapReduceEngine {
    /// The job's statistics, from the scheduler's counts and the phases' times.
    static func statistics(
        machine: borrowing SchedulerStateMachine,
        peers: [PeerTraffic] = [],
        jobName: String,
        setting: ChunkSize,
        workerMemoryBudget: Int,
        fixedSizeEntries: Bool = false,
        started: Int,
        mapEnded: Int,
        reduceEnded: Int,
        ended: Int
    ) -> JobStatistics {
        let counts = machine.statistics
        // Local workers in index order, then peers in the order they joined.
        let lanes = counts.lanes.enumerated().sorted { left, right in
            switch (left.element.kind, right.element.kind) {
            case (.local, .local): left.element.index < right.element.index
            case (.local, .peer): true
            case (.peer, .local): false
            case (.peer, .peer): left.offset < right.offset
            }
        }.map(\.element)
        let traffic = Dictionary(peers.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        var slots = lanes.map { lane in
            var slot = JobStatistics.Slot(
                name: lane.name,
                tasks: lane.tasks,
                taskSeconds: Double(lane.taskNanoseconds) / 1e9,
                inputBytes: lane.bytes,
                workersLost: lane.losses
            )
            slot.tasksRerun = lane.requeued
            if case .peer(let address) = lane.kind { slot.wire = traffic[address].map(JobStatistics.Wire.init) }
            return slot
        }
        // A peer that never offered a slot (lost at once) still has its row, saying why.
        for peer in peers where !slots.contains(where: { $0.name == peer.address }) {
            var slot = JobStatistics.Slot(name: peer.address, tasks: 0, taskSeconds: 0, inputBytes: 0, workersLost: 0)
            slot.wire = JobStatistics.Wire(peer)
            slots.append(slot)
        }
        let attempts = machine.attempts.records.map { record in
            JobStatistics.TaskAttempt(
                slot: record.slot.lane,
                slotIndex: record.slot.index,
                phase: JobStatistics.TaskAttempt.Phase(rawValue: record.phase.rawValue) ?? .map,
                task: record.task,
                // An attempt still open when the job ended was stopped with it.
                outcome: record.outcome.flatMap { JobStatistics.TaskAttempt.Outcome(rawValue: $0.rawValue) } ?? .lost,
                input: record.input,
                startSeconds: Double(max(0, record.start - started)) / 1e9,
                endSeconds: Double(max(0, (record.end ?? ended) - started)) / 1e9
            )
        }
        var statistics = JobStatistics(
            jobName: jobName,
            slots: slots,
            inputFiles: counts.inputFiles,
            inputBytes: counts.inputBytes,
            mapTasks: counts.mapTasks,
            reduceTasks: counts.reduceTasks,
            retries: counts.retries,
            partitions: machine.configuration.partitions,
            spills: counts.spills,
            spillBytes: counts.spillBytes,
            pairsEmitted: counts.counters.pairs,
            outputKeys: counts.outputKeys,
            mapChunkSize: setting,
            smallestMapTask: machine.tuner.smallestChunk == .max ? 0 : machine.tuner.smallestChunk,
            largestMapTask: machine.tuner.largestChunk,
            elapsedSeconds: Double(ended - started) / 1e9,
            mapSeconds: Double(mapEnded - started) / 1e9,
            reduceSeconds: Double(max(0, reduceEnded - mapEnded)) / 1e9,
            mergeSeconds: Double(ended - reduceEnded) / 1e9
        )
        statistics.pressureSpills = counts.spills - counts.spillsPerSlot.count
        statistics.suggestedWorkerMemory = JobStatistics.suggestWorkerMemory(
            budget: workerMemoryBudget,
            spillsPerWorker: Array(counts.spillsPerSlot.values),
            distinctKeys: fixedSizeEntries ? counts.outputKeys : nil
        )
        statistics.counters = JobStatistics.Counters(counts.counters)
        statistics.attempts = attempts
        return statistics
    }
}
