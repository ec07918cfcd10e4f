/// How messages show a path, which on Linux is bytes and need not be UTF-8.
///
/// Valid UTF-8 shows as itself; each byte that is not part of valid UTF-8 shows as `\xff`, as Python's
/// `repr` of a surrogate-escaped name does, so that a message stays one line of valid text and an
/// invalid name stays recognisable.
package enum PathName {
    /// The path's bytes as text, with the bytes that are not valid UTF-8 escaped as `\xhh`.
    package static func display(_ bytes: some Collection<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let bytes = Array(bytes)
        var text = ""
        var runStart = 0
        var index = 0
        while index < bytes.count {
            let length = self.scalarLength(bytes, at: index)
            if length > 0 {
                index += length
                continue
            }
            text += String(decoding: bytes[runStart..<index], as: UTF8.self)
            let hex = String(bytes[index], radix: 16)
            text += hex.count == 1 ? "\\x0\(hex)" : "\\x\(hex)"
            index += 1
            runStart = index
        }
        text += String(decoding: bytes[runStart..<index], as: UTF8.self)
        return text
    }

    /// The length of the well-formed UTF-8 scalar at `index`, or 0 if the byte there does not start one
    /// (Unicode's table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
    static func scalarLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let second: ClosedRange<UInt8>
        let length: Int
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: (second, length) = (0x80...0xBF, 2)
        case 0xE0: (second, length) = (0xA0...0xBF, 3)
        case 0xE1...0xEC, 0xEE...0xEF: (second, length) = (0x80...0xBF, 3)
        case 0xED: (second, length) = (0x80...0x9F, 3)
        case 0xF0: (second, length) = (0x90...0xBF, 4)
        case 0xF1...0xF3: (second, length) = (0x80...0xBF, 4)
        case 0xF4: (second, length) = (0x80...0x8F, 4)
        default: return 0
        }
        guard index + length <= bytes.count, second.contains(bytes[index + 1]) else { return 0 }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) { return 0 }
        return length
    }
}
