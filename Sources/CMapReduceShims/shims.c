// Most of CMapReduceShims is inline in its header; what needs a C library extension lives here.
#define _GNU_SOURCE
#include <string.h>

#include "CMapReduceShims.h"

const void *mapreduce_memrchr(const void *bytes, int byte, size_t count) {
    return memrchr(bytes, byte, count);
}
