#ifndef CMAPREDUCE_SHIMS_H
#define CMAPREDUCE_SHIMS_H

// The few machine instructions Swift cannot spell (inline here, in the Swift callers) and one C
// library extension the Swift overlay does not expose (in shims.c).

/// Asks the CPU to bring the cache line holding `address` into L1 for reading (a hint; never faults).
static inline __attribute__((always_inline)) void mapreduce_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// The last `byte` in the `count` bytes at `bytes`, or NULL: the C library's `memrchr`, a GNU
/// extension the Swift overlay does not expose.
const void *mapreduce_memrchr(const void *bytes, int byte, unsigned long count);

#endif
