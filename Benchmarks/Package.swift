// swift-tools-version: 6.1
// Micro-benchmarks of the engine's pieces, with ordo-one/benchmark: run `swift package benchmark` here
// (or `make -C Benchmarks micro`). A package of its own, so that `swift build` and CI never build it.
import PackageDescription

let package = Package(
    name: "swift-mapreduce-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-mapreduce", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Engine",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MapReduce", package: "swift-mapreduce"),
                .product(name: "MapReduceJobs", package: "swift-mapreduce"),
            ],
            path: "Benchmarks/Engine",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
