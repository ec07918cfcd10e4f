// Most of CMapReduceShims is inline in its header; what needs a C library extension lives here.
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "CMapReduceShims.h"

const void *mapreduce_memrchr(const void *bytes, int byte, size_t count) {
    return memrchr(bytes, byte, count);
}

void mapreduce_return_large_blocks_on_free(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

int mapreduce_spawn_close_from(void *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, lowest);
#else
    (void)actions;
    (void)lowest;
    return ENOSYS;
#endif
}

void mapreduce_keep_chunk_blocks(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 12 * 1024 * 1024);
#endif
}

/// The `\n` and `\r` bytes in `count` bytes, in one pass: SSE2 compares accumulated per byte lane,
/// folded every 255 vectors (before a lane can overflow) with `psadbw`.
static void count_terminator_bytes(const uint8_t *p, unsigned long count, unsigned long *newlines,
                                   unsigned long *returns) {
    unsigned long n = 0, r = 0, i = 0;
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
    while (i + 16 <= count) {
        __m128i lanesN = zero, lanesR = zero;
        unsigned long end = i + 255 * 16 <= count ? i + 255 * 16 : count - (count - i) % 16;
        for (; i < end; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            lanesN = _mm_sub_epi8(lanesN, _mm_cmpeq_epi8(v, lf));
            lanesR = _mm_sub_epi8(lanesR, _mm_cmpeq_epi8(v, cr));
        }
        __m128i sumsN = _mm_sad_epu8(lanesN, zero), sumsR = _mm_sad_epu8(lanesR, zero);
        n += (unsigned long)_mm_cvtsi128_si32(sumsN) + (unsigned long)_mm_cvtsi128_si32(_mm_srli_si128(sumsN, 8));
        r += (unsigned long)_mm_cvtsi128_si32(sumsR) + (unsigned long)_mm_cvtsi128_si32(_mm_srli_si128(sumsR, 8));
    }
#endif
    for (; i < count; i++) {
        n += p[i] == '\n';
        r += p[i] == '\r';
    }
    *newlines = n;
    *returns = r;
}

unsigned long mapreduce_count_line_terminators(const void *bytes, unsigned long count) {
    const uint8_t *p = bytes;
    unsigned long lines, returns;
    count_terminator_bytes(p, count, &lines, &returns);
    // Most text has no carriage return: only text that has some pays for finding the lone ones.
    if (returns == 0) return lines;
    for (unsigned long i = 0; i < count; i++) {
        if (p[i] == '\r' && p[i + 1] != '\n') lines++;
    }
    return lines;
}
