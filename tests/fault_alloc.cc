// fault_alloc.cc — the allocation fault injector of tests/test_alloc_faults.c: makes the
// N-th heap allocation fail, the way SQLite's malloc tests do (STYLE.md §6).
//
// Nothing of it is in libember.so, so no release caller can reach it: the test links the
// static core (ember_core) and
//   - replaces the global operator new / new[] (all forms, aligned and nothrow): a
//     program may do so (C++17 [replacement.functions]), and the replacement serves the
//     whole process, libstdc++'s own allocations (std::string growth...) included;
//   - wraps malloc, calloc, realloc, aligned_alloc and posix_memalign with the linker's
//     --wrap (tests/CMakeLists.txt): every call *in the statically linked objects* (the
//     core's aligned_alloc of arenas, tensors and model copies, calloc of the key/value
//     caches) goes to __wrap_X, which fails or calls the real one (AddressSanitizer's
//     under ASan, so LeakSanitizer still sees every block). Libraries linked dynamically
//     (Debian's libstb, libc itself) keep the real malloc.
// Counting is global (all threads); the thread pool's workers do not allocate.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "fault_alloc.h"

extern "C" {
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t al, size_t n);
int __real_posix_memalign(void **out, size_t al, size_t n);
}

namespace {

std::atomic<long> g_count{0};     // allocations seen since fault_alloc_arm
std::atomic<int> g_armed{0};      // 1: counting (between fault_alloc_arm and _disarm)
std::atomic<long> g_fail_at{0};   // 0: count only; otherwise the 1-based allocation that fails
std::atomic<int> g_persistent{0}; // 1: every allocation from g_fail_at on fails
std::atomic<long> g_failed{0};    // allocations refused since fault_alloc_arm

// True when this allocation must fail.
bool should_fail() {
    if (!g_armed.load(std::memory_order_relaxed)) return false;
    long n = g_count.fetch_add(1, std::memory_order_relaxed) + 1;
    long at = g_fail_at.load(std::memory_order_relaxed);
    bool fail = at > 0 && (g_persistent.load(std::memory_order_relaxed) ? n >= at : n == at);
    if (fail) g_failed.fetch_add(1, std::memory_order_relaxed);
    return fail;
}

void *new_impl(size_t n) {
    if (should_fail()) throw std::bad_alloc();
    void *p = __real_malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    return p;
}

void *new_aligned_impl(size_t n, std::align_val_t al) {
    if (should_fail()) throw std::bad_alloc();
    void *p = nullptr;
    size_t a = static_cast<size_t>(al) < sizeof(void *) ? sizeof(void *) : static_cast<size_t>(al);
    if (__real_posix_memalign(&p, a, n ? n : 1) != 0) throw std::bad_alloc();
    return p;
}

}  // namespace

extern "C" void fault_alloc_arm(long fail_at, int persistent) {
    g_count.store(0);
    g_failed.store(0);
    g_persistent.store(persistent);
    g_fail_at.store(fail_at);
    g_armed.store(1);
}

extern "C" long fault_alloc_disarm(long *failed) {
    g_armed.store(0);
    if (failed) *failed = g_failed.load();
    return g_count.load();
}

// ---- malloc family, for the static core's calls (-Wl,--wrap=...) ----
extern "C" void *__wrap_malloc(size_t n) { return should_fail() ? nullptr : __real_malloc(n); }
extern "C" void *__wrap_calloc(size_t a, size_t b) {
    return should_fail() ? nullptr : __real_calloc(a, b);
}
extern "C" void *__wrap_realloc(void *p, size_t n) {
    return should_fail() ? nullptr : __real_realloc(p, n);
}
extern "C" void *__wrap_aligned_alloc(size_t al, size_t n) {
    return should_fail() ? nullptr : __real_aligned_alloc(al, n);
}
extern "C" int __wrap_posix_memalign(void **out, size_t al, size_t n) {
    if (should_fail()) return ENOMEM;
    return __real_posix_memalign(out, al, n);
}

// ---- global operator new / delete ----
// Default visibility (the build hides symbols by default): libstdc++.so must bind to these.
#define FA_EXPORT __attribute__((visibility("default")))
FA_EXPORT void *operator new(size_t n) { return new_impl(n); }
FA_EXPORT void *operator new[](size_t n) { return new_impl(n); }
FA_EXPORT void *operator new(size_t n, const std::nothrow_t &) noexcept {
    if (should_fail()) return nullptr;
    return __real_malloc(n ? n : 1);
}
FA_EXPORT void *operator new[](size_t n, const std::nothrow_t &) noexcept {
    if (should_fail()) return nullptr;
    return __real_malloc(n ? n : 1);
}
FA_EXPORT void *operator new(size_t n, std::align_val_t al) { return new_aligned_impl(n, al); }
FA_EXPORT void *operator new[](size_t n, std::align_val_t al) { return new_aligned_impl(n, al); }
FA_EXPORT void *operator new(size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
    try {
        return new_aligned_impl(n, al);
    } catch (...) {
        return nullptr;
    }
}
FA_EXPORT void *operator new[](size_t n, std::align_val_t al, const std::nothrow_t &) noexcept {
    try {
        return new_aligned_impl(n, al);
    } catch (...) {
        return nullptr;
    }
}
FA_EXPORT void operator delete(void *p) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p) noexcept { free(p); }
FA_EXPORT void operator delete(void *p, size_t) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p, size_t) noexcept { free(p); }
FA_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept { free(p); }
FA_EXPORT void operator delete(void *p, std::align_val_t) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p, std::align_val_t) noexcept { free(p); }
FA_EXPORT void operator delete(void *p, size_t, std::align_val_t) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p, size_t, std::align_val_t) noexcept { free(p); }
FA_EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { free(p); }
FA_EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { free(p); }
