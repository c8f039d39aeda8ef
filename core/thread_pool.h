// thread_pool.h — the runtime-wide pool of worker threads.
//
// One pool per ember_runtime (no process-wide state). Idle workers sleep on a
// condition variable: nothing spins between runs. parallel_for() may be called from
// many threads at once (many sessions share one runtime); the calling thread always
// works on its own job too, so a job finishes even when every worker is busy.
#pragma once

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
    // `num_threads` counts the caller: 1 means no worker threads at all.
    explicit ThreadPool(int num_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

    // Calls fn(begin, end) over disjoint ranges covering [0, n), each at least `grain`
    // long (except the last), on at most `max_threads` threads (<= 0: all). Returns
    // when every range is done. fn must not throw.
    void parallel_for(int64_t n, int64_t grain, int max_threads, RangeFn fn);

private:
    struct Job;
    void worker_loop();
    static bool run_one_chunk(Job *job);
    void stop_workers();        // sets stop_, wakes and joins every worker
    void push_job(Job *job);    // under mu_
    void remove_job(Job *job);  // under mu_; no-op if absent

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_;
    Job *jobs_head_ = nullptr;  // intrusive FIFO of open jobs: queueing never allocates
    Job *jobs_tail_ = nullptr;
    bool stop_ = false;
};

}  // namespace ember
