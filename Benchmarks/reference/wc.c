/*
 * wc.c: the benchmark's single-threaded C reference word counter.
 *
 * Counts words with exactly the rules of Fixtures/reference/wordcount.py and prints exactly what it
 * prints:
 *   - input is UTF-8 (strict: invalid UTF-8 is an error, exit 1), read with universal newlines: a
 *     line ends at \n, \r or \r\n;
 *   - a line is skipped when line.lstrip() starts with "..";
 *   - every ASCII punctuation character (string.punctuation) becomes a space;
 *   - words are line.split() (Python whitespace: ASCII \t\n\v\f\r, space, \x1c-\x1f and the Unicode
 *     spaces), lowercased with word.lower() (full mapping, final sigma), and kept when word.isalpha()
 *     and not a stop word.
 *
 * Usage: wc [--top N] [--output FILE] PATH...     (directories are read recursively, like os.walk)
 *
 * How it is fast: each file is mmap'ed and scanned 64 bytes at a time with SSE2. Compares build
 * bitmasks (one bit per byte, via movemask) of token bytes, letters, non-ASCII bytes and line breaks;
 * token boundaries are the transitions of the token mask, found with count-trailing-zeros. A token of
 * ASCII letters only (the vast majority) is lowercased with one OR, hashed and counted in an
 * open-addressing table whose slots keep the first 16 key bytes inline: no allocation, no per-byte
 * loop. A token holding non-ASCII bytes takes the exact path: decode, split at Unicode whitespace,
 * lowercase with the tables that generate_c_tables.py reads off Python, check isalpha. Stop words are
 * counted like any word and left out of the output.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <emmintrin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unicode_tables.h"

/* Prints "wc: <message>" on stderr and exits 1. */
static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("wc: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (!p)
        die("out of memory");
    return p;
}

/* ------------------------------------------------------------------------------------------------
 * The word table: open addressing, linear probing, power-of-two size, at most half full. A slot keeps
 * the first 16 bytes of its key inline (zero padded), so keys of up to 16 bytes (nearly all words)
 * are compared with one SSE2 compare and never touch the key arena.
 */

typedef struct {
    __m128i key;     /* first 16 bytes of the lowercased word, zero padded */
    uint64_t count;
    uint32_t len;    /* 0 = empty slot */
    uint32_t off;    /* offset of the whole key in the arena, for keys longer than 16 bytes */
} slot;

static slot *slots;
static size_t slot_mask, slot_used;
static char *arena;
static size_t arena_len, arena_cap;

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
    return h;
}

static inline uint64_t hash16(__m128i key, uint32_t len)
{
    uint64_t lo = (uint64_t)_mm_cvtsi128_si64(key);
    uint64_t hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(key, key));
    return mix(lo * 0x9E3779B97F4A7C15ull ^ (hi + len) * 0xC2B2AE3D27D4EB4Full);
}

static inline uint64_t hash_long(const uint8_t *key, uint32_t len)
{
    uint64_t h = len * 0x9E3779B97F4A7C15ull;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xC2B2AE3D27D4EB4Full;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    memcpy(&w, key + i, len - i);
    return mix((h ^ w) * 0xC2B2AE3D27D4EB4Full);
}

static inline const uint8_t *slot_key(const slot *s)
{
    return s->len <= 16 ? (const uint8_t *)&s->key : (const uint8_t *)arena + s->off;
}

static void table_init(size_t size)
{
    /* Big tables go on transparent huge pages: random probes then miss the TLB far less often. */
    size_t bytes = size * sizeof(slot), align = bytes >= (2u << 20) ? (2u << 20) : 64;
    slots = aligned_alloc(align, bytes);
    if (!slots)
        die("out of memory");
    if (align > 64)
        madvise(slots, bytes, MADV_HUGEPAGE);
    memset(slots, 0, bytes);
    slot_mask = size - 1;
    slot_used = 0;
}

