/// Python's character properties as word count's generated tables hold them, for the slow reference
/// tokenizer of the libFuzzer target in `Fuzz/` (a separate package, so only public declarations reach
/// it). Not part of the API: the names and signatures may change with the fuzz targets.
@_spi(Fuzzing)
public enum WordCountFuzzing {
    /// One code point's properties, as Python 3.11 (Unicode 14.0) has them.
    public struct Properties: Equatable, Sendable {
        /// `str.isalpha()`.
        public var isAlpha: Bool
        /// `str.isspace()`.
        public var isSpace: Bool
        /// Cased, for the final-sigma context.
        public var isCased: Bool
        /// Case-ignorable, for the final-sigma context.
        public var isCaseIgnorable: Bool
        /// `str.lower()` of the code point alone (its full mapping; capital sigma gives small sigma).
        public var lowercase: [UInt32]
    }

    /// The properties of `scalar`, read from ``UnicodeTables``.
    public static func properties(of scalar: Unicode.Scalar) -> Properties {
        let value = scalar.value
        let record = UnicodeWords.record(value)
        let flags = UnicodeTables.recordFlags[record]
        let lowercase: [UInt32]
        if flags & UnicodeTables.specialLower != 0 {
            lowercase = UnicodeTables.specialLowercase[value] ?? [value]
        } else {
            lowercase = [UInt32(Int64(value) + Int64(UnicodeTables.recordLowerDelta[record]))]
        }
        return Properties(
            isAlpha: flags & UnicodeTables.alpha != 0,
            isSpace: flags & UnicodeTables.space != 0,
            isCased: flags & UnicodeTables.cased != 0,
            isCaseIgnorable: flags & UnicodeTables.caseIgnorable != 0,
            lowercase: lowercase
        )
    }
}
