/* oomroute: sends SQLite's and libuv's allocations through common/alloc,
 * so that alloc_fail_after() fails theirs too, as libuv's
 * test/test-loop-oom.c does with its own allocator.
 *
 * Test builds only. Call oomroute_install() first thing in main(), before
 * any SQLite or libuv call: SQLite takes a new allocator only before it
 * initialises, and memory libuv allocated before the switch would be
 * freed through the new one. */
#ifndef EDUWATCH_OOMROUTE_H
#define EDUWATCH_OOMROUTE_H

/* 0, or a negative errno when a library refused the allocator. */
int oomroute_install(void);

#endif