static void table_grow(void)
{
    slot *old = slots;
    size_t old_size = slot_mask + 1;
    table_init(old_size * 2);
    for (size_t i = 0; i < old_size; i++) {
        if (!old[i].len)
            continue;
        uint64_t h = old[i].len <= 16 ? hash16(old[i].key, old[i].len)
                                      : hash_long(slot_key(&old[i]), old[i].len);
        size_t j = h & slot_mask;
        while (slots[j].len)
            j = (j + 1) & slot_mask;
        slots[j] = old[i];
        slot_used++;
    }
    free(old);
}

static void table_insert_new(size_t j, __m128i key, uint32_t len, const uint8_t *whole)
{
    slot *s = &slots[j];
    s->key = key;
    s->count = 1;
    s->len = len;
    s->off = 0;
    if (len > 16) {
        if (arena_len + len > UINT32_MAX)
            die("too many distinct words");
        if (arena_len + len > arena_cap) {
            arena_cap = (arena_cap + len) * 2;
            arena = xrealloc(arena, arena_cap);
        }
        memcpy(arena + arena_len, whole, len);
        s->off = (uint32_t)arena_len;
        arena_len += len;
    }
    if (++slot_used * 2 > slot_mask + 1)
        table_grow();
}

/* Counts one word of at most 16 bytes, given zero padded in an SSE register, with its hash16(). */
static inline void table_add16_hashed(__m128i key, uint32_t len, uint64_t hash)
{
    size_t j = hash & slot_mask;
    for (;;) {
        slot *s = &slots[j];
        if (s->len == len && _mm_movemask_epi8(_mm_cmpeq_epi8(s->key, key)) == 0xFFFF) {
            s->count++;
            return;
        }
        if (!s->len) {
            table_insert_new(j, key, len, NULL);
            return;
        }
        j = (j + 1) & slot_mask;
    }
}

static inline void table_add16(__m128i key, uint32_t len)
{
    table_add16_hashed(key, len, hash16(key, len));
}

/* Most lookups of a large vocabulary miss the cache. Short words are therefore queued: the slot a
 * word hashes to is prefetched when it is queued and looked up BATCH words later, so that about
 * BATCH cache misses are in flight at once instead of one. (Counting is commutative: the order of
 * the updates does not matter.) */
#define BATCH 64
static struct {
    __m128i key;
    uint64_t hash;
    uint32_t len;
} batch[BATCH];
static unsigned batch_len;

static void batch_flush(void)
{
    for (unsigned i = 0; i < batch_len; i++)
        table_add16_hashed(batch[i].key, batch[i].len, batch[i].hash);
    batch_len = 0;
}

static inline void batch_add16(__m128i key, uint32_t len)
{
    uint64_t hash = hash16(key, len);
    _mm_prefetch((const char *)&slots[hash & slot_mask], _MM_HINT_T0);
    batch[batch_len].key = key;
    batch[batch_len].hash = hash;
    batch[batch_len].len = len;
    if (++batch_len == BATCH)
        batch_flush();
}

/* Counts one word; `key` must be readable (and zero padded) up to at least 16 bytes. */
static void table_add(const uint8_t *key, uint32_t len)
{
    __m128i head = _mm_loadu_si128((const __m128i *)key);
    if (len <= 16) {
        table_add16(head, len);
        return;
    }
    size_t j = hash_long(key, len) & slot_mask;
    for (;;) {
        slot *s = &slots[j];
        if (s->len == len && memcmp(arena + s->off, key, len) == 0) {
            s->count++;
            return;
        }
        if (!s->len) {
            table_insert_new(j, head, len, key);
            return;
        }
        j = (j + 1) & slot_mask;
    }
}

/* ------------------------------------------------------------------------------------------------
 * Word paths.
 */

/* A growable scratch buffer (grows only for a token longer than any before: no per-token malloc). */
typedef struct {
    void *p;
    size_t cap;
} scratch;

static void *scratch_get(scratch *s, size_t bytes)
{
    if (bytes > s->cap) {
        s->cap = bytes * 2;
        s->p = xrealloc(s->p, s->cap);
    }
    return s->p;
}

static scratch key_buf, cp_buf, lower_buf;

