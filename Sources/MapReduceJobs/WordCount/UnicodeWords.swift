/// The exact, slower path of word count for tokens that contain non-ASCII bytes: decode UTF-8, split at
/// Unicode whitespace, lowercase with Python's full mapping (final sigma included), keep all-letter words.
enum UnicodeWords {
    /// Properties of one code point: `UnicodeTables` flags and the lowercase delta.
    @inline(__always)
    static func record(_ scalar: UInt32) -> Int {
        let page = Int(UnicodeTables.blockOfPage[Int(scalar >> 8)])
        return Int(UnicodeTables.recordOfCodePoint[page << 8 | Int(scalar & 0xFF)])
    }

    @inline(__always)
    static func flags(_ scalar: UInt32) -> UInt8 {
        UnicodeTables.recordFlags[record(scalar)]
    }

    /// Decodes one UTF-8 sequence at `i`; returns the scalar and its length, or nil if the bytes at `i`
    /// do not start a well-formed sequence (Unicode Table 3-7: no overlongs, surrogates or values above
    /// U+10FFFF).
    @inline(__always)
    static func decode(_ bytes: UnsafeRawPointer, _ i: Int, _ end: Int) -> (scalar: UInt32, length: Int)? {
        let b0 = UInt32(bytes.load(fromByteOffset: i, as: UInt8.self))
        if b0 < 0x80 { return (b0, 1) }
        @inline(__always) func continuation(_ k: Int, _ low: UInt32 = 0x80, _ high: UInt32 = 0xBF) -> UInt32? {
            guard i + k < end else { return nil }
            let byte = UInt32(bytes.load(fromByteOffset: i + k, as: UInt8.self))
            return byte >= low && byte <= high ? byte & 0x3F : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = continuation(1) else { return nil }
            return ((b0 & 0x1F) << 6 | c1, 2)
        case 0xE0...0xEF:
            let low: UInt32 = b0 == 0xE0 ? 0xA0 : 0x80
            let high: UInt32 = b0 == 0xED ? 0x9F : 0xBF
            guard let c1 = continuation(1, low, high), let c2 = continuation(2) else { return nil }
            return ((b0 & 0x0F) << 12 | c1 << 6 | c2, 3)
        case 0xF0...0xF4:
            let low: UInt32 = b0 == 0xF0 ? 0x90 : 0x80
            let high: UInt32 = b0 == 0xF4 ? 0x8F : 0xBF
            guard let c1 = continuation(1, low, high), let c2 = continuation(2), let c3 = continuation(3) else {
                return nil
            }
            return ((b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3, 4)
        default:
            return nil
        }
    }

    /// Checks that `bytes[from..<to]` is valid UTF-8; returns the offset of the first invalid byte.
    static func firstInvalid(_ bytes: UnsafeRawPointer, from: Int, to: Int) -> Int? {
        var i = from
        while i < to {
            // Skip ASCII eight bytes at a time.
            while i + 8 <= to, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < to else { break }
            if bytes.load(fromByteOffset: i, as: UInt8.self) < 0x80 {
                i += 1
                continue
            }
            guard let (_, length) = decode(bytes, i, to) else { return i }
            i += length
        }
        return nil
    }

    /// Appends the UTF-8 encoding of `scalar`.
    @inline(__always)
    static func appendUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>, at n: inout Int) {
        switch scalar {
        case 0..<0x80:
            out[n] = UInt8(scalar)
            n += 1
        case 0x80..<0x800:
            out[n] = UInt8(0xC0 | scalar >> 6)
            out[n + 1] = UInt8(0x80 | scalar & 0x3F)
            n += 2
        case 0x800..<0x10000:
            out[n] = UInt8(0xE0 | scalar >> 12)
            out[n + 1] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            out[n + 2] = UInt8(0x80 | scalar & 0x3F)
            n += 3
        default:
            out[n] = UInt8(0xF0 | scalar >> 18)
            out[n + 1] = UInt8(0x80 | (scalar >> 12) & 0x3F)
            out[n + 2] = UInt8(0x80 | (scalar >> 6) & 0x3F)
            out[n + 3] = UInt8(0x80 | scalar & 0x3F)
            n += 4
        }
    }

    /// An invalid byte in a token, under `replace`: Python decodes it to U+FFFD, which is neither a letter
    /// nor whitespace.
    static let replacement: UInt32 = 0xFFFD
    static let capitalSigma: UInt32 = 0x03A3

