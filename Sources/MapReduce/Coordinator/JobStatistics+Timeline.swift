extension JobStatistics {
    /// The job's task attempts drawn as a timeline: a self-contained SVG image (no script, no external
    /// resource, a generic font family), one lane per row of ``formattedTable()`` (a local worker, or a
    /// peer with one line per worker), one bar per attempt coloured by phase; attempts lost with their
    /// worker or peer are hatched, failed ones outlined. Each bar's tooltip (`<title>`) gives the task,
    /// its input and its duration. A strip above the lanes shows the job's map, reduce and merge phases.
    public func timelineSVG() -> String {
        var layout = TimelineLayout(statistics: self)
        return layout.render()
    }
}

/// Places and draws the timeline; see ``JobStatistics/timelineSVG()``.
struct TimelineLayout {
    let statistics: JobStatistics
    let width = 1100.0
    let left = 150.0
    let right = 30.0
    let rowHeight = 16.0
    let laneGap = 8.0
    var lines: [String] = []

    init(statistics: JobStatistics) {
        self.statistics = statistics
    }

    static let phaseColours: [(JobStatistics.TaskAttempt.Phase, String)] = [
        (.map, "#4e79a7"), (.flush, "#59a14f"), (.reduce, "#f28e2b"),
    ]

    static func colour(_ phase: JobStatistics.TaskAttempt.Phase) -> String {
        self.phaseColours.first { $0.0 == phase }?.1 ?? "#888888"
    }

    /// The lanes: the statistics' rows, each with the slot indices its attempts ran on.
    var lanes: [(name: String, rows: [Int])] {
        self.statistics.slots.map { slot in
            let indices = Set(self.statistics.attempts.filter { $0.slot == slot.name }.map(\.slotIndex)).sorted()
            return (slot.name, indices.isEmpty ? [0] : indices)
        }
    }

    /// The time the axis spans, in seconds.
    var span: Double {
        let last = self.statistics.attempts.map(\.endSeconds).max() ?? 0
        return max(last, self.statistics.elapsedSeconds, 0.001)
    }

    func x(_ seconds: Double) -> Double {
        self.left + (self.width - self.left - self.right) * seconds / self.span
    }

