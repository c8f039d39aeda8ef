/* test_alloc_faults.c — every allocation of load, session compile, run, image load and
 * preprocessing, and language-model generation fails in turn (SQLite's malloc tests,
 * STYLE.md §6), through the public C API on the static core.
 *
 * For each operation (the table `ops` below) and N = 1, 2, ...: arm the injector
 * (tests/fault_alloc.cc: operator new throws std::bad_alloc, the core's malloc-family
 * calls return NULL) so that allocation N fails, run the operation, disarm. Until the
 * operation finally succeeds with no allocation refused, every attempt must
 *   - return EMBER_ERR_OUT_OF_MEMORY with a message (or succeed: a refused allocation
 *     the library can do without, e.g. a nothrow one),
 *   - leave its output pointer untouched (NULL), and
 *   - leave the objects made before it usable: the operation's `verify` runs unarmed
 *     after every failure (a session still runs and gives the reference outputs, a
 *     generator still has its position and feeds).
 * Leaks are LeakSanitizer's job: the ASan build runs this test (tools/test.sh --sanitize).
 * A crash, abort or exception escaping the C API ends the test.
 *
 * Two passes: transient (only allocation N fails, every N) and persistent (N and every
 * later one fail, so error paths that allocate fail too; every 7th N). Each operation
 * prints the number of injection points tried (transient: the allocations it makes when
 * nothing fails).
 * EMBER_ALLOC_FAULT_ONLY=TEXT sweeps only the operations whose name contains TEXT. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember.h"
#include "fault_alloc.h"

#define MODELS EMBER_BUILD_DIR "/models/"

/* ---- fixtures: a runtime, the models and reference outputs made with nothing failing ---- */

static struct {
    ember_runtime *rt;
    ember_model *mnist, *cifar, *mnist_pre, *lm;
    void *mnist_bytes;
    size_t mnist_size;
    void *png;       /* an MNIST digit, PNG */
    size_t png_size;
    ember_tensor *mnist_in, *cifar_in2, *cifar_in3, *pre_out;
    float mnist_ref[10], cifar_ref2[20], cifar_ref3[30];
    int32_t prompt[16];
    size_t n_prompt;
    float lm_ref[512]; /* logits after the prompt */
    size_t vocab;
} g;

static void *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static ember_model *load(const char *file) {
    char path[1024];
    snprintf(path, sizeof path, MODELS "%s", file);
    ember_model *m = NULL;
    if (ember_model_load_file(g.rt, path, NULL, &m) != EMBER_OK)
        fail_msg("%s: %s", path, ember_last_error());
    return m;
}

static ember_tensor *pattern_tensor(int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t dims[4] = {n, c, h, w};
    ember_tensor *t = NULL;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 4, &t), EMBER_OK);
    float *x = ember_tensor_data(t);
    for (int64_t i = 0; i < n * c * h * w; i++) x[i] = (float)((i * 37) % 256) / 255.0f - 0.5f;
    return t;
}

/* Runs `s` on one input and copies output 0 (n floats) to `out`. */
static ember_status run1(ember_session *s, const ember_tensor *in, float *out, size_t n) {
    const ember_tensor *ins[1] = {in};
    ember_status st = ember_session_run(s, ins, 1);
    if (st != EMBER_OK) return st;
    const ember_tensor *o = NULL;
    assert_int_equal(ember_session_output(s, 0, &o), EMBER_OK);
    assert_int_equal(ember_tensor_size_bytes(o), n * sizeof(float));
    memcpy(out, ember_tensor_data_const(o), n * sizeof(float));
    return EMBER_OK;
}

static void run_ref(ember_model *m, const ember_tensor *in, float *out, size_t n) {
    ember_session *s = NULL;
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    if (run1(s, in, out, n) != EMBER_OK) fail_msg("reference run: %s", ember_last_error());
    ember_session_release(s);
}

static ember_session *lm_session(void) {
    ember_session *s = NULL;
    if (ember_session_create(g.lm, NULL, &s) != EMBER_OK) fail_msg("lm session: %s", ember_last_error());
    return s;
}

