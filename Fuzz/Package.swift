// swift-tools-version: 6.1
// libFuzzer targets for the engine's decoders and word count's tokenizer: run `make fuzz` at the top
// level, which builds them with `-sanitize=fuzzer,address` (each exports `LLVMFuzzerTestOneInput` and
// libFuzzer supplies `main`). A package of its own, so that `swift build` and CI never build it.
import PackageDescription

let fuzzTargets = ["FuzzFrames", "FuzzRecords", "FuzzLZ4", "FuzzWordCount"]

let package = Package(
    name: "swift-mapreduce-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-mapreduce", path: "../")
    ],
    targets: [
        // What the targets share: failing with a message that survives optimization.
        .target(name: "FuzzSupport", swiftSettings: [.swiftLanguageMode(.v6)])
    ]
        + fuzzTargets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "FuzzSupport",
                    .product(name: "MapReduce", package: "swift-mapreduce"),
                    .product(name: "MapReduceJobs", package: "swift-mapreduce"),
                ],
                swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
            )
        }
)
