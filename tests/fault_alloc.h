/* fault_alloc.h — the allocation fault injector of the test build (tests/fault_alloc.cc;
 * never in libember.so). */
#ifndef EMBER_TESTS_FAULT_ALLOC_H
#define EMBER_TESTS_FAULT_ALLOC_H

#ifdef __cplusplus
extern "C" {
#endif

/* From now on, count heap allocations (operator new, and malloc/calloc/realloc/
 * aligned_alloc/posix_memalign called by the static core) from 1; allocation number
 * `fail_at` fails (operator new throws std::bad_alloc, the C functions return NULL), and
 * with `persistent` every later one too. fail_at 0 only counts. */
void fault_alloc_arm(long fail_at, int persistent);

/* Stops failing; returns the number of allocations seen since arming and stores the
 * number refused in *failed (may be NULL). */
long fault_alloc_disarm(long *failed);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_TESTS_FAULT_ALLOC_H */