/* len_mask[n]: n bytes of 0xFF then zeros, to clear what a 16-byte load read past a token. */
static uint8_t len_mask[17][16];

/* A token of ASCII letters only: lowercase (OR 0x20) and count. `safe16`: 16 bytes readable at p. */
static inline void count_ascii(const uint8_t *p, uint32_t len, int safe16)
{
    if (len <= 16 && safe16) {
        __m128i v = _mm_or_si128(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8(0x20));
        batch_add16(_mm_and_si128(v, _mm_loadu_si128((const __m128i *)len_mask[len])), len);
        return;
    }
    uint8_t *key = scratch_get(&key_buf, (size_t)len + 16);
    for (uint32_t i = 0; i < len; i++)
        key[i] = p[i] | 0x20;
    memset(key + len, 0, 16);
    table_add(key, len);
}

/* Decodes one UTF-8 character at p (at most `avail` bytes). Returns its length, or 0 if invalid:
 * overlong forms, surrogates, > U+10FFFF and truncated sequences are invalid, as in Python. */
static inline int utf8_decode(const uint8_t *p, size_t avail, uint32_t *cp)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t value;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        value = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        value = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        value = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < (size_t)len || p[1] < lo || p[1] > hi)
        return 0;
    value = (value << 6) | (p[1] & 0x3F);
    for (int i = 2; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (p[i] & 0x3F);
    }
    *cp = value;
    return len;
}

static inline uint8_t *utf8_encode(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        *out++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *out++ = (uint8_t)(0xC0 | (cp >> 6));
        *out++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = (uint8_t)(0xE0 | (cp >> 12));
        *out++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *out++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        *out++ = (uint8_t)(0xF0 | (cp >> 18));
        *out++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        *out++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *out++ = (uint8_t)(0x80 | (cp & 0x3F));
    }
    return out;
}

/* Python's final-sigma context for the capital sigma at w[i] of the word w[0..n):
 * cased case-ignorable* SIGMA !(case-ignorable* cased). */
static int final_sigma(const uint32_t *w, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && (uc_lookup(w[j - 1])->flags & UC_CASE_IGNORABLE))
        j--;
    if (j == 0 || !(uc_lookup(w[j - 1])->flags & UC_CASED))
        return 0;
    for (j = i + 1; j < n && (uc_lookup(w[j])->flags & UC_CASE_IGNORABLE); j++)
        ;
    return j == n || !(uc_lookup(w[j])->flags & UC_CASED);
}

/* One whitespace-free word of code points: word.lower(), then word.isalpha(), then count. */
static void count_code_points(const uint32_t *w, size_t n)
{
    uint32_t *lower = scratch_get(&lower_buf, (3 * n + 1) * sizeof(uint32_t));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = w[i];
        const uc_record *r = uc_lookup(cp);
        if (cp == 0x03A3) {
            lower[m++] = final_sigma(w, n, i) ? 0x03C2 : 0x03C3;
        } else if (r->flags & UC_MULTI_LOWER) {
            for (int k = 0; k < UC_MULTI_COUNT; k++)
                if (uc_multi[k].cp == cp)
                    for (int l = 0; l < uc_multi[k].count; l++)
                        lower[m++] = uc_multi[k].lower[l];
        } else {
            lower[m++] = (uint32_t)((int32_t)cp + r->lower_delta);
        }
    }
    uint8_t *key = scratch_get(&key_buf, 4 * m + 16);
    uint8_t *out = key;
    for (size_t i = 0; i < m; i++) {
        if (!(uc_lookup(lower[i])->flags & UC_ALPHA))
            return;
        out = utf8_encode(out, lower[i]);
    }
    memset(out, 0, 16);
    table_add(key, (uint32_t)(out - key));
}

/* A token holding non-ASCII bytes (already validated UTF-8): split at Unicode whitespace, then count
 * each piece exactly. */
