#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#else
#error("unsupported platform")
#endif

/// Stops the run with `message` on standard error unless `condition` holds. Unlike `precondition`,
/// it keeps its message in an optimized build, and libFuzzer saves the input that made it fail.
public func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

/// Stops the run with `message` on standard error.
public func fail(_ message: String) -> Never {
    fputs("fuzz check failed: \(message)\n", stderr)
    abort()
}
