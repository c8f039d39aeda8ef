/* test_concurrency.c — the threading rules of api/ember.h, under load.
 *
 * One runtime with a 2-thread pool is shared by everything. Its models (mnist-8,
 * winml-cifar10-tutorial with a symbolic batch, SqueezeNet) are shared by sessions on
 * 8 threads; each thread makes its own sessions, runs them (cifar with batch sizes
 * 1..4 in turn, so plans are rebuilt all the time), releases and re-creates them, and
 * compares every output bit for bit with a reference computed before the threads start
 * by one thread on the same runtime (same pool size, so the same work split).
 * Meanwhile two more threads load, run and release their own copies of mnist-8 again
 * and again, and every thread checks that its error messages are its own
 * (ember_last_error is thread-local). At the end: the runtime refuses release while a
 * model lives, a model while a session lives, and both succeed in the right order (the
 * live counters came back to exactly zero).
 *
 * Runs per thread: 200, fewer under ThreadSanitizer (EMBER_TEST_RUNS from
 * tests/CMakeLists.txt); the environment variable EMBER_CONCURRENCY_RUNS overrides.
 * Worker threads never call CMocka: they record the first failure, the main thread
 * reports it. Links only libember.so. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember.h"

#ifndef EMBER_TEST_RUNS
#define EMBER_TEST_RUNS 200
#endif

#define N_WORKERS 8
#define N_LOADERS 2
#define N_VARIANTS 3 /* distinct inputs per (model, batch) */
#define MAX_BATCH 4
#define RECREATE_EVERY 25 /* a worker re-creates its sessions this often */

typedef struct {
    const char *id;
    ember_model *model;
    int symbolic_batch; /* batch dim is -1: runs use 1..MAX_BATCH */
    int64_t dims[4];    /* input dims, batch 1 */
    size_t elems;       /* input elements per batch row */
    size_t n_out;
    /* [batch-1][variant]: input and the reference bytes of all outputs concatenated */
    float *in[MAX_BATCH][N_VARIANTS];
    uint8_t *ref[MAX_BATCH][N_VARIANTS];
    size_t ref_bytes[MAX_BATCH][N_VARIANTS];
} model_case;

enum { MNIST, CIFAR, SQUEEZE, N_MODELS };
static model_case g_models[N_MODELS] = {
    {"mnist-8", NULL, 0, {0}, 0, 0, {{0}}, {{0}}, {{0}}},
    {"winml-cifar10-tutorial", NULL, 0, {0}, 0, 0, {{0}}, {{0}}, {{0}}},
    {"squeezenet1.1-caffe2-fp32", NULL, 0, {0}, 0, 0, {{0}}, {{0}}, {{0}}},
};
static ember_runtime *g_rt;
static int g_runs = EMBER_TEST_RUNS;

static void model_path(char *buf, size_t n, const char *id) {
    snprintf(buf, n, "%s/models/%s.ember", EMBER_BUILD_DIR, id);
}

