import MapReduce

#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Byte classes of one 64-byte block, one bit per byte.
struct BlockMasks {
    /// Bytes that belong to tokens: anything but ASCII whitespace and ASCII punctuation.
    var word: UInt64
    /// Token bytes that are not ASCII letters (digits, control bytes, non-ASCII bytes).
    var notLetter: UInt64
    /// Non-ASCII bytes.
    var high: UInt64
    /// `.` bytes.
    var dot: UInt64

    /// Classifies the 64 bytes at `p`, which must all be readable.
    @inline(__always)
    init(_ p: UnsafeRawPointer) {
        #if arch(x86_64)
        var word: UInt64 = 0
        var letter: UInt64 = 0
        var high: UInt64 = 0
        var dot: UInt64 = 0
        let caseBit = _mm_set1_epi8(0x20)
        let letterBias = _mm_set1_epi8(0x1F)
        let letterLimit = _mm_set1_epi8(-102)  // 'a' + 0x1F wraps to -128; 26 letters below -102
        let digitBias = _mm_set1_epi8(0x50)
        let digitLimit = _mm_set1_epi8(-118)
        let lowControlBias = _mm_set1_epi8(-128)
        let lowControlLimit = _mm_set1_epi8(-119)  // 0x00...0x08
        let midControlBias = _mm_set1_epi8(0x72)
        let midControlLimit = _mm_set1_epi8(-114)  // 0x0E...0x1B
        let delete = _mm_set1_epi8(0x7F)
        let period = _mm_set1_epi8(0x2E)
        for lane in 0..<4 {
            let v = _mm_loadu_si128((p + lane * 16).assumingMemoryBound(to: __m128i_u.self))
            let isLetter = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, caseBit), letterBias), letterLimit)
            let isDigit = _mm_cmplt_epi8(_mm_add_epi8(v, digitBias), digitLimit)
            let isLowControl = _mm_cmplt_epi8(_mm_add_epi8(v, lowControlBias), lowControlLimit)
            let isMidControl = _mm_cmplt_epi8(_mm_add_epi8(v, midControlBias), midControlLimit)
            let isDelete = _mm_cmpeq_epi8(v, delete)
            let other = _mm_or_si128(_mm_or_si128(isDigit, isLowControl), _mm_or_si128(isMidControl, isDelete))
            let shift = UInt64(lane * 16)
            let highBits = UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(v)))
            let letterBits = UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(isLetter)))
            let otherBits = UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(other)))
            high |= highBits << shift
            letter |= letterBits << shift
            word |= (letterBits | otherBits | highBits) << shift
            dot |= UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(v, period)))) << shift
        }
        self.word = word
        self.notLetter = word & ~letter
        self.high = high
        self.dot = dot
        #else
        var word: UInt64 = 0
        var notLetter: UInt64 = 0
        var high: UInt64 = 0
        var dot: UInt64 = 0
        for i in 0..<64 {
            let byte = p.load(fromByteOffset: i, as: UInt8.self)
            let bit = UInt64(1) << UInt64(i)
            let isLetter = (byte | 0x20) &- 0x61 < 26
            if byte >= 0x80 { high |= bit }
            if byte == 0x2E { dot |= bit }
            if byte >= 0x80 || !WordTokenizer.isSeparator(byte) {
                word |= bit
                if !isLetter { notLetter |= bit }
            }
        }
        self.word = word
        self.notLetter = notLetter
        self.high = high
        self.dot = dot
        #endif
    }
}

/// Word count's tokenizer: Python's rules, at the speed of a byte-mask scan.
///
/// The input is classified 64 bytes at a time into bit masks; tokens are the runs of non-separator
/// bytes, walked with `trailingZeroBitCount`. A token of ASCII letters only is lowercased with one SIMD
/// `or`, written straight into the emitter's key buffer; a token with a digit or control byte is dropped
/// (it cannot pass `isalpha()`); a token with non-ASCII bytes goes to ``UnicodeWords``, which is exact. A
/// line whose first non-whitespace characters are `..` is skipped; only blocks that contain `..` pay for
/// that check.
struct WordTokenizer: ~Copyable {
    typealias Output = Emitter<ByteString, Int>

    let strict: Bool
    let stopMultiplier: UInt32
    let stopTable: UnsafeMutablePointer<UInt32>
    /// Scratch space of the Unicode path; grown for long tokens.
    var scratch: UnsafeMutablePointer<UInt8>
    var scratchCapacity: Int
    var scalars: UnsafeMutablePointer<UInt32>
    var scalarCapacity: Int

    init(strict: Bool) {
        self.strict = strict
        let stopWords = StopWords()
        self.stopMultiplier = stopWords.multiplier
        self.stopTable = .allocate(capacity: stopWords.table.count)
        self.stopTable.initialize(from: stopWords.table, count: stopWords.table.count)
        self.scratchCapacity = 4096
        self.scratch = .allocate(capacity: self.scratchCapacity + 64)
        self.scalarCapacity = 1024
        self.scalars = .allocate(capacity: self.scalarCapacity)
    }