static int setup(void **state) {
    (void)state;
    ember_runtime_options o = {sizeof o};
    o.num_threads = 2;
    o.disable_plugin_discovery = 1;
    assert_int_equal(ember_runtime_create(&o, &g.rt), EMBER_OK);
    g.mnist = load("mnist-8.ember");
    g.cifar = load("winml-cifar10-tutorial.ember");
    g.mnist_pre = load("mnist-preset.ember");
    g.lm = load("stories260K.ember");
    g.mnist_bytes = read_all(MODELS "mnist-8.ember", &g.mnist_size);
    g.png = read_all(EMBER_SHARED_DIR "/models/images/mnist/mnist8_testset0_digit2.png", &g.png_size);
    assert_non_null(g.mnist_bytes);
    if (!g.png) fail_msg("cannot read " EMBER_SHARED_DIR "/models/images/mnist/mnist8_testset0_digit2.png");
    g.mnist_in = pattern_tensor(1, 1, 28, 28);
    g.cifar_in2 = pattern_tensor(2, 3, 32, 32);
    g.cifar_in3 = pattern_tensor(3, 3, 32, 32);
    g.pre_out = pattern_tensor(1, 1, 28, 28);
    run_ref(g.mnist, g.mnist_in, g.mnist_ref, 10);
    run_ref(g.cifar, g.cifar_in2, g.cifar_ref2, 20);
    run_ref(g.cifar, g.cifar_in3, g.cifar_ref3, 30);
    /* language model: the prompt's tokens and the logits after it */
    ember_tokenizer *tok = NULL;
    assert_int_equal(ember_tokenizer_create(g.lm, &tok), EMBER_OK);
    const char *text = "Once upon a time";
    assert_int_equal(ember_tokenizer_encode(tok, text, strlen(text), EMBER_TOKENIZE_ADD_BOS,
                                            g.prompt, 16, &g.n_prompt), EMBER_OK);
    ember_tokenizer_release(tok);
    ember_session *s = lm_session();
    ember_generator *gen = NULL;
    assert_int_equal(ember_generator_create(s, NULL, &gen), EMBER_OK);
    assert_int_equal(ember_generator_feed(gen, g.prompt, g.n_prompt), EMBER_OK);
    const float *logits = NULL;
    assert_int_equal(ember_generator_logits(gen, &logits, &g.vocab), EMBER_OK);
    assert_true(g.vocab <= 512);
    memcpy(g.lm_ref, logits, g.vocab * sizeof(float));
    ember_generator_release(gen);
    ember_session_release(s);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ember_tensor_release(g.mnist_in);
    ember_tensor_release(g.cifar_in2);
    ember_tensor_release(g.cifar_in3);
    ember_tensor_release(g.pre_out);
    ember_model_release(g.mnist);
    ember_model_release(g.cifar);
    ember_model_release(g.mnist_pre);
    ember_model_release(g.lm);
    ember_runtime_release(g.rt);
    free(g.mnist_bytes);
    free(g.png);
    return 0;
}

/* ---- the operations: prepare (unarmed), op (armed), verify after a failure, done ---- */

typedef struct Ctx {
    ember_runtime *rt;
    ember_model *model;
    ember_session *session;
    ember_image *image;
    ember_tokenizer *tok;
    ember_generator *gen;
} Ctx;

static void done_all(Ctx *c) {
    ember_generator_release(c->gen);
    ember_tokenizer_release(c->tok);
    ember_image_release(c->image);
    ember_session_release(c->session);
    if (c->model) assert_int_equal(ember_model_release(c->model), EMBER_OK);
    if (c->rt) assert_int_equal(ember_runtime_release(c->rt), EMBER_OK);
    memset(c, 0, sizeof *c);
}

static ember_status op_runtime_create(Ctx *c) {
    ember_runtime_options o = {sizeof o};
    o.num_threads = 3;
    o.disable_plugin_discovery = 1;
    return ember_runtime_create(&o, &c->rt);
}

static ember_status op_load_mmap(Ctx *c) {
    return ember_model_load_file(g.rt, MODELS "mnist-8.ember", NULL, &c->model);
}

static ember_status op_load_copy(Ctx *c) {
    ember_model_options o = {sizeof o};
    o.copy_on_load = 1;
    o.verify_checksums = 1;
    return ember_model_load_file(g.rt, MODELS "mnist-8.ember", &o, &c->model);
}

static ember_status op_load_memory(Ctx *c) {
    return ember_model_load_memory(g.rt, g.mnist_bytes, g.mnist_size, NULL, &c->model);
}

/* mnist-8 has fixed shapes: creation plans (kernels, packed weights, arena). */
static ember_status op_session_mnist(Ctx *c) { return ember_session_create(g.mnist, NULL, &c->session); }

static ember_status op_session_cifar(Ctx *c) { return ember_session_create(g.cifar, NULL, &c->session); }

static void prepare_cifar(Ctx *c) { assert_int_equal(ember_session_create(g.cifar, NULL, &c->session), EMBER_OK); }

/* CIFAR has a symbolic batch: the first run plans. */
static ember_status op_first_run(Ctx *c) {
    float out[20];
    return run1(c->session, g.cifar_in2, out, 20);
}

/* A run with a new batch re-plans a session that already has a plan. */
static void prepare_cifar_planned(Ctx *c) {
    prepare_cifar(c);
    float out[20];
    assert_int_equal(run1(c->session, g.cifar_in2, out, 20), EMBER_OK);
}

static ember_status op_replan(Ctx *c) {
    float out[30];
    return run1(c->session, g.cifar_in3, out, 30);
}

