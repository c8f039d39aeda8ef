// test_thread_pool.cc — core/thread_pool.h: parallel_for covers every index once, with and
// without polling workers (spin_us); for_segments runs every unit exactly once whatever the
// thread count, including threads that start late; dispatch_us and worth_threads.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

#include "core/thread_pool.h"

using namespace ember;

namespace {

void test_parallel_for_covers(void **) {
    for (int spin : {0, 50}) {
        ThreadPool pool(4, spin);
        for (int64_t n : {1, 2, 7, 64, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            for (auto &h : hits) h = 0;
            for (int rep = 0; rep < 50; rep++)
                pool.parallel_for(n, 1, 0, [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; i++) hits[static_cast<size_t>(i)]++;
                });
            for (int64_t i = 0; i < n; i++) assert_int_equal(hits[static_cast<size_t>(i)].load(), 50);
        }
    }
}

void test_for_segments_exactly_once(void **) {
    for (int spin : {0, 100}) {
        ThreadPool pool(4, spin);
        for (int threads : {1, 2, 3, 4, 9, 100}) {
            for (int64_t units : {0, 1, 2, 3, 5, 64, 1001}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(units));
                for (auto &h : hits) h = 0;
                for (int rep = 0; rep < 20; rep++) {
                    for_segments(&pool, threads, units, [&](int64_t u) {
                        assert_true(u >= 0 && u < units);
                        // Uneven unit times, so that threads steal from each other's backs.
                        if (u % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
                        hits[static_cast<size_t>(u)]++;
                    });
                }
                for (int64_t u = 0; u < units; u++)
                    if (hits[static_cast<size_t>(u)].load() != 20)
                        fail_msg("threads %d units %lld spin %d: unit %lld ran %d times in 20 runs", threads,
                                 (long long)units, spin, (long long)u, hits[static_cast<size_t>(u)].load());
            }
        }
    }
    // Without a pool (or one thread) the units run in order on the caller.
    std::vector<int64_t> order;
    for_segments(nullptr, 4, 5, [&](int64_t u) { order.push_back(u); });
    assert_true(order == (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

// Every thread walks its own contiguous segment: with two threads and slow units, the
// threads' units form at most 3 runs along the matrix (two segments, each possibly split
// once where the other thread began taking from its back), whichever thread took which
// segment.
void test_for_segments_contiguous(void **) {
    ThreadPool pool(2);
    const int64_t units = 64;
    std::vector<std::thread::id> who(units);
    for (int rep = 0; rep < 3; rep++) {
        for_segments(&pool, 2, units, [&](int64_t u) {
            who[static_cast<size_t>(u)] = std::this_thread::get_id();
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        });
        int64_t switches = 0;
        for (int64_t u = 1; u < units; u++)
            switches += who[static_cast<size_t>(u)] != who[static_cast<size_t>(u - 1)];
        if (switches > 3)
            fail_msg("%lld changes of thread along the units: not contiguous", (long long)switches);
    }
}

void test_dispatch_cost(void **) {
    ThreadPool pool(2);
    assert_true(pool.dispatch_us() > 0.0);
    for (int i = 0; i < 200; i++)
        pool.parallel_for(8, 1, 2, [](int64_t, int64_t) { std::this_thread::sleep_for(std::chrono::microseconds(5)); });
    const double d = pool.dispatch_us();
    assert_true(d > 0.0 && d < 2000.0);  // capped samples: at most 2 ms
    assert_int_equal(pool.worth_threads(2, 4.0 * d + 1.0), 2);
    assert_int_equal(pool.worth_threads(1, 1e9), 1);
    // Small work stays on one thread, except one probe in every 256 refusals.
    int yes = 0;
    for (int i = 0; i < 1024; i++) yes += pool.worth_threads(2, 0.5 * d) == 2;
    assert_int_equal(yes, 4);
    ThreadPool one(1);
    int calls = 0;
    one.parallel_for(10, 1, 0, [&](int64_t b, int64_t e) { calls += static_cast<int>(e - b); });
    assert_int_equal(calls, 10);
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_for_covers),
        cmocka_unit_test(test_for_segments_exactly_once),
        cmocka_unit_test(test_for_segments_contiguous),
        cmocka_unit_test(test_dispatch_cost),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