/* Deterministic inputs in [-1, 1) (mnist: [0, 255)), different per variant and row. */
static void fill_input(float *p, size_t n, uint32_t seed, float scale) {
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = ((float)(x >> 8) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
}

/* Runs `s` on `in` (batch rows) and copies out all outputs into *out (malloc'd). */
static int run_collect(ember_session *s, const model_case *m, int batch, const float *in,
                       uint8_t **out, size_t *bytes, char *err, size_t errn) {
    int64_t dims[4];
    memcpy(dims, m->dims, sizeof dims);
    dims[0] = batch;
    size_t n = m->elems * (size_t)batch;
    ember_tensor *t = NULL;
    if (ember_tensor_wrap(EMBER_DTYPE_FLOAT32, dims, 4, (void *)in, n * sizeof(float), &t) !=
        EMBER_OK) {
        snprintf(err, errn, "%s: wrap: %s", m->id, ember_last_error());
        return 0;
    }
    const ember_tensor *ins[1] = {t};
    ember_status st = ember_session_run(s, ins, 1);
    ember_tensor_release(t);
    if (st != EMBER_OK) {
        snprintf(err, errn, "%s batch %d: run: %s", m->id, batch, ember_last_error());
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < m->n_out; i++) {
        const ember_tensor *o = NULL;
        if (ember_session_output(s, i, &o) != EMBER_OK) {
            snprintf(err, errn, "%s: output %zu: %s", m->id, i, ember_last_error());
            return 0;
        }
        total += ember_tensor_size_bytes(o);
    }
    uint8_t *buf = malloc(total ? total : 1);
    size_t at = 0;
    for (size_t i = 0; i < m->n_out; i++) {
        const ember_tensor *o = NULL;
        ember_session_output(s, i, &o);
        memcpy(buf + at, ember_tensor_data_const(o), ember_tensor_size_bytes(o));
        at += ember_tensor_size_bytes(o);
    }
    *out = buf;
    *bytes = total;
    return 1;
}

static int setup(void **state) {
    (void)state;
    const char *e = getenv("EMBER_CONCURRENCY_RUNS");
    if (e && atoi(e) > 0) g_runs = atoi(e);
    ember_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.num_threads = 2;
    /* test_concurrency_spin: the same with workers that poll between jobs (spin_us). */
    const char *spin = getenv("EMBER_CONCURRENCY_SPIN_US");
    if (spin) o.spin_us = atoi(spin);
    if (ember_runtime_create(&o, &g_rt) != EMBER_OK) return -1;
    char path[1024], err[512];
    for (int k = 0; k < N_MODELS; k++) {
        model_case *m = &g_models[k];
        model_path(path, sizeof path, m->id);
        if (ember_model_load_file(g_rt, path, NULL, &m->model) != EMBER_OK) {
            fprintf(stderr, "%s: %s\n", path, ember_last_error());
            return -1;
        }
        ember_value_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (ember_model_input_info(m->model, 0, &info) != EMBER_OK || info.rank != 4) return -1;
        memcpy(m->dims, info.dims, sizeof m->dims);
        m->symbolic_batch = m->dims[0] < 0;
        m->dims[0] = 1;
        m->elems = (size_t)(m->dims[1] * m->dims[2] * m->dims[3]);
        ember_model_output_count(m->model, &m->n_out);
        /* References: one thread, one session on the shared runtime. */
        ember_session *s = NULL;
        if (ember_session_create(m->model, NULL, &s) != EMBER_OK) return -1;
        int batches = m->symbolic_batch ? MAX_BATCH : 1;
        int variants = k == SQUEEZE ? 1 : N_VARIANTS;
        for (int b = 1; b <= batches; b++) {
            for (int v = 0; v < variants; v++) {
                size_t n = m->elems * (size_t)b;
                m->in[b - 1][v] = malloc(n * sizeof(float));
                fill_input(m->in[b - 1][v], n, (uint32_t)(k * 100 + b * 10 + v + 1),
                           k == MNIST ? 127.5f : 1.0f);
                if (k == MNIST)
                    for (size_t i = 0; i < n; i++) m->in[b - 1][v][i] += 127.5f;
                if (!run_collect(s, m, b, m->in[b - 1][v], &m->ref[b - 1][v],
                                 &m->ref_bytes[b - 1][v], err, sizeof err)) {
                    fprintf(stderr, "reference: %s\n", err);
                    return -1;
                }
            }
        }
        ember_session_release(s);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int k = 0; k < N_MODELS; k++) {
        for (int b = 0; b < MAX_BATCH; b++)
            for (int v = 0; v < N_VARIANTS; v++) {
                free(g_models[k].in[b][v]);
                free(g_models[k].ref[b][v]);
            }
        ember_model_release(g_models[k].model);
        g_models[k].model = NULL;
    }
    ember_runtime_release(g_rt);
    return 0;
}

/* ---- workers ---- */

typedef struct {
    int index;
    int runs;
    int squeeze_runs;
    long compared; /* outputs compared bit for bit */
    char error[768];
} worker;

static int check_run(worker *w, ember_session *s, int model, int batch, int variant) {
    model_case *m = &g_models[model];
    uint8_t *got = NULL;
    size_t bytes = 0;
    char err[512];
    if (!run_collect(s, m, batch, m->in[batch - 1][variant], &got, &bytes, err, sizeof err)) {
        snprintf(w->error, sizeof w->error, "thread %d: %s", w->index, err);
        return 0;
    }
    int same = bytes == m->ref_bytes[batch - 1][variant] &&
               memcmp(got, m->ref[batch - 1][variant], bytes) == 0;
    free(got);
    if (!same) {
        snprintf(w->error, sizeof w->error,
                 "thread %d: %s batch %d variant %d: output differs from the single-threaded "
                 "reference",
                 w->index, m->id, batch, variant);
        return 0;
    }
    w->compared++;
    return 1;
}

/* This thread's error message must be its own, whatever the other threads do. */
static int check_own_error(worker *w, int run) {
    char path[128], want[128];
    snprintf(path, sizeof path, "/nonexistent/thread-%d-run-%d.ember", w->index, run);
    snprintf(want, sizeof want, "thread-%d-run-%d", w->index, run);
    ember_model *m = NULL;
    if (ember_model_load_file(g_rt, path, NULL, &m) != EMBER_ERR_IO || m != NULL ||
        strstr(ember_last_error(), want) == NULL) {
        snprintf(w->error, sizeof w->error, "thread %d: error message is not its own: '%s'",
                 w->index, ember_last_error());
        return 0;
    }
    ember_status_string(EMBER_OK); /* not an ember_* call that clears: message stays */
    if (strstr(ember_last_error(), want) == NULL) {
        snprintf(w->error, sizeof w->error, "thread %d: message changed: '%s'", w->index,
                 ember_last_error());
        return 0;
    }
    return 1;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    ember_session *s[2] = {NULL, NULL};
    for (int r = 0; r < w->runs; r++) {
        if (r % RECREATE_EVERY == 0) {
            for (int k = 0; k < 2; k++) {
                ember_session_release(s[k]);
                s[k] = NULL;
                if (ember_session_create(g_models[k].model, NULL, &s[k]) != EMBER_OK) {
                    snprintf(w->error, sizeof w->error, "thread %d: session create: %s",
                             w->index, ember_last_error());
                    goto done;
                }
            }
        }
        int variant = (r + w->index) % N_VARIANTS;
        if (!check_run(w, s[MNIST], MNIST, 1, variant)) goto done;
        int batch = (r + w->index) % MAX_BATCH + 1;
        if (!check_run(w, s[CIFAR], CIFAR, batch, variant)) goto done;
        if (r % 16 == 7 && !check_own_error(w, r)) goto done;
    }
    for (int r = 0; r < w->squeeze_runs; r++) {
        ember_session *q = NULL;
        if (ember_session_create(g_models[SQUEEZE].model, NULL, &q) != EMBER_OK) {
            snprintf(w->error, sizeof w->error, "thread %d: squeezenet session: %s", w->index,
                     ember_last_error());
            goto done;
        }
        int ok = check_run(w, q, SQUEEZE, 1, 0);
        ember_session_release(q);
        if (!ok) goto done;
    }
done:
    ember_session_release(s[0]);
    ember_session_release(s[1]);
    return NULL;
}

/* Loads its own model, runs it once, releases it; again and again. */
static void *loader_main(void *arg) {
    worker *w = arg;
    char path[1024];
    model_path(path, sizeof path, "mnist-8");
    for (int r = 0; r < w->runs; r++) {
        ember_model *m = NULL;
        ember_session *s = NULL;
        ember_model_options mo;
        memset(&mo, 0, sizeof mo);
        mo.struct_size = sizeof mo;
        mo.copy_on_load = r & 1;
        mo.verify_checksums = 1;
        if (ember_model_load_file(g_rt, path, &mo, &m) != EMBER_OK ||
            ember_session_create(m, NULL, &s) != EMBER_OK) {
            snprintf(w->error, sizeof w->error, "loader %d: %s", w->index, ember_last_error());
            ember_model_release(m);
            return NULL;
        }
        /* The shared model's reference holds for a private copy of the same file. */
        model_case copy = g_models[MNIST];
        copy.model = m;
        uint8_t *got = NULL;
        size_t bytes = 0;
        char err[512];
        int ok = run_collect(s, &copy, 1, copy.in[0][r % N_VARIANTS], &got, &bytes, err,
                             sizeof err);
        if (!ok) {
            snprintf(w->error, sizeof w->error, "loader %d: %s", w->index, err);
        } else if (bytes != copy.ref_bytes[0][r % N_VARIANTS] ||
                   memcmp(got, copy.ref[0][r % N_VARIANTS], bytes) != 0) {
            snprintf(w->error, sizeof w->error, "loader %d: a private model copy differs",
                     w->index);
            ok = 0;
        }
        free(got);
        if (ember_model_release(m) == EMBER_OK) { /* a session still lives: refused */
            snprintf(w->error, sizeof w->error, "loader %d: model released under a session",
                     w->index);
            ember_session_release(s);
            return NULL;
        }
        ember_session_release(s);
        if (ember_model_release(m) != EMBER_OK) {
            snprintf(w->error, sizeof w->error, "loader %d: release: %s", w->index,
                     ember_last_error());
            return NULL;
        }
        if (ok) w->compared++;
        else return NULL;
    }
    return NULL;
}

static void test_shared_models_many_threads(void **state) {
    (void)state;
    worker w[N_WORKERS + N_LOADERS];
    pthread_t th[N_WORKERS + N_LOADERS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < N_WORKERS + N_LOADERS; i++) {
        w[i].index = i;
        w[i].runs = i < N_WORKERS ? g_runs : (g_runs + 3) / 4;
        w[i].squeeze_runs = i < 2 ? 1 : 0; /* SqueezeNet: a few runs only */
        assert_int_equal(pthread_create(&th[i], NULL, i < N_WORKERS ? worker_main : loader_main,
                                        &w[i]),
                         0);
    }
    long compared = 0;
    for (int i = 0; i < N_WORKERS + N_LOADERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        compared += w[i].compared;
    }
    for (int i = 0; i < N_WORKERS + N_LOADERS; i++)
        if (w[i].error[0]) fail_msg("%s", w[i].error);
    long want = (long)N_WORKERS * g_runs * 2 + 2 + (long)N_LOADERS * ((g_runs + 3) / 4);
    if (compared != want) fail_msg("compared %ld outputs, expected %ld", compared, want);
    printf("%ld outputs bit-identical to the single-threaded references (%d runs per thread)\n",
           compared, g_runs);
}

/* Sessions of one model created and released on many threads at once, while others of
 * the same model run: the model's session count must come back to exactly zero. */
typedef struct {
    int index;
    int rounds;
    char error[256];
} churn;

static void *churn_main(void *arg) {
    churn *c = arg;
    for (int r = 0; r < c->rounds; r++) {
        ember_session *s[3] = {NULL, NULL, NULL};
        for (int k = 0; k < 3; k++) {
            if (ember_session_create(g_models[k == 2 ? CIFAR : MNIST].model, NULL, &s[k]) !=
                EMBER_OK) {
                snprintf(c->error, sizeof c->error, "churn %d: %s", c->index, ember_last_error());
                break;
            }
        }
        for (int k = 2; k >= 0; k--) ember_session_release(s[k]);
        if (c->error[0]) return NULL;
    }
    return NULL;
}

static void test_sessions_created_and_released_concurrently(void **state) {
    (void)state;
    churn c[N_WORKERS];
    pthread_t th[N_WORKERS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < N_WORKERS; i++) {
        c[i].index = i;
        c[i].rounds = g_runs / 4 + 1;
        assert_int_equal(pthread_create(&th[i], NULL, churn_main, &c[i]), 0);
    }
    for (int i = 0; i < N_WORKERS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N_WORKERS; i++)
        if (c[i].error[0]) fail_msg("%s", c[i].error);
    /* No session is left: every model releases (then is reloaded for the next test). */
    char path[1024];
    for (int k = 0; k < 2; k++) {
        if (ember_model_release(g_models[k].model) != EMBER_OK)
            fail_msg("%s: %s", g_models[k].id, ember_last_error());
        g_models[k].model = NULL;
        model_path(path, sizeof path, g_models[k].id);
        assert_int_equal(ember_model_load_file(g_rt, path, NULL, &g_models[k].model), EMBER_OK);
    }
}

/* The runtime outlives its models; the models outlive their sessions. */
static void test_release_order(void **state) {
    (void)state;
    ember_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.num_threads = 2;
    ember_runtime *rt = NULL;
    assert_int_equal(ember_runtime_create(&o, &rt), EMBER_OK);
    char path[1024];
    model_path(path, sizeof path, "mnist-8");
    ember_model *a = NULL, *b = NULL;
    ember_session *s = NULL;
    assert_int_equal(ember_model_load_file(rt, path, NULL, &a), EMBER_OK);
    assert_int_equal(ember_model_load_file(rt, path, NULL, &b), EMBER_OK);
    assert_int_equal(ember_session_create(a, NULL, &s), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "2 model"));
    assert_int_equal(ember_model_release(a), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "session"));
    /* Refusals released nothing: the session still runs on the runtime's pool. */
    model_case copy = g_models[MNIST];
    copy.model = a;
    uint8_t *got = NULL;
    size_t bytes = 0;
    char err[512];
    if (!run_collect(s, &copy, 1, copy.in[0][0], &got, &bytes, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(bytes, copy.ref_bytes[0][0]);
    assert_memory_equal(got, copy.ref[0][0], bytes);
    free(got);
    ember_session_release(s);
    assert_int_equal(ember_model_release(b), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "1 model"));
    assert_int_equal(ember_model_release(a), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_models_many_threads),
        cmocka_unit_test(test_sessions_created_and_released_concurrently),
        cmocka_unit_test(test_release_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
