#!/usr/bin/env python3
"""Deterministic benchmark corpus generator: real English text from Debian packages, shuffled and laid
out in several shapes.

Sources (public domain or freely redistributable, installed with apt-get when missing):
  - the King James Bible, Genesis to Revelation   (bible-kjv: `bible "gen1:1-rev22:21"`)
  - the Jargon File 4.4.7                          (jargon-text)
  - The Devil's Dictionary, Ambrose Bierce         (dict-devil)
  - the GNU Collaborative International Dictionary of English (dict-gcide), with its dictd markup
    turned back into text: source tags and pronunciation keys dropped, accent entities such as
    [=a] ['e] [ae] [alpha] replaced by the Unicode characters they stand for. It gives the corpus a
    large, realistic vocabulary and a sprinkling of non-ASCII words (é, æ, Greek, U+00A0).

Every source is split into paragraphs (blank-line separated; Bible verses for the KJV). A splitmix64
generator with a fixed seed shuffles the paragraphs (one fresh permutation per pass over all of them)
and the paragraphs are concatenated, separated by one blank line, until the target size. The
generator, not Python's `random`, makes the choices, so the bytes do not depend on the Python version.

Shapes written under --out (all from the same text; every file is valid UTF-8 and ends at a line end):
  many-files/part-NNNN.txt  files of 100 KiB .. 1 MiB (sizes drawn from the seeded generator)
  one-file/corpus.txt       exactly the bytes of many-files/ concatenated in order
  few-large/part-N.txt      4 files of about size/4
  one-line/line.txt         the same text with every line break replaced by a space: one line
  small/part-NNNN.txt       a --small-size corpus (many-files shape) for the slow Python reference

Nothing is rewritten when stamp.json records the same parameters, generator and source versions.

Usage: generate.py [--out DIR] [--size 256M] [--small-size 16M] [--seed N] [--force]
"""
import argparse
import codecs
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

KIB = 1024
MIB = 1024 * 1024
DEFAULT_SEED = 20240613
FILE_MIN, FILE_MAX = 100 * KIB, 1 * MIB
FEW_LARGE_FILES = 4
PACKAGES = ["bible-kjv", "jargon-text", "dict-devil", "dict-gcide"]
JARGON = "/usr/share/doc/jargon-text/jargon.txt.gz"
DEVIL = "/usr/share/dictd/devil.dict.dz"
GCIDE = "/usr/share/dictd/gcide.dict.dz"


def log(message):
    print("generate.py: " + message, file=sys.stderr, flush=True)


def parse_size(text):
    """'256M' -> 268435456; suffixes K, M, G are powers of 1024, a bare number is bytes."""
    match = re.fullmatch(r"(\d+)([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError("bad size %r (use e.g. 65536, 512K, 256M)" % text)
    return int(match.group(1)) * {"": 1, "K": KIB, "M": MIB, "G": 1024 * MIB}[match.group(2).upper()]


# ---------------------------------------------------------------------------------------------------
# Deterministic randomness


class SplitMix64:
    """splitmix64 (Steele, Lea, Flood): tiny, fast enough, and identical everywhere."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        """An integer in [0, n). The modulo bias (< n / 2**64) is irrelevant here."""
        return self.next() % n

    def shuffle(self, items):
        """Fisher-Yates, in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


# ---------------------------------------------------------------------------------------------------
# Sources


def ensure_packages():
    """apt-get install the source packages that are missing (needs root, as on the project machines)."""
    missing = []
    for package in PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                                capture_output=True, text=True)
        if "install ok installed" not in status.stdout:
            missing.append(package)
    if missing:
        log("installing %s with apt-get" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env=env, stdout=subprocess.DEVNULL)


