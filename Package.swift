// swift-tools-version: 6.1
import PackageDescription

/// Every target is Swift 6 with strict concurrency and the upcoming features the house style asks for.
let defaultSwiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swift-mapreduce",
    products: [
        .library(name: "MapReduce", targets: ["MapReduce"]),
        .library(name: "MapReduceJobs", targets: ["MapReduceJobs"]),
        .executable(name: "mapreduce", targets: ["mapreduce"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // `make docs`: the DocC catalog of the library (swift package generate-documentation).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // liblz4 (frame format) for compressed cluster batches; `make` installs liblz4-dev.
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // Header-only C helpers for instructions Swift cannot spell (prefetch).
        .target(name: "CMapReduceShims"),
        // The engine: job protocols, partitioner, tuner, wire encoding, scheduler, local pool.
        .target(
            name: "MapReduce",
            dependencies: [
                "CLZ4",
                "CMapReduceShims",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: defaultSwiftSettings
        ),
        // Ready-made jobs, word count first, and the registry workers look jobs up in.
        .target(
            name: "MapReduceJobs",
            dependencies: ["MapReduce"],
            swiftSettings: defaultSwiftSettings
        ),
        // The CLI: argument parsing only.
        .executableTarget(
            name: "mapreduce",
            dependencies: [
                "MapReduce",
                "MapReduceJobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: defaultSwiftSettings
        ),
        // The README's example program, built so that the README's code is known to compile and run.
        .executableTarget(
            name: "LogReportExample",
            dependencies: ["MapReduce"],
            swiftSettings: defaultSwiftSettings
        ),
        // Helpers shared by the test targets: locating the binary, running it, the Python reference.
        .target(
            name: "MapReduceTestSupport",
            dependencies: ["MapReduce"],
            swiftSettings: defaultSwiftSettings
        ),
        .testTarget(
            name: "MapReduceTests",
            dependencies: [
                "MapReduce",
                "MapReduceTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: defaultSwiftSettings
        ),
        .testTarget(
            name: "MapReduceJobsTests",
            dependencies: ["MapReduce", "MapReduceJobs", "MapReduceTestSupport"],
            swiftSettings: defaultSwiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MapReduce", "MapReduceJobs", "MapReduceTestSupport", "mapreduce"],
            swiftSettings: defaultSwiftSettings
        ),
    ]
)
