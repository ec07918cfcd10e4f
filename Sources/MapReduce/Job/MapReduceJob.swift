/// A complete MapReduce job: how to map records, optionally combine values, partition keys and reduce.
///
/// A job is a value: its stored properties are its parameters, and it is ``WireCodable`` so that worker
/// processes and peer nodes can rebuild exactly the same job. Workers find the job's code by ``name`` in a
/// ``JobRegistry``; nothing received from another process is ever executed as code.
///
/// ```swift
/// struct LineLengths: MapReduceJob {
///     static let name = "line-lengths"
///     func makeMapper() -> LengthMapper { LengthMapper() }
///     func makeCombiner() -> SumCombiner<Int>? { SumCombiner() }
///     func makeReducer() -> SumReducer<Int, Int> { SumReducer() }
///     func encode(into writer: inout WireWriter) {}
///     init() {}
///     init(decoding reader: inout WireReader) throws {}
/// }
/// ```
public protocol MapReduceJob: WireCodable {
    /// The mapper type.
    associatedtype JobMapper: Mapper
    /// The combiner type; ``NoCombiner`` unless the job combines.
    associatedtype JobCombiner: Combiner = NoCombiner<JobMapper.Value> where JobCombiner.Value == JobMapper.Value
    /// The reducer type.
    associatedtype JobReducer: Reducer
    where JobReducer.Key == JobMapper.Key, JobReducer.Value == JobMapper.Value
    /// The partitioner type; ``HashPartitioner`` unless the job brings its own.
    associatedtype JobPartitioner: Partitioner = HashPartitioner

    /// The name workers and peers look the job up by; unique within a registry.
    static var name: String { get }

    /// Makes the mapper of one worker.
    func makeMapper() throws -> JobMapper
    /// Makes the combiner, or returns nil if the job does not combine.
    func makeCombiner() -> JobCombiner?
    /// Makes the reducer of one worker.
    func makeReducer() throws -> JobReducer
    /// The partitioner.
    var partitioner: JobPartitioner { get }
}

extension MapReduceJob {
    /// The key type.
    public typealias Key = JobMapper.Key
    /// The map output value type.
    public typealias Value = JobMapper.Value
    /// The reduce output type.
    public typealias Output = JobReducer.Output
}

extension MapReduceJob where JobCombiner: AbsentCombiner {
    /// A job without a combiner.
    public func makeCombiner() -> JobCombiner? { nil }
}

extension MapReduceJob where JobPartitioner == HashPartitioner {
    /// The default partitioner.
    public var partitioner: HashPartitioner { HashPartitioner() }
}
