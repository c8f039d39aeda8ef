#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMBER_CPU_RELAX() _mm_pause()
#else
#define EMBER_CPU_RELAX() ((void)0)
#endif

namespace ember {

namespace {
int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

struct ThreadPool::Job {
    const RangeFn *fn;
    int64_t n;
    int64_t chunk;
    int64_t num_chunks;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> done{0};
    int helpers_wanted;   // workers that may join (max_threads - 1)
    int helpers_joined = 0;  // guarded by the pool mutex
    std::atomic<int> active{0};  // workers inside the job; ++ under the pool mutex, -- under mu
    std::mutex mu;
    std::condition_variable finished;
    Job *link = nullptr;     // queue link, guarded by the pool mutex
    int64_t queued_ns = 0;
};

// An average over roughly the last 8 samples; samples over 2 ms (a descheduled worker)
// count as 2 ms so that one preemption does not switch threading off for long.
void ThreadPool::note_dispatch(int64_t ns) {
    ns = std::min<int64_t>(std::max<int64_t>(ns, 0), 2000000);
    const int64_t old = dispatch_ns_.load(std::memory_order_relaxed);
    dispatch_ns_.store(old + (ns - old) / 8, std::memory_order_relaxed);
}

void ThreadPool::push_job(Job *job) {
    job->link = nullptr;
    if (jobs_tail_)
        jobs_tail_->link = job;
    else
        jobs_head_ = job;
    jobs_tail_ = job;
    queued_.fetch_add(1, std::memory_order_release);
}

void ThreadPool::remove_job(Job *job) {
    Job *prev = nullptr;
    for (Job *j = jobs_head_; j; prev = j, j = j->link) {
        if (j != job) continue;
        (prev ? prev->link : jobs_head_) = j->link;
        if (jobs_tail_ == j) jobs_tail_ = prev;
        j->link = nullptr;
        queued_.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
}

ThreadPool::ThreadPool(int num_threads, int spin_us) : spin_us_(std::max(0, spin_us)) {
    int workers = std::max(0, num_threads - 1);
    try {
        workers_.reserve(workers);
        for (int i = 0; i < workers; i++) workers_.emplace_back([this] { worker_loop(); });
    } catch (...) {
        // A thread that cannot start (std::bad_alloc, std::system_error): the destructor
        // will not run, and destroying a joinable std::thread calls std::terminate, so the
        // workers already started are stopped here before the exception goes on.
        stop_workers();
        throw;
    }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto &t : workers_) t.join();
    workers_.clear();
}

// Runs one chunk of `job`; returns false when no chunk was left to take.
bool ThreadPool::run_one_chunk(Job *job) {
    int64_t c = job->next.fetch_add(1, std::memory_order_relaxed);
    if (c >= job->num_chunks) return false;
    int64_t begin = c * job->chunk;
    int64_t end = std::min(job->n, begin + job->chunk);
    (*job->fn)(begin, end);
    if (job->done.fetch_add(1, std::memory_order_acq_rel) + 1 == job->num_chunks) {
        std::lock_guard<std::mutex> lock(job->mu);
        job->finished.notify_all();
    }
    return true;
}

void ThreadPool::worker_loop() {
    for (;;) {
        Job *job = nullptr;
        bool spun = false;
        if (spin_us_ > 0) {
            // Poll for the next job before sleeping (opt-in, see the header).
            const int64_t until = now_ns() + static_cast<int64_t>(spin_us_) * 1000;
            for (int i = 0; queued_.load(std::memory_order_acquire) == 0 &&
                                !stop_.load(std::memory_order_relaxed);
                 i++) {
                EMBER_CPU_RELAX();
                if ((i & 63) == 63 && now_ns() >= until) break;
            }
            spun = true;
        }
        {
            std::unique_lock<std::mutex> lock(mu_);
            bool slept = false;
            while (!stop_ && jobs_head_ == nullptr) {
                sleepers_++;
                wake_.wait(lock);
                sleepers_--;
                slept = true;
                // The wake-up's latency, from the call that woke us (a job may be gone by
                // now: the caller finished it alone, which is the slow case to count).
                note_dispatch(now_ns() - last_wake_ns_.load(std::memory_order_relaxed));
            }
            if (stop_) return;
            job = jobs_head_;
            if (spun && !slept) note_dispatch(now_ns() - job->queued_ns);
            if (++job->helpers_joined >= job->helpers_wanted) remove_job(job);
            job->active++;
        }
        while (run_one_chunk(job)) {
        }
        // The owner waits for active == 0 before the job goes out of scope.
        std::lock_guard<std::mutex> lock(job->mu);
        job->active--;
        job->finished.notify_all();
    }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, int max_threads, RangeFn fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    int threads = max_threads <= 0 ? num_threads() : std::min(max_threads, num_threads());
    int64_t max_chunks = (n + grain - 1) / grain;
    if (threads <= 1 || max_chunks <= 1) {
        fn(0, n);
        return;
    }
    // A few chunks per thread balances uneven work without much overhead.
    int64_t num_chunks = std::min<int64_t>(max_chunks, static_cast<int64_t>(threads) * 4);
    Job job;
    job.fn = &fn;
    job.n = n;
    job.chunk = (n + num_chunks - 1) / num_chunks;
    job.num_chunks = (n + job.chunk - 1) / job.chunk;
    job.helpers_wanted = std::min<int>(threads - 1, static_cast<int>(job.num_chunks - 1));
    job.queued_ns = spin_us_ > 0 ? now_ns() : 0;
    bool wake;
    {
        std::lock_guard<std::mutex> lock(mu_);
        push_job(&job);
        // Workers not asleep (busy, or polling) see the queue without a wake-up call.
        wake = sleepers_ > 0;
    }
    if (wake) {
        last_wake_ns_.store(now_ns(), std::memory_order_relaxed);
        if (job.helpers_wanted == 1)
            wake_.notify_one();
        else
            wake_.notify_all();
    }
    while (run_one_chunk(&job)) {
    }
    {
        // Withdraw the job if no worker took it off the queue.
        std::lock_guard<std::mutex> lock(mu_);
        remove_job(&job);
    }
    if (spin_us_ > 0) {
        // Poll for the helpers' last chunks before sleeping on the job's condition.
        const int64_t until = now_ns() + static_cast<int64_t>(spin_us_) * 1000;
        for (int i = 0; !(job.done.load(std::memory_order_acquire) == job.num_chunks &&
                          job.active.load(std::memory_order_acquire) == 0);
             i++) {
            EMBER_CPU_RELAX();
            if ((i & 63) == 63 && now_ns() >= until) break;
        }
    }
    std::unique_lock<std::mutex> lock(job.mu);
    job.finished.wait(lock, [&] {
        return job.done.load(std::memory_order_acquire) == job.num_chunks && job.active == 0;
    });
}

}  // namespace ember