static void count_unicode(const uint8_t *p, size_t len)
{
    uint32_t *cps = scratch_get(&cp_buf, (len + 1) * sizeof(uint32_t));
    size_t n = 0, start = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int l = utf8_decode(p + i, len - i, &cp);
        if (!l) { /* cannot happen after validation; be safe anyway */
            cp = 0xFFFD;
            l = 1;
        }
        i += l;
        if (uc_lookup(cp)->flags & UC_SPACE) {
            if (n > start)
                count_code_points(cps + start, n - start);
            start = n;
        } else {
            cps[n++] = cp;
        }
    }
    if (n > start)
        count_code_points(cps + start, n - start);
}

/* ------------------------------------------------------------------------------------------------
 * The scanner.
 */

/* Bytes that need a closer look at the start of a line: non-newline whitespace, '.', non-ASCII. */
static uint8_t line_start_interesting[256];

static void init_tables(void)
{
    for (int n = 0; n <= 16; n++)
        memset(len_mask[n], 0xFF, n);
    for (int c = 0; c < 256; c++)
        line_start_interesting[c] = c == ' ' || c == '\t' || c == '\v' || c == '\f' ||
                                    (c >= 0x1C && c <= 0x1F) || c == '.' || c >= 0x80;
}

/* Is the line starting at d[pos] skipped, i.e. does line.lstrip() start with ".."? */
static int line_skipped(const uint8_t *d, size_t n, size_t pos)
{
    size_t i = pos;
    while (i < n) {
        uint8_t c = d[i];
        if (c == ' ' || c == '\t' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1F)) {
            i++;
            continue;
        }
        if (c < 0x80)
            break;
        /* Unicode whitespace (U+0085, U+2028 too: they do not end lines in Python's file reading). */
        uint32_t cp;
        int l = utf8_decode(d + i, n - i, &cp);
        if (!l || !(uc_lookup(cp)->flags & UC_SPACE))
            return 0;
        i += l;
    }
    return i + 1 < n && d[i] == '.' && d[i + 1] == '.';
}

/* Offset of the first \n or \r at or after pos, or n. */
static size_t find_line_end(const uint8_t *d, size_t n, size_t pos)
{
    const uint8_t *lf = memchr(d + pos, '\n', n - pos);
    size_t end = lf ? (size_t)(lf - d) : n;
    const uint8_t *cr = memchr(d + pos, '\r', end - pos);
    return cr ? (size_t)(cr - d) : end;
}

/* Strict UTF-8 validation of d[pos..limit) (continuing past limit to finish the last character).
 * Returns where it stopped. */
static size_t validate_utf8(const uint8_t *d, size_t n, size_t pos, size_t limit, const char *name)
{
    while (pos < limit) {
        if (d[pos] < 0x80) {
            pos++;
            continue;
        }
        uint32_t cp;
        int l = utf8_decode(d + pos, n - pos, &cp);
        if (!l) {
            die("invalid UTF-8 in %s at offset %zu (byte 0x%02x)", name, pos, d[pos]);
        }
        pos += l;
    }
    return pos;
}

/* In-range test on 16 unsigned bytes: lo <= v <= hi, as 0xFF/0x00 lanes (two instructions). */
#define IN_RANGE(v, lo, hi) \
    _mm_cmplt_epi8(_mm_add_epi8((v), _mm_set1_epi8((char)(0x80 - (lo)))), \
                   _mm_set1_epi8((char)(0x80 + (hi) - (lo) + 1)))

typedef struct {
    uint64_t tok;    /* token bytes: not ASCII whitespace, not ASCII punctuation */
    uint64_t letter; /* A-Z a-z */
    uint64_t high;   /* >= 0x80 */
    uint64_t nl;     /* \n or \r */
} masks;

static inline void classify16(const uint8_t *p, int shift, masks *m)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i letter = IN_RANGE(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    /* Token bytes besides letters and non-ASCII: digits, controls that are not whitespace, DEL. */
    __m128i other = _mm_or_si128(_mm_or_si128(IN_RANGE(v, '0', '9'), IN_RANGE(v, 0x00, 0x08)),
                                 _mm_or_si128(IN_RANGE(v, 0x0E, 0x1B), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F))));
    __m128i nl = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
    uint64_t high = (uint64_t)(uint16_t)_mm_movemask_epi8(v);
    m->letter |= (uint64_t)(uint16_t)_mm_movemask_epi8(letter) << shift;
    m->tok |= ((uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(letter, other)) | high) << shift;
    m->high |= high << shift;
    m->nl |= (uint64_t)(uint16_t)_mm_movemask_epi8(nl) << shift;
}