/* After a failed run, the session still runs both batches with the reference outputs. */
static void verify_cifar(Ctx *c) {
    float out[30];
    if (run1(c->session, g.cifar_in3, out, 30) != EMBER_OK) fail_msg("rerun: %s", ember_last_error());
    assert_memory_equal(out, g.cifar_ref3, sizeof g.cifar_ref3);
    if (run1(c->session, g.cifar_in2, out, 20) != EMBER_OK) fail_msg("rerun: %s", ember_last_error());
    assert_memory_equal(out, g.cifar_ref2, sizeof g.cifar_ref2);
}

static void prepare_mnist_pre(Ctx *c) {
    assert_int_equal(ember_session_create(g.mnist_pre, NULL, &c->session), EMBER_OK);
}

/* Decode a PNG. */
static ember_status op_image_load(Ctx *c) { return ember_image_load_memory(g.png, g.png_size, &c->image); }

static void prepare_image(Ctx *c) {
    prepare_mnist_pre(c);
    assert_int_equal(ember_image_load_memory(g.png, g.png_size, &c->image), EMBER_OK);
}

/* Preprocess it (the model's "mnist" spec: gray, resize) into the input, in a session
 * that has no preprocessing scratch yet. */
static ember_status op_preprocess(Ctx *c) {
    return ember_session_preprocess(c->session, 0, c->image, NULL, g.pre_out, 0);
}

/* After a failed preprocess the session preprocesses and runs. */
static void verify_preprocess(Ctx *c) {
    assert_int_equal(op_preprocess(c), EMBER_OK);
    const ember_tensor *ins[1] = {g.pre_out};
    assert_int_equal(ember_session_run(c->session, ins, 1), EMBER_OK);
}

static ember_status op_tokenizer_create(Ctx *c) { return ember_tokenizer_create(g.lm, &c->tok); }

static void prepare_tokenizer(Ctx *c) { assert_int_equal(ember_tokenizer_create(g.lm, &c->tok), EMBER_OK); }

static ember_status op_encode(Ctx *c) {
    int32_t ids[16];
    size_t n = 0;
    const char *text = "Once upon a time";
    ember_status st = ember_tokenizer_encode(c->tok, text, strlen(text), EMBER_TOKENIZE_ADD_BOS, ids, 16, &n);
    if (st == EMBER_OK && (n != g.n_prompt || memcmp(ids, g.prompt, n * sizeof *ids)))
        fail_msg("tokenizer: different ids after a successful encode");
    return st;
}

static void prepare_lm_session(Ctx *c) { c->session = lm_session(); }

static ember_status op_generator_create(Ctx *c) { return ember_generator_create(c->session, NULL, &c->gen); }

static void prepare_generator(Ctx *c) {
    prepare_lm_session(c);
    assert_int_equal(ember_generator_create(c->session, NULL, &c->gen), EMBER_OK);
}

/* The prompt's prefill: one batched run of n_prompt tokens (plans for that length). */
static ember_status op_feed(Ctx *c) {
    ember_status st = ember_generator_feed(c->gen, g.prompt, g.n_prompt);
    if (st != EMBER_OK) return st;
    const float *logits = NULL;
    size_t n = 0;
    assert_int_equal(ember_generator_logits(c->gen, &logits, &n), EMBER_OK);
    assert_int_equal(n, g.vocab);
    for (size_t i = 0; i < n; i++)
        if (fabsf(logits[i] - g.lm_ref[i]) > 1e-4f) fail_msg("feed: logit %zu differs", i);
    return st;
}

/* After a failed feed nothing was fed: the position is still 0, and feeding works. */
static void verify_feed(Ctx *c) {
    int64_t pos = -1;
    assert_int_equal(ember_generator_position(c->gen, &pos, NULL), EMBER_OK);
    if (pos != 0) fail_msg("a failed feed moved the generator to position %lld", (long long)pos);
    assert_int_equal(op_feed(c), EMBER_OK);
    assert_int_equal(ember_generator_truncate(c->gen, 0), EMBER_OK);
}

/* Greedy generation of 8 tokens after the prompt (each one a 1-token run). */
static void prepare_generate(Ctx *c) {
    prepare_generator(c);
    assert_int_equal(ember_generator_feed(c->gen, g.prompt, g.n_prompt), EMBER_OK);
}

static ember_status op_generate(Ctx *c) {
    ember_generate_options o = {sizeof o};
    o.max_tokens = 8;
    o.ignore_eos = 1;
    int32_t ids[8];
    size_t n = 0;
    ember_stop_reason why;
    return ember_generator_generate(c->gen, &o, ids, 8, &n, &why);
}

