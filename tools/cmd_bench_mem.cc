// `ember bench-mem [--size-mib N] [--threads LIST] [--passes P] [--small-pages] [--json]`
//
// Streaming read bandwidth of the machine, the bound that language-model decoding is
// measured against (docs/language-models.md, tools/bench_lm.sh): a buffer much larger
// than the caches (default 1 GiB, filled with non-zero bytes so every page is really
// backed) is summed with 256-bit loads into eight independent accumulators, the way a
// memory-bound matrix-vector product reads its weights. With T threads each sums one
// contiguous 1/T of the buffer; a pass is timed from the release of the threads to the
// last one's finish. The figures are the best and the median of P passes (default 5),
// in GB/s (1e9 bytes per second), for each thread count of LIST (default 1,2). On a
// shared machine the median is the one to set against other medians (a pass is 0.1 s,
// a best of several that short catches quiet moments that longer runs never see).
// Figures, not a test.
//
// The buffer asks for transparent huge pages (madvise MADV_HUGEPAGE): the page cache
// maps large model files with huge pages too (FileHugePages in /proc/meminfo), and with
// 4 KiB pages the hardware prefetchers stop at every page boundary, which measured
// 30-40% below on the test machine. --small-pages measures that slower figure; the
// report says how much of the buffer the kernel really backed with huge pages.
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/commands.h"

namespace {

__attribute__((target("avx2"))) float sum_avx2(const float *p, size_t n) {
    __m256 a[8];
    for (int u = 0; u < 8; u++) a[u] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int u = 0; u < 8; u++) a[u] = _mm256_add_ps(a[u], _mm256_load_ps(p + i + 8 * u));
    for (int u = 1; u < 8; u++) a[0] = _mm256_add_ps(a[0], a[u]);
    float lanes[8];
    _mm256_storeu_ps(lanes, a[0]);
    float s = 0.0f;
    for (float v : lanes) s += v;
    for (; i < n; i++) s += p[i];
    return s;
}

float sum_portable(const float *p, size_t n) {
    float a[16] = {};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int u = 0; u < 16; u++) a[u] += p[i + u];
    float s = 0.0f;
    for (float v : a) s += v;
    for (; i < n; i++) s += p[i];
    return s;
}

// T threads that sum their slice each time the main thread starts a pass.
class Readers {
public:
    Readers(const float *buf, size_t n, int threads, bool avx2) : buf_(buf), n_(n), avx2_(avx2) {
        sums_.assign(static_cast<size_t>(threads) * 16, 0.0f);  // one cache line each
        for (int t = 1; t < threads; t++) workers_.emplace_back([this, t, threads] { loop(t, threads); });
        threads_ = threads;
    }
    ~Readers() {
        {
            std::lock_guard<std::mutex> l(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto &w : workers_) w.join();
    }
    // One pass; returns its seconds.
    double pass() {
        auto t0 = std::chrono::steady_clock::now();
        {
            std::lock_guard<std::mutex> l(mu_);
            gen_++;
            pending_ = threads_ - 1;
        }
        cv_.notify_all();
        slice(0, threads_);
        {
            std::unique_lock<std::mutex> l(mu_);
            done_cv_.wait(l, [this] { return pending_ == 0; });
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    float checksum() const {
        float s = 0.0f;
        for (float v : sums_) s += v;
        return s;
    }

private:
    void slice(int t, int threads) {
        const size_t per = (n_ / static_cast<size_t>(threads)) & ~static_cast<size_t>(63);
        const size_t b = per * static_cast<size_t>(t);
        const size_t e = t == threads - 1 ? n_ : b + per;
        sums_[static_cast<size_t>(t) * 16] += avx2_ ? sum_avx2(buf_ + b, e - b) : sum_portable(buf_ + b, e - b);
    }
    void loop(int t, int threads) {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> l(mu_);
                cv_.wait(l, [&] { return stop_ || gen_ != seen; });
                if (stop_) return;
                seen = gen_;
            }
            slice(t, threads);
            std::lock_guard<std::mutex> l(mu_);
            if (--pending_ == 0) done_cv_.notify_one();
        }
    }
    const float *buf_;
    size_t n_;
    bool avx2_;
    int threads_ = 1;
    std::vector<float> sums_;
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    uint64_t gen_ = 0;
    int pending_ = 0;
    bool stop_ = false;
};

// AnonHugePages of this process (/proc/self/smaps_rollup), in bytes; -1 if unknown.
long long anon_huge_bytes() {
    std::ifstream f("/proc/self/smaps_rollup");
    std::string key;
    long long kb;
    while (f >> key) {
        if (key == "AnonHugePages:" && (f >> kb)) return kb * 1024;
        f.ignore(1 << 20, '\n');
    }
    return -1;
}

}  // namespace