/* Bits [0, i): (1 << i) - 1 for 0 <= i < 64. */
#define BELOW(i) ((1ull << (i)) - 1)

static inline void emit(const uint8_t *d, size_t n, size_t s, size_t e, uint64_t high, uint64_t bad)
{
    if (high)
        count_unicode(d + s, e - s);
    else if (!bad)
        count_ascii(d + s, (uint32_t)(e - s), s + 16 <= n);
    /* else: digits or control characters make word.isalpha() false */
}

/* Counts the words of one file's bytes d[0..n). */
static void scan(const uint8_t *d, size_t n, const char *name)
{
    uint8_t tail[64];
    uint64_t carry_tok = 0;       /* the byte before this block was a token byte */
    uint64_t carry_line = 1;      /* this block's first byte starts a line (the file's start does) */
    int pending = 0;              /* a token started in an earlier block and is still open */
    size_t token_start = 0;
    uint64_t pending_high = 0, pending_bad = 0;
    size_t skip_until = 0;        /* bytes before this offset belong to a skipped ".." line */
    size_t utf8_valid = 0;        /* bytes before this offset are validated */

    for (size_t base = 0; base < n; base += 64) {
        const uint8_t *block = d + base;
        if (n - base < 64) { /* last partial block: pad with spaces (separators) */
            memset(tail, ' ', sizeof tail);
            memcpy(tail, block, n - base);
            block = tail;
        }
        masks m = {0, 0, 0, 0};
        classify16(block, 0, &m);
        classify16(block + 16, 16, &m);
        classify16(block + 32, 32, &m);
        classify16(block + 48, 48, &m);

        if (m.high && utf8_valid < base + 64) {
            size_t from = base + __builtin_ctzll(m.high);
            utf8_valid = validate_utf8(d, n, from > utf8_valid ? from : utf8_valid,
                                       base + 64 < n ? base + 64 : n, name);
        }

        uint64_t tok = m.tok;
        if (skip_until > base) /* the rest of a skipped line from an earlier block */
            tok &= skip_until - base >= 64 ? 0 : ~BELOW(skip_until - base);

        /* Line starts: after every \n or \r (a \r\n pair yields an empty line in between, which is
         * harmless: an empty line never starts with ".."). */
        uint64_t starts_of_lines = (m.nl << 1) | carry_line;
        carry_line = m.nl >> 63;
        while (starts_of_lines) {
            unsigned i = __builtin_ctzll(starts_of_lines);
            starts_of_lines &= starts_of_lines - 1;
            size_t pos = base + i;
            if (pos >= n || !line_start_interesting[block[i]] || !line_skipped(d, n, pos))
                continue;
            skip_until = find_line_end(d, n, pos);
            uint64_t upto = skip_until - base >= 64 ? ~0ull : BELOW(skip_until - base);
            tok &= ~(upto & ~BELOW(i));
        }

        /* Token boundaries: a start is a token byte after a non-token byte, an end is the
         * non-token byte after a token byte. They alternate. */
        uint64_t previous = (tok << 1) | carry_tok;
        uint64_t starts = tok & ~previous;
        uint64_t ends = ~tok & previous;
        carry_tok = tok >> 63;
        uint64_t high = m.high & tok;
        uint64_t bad = tok & ~m.letter & ~m.high;

        if (pending) {
            if (ends) {
                unsigned e = __builtin_ctzll(ends);
                ends &= ends - 1;
                emit(d, n, token_start, base + e, pending_high | (high & BELOW(e)),
                     pending_bad | (bad & BELOW(e)));
                pending = 0;
            } else {
                pending_high |= high;
                pending_bad |= bad;
            }
        }
        while (starts) {
            unsigned s = __builtin_ctzll(starts);
            starts &= starts - 1;
            if (ends) {
                unsigned e = __builtin_ctzll(ends);
                ends &= ends - 1;
                uint64_t inside = BELOW(e) & ~BELOW(s);
                emit(d, n, base + s, base + e, high & inside, bad & inside);
            } else {
                pending = 1;
                token_start = base + s;
                pending_high = high & ~BELOW(s);
                pending_bad = bad & ~BELOW(s);
            }
        }
    }
    if (pending)
        emit(d, n, token_start, n, pending_high, pending_bad);
    batch_flush();
}

