#ifndef CMAPREDUCE_SHIMS_H
#define CMAPREDUCE_SHIMS_H

// The few machine instructions Swift cannot spell: header-only, inlined into the Swift callers.

/// Asks the CPU to bring the cache line holding `address` into L1 for reading (a hint; never faults).
static inline __attribute__((always_inline)) void mapreduce_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