int cmd_bench_mem(int argc, char **argv) {
    long long size_mib = 1024;
    int passes = 5;
    bool json = false, huge = true;
    std::vector<int> thread_counts = {1, 2};
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if (a == "--size-mib" && v) {
            size_mib = atoll(argv[++i]);
        } else if (a == "--passes" && v) {
            passes = atoi(argv[++i]);
        } else if (a == "--threads" && v) {
            thread_counts.clear();
            std::string list = argv[++i];
            size_t s = 0;
            while (s <= list.size()) {
                size_t c = list.find(',', s);
                thread_counts.push_back(atoi(list.substr(s, c == std::string::npos ? std::string::npos : c - s).c_str()));
                if (c == std::string::npos) break;
                s = c + 1;
            }
        } else if (a == "--small-pages") {
            huge = false;
        } else if (a == "--json") {
            json = true;
        } else {
            fprintf(stderr, "ember bench-mem: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    bool bad = size_mib < 1 || size_mib > (1 << 20) || passes < 1 || thread_counts.empty();
    for (int t : thread_counts) bad |= t < 1 || t > 1024;
    if (bad) {
        fprintf(stderr, "usage: ember bench-mem [--size-mib N] [--threads LIST] [--passes P] [--small-pages] [--json]\n");
        return 2;
    }
    const size_t bytes = static_cast<size_t>(size_mib) << 20;
    float *buf = static_cast<float *>(std::aligned_alloc(1 << 21, bytes));
    if (!buf) {
        fprintf(stderr, "ember bench-mem: cannot allocate %lld MiB\n", size_mib);
        return 1;
    }
    madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);  // advice only: may be refused
    const size_t n = bytes / sizeof(float);
    for (size_t i = 0; i < n; i++) buf[i] = static_cast<float>(i & 7) * 0.125f;  // backs every page
    const long long huge_bytes = anon_huge_bytes();
    const bool avx2 = __builtin_cpu_supports("avx2");
    std::vector<double> best, median;
    float check = 0.0f;
    for (int t : thread_counts) {
        Readers r(buf, n, t, avx2);
        std::vector<double> gbs;
        r.pass();  // warm-up: threads started, TLB and page tables touched
        for (int p = 0; p < passes; p++) gbs.push_back(static_cast<double>(bytes) / r.pass() / 1e9);
        std::sort(gbs.begin(), gbs.end());
        best.push_back(gbs.back());
        median.push_back(gbs[gbs.size() / 2]);
        check += r.checksum();
    }
    std::free(buf);
    if (json) {
        printf("{\"size_bytes\":%zu,\"huge_page_bytes\":%lld,\"passes\":%d,\"isa\":\"%s\",\"bandwidth\":[",
               bytes, huge_bytes, passes, avx2 ? "avx2" : "portable");
        for (size_t i = 0; i < best.size(); i++)
            printf("%s{\"threads\":%d,\"gb_s\":%.2f,\"gb_s_median\":%.2f}", i ? "," : "", thread_counts[i],
                   best[i], median[i]);
        printf("],\"checksum\":%g}\n", static_cast<double>(check));
    } else {
        printf("streaming read bandwidth, %lld MiB buffer (%lld MiB in huge pages), %d passes (%s loads)\n",
               size_mib, huge_bytes < 0 ? -1 : huge_bytes >> 20, passes, avx2 ? "AVX2" : "portable");
        for (size_t i = 0; i < best.size(); i++)
            printf("  %d thread(s): %7.2f GB/s (median %.2f)\n", thread_counts[i], best[i], median[i]);
    }
    return 0;
}