/* ------------------------------------------------------------------------------------------------
 * Files.
 */

static void count_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        die("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        die("%s: is a directory", path);
    if (S_ISREG(st.st_mode)) {
        size_t n = (size_t)st.st_size;
        if (n > 0) {
            void *map = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (map == MAP_FAILED)
                die("%s: mmap: %s", path, strerror(errno));
            madvise(map, n, MADV_SEQUENTIAL);
            scan(map, n, path);
            munmap(map, n);
        }
    } else { /* a pipe or a device: read it all */
        size_t n = 0, cap = 1 << 20;
        uint8_t *buf = xrealloc(NULL, cap);
        for (;;) {
            if (n == cap)
                buf = xrealloc(buf, cap *= 2);
            ssize_t got = read(fd, buf + n, cap - n);
            if (got < 0)
                die("%s: %s", path, strerror(errno));
            if (got == 0)
                break;
            n += (size_t)got;
        }
        scan(buf, n, path);
        free(buf);
    }
    close(fd);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* os.walk(top) with dirs.sort(), names sorted, topdown, not following symlinked directories:
 * a directory's files first, then its subdirectories in order. */
static void walk(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        die("%s: %s", dir, strerror(errno));
    char **files = NULL, **dirs = NULL;
    size_t nfiles = 0, ndirs = 0;
    struct dirent *entry;
    while ((entry = readdir(dp))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
            continue;
        size_t len = strlen(dir) + strlen(entry->d_name) + 2;
        char *path = xrealloc(NULL, len);
        snprintf(path, len, "%s/%s", dir, entry->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            struct stat lst;
            if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) { /* os.walk lists it, skips it */
                free(path);
                continue;
            }
            dirs = xrealloc(dirs, (ndirs + 1) * sizeof *dirs);
            dirs[ndirs++] = path;
        } else {
            files = xrealloc(files, (nfiles + 1) * sizeof *files);
            files[nfiles++] = path;
        }
    }
    closedir(dp);
    qsort(files, nfiles, sizeof *files, compare_names);
    qsort(dirs, ndirs, sizeof *dirs, compare_names);
    for (size_t i = 0; i < nfiles; i++) {
        count_file(files[i]);
        free(files[i]);
    }
    for (size_t i = 0; i < ndirs; i++) {
        walk(dirs[i]);
        free(dirs[i]);
    }
    free(files);
    free(dirs);
}

/* ------------------------------------------------------------------------------------------------
 * Output, exactly as wordcount.py prints it.
 */

static const char *const stop_words[] = {"a",  "an", "and", "are", "as", "be",   "by", "for", "if",  "in",
                                         "is", "it", "of",  "or",  "py", "rst", "that", "the", "to", "with"};

static int is_stop_word(const slot *s)
{
    if (s->len > 4)
        return 0;
    for (size_t i = 0; i < sizeof stop_words / sizeof *stop_words; i++)
        if (strlen(stop_words[i]) == s->len && memcmp(stop_words[i], slot_key(s), s->len) == 0)
            return 1;
    return 0;
}

