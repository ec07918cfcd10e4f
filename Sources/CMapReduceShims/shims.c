// Most of CMapReduceShims is inline in its header; what needs a C library extension lives here.
#define _GNU_SOURCE
#include <string.h>
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

void mapreduce_keep_chunk_blocks(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 12 * 1024 * 1024);
#endif
}
