// swift-tools-version: 6.1
// A package of one's own that builds on swift-mapreduce: its own job, run by its own binary locally, on
// peer nodes and under Hadoop Streaming. `make test` (in the repository root) builds and runs it.
import PackageDescription

let package = Package(
    name: "mapreduce-examples",
    dependencies: [
        // name: pins the package's identity whatever the folder of the clone is called.
        .package(name: "swift-mapreduce", path: "../")
    ],
    targets: [
        .executableTarget(
            name: "Bigrams",
            dependencies: [.product(name: "MapReduce", package: "swift-mapreduce")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