/* After a failed step the generator can roll back to the prompt and generate again. */
static void verify_generate(Ctx *c) {
    assert_int_equal(ember_generator_truncate(c->gen, (int64_t)g.n_prompt), EMBER_OK);
    assert_int_equal(op_generate(c), EMBER_OK);
    assert_int_equal(ember_generator_truncate(c->gen, (int64_t)g.n_prompt), EMBER_OK);
}

typedef struct Op {
    const char *name;
    void (*prepare)(Ctx *);
    ember_status (*op)(Ctx *);
    void (*verify)(Ctx *);
    size_t out_offset; /* the handle the operation makes: must stay NULL on failure */
} Op;

#define OUT(field) offsetof(Ctx, field)
#define NO_OUT ((size_t)-1)

static const Op ops[] = {
    {"runtime create (3 threads)", NULL, op_runtime_create, NULL, OUT(rt)},
    {"model load, file, mmap", NULL, op_load_mmap, NULL, OUT(model)},
    {"model load, file, copy_on_load", NULL, op_load_copy, NULL, OUT(model)},
    {"model load, memory", NULL, op_load_memory, NULL, OUT(model)},
    {"session create + plan (mnist-8)", NULL, op_session_mnist, NULL, OUT(session)},
    {"session create (cifar, symbolic batch)", NULL, op_session_cifar, NULL, OUT(session)},
    {"first run: plan + run (cifar, batch 2)", prepare_cifar, op_first_run, verify_cifar, NO_OUT},
    {"re-plan + run (cifar, batch 2 -> 3)", prepare_cifar_planned, op_replan, verify_cifar, NO_OUT},
    {"image load (PNG, 28x28)", NULL, op_image_load, NULL, OUT(image)},
    {"preprocess (mnist spec)", prepare_image, op_preprocess, verify_preprocess, NO_OUT},
    {"tokenizer create", NULL, op_tokenizer_create, NULL, OUT(tok)},
    {"tokenizer encode", prepare_tokenizer, op_encode, NULL, NO_OUT},
    {"generator create", prepare_lm_session, op_generator_create, NULL, OUT(gen)},
    {"generator feed (prompt prefill)", prepare_generator, op_feed, verify_feed, NO_OUT},
    {"generator generate (8 tokens)", prepare_generate, op_generate, verify_generate, NO_OUT},
};

enum { kMaxPoints = 200000 }; /* a loop that never ends is a failure too */
/* The persistent pass fails every 7th N onwards (N = 1, 8, 15, ...): it is there for the
 * error paths' own allocations, and every N would double the test's time under ASan. */
enum { kPersistentStride = 7 };

/* Sweeps N = 1, 2, ... over one operation; returns the injection points tried. */
static long sweep(const Op *op, int persistent) {
    long tried = 0;
    for (long n = 1; n < kMaxPoints; n += persistent ? kPersistentStride : 1, tried++) {
        Ctx c;
        memset(&c, 0, sizeof c);
        if (op->prepare) op->prepare(&c);
        fault_alloc_arm(n, persistent);
        ember_status st = op->op(&c);
        long failed = 0;
        fault_alloc_disarm(&failed);
        if (st == EMBER_OK) {
            done_all(&c);
            if (failed == 0) return tried; /* past the last allocation: all points tried */
            continue;                      /* a refused allocation it could do without */
        }
        if (failed == 0)
            fail_msg("%s: N=%ld failed without a refused allocation: %s (%s)", op->name, n,
                     ember_status_string(st), ember_last_error());
        if (st != EMBER_ERR_OUT_OF_MEMORY || ember_last_error()[0] == '\0')
            fail_msg("%s: allocation %ld refused%s: got %s, message '%s'", op->name, n,
                     persistent ? " (and every later one)" : "", ember_status_string(st),
                     ember_last_error());
        if (op->out_offset != NO_OUT && *(void **)((char *)&c + op->out_offset) != NULL)
            fail_msg("%s: N=%ld: the output handle was set on failure", op->name, n);
        if (op->verify) op->verify(&c);
        done_all(&c);
    }
    fail_msg("%s: still failing after %d injection points", op->name, kMaxPoints);
    return 0;
}

static void run_all(int persistent) {
    long total = 0;
    const char *only = getenv("EMBER_ALLOC_FAULT_ONLY"); /* debugging: ops whose name has it */
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (only && !strstr(ops[i].name, only)) continue;
        long points = sweep(&ops[i], persistent);
        print_message("%-42s %6ld injection points, all clean\n", ops[i].name, points);
        if (points == 0) fail_msg("%s: allocates nothing? the injector is not wired", ops[i].name);
        total += points;
    }
    print_message("%s: %ld injection points in %zu operations\n",
                  persistent ? "persistent" : "transient", total, sizeof ops / sizeof ops[0]);
}

static void test_transient(void **state) {
    (void)state;
    run_all(0);
}

static void test_persistent(void **state) {
    (void)state;
    run_all(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transient),
        cmocka_unit_test(test_persistent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