    deinit {
        self.stopTable.deallocate()
        self.scratch.deallocate()
        self.scalars.deallocate()
    }

    /// ASCII whitespace (Python's, `\x1c`–`\x1f` included) or ASCII punctuation.
    @inline(__always)
    static func isSeparator(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x09...0x0D, 0x1C...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: true
        default: false
        }
    }

    /// ASCII whitespace except the line terminators.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0B || byte == 0x0C || (byte >= 0x1C && byte <= 0x1F)
    }

    /// Whether the lowercased word packed little-endian into `packed` (at most four bytes) is a stop word.
    @inline(__always)
    func isStopWord(_ packed: UInt32) -> Bool {
        self.stopTable[Int((packed &* self.stopMultiplier) >> 26)] == packed
    }

    /// Counts the words of whole lines.
    /// - Throws: ``MapReduceError`` with code `invalidData` on invalid UTF-8 when strict.
    mutating func tokenize(_ buffer: UnsafeRawBufferPointer, origin: InputOrigin, into output: inout Output) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let count = buffer.count
        // A padded copy of the last, partial block, so that every block is read as 64 whole bytes.
        var tail = (SIMD64<UInt8>(repeating: 0x20), SIMD16<UInt8>(repeating: 0x20))
        var position = 0
        var pendingStart = -1
        var pendingOddity = false
        var pendingHigh = false

        while position < count {
            let available = count - position
            let masks: BlockMasks
            let nextIsDot: Bool
            if available > 64 {
                masks = BlockMasks(base + position)
                nextIsDot = base.load(fromByteOffset: position + 64, as: UInt8.self) == 0x2E
            } else {
                tail.0 = SIMD64(repeating: 0x20)
                withUnsafeMutableBytes(of: &tail) { raw in
                    raw.baseAddress!.copyMemory(from: base + position, byteCount: available)
                }
                masks = withUnsafeBytes(of: &tail) { BlockMasks($0.baseAddress!) }
                nextIsDot = false
            }
            let blockLength = min(64, available)
            var limit = blockLength
            var skipLine = false
            let dotdot = masks.dot & (masks.dot >> 1 | (nextIsDot ? 1 << 63 : 0))
            if _slowPath(dotdot != 0) {
                var candidates = dotdot
                while candidates != 0 {
                    let bit = candidates.trailingZeroBitCount
                    if self.startsLine(base, position + bit) {
                        limit = bit
                        skipLine = true
                        break
                    }
                    candidates &= candidates - 1
                }
            }
            var words = masks.word & lowBits(limit)
            if pendingStart >= 0 {
                let separators = ~masks.word & lowBits(blockLength)
                if separators == 0 && !skipLine {
                    pendingOddity = pendingOddity || masks.notLetter != 0
                    pendingHigh = pendingHigh || masks.high != 0
                    position += blockLength
                    continue
                }
                let end = separators == 0 ? blockLength : separators.trailingZeroBitCount
                let inToken = lowBits(end)
                try self.token(
                    base,
                    count,
                    pendingStart,
                    position + end,
                    oddity: pendingOddity || masks.notLetter & inToken != 0,
                    high: pendingHigh || masks.high & inToken != 0,
                    origin: origin,
                    into: &output
                )
                pendingStart = -1
                words &= ~inToken
            }
            while words != 0 {
                let start = words.trailingZeroBitCount
                let separators = ~masks.word & ~lowBits(start) & lowBits(blockLength)
                if separators == 0 {
                    // The token runs into the next block (or to the end of the input).
                    pendingStart = position + start
                    pendingOddity = masks.notLetter >> UInt64(start) != 0
                    pendingHigh = masks.high >> UInt64(start) != 0
                    break
                }
                let end = separators.trailingZeroBitCount
                let inToken = lowBits(end) & ~lowBits(start)
                try self.token(
                    base,
                    count,
                    position + start,
                    position + end,
                    oddity: masks.notLetter & inToken != 0,
                    high: masks.high & inToken != 0,
                    origin: origin,
                    into: &output
                )
                words &= ~lowBits(end)
            }
            if skipLine {
                position = try self.skipLine(base, from: position + limit, count: count, origin: origin)
            } else {
                position += blockLength
            }
        }
        if pendingStart >= 0 {
            try self.token(
                base,
                count,
                pendingStart,
                count,
                oddity: pendingOddity,
                high: pendingHigh,
                origin: origin,
                into: &output
            )
        }
    }

    /// Handles the token `base[start..<end]`.
    @inline(__always)
    mutating func token(
        _ base: UnsafeRawPointer,
        _ count: Int,
        _ start: Int,
        _ end: Int,
        oddity: Bool,
        high: Bool,
        origin: InputOrigin,
        into output: inout Output
    ) throws {
        if _fastPath(!oddity) {
            let length = end - start
            let source = base + start
            if length <= 4 {
                var packed: UInt32
                if start + 4 <= count {
                    packed =
                        source.loadUnaligned(as: UInt32.self)
                        & UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(8 * length)) &- 1)
                } else {
                    packed = 0
                    for i in 0..<length {
                        packed |= UInt32(source.load(fromByteOffset: i, as: UInt8.self)) << UInt32(8 * i)
                    }
                }
                packed |= 0x2020_2020 & UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(8 * length)) &- 1)
                if self.isStopWord(packed) { return }
            }
            let readable = start + 16 <= count
            output.emit(keyCapacity: length, 1) { destination in
                #if arch(x86_64)
                if length <= 16 && readable {
                    let v = _mm_loadu_si128(source.assumingMemoryBound(to: __m128i_u.self))
                    _mm_storeu_si128(
                        destination.assumingMemoryBound(to: __m128i_u.self),
                        _mm_or_si128(v, _mm_set1_epi8(0x20))
                    )
                    return length
                }
                #endif
                for i in 0..<length {
                    destination.storeBytes(
                        of: source.load(fromByteOffset: i, as: UInt8.self) | 0x20,
                        toByteOffset: i,
                        as: UInt8.self
                    )
                }
                return length
            }
        } else if high {
            try self.unicodeToken(base, start, end, origin: origin, into: &output)
        }
        // Otherwise a digit or control byte: never a word, and plain ASCII needs no validation.
    }

    /// Whether the `..` at `dot` is the start of its line once leading whitespace is stripped.
    func startsLine(_ base: UnsafeRawPointer, _ dot: Int) -> Bool {
        var i = dot - 1
        while i >= 0 {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            if byte == 0x0A || byte == 0x0D { return true }
            if Self.isBlank(byte) {
                i -= 1
                continue
            }
            if byte < 0x80 { return false }
            return UnicodeWords.onlyWhitespaceBefore(base, position: dot, floor: 0)
        }
        return true
    }

    /// Skips the rest of a `..` line (validating it when strict); returns where the next line starts.
    func skipLine(_ base: UnsafeRawPointer, from start: Int, count: Int, origin: InputOrigin) throws -> Int {
        var i = start
        var sawHigh = false
        while i < count {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            if byte == 0x0A || byte == 0x0D { break }
            if byte >= 0x80 { sawHigh = true }
            i += 1
        }
        if self.strict && sawHigh, let bad = UnicodeWords.firstInvalid(base, from: start, to: i) {
            throw Self.invalid(base, bad, origin: origin)
        }
        guard i < count else { return count }
        if base.load(fromByteOffset: i, as: UInt8.self) == 0x0D && i + 1 < count
            && base.load(fromByteOffset: i + 1, as: UInt8.self) == 0x0A
        {
            return i + 2
        }
        return i + 1
    }

    @inline(never)
    mutating func unicodeToken(
        _ base: UnsafeRawPointer,
        _ start: Int,
        _ end: Int,
        origin: InputOrigin,
        into output: inout Output
    ) throws {
        let length = end - start
        if length > self.scalarCapacity {
            self.scalars.deallocate()
            self.scalarCapacity = length
            self.scalars = .allocate(capacity: length)
        }
        if 4 * length > self.scratchCapacity {
            self.scratch.deallocate()
            self.scratchCapacity = 4 * length
            self.scratch = .allocate(capacity: self.scratchCapacity + 64)
        }
        let invalid = UnicodeWords.words(
            in: base,
            from: start,
            to: end,
            strict: self.strict,
            scalars: self.scalars,
            wordBytes: self.scratch
        ) { word in
            if word.count <= 4 {
                var packed: UInt32 = 0
                for (i, byte) in word.enumerated() { packed |= UInt32(byte) << UInt32(8 * i) }
                if self.isStopWord(packed) { return }
            }
            output.emit(keyBytes: word, 1)
        }
        if let invalid { throw Self.invalid(base, invalid, origin: origin) }
    }

    static func invalid(_ base: UnsafeRawPointer, _ offset: Int, origin: InputOrigin) -> MapReduceError {
        let byte = base.load(fromByteOffset: offset, as: UInt8.self)
        let hex = String(byte, radix: 16, uppercase: true)
        return MapReduceError(
            .invalidData,
            "invalid UTF-8 at byte offset \(origin.offset + offset) (byte 0x\(hex.count < 2 ? "0" + hex : hex))",
            input: origin.path
        )
    }
}

/// The `count` low bits set (all 64 for 64).
@inline(__always)
func lowBits(_ count: Int) -> UInt64 {
    count >= 64 ? ~0 : (1 << UInt64(count)) &- 1
}
