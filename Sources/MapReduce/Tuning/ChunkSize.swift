/// How much work goes into one task: chosen by the engine, or fixed by the user.
///
/// On the map side the unit is bytes of input per task, as `Pool.map(chunksize=)` counts items; on the
/// reduce side it is keys per task.
public enum ChunkSize: Sendable, Hashable, CustomStringConvertible {
    /// The engine starts small, measures, and grows tasks toward a target duration while keeping several
    /// tasks per worker so that all workers finish together.
    case auto
    /// Exactly this many units per task (the last task of an input may be smaller).
    case fixed(Int)

    /// Parses `auto`, a number, or a number with a binary suffix: `64K`, `4M`, `1G` (also `KiB`, `MiB`, `GiB`).
    public init?(parsing text: String) {
        let trimmed = text.trimmingWhitespace().lowercased()
        if trimmed == "auto" {
            self = .auto
            return
        }
        var digits = Substring(trimmed)
        var multiplier = 1
        for (suffix, factor) in [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30),
        ] {
            if digits.hasSuffix(suffix) {
                digits = digits.dropLast(suffix.count)
                multiplier = factor
                break
            }
        }
        guard let value = Int(digits), value > 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self = .fixed(product)
    }

    /// A fixed size raised to `minimum` if it is below it; `auto` as it is.
    package func atLeast(_ minimum: Int) -> Self {
        switch self {
        case .auto: .auto
        case .fixed(let size): .fixed(max(size, minimum))
        }
    }

    /// `auto`, or the fixed size as a number.
    public var description: String {
        switch self {
        case .auto: "auto"
        case .fixed(let value): "\(value)"
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = self.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