/* Python compares str by code point, which for UTF-8 is the byte order. */
static int compare_keys(const slot *a, const slot *b)
{
    uint32_t len = a->len < b->len ? a->len : b->len;
    int c = memcmp(slot_key(a), slot_key(b), len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int by_word(const void *a, const void *b)
{
    return compare_keys(*(const slot *const *)a, *(const slot *const *)b);
}

static int by_count_then_word(const void *a, const void *b)
{
    const slot *x = *(const slot *const *)a, *y = *(const slot *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return compare_keys(x, y);
}

/* Puts the k first words in (-count, word) order into words[0..k), in order: a bounded heap whose
 * root is the worst of the k best so far, then a sort of those k. */
static void sift_down(slot **heap, size_t k, size_t i)
{
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < k && by_count_then_word(&heap[l], &heap[worst]) > 0)
            worst = l;
        if (r < k && by_count_then_word(&heap[r], &heap[worst]) > 0)
            worst = r;
        if (worst == i)
            return;
        slot *t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

static void select_first(slot **words, size_t n, size_t k)
{
    if (k == 0)
        return;
    if (k < n) {
        for (size_t i = k / 2; i-- > 0;)
            sift_down(words, k, i);
        for (size_t i = k; i < n; i++) {
            if (by_count_then_word(&words[i], &words[0]) < 0) {
                words[0] = words[i];
                sift_down(words, k, 0);
            }
        }
    }
    qsort(words, k, sizeof *words, by_count_then_word);
}

static size_t code_points(const slot *s)
{
    size_t count = 0;
    const uint8_t *key = slot_key(s);
    for (uint32_t i = 0; i < s->len; i++)
        count += (key[i] & 0xC0) != 0x80;
    return count;
}

static void report(long top, const char *output)
{
    size_t nwords = 0;
    slot **words = xrealloc(NULL, (slot_used + 1) * sizeof *words);
    for (size_t i = 0; i <= slot_mask; i++)
        if (slots[i].len && !is_stop_word(&slots[i]))
            words[nwords++] = &slots[i];

    if (output) {
        FILE *f = fopen(output, "w");
        if (!f)
            die("%s: %s", output, strerror(errno));
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        qsort(words, nwords, sizeof *words, by_word);
        for (size_t i = 0; i < nwords; i++) {
            fwrite(slot_key(words[i]), 1, words[i]->len, f);
            fprintf(f, "\t%llu\n", (unsigned long long)words[i]->count);
        }
        if (fclose(f) != 0)
            die("%s: %s", output, strerror(errno));
    }

    /* word_counts[:top] after sorting by (-count, word), with Python's slice semantics for a
     * negative top. Only the first `shown` words need to be in order. */
    size_t shown = top >= 0 ? ((size_t)top < nwords ? (size_t)top : nwords)
                            : ((size_t)-top < nwords ? nwords - (size_t)-top : 0);
    select_first(words, nwords, shown);
    printf("\nTOP %ld WORDS BY FREQUENCY\n\n", top);
    size_t longest = 0;
    for (size_t i = 0; i < shown; i++)
        if (code_points(words[i]) > longest)
            longest = code_points(words[i]);
    for (size_t i = 0; i < shown; i++) {
        fwrite(slot_key(words[i]), 1, words[i]->len, stdout);
        for (size_t pad = code_points(words[i]); pad < longest + 1; pad++)
            putchar(' ');
        printf(": %5llu\n", (unsigned long long)words[i]->count);
    }
    free(words);
}

/* ------------------------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: wc [--top N] [--output FILE] PATH...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long top = 20;
    const char *output = NULL;
    char **paths = xrealloc(NULL, (size_t)argc * sizeof *paths);
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        if (!strcmp(arg, "--top") || !strcmp(arg, "--output")) {
            if (i + 1 >= argc)
                usage();
            value = argv[++i];
        } else if (!strncmp(arg, "--top=", 6) || !strncmp(arg, "--output=", 9)) {
            value = strchr(arg, '=') + 1;
        } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage();
        } else if (arg[0] == '-' && arg[1]) {
            usage();
        } else {
            paths[npaths++] = argv[i];
            continue;
        }
        if (!strncmp(arg, "--top", 5)) {
            char *end;
            top = strtol(value, &end, 10);
            if (!*value || *end)
                usage();
        } else {
            output = value;
        }
    }
    if (!npaths)
        usage();

    init_tables();
    table_init(1 << 16);
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            walk(paths[i]);
        else
            count_file(paths[i]);
    }
    report(top, output);
    return 0;
}