    /// Splits the byte token `bytes[start..<end]` at Unicode whitespace and hands each lowercased,
    /// all-letter word to `emit`.
    /// - Parameters:
    ///   - scalars: Scratch space for at least `end - start` scalars.
    ///   - wordBytes: Scratch space for at least `3 × (end - start)` bytes.
    ///   - tokens: Counts the whitespace-separated tokens, words or not.
    /// - Returns: nil, or the offset of the first invalid byte when `strict`.
    static func words(
        in bytes: UnsafeRawPointer,
        from start: Int,
        to end: Int,
        strict: Bool,
        scalars: UnsafeMutablePointer<UInt32>,
        wordBytes: UnsafeMutablePointer<UInt8>,
        tokens: inout Int,
        emit: (UnsafeRawBufferPointer) -> Void
    ) -> Int? {
        var count = 0
        var i = start
        while i <= end {
            var scalar: UInt32 = 0x20
            var length = 1
            if i < end {
                if let decoded = decode(bytes, i, end) {
                    (scalar, length) = decoded
                } else {
                    if strict { return i }
                    scalar = replacement
                }
            }
            if i == end || flags(scalar) & UnicodeTables.space != 0 {
                if count > 0 {
                    tokens += 1
                    word(scalars, count, wordBytes, emit)
                    count = 0
                }
            } else {
                scalars[count] = scalar
                count += 1
            }
            i += length
        }
        return nil
    }

    /// Lowercases one whitespace-free word as Python's `str.lower()` does and emits it if every resulting
    /// character is a letter (`str.isalpha()`); stop words are left to the mapper's key filter.
    static func word(
        _ scalars: UnsafeMutablePointer<UInt32>,
        _ count: Int,
        _ out: UnsafeMutablePointer<UInt8>,
        _ emit: (UnsafeRawBufferPointer) -> Void
    ) {
        var n = 0
        for index in 0..<count {
            let scalar = scalars[index]
            let record = record(scalar)
            let flags = UnicodeTables.recordFlags[record]
            if scalar == capitalSigma {
                let lowered: UInt32 = isFinalSigma(scalars, count, index) ? 0x03C2 : 0x03C3
                appendUTF8(lowered, to: out, at: &n)
                continue
            }
            if flags & UnicodeTables.specialLower != 0 {
                for lowered in UnicodeTables.specialLowercase[scalar] ?? [scalar] {
                    guard Self.flags(lowered) & UnicodeTables.alpha != 0 else { return }
                    appendUTF8(lowered, to: out, at: &n)
                }
                continue
            }
            let lowered = UInt32(Int64(scalar) + Int64(UnicodeTables.recordLowerDelta[record]))
            guard lowered == scalar ? flags & UnicodeTables.alpha != 0 : Self.flags(lowered) & UnicodeTables.alpha != 0
            else { return }
            appendUTF8(lowered, to: out, at: &n)
        }
        emit(UnsafeRawBufferPointer(start: out, count: n))
    }

    /// Python's Final_Sigma context: preceded by a cased letter and not followed by one, skipping
    /// case-ignorable characters on both sides.
    static func isFinalSigma(_ scalars: UnsafeMutablePointer<UInt32>, _ count: Int, _ index: Int) -> Bool {
        var j = index - 1
        var before: UInt8 = 0
        while j >= 0 {
            before = flags(scalars[j])
            if before & UnicodeTables.caseIgnorable == 0 { break }
            j -= 1
        }
        guard j >= 0, before & UnicodeTables.cased != 0 else { return false }
        j = index + 1
        while j < count {
            let after = flags(scalars[j])
            if after & UnicodeTables.caseIgnorable == 0 { return after & UnicodeTables.cased == 0 }
            j += 1
        }
        return true
    }

    /// Whether only whitespace (Python's `isspace()`) lies between the start of the line and `position`:
    /// Python's `line.lstrip()` rule. Scans backward and stops at the first character that is not
    /// whitespace, so it costs the length of that whitespace, not of the line.
    /// The offset of the first character in `from..<to` that is not whitespace (`str.isspace()`), or
    /// `to`; a byte that does not decode counts as not whitespace.
    static func firstNonWhitespace(_ bytes: UnsafeRawPointer, from start: Int, to end: Int) -> Int {
        var i = start
        while i < end {
            let byte = bytes.load(fromByteOffset: i, as: UInt8.self)
            if byte < 0x80 {
                guard flags(UInt32(byte)) & UnicodeTables.space != 0 else { return i }
                i += 1
                continue
            }
            guard let (scalar, length) = decode(bytes, i, end), flags(scalar) & UnicodeTables.space != 0 else {
                return i
            }
            i += length
        }
        return end
    }

    static func onlyWhitespaceBefore(_ bytes: UnsafeRawPointer, position: Int, floor: Int) -> Bool {
        var end = position
        while end > floor {
            let last = bytes.load(fromByteOffset: end - 1, as: UInt8.self)
            if last == 0x0A || last == 0x0D { return true }
            if last < 0x80 {
                guard flags(UInt32(last)) & UnicodeTables.space != 0 else { return false }
                end -= 1
                continue
            }
            // Back up over continuation bytes to the start of the sequence, then decode it.
            var start = end - 1
            while start > floor && end - start < 4 && bytes.load(fromByteOffset: start, as: UInt8.self) & 0xC0 == 0x80 {
                start -= 1
            }
            guard let (scalar, length) = decode(bytes, start, end), start + length == end,
                flags(scalar) & UnicodeTables.space != 0
            else { return false }
            end = start
        }
        return true
    }
}
