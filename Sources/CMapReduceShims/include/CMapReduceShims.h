#ifndef CMAPREDUCE_SHIMS_H
#define CMAPREDUCE_SHIMS_H

// The few machine instructions Swift cannot spell (inline here, in the Swift callers) and the C
// library extensions the Swift overlay does not expose (in shims.c).

/// Asks the CPU to bring the cache line holding `address` into L1 for reading (a hint; never faults).
static inline __attribute__((always_inline)) void mapreduce_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// The last `byte` in the `count` bytes at `bytes`, or NULL: the C library's `memrchr`, a GNU
/// extension the Swift overlay does not expose.
const void *mapreduce_memrchr(const void *bytes, int byte, unsigned long count);

/// Makes the C library allocator map every block of 256 KiB or more on its own, and unmap it when it
/// is freed: glibc's `mallopt(M_MMAP_THRESHOLD)`, which also stops the threshold from moving. By
/// default glibc raises the threshold to the size of each large block freed (up to 32 MiB), and such
/// blocks then come from its heap and stay with the process when freed; a worker that runs many
/// reduce tasks, each with its own tables and sort arrays, kept fragments of them all. Nothing
/// elsewhere than glibc.
void mapreduce_return_large_blocks_on_free(void);

/// The opposite, for the processes that ship chunks to and from peers (the coordinator of a cluster
/// job, a peer server): blocks of up to 8 MiB come from the heap and stay with the process when
/// freed, up to 12 MiB, so that the few-megabyte chunk and frame buffers of every message reuse the
/// same pages instead of being mapped, faulted in and zeroed again each time. Nothing elsewhere than
/// glibc.
void mapreduce_keep_chunk_blocks(void);

/// The line terminators among the `count` bytes at `bytes` under universal newlines: every `\n`, and
/// every `\r` not followed by `\n` (a `\r\n` counts once, at its `\n`). Reads `bytes[count]` too, which
/// must be readable when `bytes[count - 1]` is `\r`. Vectorised: it runs at memory speed.
unsigned long mapreduce_count_line_terminators(const void *bytes, unsigned long count);

/// Adds to `actions` the closing, in the child, of every descriptor from `lowest` up: glibc's
/// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Swift overlay does not expose.
/// Unlike a list made by scanning `/proc/self/fd` before the spawn, it also covers a descriptor that
/// another thread opens in the meantime. Returns 0, or an error number (`ENOSYS` where the C library
/// lacks it).
int mapreduce_spawn_close_from(void *actions, int lowest);

#endif