    mutating func render() -> String {
        let lanes = self.lanes
        let top = 74.0
        let rows = lanes.reduce(0) { $0 + $1.rows.count }
        let lanesHeight = Double(rows) * self.rowHeight + Double(max(0, lanes.count - 1)) * self.laneGap
        let axisY = top + lanesHeight + 10
        let height = axisY + 46
        self.lines.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(self.width))\" height=\"\(n(height))\" "
                + "viewBox=\"0 0 \(n(self.width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        )
        self.lines.append("<title>\(xml("Task timeline: \(self.statistics.jobName)"))</title>")
        self.definitions()
        self.lines.append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        self.lines.append(
            "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">"
                + xml(
                    "\(self.statistics.jobName): \(self.statistics.attempts.count) task attempts, "
                        + "\(fixed(self.statistics.elapsedSeconds, 3)) s"
                ) + "</text>"
        )
        self.legend(y: 34)
        self.phases(y: top - 18)
        var y = top
        for lane in lanes {
            let laneHeight = Double(lane.rows.count) * self.rowHeight
            self.lines.append(
                "<rect x=\"\(n(self.left))\" y=\"\(n(y))\" width=\"\(n(self.width - self.left - self.right))\" "
                    + "height=\"\(n(laneHeight))\" fill=\"#f3f3f3\"/>"
            )
            self.lines.append(
                "<text class=\"lane\" x=\"\(n(self.left - 8))\" y=\"\(n(y + laneHeight / 2 + 4))\" "
                    + "text-anchor=\"end\">\(xml(lane.name))</text>"
            )
            for (row, index) in lane.rows.enumerated() {
                let rowY = y + Double(row) * self.rowHeight
                for attempt in self.statistics.attempts where attempt.slot == lane.name && attempt.slotIndex == index {
                    self.bar(attempt, y: rowY + 2, height: self.rowHeight - 4)
                }
            }
            y += laneHeight + self.laneGap
        }
        self.axis(y: axisY)
        self.lines.append("</svg>")
        return self.lines.joined(separator: "\n") + "\n"
    }

    mutating func definitions() {
        self.lines.append("<defs>")
        for (phase, colour) in Self.phaseColours {
            self.lines.append(
                "<pattern id=\"lost-\(phase.rawValue)\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                    + "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"\(colour)\" "
                    + "fill-opacity=\"0.35\"/><rect width=\"2.5\" height=\"6\" fill=\"#333333\"/></pattern>"
            )
        }
        self.lines.append("</defs>")
    }

    mutating func legend(y: Double) {
        var x = 10.0
        let entries: [(String, String)] =
            Self.phaseColours.map { ($0.0.rawValue, "fill=\"\($0.1)\"") } + [
                ("lost (ran again)", "fill=\"url(#lost-map)\" stroke=\"#333333\""),
                ("failed", "fill=\"#ffffff\" stroke=\"#d62728\" stroke-width=\"2\""),
            ]
        for (label, style) in entries {
            self.lines.append("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"16\" height=\"10\" \(style)/>")
            self.lines.append("<text x=\"\(n(x + 21))\" y=\"\(n(y + 9))\">\(xml(label))</text>")
            x += 30 + Double(label.count) * 6.5
        }
    }

    /// The job's phases as one strip: map, reduce, then the coordinator's merge of the runs.
    mutating func phases(y: Double) {
        let statistics = self.statistics
        let spans: [(String, Double, Double, String)] = [
            ("map phase", 0, statistics.mapSeconds, "#c6d4e3"),
            ("reduce phase", statistics.mapSeconds, statistics.mapSeconds + statistics.reduceSeconds, "#f9d5b3"),
            ("merge", statistics.mapSeconds + statistics.reduceSeconds, statistics.elapsedSeconds, "#d9d9d9"),
        ]
        self.lines.append(
            "<text x=\"\(n(self.left - 8))\" y=\"\(n(y + 10))\" text-anchor=\"end\" fill=\"#555555\">phases</text>"
        )
        for (label, start, end, colour) in spans where end > start {
            let x0 = self.x(start)
            let w = max(1, self.x(end) - x0)
            let text = w > Double(label.count) * 6 + 6 ? label : ""
            self.lines.append(
                "<rect x=\"\(n(x0))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"13\" fill=\"\(colour)\">"
                    + "<title>\(xml("\(label): \(fixed(end - start, 3)) s"))</title></rect>"
            )
            if !text.isEmpty {
                self.lines.append(
                    "<text x=\"\(n(x0 + 4))\" y=\"\(n(y + 10))\" fill=\"#333333\" font-size=\"10\">\(xml(text))</text>"
                )
            }
        }
    }

    mutating func bar(_ attempt: JobStatistics.TaskAttempt, y: Double, height: Double) {
        let x0 = self.x(attempt.startSeconds)
        let w = max(1, self.x(attempt.endSeconds) - x0)
        let style: String
        switch attempt.outcome {
        case .committed:
            style = "fill=\"\(Self.colour(attempt.phase))\" stroke=\"#ffffff\" stroke-width=\"0.5\""
        case .lost:
            style = "fill=\"url(#lost-\(attempt.phase.rawValue))\" stroke=\"#333333\" stroke-width=\"1\""
        case .failed:
            style = "fill=\"#ffffff\" stroke=\"#d62728\" stroke-width=\"2\""
        }
        let name = attempt.phase == .flush ? "flush" : "\(attempt.phase.rawValue) task \(attempt.task)"
        let title =
            "\(name) on \(attempt.slot) (worker \(attempt.slotIndex)): \(attempt.input); "
            + "\(fixed(attempt.startSeconds, 3))–\(fixed(attempt.endSeconds, 3)) s, "
            + "\(fixed(attempt.seconds * 1000, 1)) ms, \(attempt.outcome.rawValue)"
        self.lines.append(
            "<rect class=\"attempt \(attempt.phase.rawValue) \(attempt.outcome.rawValue)\" x=\"\(n(x0))\" "
                + "y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(height))\" \(style)><title>\(xml(title))</title></rect>"
        )
    }

    mutating func axis(y: Double) {
        let step = Self.tickStep(span: self.span)
        self.lines.append(
            "<line x1=\"\(n(self.left))\" y1=\"\(n(y))\" x2=\"\(n(self.width - self.right))\" y2=\"\(n(y))\" "
                + "stroke=\"#333333\"/>"
        )
        var tick = 0.0
        var index = 0
        while tick <= self.span * 1.0001 {
            let x = self.x(tick)
            self.lines.append(
                "<line x1=\"\(n(x))\" y1=\"\(n(y))\" x2=\"\(n(x))\" y2=\"\(n(y + 5))\" stroke=\"#333333\"/>"
            )
            let decimals = step >= 1 ? 0 : (step >= 0.1 ? 1 : (step >= 0.01 ? 2 : 3))
            self.lines.append(
                "<text x=\"\(n(x))\" y=\"\(n(y + 17))\" text-anchor=\"middle\">\(fixed(tick, decimals)) s</text>"
            )
            index += 1
            tick = Double(index) * step
        }
        self.lines.append(
            "<text x=\"\(n((self.left + self.width - self.right) / 2))\" y=\"\(n(y + 36))\" text-anchor=\"middle\" "
                + "fill=\"#555555\">seconds since the job started</text>"
        )
    }

    /// A round step (1, 2 or 5 times a power of ten) giving at most about ten ticks.
    static func tickStep(span: Double) -> Double {
        let rough = span / 10
        var power = 1.0
        while power > rough { power /= 10 }
        while power * 10 <= rough { power *= 10 }
        for factor in [1.0, 2, 5, 10] where power * factor >= rough { return power * factor }
        return power * 10
    }
}

/// A coordinate with at most two decimals.
private func n(_ value: Double) -> String { fixed(value, value == value.rounded() ? 0 : 2) }

/// Text escaped for XML character data and attribute values.
private func xml(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default:
            // XML 1.0 allows no other control character, not even escaped.
            if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" {
                out += "\u{FFFD}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}
