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
    /// `.` bytes.
    var dot: UInt64

    /// Classifies the 64 bytes at `p`, which must all be readable.
    @inline(__always)
    init(_ p: UnsafeRawPointer) {
        #if arch(x86_64)
        var word: UInt64 = 0
        var letter: UInt64 = 0
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
            let v = _mm_loadu_si128((p + lane &* 16).assumingMemoryBound(to: __m128i_u.self))
            let isLetter = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, caseBit), letterBias), letterLimit)
            let isDigit = _mm_cmplt_epi8(_mm_add_epi8(v, digitBias), digitLimit)
            let isLowControl = _mm_cmplt_epi8(_mm_add_epi8(v, lowControlBias), lowControlLimit)
            let isMidControl = _mm_cmplt_epi8(_mm_add_epi8(v, midControlBias), midControlLimit)
            let isDelete = _mm_cmpeq_epi8(v, delete)
            // Non-ASCII bytes have the sign bit set, which movemask reads directly.
            let other = _mm_or_si128(
                _mm_or_si128(isDigit, isLowControl),
                _mm_or_si128(_mm_or_si128(isMidControl, isDelete), v)
            )
            let shift = UInt64(lane &* 16)
            let letterBits = UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(isLetter)))
            let otherBits = UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(other)))
            letter |= letterBits &<< shift
            word |= (letterBits | otherBits) &<< shift
            dot |= UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(_mm_cmpeq_epi8(v, period)))) &<< shift
        }
        self.word = word
        self.notLetter = word & ~letter
        self.dot = dot
        #else
        var word: UInt64 = 0
        var notLetter: UInt64 = 0
        var dot: UInt64 = 0
        for i in 0..<64 {
            let byte = p.load(fromByteOffset: i, as: UInt8.self)
            let bit = UInt64(1) << UInt64(i)
            let isLetter = (byte | 0x20) &- 0x61 < 26
            if byte == 0x2E { dot |= bit }
            if byte >= 0x80 || !WordTokenizer.isSeparator(byte) {
                word |= bit
                if !isLetter { notLetter |= bit }
            }
        }
        self.word = word
        self.notLetter = notLetter
        self.dot = dot
        #endif
    }
}

/// Where a scan is: the next block, and a token that started in an earlier block and is not over yet.
struct ScanState {
    var position = 0
    /// The start of the unfinished token, or -1.
    var pendingStart = -1
    /// Whether the unfinished token has a byte that is not an ASCII letter so far.
    var pendingOdd = false
}

/// Word count's tokenizer: Python's rules, at the speed of a byte-mask scan.
///
/// The input is classified 64 bytes at a time into bit masks; tokens are the runs of non-separator
/// bytes, walked with `trailingZeroBitCount`. A token of ASCII letters only is lowercased with one SIMD
/// `or`, masked to its length and handed to the emitter as two words; a token with a digit or control byte is
/// dropped (it cannot pass `isalpha()`); a token with non-ASCII bytes goes to ``UnicodeWords``, which is
/// exact. Stop words are emitted like any word and left out after combining (see
/// ``WordCountMapper/keepsKey(_:)``). A line whose first non-whitespace characters are `..` is skipped;
/// only blocks that contain `..` pay for that check. The common path has no unpredictable branch per
/// token but the loop's own.
///
/// It is generic over what it emits with each word (``WordValues``): word count's constant 1, which
/// specialisation folds into the code as before, or the inverted index's current file.
struct WordTokenizer<Values: WordValues>: ~Copyable {
    typealias Output = Emitter<ByteString, Values.Value>

    let strict: Bool
    /// What goes with each word.
    var values: Values
    /// For each length 0...16, a 16-byte mask keeping that many leading bytes.
    let lengthMasks: UnsafeMutableRawPointer
    /// Scratch space of the Unicode path; grown for long tokens.
    var scratch: UnsafeMutablePointer<UInt8>
    var scratchCapacity: Int
    var scalars: UnsafeMutablePointer<UInt32>
    var scalarCapacity: Int
    /// Tokens that were not emitted (not all letters) since the mapper last reported its counters: off
    /// the common path, which counts emitted words through the emitter instead.
    var unemittedTokens = 0
    /// Lines skipped for starting with `..`, counted in the task that finds the `..`.
    var skippedLines = 0

