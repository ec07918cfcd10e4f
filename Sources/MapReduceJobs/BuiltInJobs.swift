public import MapReduce

extension JobRegistry {
    /// Every job that ships with `MapReduceJobs`, compiled and specialised here.
    public static var builtIn: JobRegistry {
        var registry = JobRegistry()
        registry.register(WordCount.self)
        registry.register(InvertedIndex.self)
        registry.register(AccessLogReport.self)
        return registry
    }
}
