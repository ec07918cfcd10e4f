"""Python's own character properties for the word-count rules, shared by the Swift and C table generators.

For every code point c:
  alpha            chr(c).isalpha()
  space            chr(c).isspace()                  (what str.split() and str.lstrip() use)
  lower            chr(c).lower(): a delta when it is one character, else flagged SPECIAL_LOWER
  cased            "cased and not case-ignorable":   ('A\u03a3' + c).lower()[1] == '\u03c3'
  case-ignorable   not the above, but                ('A\u03a3' + c + 'B').lower()[1] == '\u03c3'
The last two are what Python's final-sigma rule asks of the characters around a capital sigma.
Reading them off the interpreter, rather than off the Unicode data files, makes the tables agree with
the Python reference by construction.
"""

ALPHA, SPACE, CASED, CASE_IGNORABLE, SPECIAL_LOWER = 1, 2, 4, 8, 16
BLOCK = 256


def properties(cp):
    """(flags, lowercase delta) of one code point."""
    ch = chr(cp)
    flags = 0
    if ch.isalpha():
        flags |= ALPHA
    if ch.isspace():
        flags |= SPACE
    lowered = ch.lower()
    delta = 0
    if len(lowered) == 1:
        delta = ord(lowered) - cp
    else:
        flags |= SPECIAL_LOWER
    if 0xD800 <= cp <= 0xDFFF:
        return flags, delta
    if ("A\u03a3" + ch).lower()[1] == "\u03c3":
        flags |= CASED
    elif ("A\u03a3" + ch + "B").lower()[1] == "\u03c3":
        flags |= CASE_IGNORABLE
    return flags, delta


def two_stage_tables():
    """The properties of all code points as two-stage tables.

    Returns (stage1, blocks, records, specials): stage1[cp >> 8] is a block number; blocks[b][cp & 255]
    an index into records, the distinct (flags, delta) pairs; specials maps the code points whose
    lowercase is longer than one character to that lowercase, as code points.
    """
    records, record_index = [(0, 0)], {(0, 0): 0}
    blocks, block_index = [], {}
    stage1, specials = [], {}
    for start in range(0, 0x110000, BLOCK):
        block = []
        for cp in range(start, start + BLOCK):
            record = properties(cp)
            if record[0] & SPECIAL_LOWER:
                specials[cp] = [ord(c) for c in chr(cp).lower()]
            if record not in record_index:
                record_index[record] = len(records)
                records.append(record)
            block.append(record_index[record])
        key = tuple(block)
        if key not in block_index:
            block_index[key] = len(blocks)
            blocks.append(block)
        stage1.append(block_index[key])
    return stage1, blocks, records, specials
