// The test support's one mention of the C library, re-exported so that test files need none: tests
// open, signal and read `/proc` as the engine does, and like the engine they run on Linux only.
#if !os(Linux)
#error("swift-mapreduce and its tests run on Linux only.")
#elseif canImport(Glibc)
@_exported @preconcurrency public import Glibc
#elseif canImport(Musl)
@_exported @preconcurrency public import Musl
#else
#error("swift-mapreduce needs glibc or musl.")
#endif
