// fuzz_util.h — shared by the fuzz targets (fuzz/fuzz_*.cc).
#pragma once

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

// A broken expectation in a fuzz target: says what, then aborts, which libFuzzer (and
// the replay tests) report as a crash with this input.
[[noreturn]] inline void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] inline void fuzz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fputs("fuzz target: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
    std::abort();
}
