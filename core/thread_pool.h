// thread_pool.h — the runtime-wide pool of worker threads.
//
// One pool per ember_runtime (no process-wide state). Idle workers sleep on a
// condition variable: by default nothing spins, between runs or inside them.
// parallel_for() may be called from many threads at once (many sessions share one
// runtime); the calling thread always works on its own job too, so a job finishes even
// when every worker is busy.
//
// Handing work to a sleeping worker is not free: the caller's futex wake and the worker's
// wake-up took 6-8 us and 15-35 us on the 2-vCPU VM of docs/threading.md, longer than a
// whole decode-sized matrix-vector product. The pool keeps an average of what dispatching
// has cost (dispatch_us) so that kernels wake workers only for work several times longer
// (worth_threads). With `spin_us` > 0 (ember_runtime_options.spin_us, opt-in) a worker that
// finished a job polls for the next one that long before it sleeps, a caller polls that
// long for its job's last chunk, and a caller whose workers are all polling wakes nobody:
// the hand-off drops to well under a microsecond, at the price of those microseconds of
// CPU after every job.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace ember {

// A non-owning reference to a callable taking (begin, end). Unlike std::function it never
// allocates, so kernels can hand any lambda to parallel_for inside a run. The callable
// must outlive the call it is passed to (a lambda argument always does).
class RangeFn {
public:
    template <typename F, typename = typename std::enable_if<
                              !std::is_same<typename std::decay<F>::type, RangeFn>::value>::type>
    RangeFn(const F &f) : obj_(&f), call_(&invoke<F>) {}  // NOLINT: implicit on purpose
    void operator()(int64_t begin, int64_t end) const { call_(obj_, begin, end); }

private:
    template <typename F>
    static void invoke(const void *obj, int64_t begin, int64_t end) {
        (*static_cast<const F *>(obj))(begin, end);
    }
    const void *obj_;
    void (*call_)(const void *, int64_t, int64_t);
};

class ThreadPool {
public:
    // `num_threads` counts the caller: 1 means no worker threads at all. `spin_us`: the
    // polling time above (0: none).
    explicit ThreadPool(int num_threads, int spin_us = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

    // Calls fn(begin, end) over disjoint ranges covering [0, n), each at least `grain`
    // long (except the last), on at most `max_threads` threads (<= 0: all). Returns
    // when every range is done. fn must not throw.
    void parallel_for(int64_t n, int64_t grain, int max_threads, RangeFn fn);

    // Recent cost of handing a job to a worker, in microseconds: an average over the last
    // dozen or so hand-offs of the time from a job's queueing (or the wake-up call) to a
    // worker taking it. Starts at 20.
    double dispatch_us() const {
        return static_cast<double>(dispatch_ns_.load(std::memory_order_relaxed)) * 1e-3;
    }
    // `max_threads` when `serial_us` of evenly divisible work is at least 4 dispatches
    // long (a worker joining later than that saves little and makes the caller wait for
    // its last chunk), else 1. Every 256th refusal says yes anyway: the average is only
    // updated by hand-offs, and one slow wake-up must not keep work on one thread for good.
    int worth_threads(int max_threads, double serial_us) const {
        if (max_threads <= 1) return 1;
        if (serial_us >= 4.0 * dispatch_us()) return max_threads;
        return (refusals_.fetch_add(1, std::memory_order_relaxed) & 255) == 255 ? max_threads : 1;
    }
    int spin_us() const { return spin_us_; }

private:
    struct Job;
    void worker_loop();
    static bool run_one_chunk(Job *job);
    void stop_workers();        // sets stop_, wakes and joins every worker
    void push_job(Job *job);    // under mu_
    void remove_job(Job *job);  // under mu_; no-op if absent

    void note_dispatch(int64_t ns);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_;
    Job *jobs_head_ = nullptr;  // intrusive FIFO of open jobs: queueing never allocates
    Job *jobs_tail_ = nullptr;
    std::atomic<bool> stop_{false};       // written under mu_; polled by spinning workers
    std::atomic<int> queued_{0};          // jobs in the FIFO (polled by spinning workers)
    int sleepers_ = 0;                    // workers waiting on wake_ (under mu_)
    std::atomic<int64_t> last_wake_ns_{0};  // when a caller last called wake_
    std::atomic<int64_t> dispatch_ns_{20000};
    mutable std::atomic<uint32_t> refusals_{0};
    const int spin_us_;
};

// Runs fn(u) once for every unit u in [0, units) on up to `threads` threads (at most
// kMaxSegments), for streaming work such as a matrix-vector product: the units are cut
// into one contiguous segment per thread; each thread walks its own segment from the
// front, then takes units from the backs of the others until none is left. Every thread
// thus streams one contiguous region, as a plain parallel read does, which the hardware
// prefetchers serve best (units claimed in turn from one counter interleave the threads'
// addresses), and a thread that starts late (a worker waking up) leaves its segment to the
// others instead of holding the step back. fn must not throw.
constexpr int kMaxSegments = 64;

template <typename F>
void for_segments(ThreadPool *pool, int threads, int64_t units, const F &fn) {
    threads = std::min(threads, kMaxSegments);
    if (threads <= 1 || units <= 1 || !pool) {
        for (int64_t u = 0; u < units; u++) fn(u);
        return;
    }
    // Per segment one 64-bit word: front (low 32 bits) and back (high), claimed by CAS.
    struct alignas(64) Seg {
        std::atomic<uint64_t> fb;
    };
    Seg segs[kMaxSegments];
    const int64_t per = units / threads, extra = units % threads;
    for (int t = 0, at = 0; t < threads; t++) {
        const int64_t len = per + (t < extra ? 1 : 0);
        segs[t].fb.store(static_cast<uint64_t>(at) | static_cast<uint64_t>(at + len) << 32,
                         std::memory_order_relaxed);
        at += static_cast<int>(len);
    }
    auto claim = [&segs](int t, bool front, int64_t *u) {
        uint64_t v = segs[t].fb.load(std::memory_order_relaxed);
        for (;;) {
            const uint32_t f = static_cast<uint32_t>(v), b = static_cast<uint32_t>(v >> 32);
            if (f >= b) return false;
            const uint64_t next = front ? (v + 1) : (v - (uint64_t(1) << 32));
            if (segs[t].fb.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
                *u = front ? f : b - 1;
                return true;
            }
        }
    };
    auto body = [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; s++) {
            const int own = static_cast<int>(s);
            int64_t u;
            while (claim(own, true, &u)) fn(u);
            for (int k = 1; k < threads; k++)
                while (claim((own + k) % threads, false, &u)) fn(u);
        }
    };
    pool->parallel_for(threads, 1, threads, body);
}

}  // namespace ember