    init(strict: Bool, values: Values) {
        self.strict = strict
        self.values = values
        self.lengthMasks = .allocate(byteCount: 17 * 16, alignment: 16)
        for length in 0...16 {
            for byte in 0..<16 {
                self.lengthMasks.storeBytes(
                    of: byte < length ? 0xFF : 0,
                    toByteOffset: length * 16 + byte,
                    as: UInt8.self
                )
            }
        }
        self.scratchCapacity = 4096
        self.scratch = .allocate(capacity: self.scratchCapacity + 64)
        self.scalarCapacity = 1024
        self.scalars = .allocate(capacity: self.scalarCapacity)
    }

    deinit {
        self.lengthMasks.deallocate()
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

    /// Counts the words of whole lines.
    ///
    /// Kept out of line: inlined into the engine's map loop it made a caller so large that the compiler
    /// stopped inlining the emitter into it.
    /// - Throws: ``MapReduceError`` with code `invalidData` on invalid UTF-8 when strict.
    @inline(never)
    /// - Parameters:
    ///   - buffer: Whole lines, or, when `skip` is not 0, a line's beginning (context only) followed by
    ///     the rest of that line and whole lines.
    ///   - skip: Where counting starts: 0, or the offset of a cut in the buffer's first line, which
    ///     starts with a space (a word never spans one).
    ///   - origin: The input and offset of the buffer's first byte.
    mutating func tokenize(
        _ buffer: UnsafeRawBufferPointer,
        from skip: Int = 0,
        origin: InputOrigin,
        into output: inout Output
    ) throws {
        guard let base = buffer.baseAddress, buffer.count > skip else { return }
        let count = buffer.count
        var scan = ScanState()
        if skip > 0 {
            scan.position = skip
            // The line started before the cut: if it started with '..', the rest of it is skipped too.
            // (A '..' that comes after the cut, with only whitespace before it, is found by the scan,
            // which looks back past the cut to the line's start.)
            let head = UnicodeWords.firstNonWhitespace(base, from: 0, to: skip)
            if head + 1 < skip && base.load(fromByteOffset: head, as: UInt8.self) == 0x2E
                && base.load(fromByteOffset: head + 1, as: UInt8.self) == 0x2E
            {
                scan.position = try self.skipLine(base, from: skip, count: count, origin: origin)
            }
        }
        // Whole blocks, with one byte beyond readable for the `..` check across the boundary.
        while scan.position &+ 64 < count {
            let masks = BlockMasks(base + scan.position)
            let nextDot: UInt64 = base.load(fromByteOffset: scan.position &+ 64, as: UInt8.self) == 0x2E ? 1 : 0
            let dotdot = masks.dot & (masks.dot &>> 1 | nextDot &<< 63)
            if _slowPath(dotdot != 0) {
                try self.blockWithDots(masks, dotdot, limit: 64, base, count, &scan, origin, &output)
                continue
            }
            try self.words(masks, limit: 64, base, count, &scan, origin, &output)
            scan.position &+= 64
        }
        try self.finish(base, count, &scan, origin, &output)
    }

    /// The tokens that start in the block at `scan.position` before `limit`. Separators after `limit`
    /// still end a token: a `..` at `limit` does, and so does the padding after the input's end.
    @inline(__always)
    mutating func words(
        _ masks: BlockMasks,
        limit: Int,
        _ base: UnsafeRawPointer,
        _ count: Int,
        _ scan: inout ScanState,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        let blockStart = scan.position
        let separators = ~masks.word
        var starts = masks.word & lowBits(limit)
        if scan.pendingStart >= 0 {
            if separators == 0 {
                scan.pendingOdd = scan.pendingOdd || masks.notLetter != 0
                return
            }
            let end = separators.trailingZeroBitCount
            let span = lowBits(end)
            try self.word(
                base,
                count,
                scan.pendingStart,
                blockStart &+ end,
                odd: scan.pendingOdd || masks.notLetter & span != 0,
                origin,
                &output
            )
            scan.pendingStart = -1
            starts &= ~span
        }
        while starts != 0 {
            let start = starts.trailingZeroBitCount
            let after = separators & (~0 &<< UInt64(start))
            if after == 0 {
                // The token runs into the next block.
                scan.pendingStart = blockStart &+ start
                scan.pendingOdd = masks.notLetter &>> UInt64(start) != 0
                return
            }
            let end = after.trailingZeroBitCount
            let span = lowBits(end) & ~lowBits(start)
            try self.word(
                base,
                count,
                blockStart &+ start,
                blockStart &+ end,
                odd: masks.notLetter & span != 0,
                origin,
                &output
            )
            starts &= ~0 &<< UInt64(end)
        }
    }

    /// Handles the token `base[start..<end]`.
    @inline(__always)
    mutating func word(
        _ base: UnsafeRawPointer,
        _ count: Int,
        _ start: Int,
        _ end: Int,
        odd: Bool,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        guard _fastPath(!odd) else {
            try self.oddWord(base, start, end, origin, &output)
            return
        }
        let length = end &- start
        #if arch(x86_64)
        if _fastPath(length <= 16 && start &+ 16 <= count) {
            let source = base + start
            // The word's bytes, lowercased and zero beyond its end, as the emitter's two-word short key.
            let kept = _mm_and_si128(
                _mm_or_si128(_mm_loadu_si128(source.assumingMemoryBound(to: __m128i_u.self)), _mm_set1_epi8(0x20)),
                _mm_loadu_si128((self.lengthMasks + length &* 16).assumingMemoryBound(to: __m128i_u.self))
            )
            let first = UInt64(bitPattern: _mm_cvtsi128_si64(kept))
            let second = UInt64(bitPattern: _mm_cvtsi128_si64(_mm_unpackhi_epi64(kept, kept)))
            output.emit(shortKey: first, second, length: length, self.values.value)
            return
        }
        #endif
        try self.plainWord(base, start, length, origin, &output)
    }

    /// An all-letter token too long for one vector, or at the very end of the input.
    @inline(never)
    func plainWord(
        _ base: UnsafeRawPointer,
        _ start: Int,
        _ length: Int,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        if length > output.maximumKeyBytes { throw Self.tooLong(length, at: start, origin, output) }
        let source = base + start
        output.emit(keyCapacity: length, self.values.value) { destination in
            for i in 0..<length {
                destination.storeBytes(
                    of: source.load(fromByteOffset: i, as: UInt8.self) | 0x20,
                    toByteOffset: i,
                    as: UInt8.self
                )
            }
            return length
        }
    }

    /// A token with a byte that is not an ASCII letter: non-ASCII bytes make it a Unicode token; otherwise
    /// (a digit or a control byte) it can never pass `isalpha()`, and plain ASCII needs no validation.
    @inline(never)
    mutating func oddWord(
        _ base: UnsafeRawPointer,
        _ start: Int,
        _ end: Int,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        var i = start
        while i < end {
            if base.load(fromByteOffset: i, as: UInt8.self) >= 0x80 {
                try self.unicodeToken(base, start, end, origin: origin, into: &output)
                return
            }
            i += 1
        }
        self.unemittedTokens &+= 1
    }

    /// A block holding `..`: if one starts its line, the tokens before it count, the rest of that line is
    /// skipped, and scanning resumes at the next line; otherwise the block is an ordinary one.
    @inline(never)
    mutating func blockWithDots(
        _ masks: BlockMasks,
        _ dotdot: UInt64,
        limit: Int,
        _ base: UnsafeRawPointer,
        _ count: Int,
        _ scan: inout ScanState,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        var candidates = dotdot & lowBits(limit)
        while candidates != 0 {
            let bit = candidates.trailingZeroBitCount
            if self.startsLine(base, scan.position + bit) {
                self.skippedLines &+= 1
                try self.words(masks, limit: bit, base, count, &scan, origin, &output)
                scan.position = try self.skipLine(base, from: scan.position + bit, count: count, origin: origin)
                return
            }
            candidates &= candidates - 1
        }
        try self.words(masks, limit: limit, base, count, &scan, origin, &output)
        scan.position += limit
    }

    /// The last bytes of the input, fewer than 65: scanned through a copy padded with spaces.
    @inline(never)
    mutating func finish(
        _ base: UnsafeRawPointer,
        _ count: Int,
        _ scan: inout ScanState,
        _ origin: InputOrigin,
        _ output: inout Output
    ) throws {
        var padded = (SIMD64<UInt8>(repeating: 0x20), SIMD16<UInt8>(repeating: 0x20))
        while scan.position < count {
            let available = min(64, count - scan.position)
            padded.0 = SIMD64(repeating: 0x20)
            withUnsafeMutableBytes(of: &padded) { raw in
                raw.baseAddress!.copyMemory(from: base + scan.position, byteCount: available)
            }
            let masks = withUnsafeBytes(of: &padded) { BlockMasks($0.baseAddress!) }
            let dotdot = masks.dot & masks.dot &>> 1
            if dotdot != 0 {
                try self.blockWithDots(masks, dotdot, limit: available, base, count, &scan, origin, &output)
            } else {
                try self.words(masks, limit: available, base, count, &scan, origin, &output)
                scan.position += available
            }
        }
        if scan.pendingStart >= 0 {
            try self.word(base, count, scan.pendingStart, count, odd: scan.pendingOdd, origin, &output)
            scan.pendingStart = -1
        }
    }

    /// Whether the `..` at `dot` is the start of its line once leading whitespace is stripped.
    func startsLine(_ base: UnsafeRawPointer, _ dot: Int) -> Bool {
        UnicodeWords.onlyWhitespaceBefore(base, position: dot, floor: 0)
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
        // Its scratch space would be several times its length: a token no worker holds as one key (which
        // is most of them: Unicode whitespace inside such a run is rare) stops before it is allocated.
        if length > output.maximumKeyBytes { throw Self.tooLong(length, at: start, origin, output) }
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
        var tokens = 0
        var emitted = 0
        let value = self.values.value
        let invalid = UnicodeWords.words(
            in: base,
            from: start,
            to: end,
            strict: self.strict,
            scalars: self.scalars,
            wordBytes: self.scratch,
            tokens: &tokens
        ) { word in
            emitted += 1
            output.emit(keyBytes: word, value)
        }
        if let invalid { throw Self.invalid(base, invalid, origin: origin) }
        self.unemittedTokens &+= tokens - emitted
    }

    /// A token longer than the engine takes as a key, at `offset` from `origin`: an error that says where.
    @inline(never)
    static func tooLong(_ length: Int, at offset: Int, _ origin: InputOrigin, _ output: Output) -> MapReduceError {
        MapReduceError.keyTooLong(
            length,
            limit: output.maximumKeyBytes,
            input: origin.advanced(by: offset).description
        )
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

/// What ``WordTokenizer`` emits with each word.
protocol WordValues {
    /// The value type of the emitter.
    associatedtype Value: WireCodable
    /// The value that goes with the next word.
    var value: Value { get }
}

/// Word count's value: 1 per word, a constant once the tokenizer is specialised.
struct OnePerWord: WordValues {
    var value: Int { 1 }
}

/// The `count` low bits set (all 64 for 64).
@inline(__always)
func lowBits(_ count: Int) -> UInt64 {
    count >= 64 ? ~0 : (1 << UInt64(count)) &- 1
}