def package_versions():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\n"] + PACKAGES,
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _cp1252_fallback(error):
    """Decoding error handler: read the bytes that are not UTF-8 as cp1252."""
    return error.object[error.start:error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error("generate-cp1252", _cp1252_fallback)


def decode(data):
    """UTF-8 (the odd stray byte, like GCIDE's three cp1252 apostrophes, read as cp1252), with every
    line break made a \\n."""
    text = data.decode("utf-8", errors="generate-cp1252")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def blank_line_paragraphs(text):
    """Paragraphs separated by blank lines, trailing spaces of each line removed."""
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in block.split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if lines:
            paragraphs.append("\n".join(lines))
    return paragraphs


def drop_dictd_headers(text):
    """dictd databases start with '00-database-...' records; the body starts after the last one."""
    paragraphs = blank_line_paragraphs(text)
    return [p for p in paragraphs if not p.startswith("00-database") and not p.startswith("00database")]


def kjv_paragraphs():
    text = subprocess.run(["bible", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                          capture_output=True, check=True).stdout
    paragraphs = []
    # Chapter headings ("Genesis 1") stand alone; every verse ("  1 In the beginning ...") is one.
    for chapter in blank_line_paragraphs(decode(text)):
        verses = re.split(r"\n(?=\s+\d+ )", chapter)
        paragraphs.extend(verse.strip("\n") for verse in verses if verse.strip())
    return paragraphs


def jargon_paragraphs():
    with gzip.open(JARGON, "rb") as f:
        return blank_line_paragraphs(decode(f.read()))


def devil_paragraphs():
    with gzip.open(DEVIL, "rb") as f:
        return drop_dictd_headers(decode(f.read()))


# GCIDE's dictd text spells accented letters and symbols as bracketed entities; these are the ones
# that occur often enough to matter. Entities not listed are left as they are (mostly plain words).
_GCIDE_ACCENTS = {                        # mark before the letter: [=a] ['e] [^o] ...
    "=": ("aeiouyAEIOU", "āēīōūȳĀĒĪŌŪ"),   # macron
    "'": ("aeiouyEAO", "áéíóúýÉÁÓ"),       # acute
    "`": ("aeiou", "àèìòù"),               # grave
    '"': ("aeiouy", "äëïöüÿ"),             # diaeresis
    "~": ("aenoA", "ãẽñõÃ"),               # tilde
    "^": ("aeiou", "âêîôû"),               # circumflex
    ".": ("auhmnrtsz", "ȧuḥṃṇṛṭṣż"),       # dot (above for a, below for Sanskrit consonants)
}
_GCIDE_ENTITIES = {
    "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "=ae": "ǣ", "=oo": "ōō", "oo^": "ŏŏ", "imac": "ī",
    "aum": "ä", "add": "ä", "asl": "a", "udd": "ü", "eth": "ð", "thorn": "þ", "yogh": "ȝ", "ng": "ŋ",
    "th": "th", ",c": "ç", "*a": "a", "*u": "u", "-a": "a", "-e": "e", "-i": "i", "-o": "o", "-u": "u",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
    "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "sigmat": "ς", "tau": "τ", "upsilon": "υ",
    "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "digamma": "ϝ",
    "root": "√", "cuberoot": "∛", "deg": "°", "sect": "§", "para": "¶", "pounds": "£", "middot": "·",
    "times": "×", "div": "÷", "divby": "÷", "nbsp": "\u00a0", "ldqo": "“", "rdqo": "”", "dagger": "†",
    "dag": "†", "flat": "♭", "sharp": "♯", "hand": "☞", "rarr": "→", "min": "′", "sec": "″",
    "bprime": "″", "filig": "ﬁ", "ffllig": "ﬄ", "crescent": "☾", "asterism": "⁂", "bar": "|",
    "break": " ", "ounceap": "℥",
}
for _mark, (_plain, _accented) in _GCIDE_ACCENTS.items():
    for _letter, _char in zip(_plain, _accented):
        _GCIDE_ENTITIES.setdefault(_mark + _letter, _char)
for _letter, _char in zip("aeiouy", "ăĕĭŏŭy"):              # breve: mark after the letter, [a^]
    _GCIDE_ENTITIES.setdefault(_letter + "^", _char)


def _gcide_entity(match):
    """One [name] entity to its character(s); unknown names (mostly plain bracketed words) stay."""
    return _GCIDE_ENTITIES.get(match.group(1), match.group(0))


_SOURCE_TAG = r"\[[^\]\n]*(?:Webster|WordNet|PJC|Century Dict|RDH|\bAS\b)[^\]\n]*\]"


def gcide_paragraphs():
    with gzip.open(GCIDE, "rb") as f:
        text = decode(f.read())
    text = re.sub(r"<[^<>\n]{1,60}>", " ", text)                  # XML-ish tags, e-mail addresses
    text = re.sub(r"&[A-Za-z]{1,10};", " ", text)                 # stray SGML entities
    text = re.sub(r"(?m)^[ \t]*" + _SOURCE_TAG + r"[ \t]*\n", "", text)   # "[1913 Webster]" lines
    text = re.sub(r"[ \t]*" + _SOURCE_TAG, "", text)
    text = re.sub(r"\\[^\\\n]{1,80}\\", "", text)                 # pronunciation keys \Af*fect"\
    text = re.sub(r"\[([^\[\]\s]{1,8})\]", _gcide_entity, text)   # accent and symbol entities
    text = text.replace("{", "").replace("}", "")                 # cross-reference braces
    paragraphs = drop_dictd_headers(text)
    # The GPL notice and the file banners are not dictionary text.
    return [p for p in paragraphs
            if "Begin file" not in p and "GNU General Public License" not in p and "*  *  *" not in p]


def load_paragraphs():
    """All source paragraphs, each encoded once as UTF-8 (bytes) and followed by a blank line."""
    started = time.perf_counter()
    sources = [("kjv", kjv_paragraphs()), ("jargon", jargon_paragraphs()),
               ("devil", devil_paragraphs()), ("gcide", gcide_paragraphs())]
    paragraphs = []
    for name, items in sources:
        encoded = [(p + "\n\n").encode("utf-8") for p in items]
        log("%-6s %7d paragraphs, %5.1f MB" % (name, len(encoded), sum(map(len, encoded)) / 1e6))
        paragraphs.extend(encoded)
    log("sources read in %.1f s" % (time.perf_counter() - started))
    return paragraphs


# ---------------------------------------------------------------------------------------------------
# Layout


def text_of_size(paragraphs, size, seed):
    """Shuffled paragraphs, pass after pass, cut at the last line end before `size` and padded with
    newlines (blank lines) to exactly `size` bytes."""
    rng = SplitMix64(seed)
    order = list(range(len(paragraphs)))
    pieces, total = [], 0
    while total < size:
        rng.shuffle(order)
        for index in order:
            pieces.append(paragraphs[index])
            total += len(paragraphs[index])
            if total >= size:
                break
    text = b"".join(pieces)
    cut = text.rfind(b"\n", 0, size) + 1
    return text[:cut] + b"\n" * (size - cut)


def cut_points(text, sizes):
    """End offsets of consecutive pieces of about the given sizes, each moved back to a line end."""
    ends, position = [], 0
    for size in sizes[:-1]:
        target = position + size
        end = text.rfind(b"\n", position, target) + 1
        if end <= position:              # no line end in range: cut between two UTF-8 characters
            end = target
            while text[end] & 0xC0 == 0x80:
                end -= 1
        ends.append(end)
        position = end
    ends.append(len(text))
    return ends


def many_file_sizes(total, seed):
    """File sizes uniform in [FILE_MIN, FILE_MAX] until `total`; a short last piece joins the one
    before it."""
    rng = SplitMix64(seed ^ 0x5F17E5)
    sizes, remaining = [], total
    while remaining > 0:
        size = min(FILE_MIN + rng.below(FILE_MAX - FILE_MIN + 1), remaining)
        sizes.append(size)
        remaining -= size
    if len(sizes) > 1 and sizes[-1] < FILE_MIN:
        sizes[-2] += sizes.pop()
    return sizes


def write_pieces(text, directory, ends, name_format):
    os.makedirs(directory)
    start = 0
    for index, end in enumerate(ends):
        with open(os.path.join(directory, name_format % index), "wb") as f:
            f.write(text[start:end])
        start = end


def write_file(path, data):
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(data)


def generate(out, size, small_size, seed, stamp):
    paragraphs = load_paragraphs()
    for shape in ("many-files", "one-file", "few-large", "one-line", "small"):
        shutil.rmtree(os.path.join(out, shape), ignore_errors=True)

    started = time.perf_counter()
    text = text_of_size(paragraphs, size, seed)
    text.decode("utf-8")                 # every output must be valid UTF-8 (raises otherwise)
    many = cut_points(text, many_file_sizes(size, seed))
    write_pieces(text, os.path.join(out, "many-files"), many, "part-%04d.txt")
    write_file(os.path.join(out, "one-file", "corpus.txt"), text)
    few = cut_points(text, [size // FEW_LARGE_FILES] * FEW_LARGE_FILES)
    write_pieces(text, os.path.join(out, "few-large"), few, "part-%d.txt")
    write_file(os.path.join(out, "one-line", "line.txt"), text.replace(b"\n", b" "))
    digest = hashlib.sha256(text).hexdigest()
    del text

    # The small corpus comes from the same seed: it is the big text cut short (at a line end).
    small = text_of_size(paragraphs, small_size, seed)
    small.decode("utf-8")
    small_ends = cut_points(small, many_file_sizes(small_size, seed))
    write_pieces(small, os.path.join(out, "small"), small_ends, "part-%04d.txt")
    log("wrote %d + %d files in %.1f s (%d many-files, sha256 %s)"
        % (len(many) + len(few) + 2, len(small_ends), time.perf_counter() - started, len(many), digest[:16]))
    stamp = dict(stamp, sha256=digest, many_files=len(many))
    with open(os.path.join(out, "stamp.json"), "w") as f:
        json.dump(stamp, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "corpora", "256M"),
                        help="output directory (default: Benchmarks/corpora/256M)")
    parser.add_argument("--size", type=parse_size, default=parse_size("256M"))
    parser.add_argument("--small-size", type=parse_size, default=parse_size("16M"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="regenerate even if the stamp matches")
    args = parser.parse_args()
    out = os.path.abspath(args.out)

    ensure_packages()
    with open(os.path.abspath(__file__), "rb") as f:
        generator = hashlib.sha256(f.read()).hexdigest()
    stamp = {"size": args.size, "small_size": args.small_size, "seed": args.seed,
             "generator": generator, "packages": package_versions()}
    stamp_path = os.path.join(out, "stamp.json")
    if not args.force and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            old = json.load(f)
        if {k: old.get(k) for k in stamp} == stamp:
            log("%s is up to date" % out)
            return
    if os.path.exists(stamp_path):
        os.remove(stamp_path)            # a half-written corpus must never look up to date
    os.makedirs(out, exist_ok=True)
    log("generating %s (size %d, small %d, seed %d)" % (out, args.size, args.small_size, args.seed))
    generate(out, args.size, args.small_size, args.seed, stamp)


if __name__ == "__main__":
    main()
