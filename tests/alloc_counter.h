/* alloc_counter.h — counts every heap allocation of the process (any thread), for the
 * tests that prove a planned run allocates nothing. Include it in exactly one file of a
 * test program; it defines malloc/calloc/realloc/aligned_alloc/posix_memalign, which
 * interpose libc's for libember.so too. Not usable under sanitizers, which own malloc.
 * Set g_counting = 1 around the code under test and read g_allocs. */
#ifndef EMBER_TESTS_ALLOC_COUNTER_H
#define EMBER_TESTS_ALLOC_COUNTER_H

#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static volatile int g_counting;
static volatile long g_allocs;

#define EMBER_COUNT_ALLOC() \
    do { if (g_counting) __atomic_add_fetch(&g_allocs, 1, __ATOMIC_RELAXED); } while (0)

/* Default visibility: the tests build with -fvisibility=hidden, and a hidden malloc would
 * not interpose the one libember.so calls. */
__attribute__((visibility("default"))) void *malloc(size_t n) {
    EMBER_COUNT_ALLOC();
    return __libc_malloc(n);
}
__attribute__((visibility("default"))) void *calloc(size_t a, size_t b) {
    EMBER_COUNT_ALLOC();
    return __libc_calloc(a, b);
}
__attribute__((visibility("default"))) void *realloc(void *p, size_t n) {
    EMBER_COUNT_ALLOC();
    return __libc_realloc(p, n);
}
__attribute__((visibility("default"))) void *aligned_alloc(size_t al, size_t n) {
    EMBER_COUNT_ALLOC();
    return __libc_memalign(al, n);
}
__attribute__((visibility("default"))) int posix_memalign(void **out, size_t al, size_t n) {
    EMBER_COUNT_ALLOC();
    *out = __libc_memalign(al, n);
    return *out ? 0 : 12;
}

#endif /* EMBER_TESTS_ALLOC_COUNTER_H */
