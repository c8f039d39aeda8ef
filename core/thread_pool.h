// thread_pool.h — the runtime-wide pool of worker threads.
//
// One pool per ember_runtime (no process-wide state). Idle workers sleep on a
// condition variable: nothing spins between runs. parallel_for() may be called from
// many threads at once (many sessions share one runtime); the calling thread always
// works on its own job too, so a job finishes even when every worker is busy.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ember {

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
    void parallel_for(int64_t n, int64_t grain, int max_threads,
                      const std::function<void(int64_t, int64_t)> &fn);

private:
    struct Job;
    void worker_loop();
    static bool run_one_chunk(Job *job);

    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<Job *> jobs_;
    bool stop_ = false;
};

}  // namespace ember
