/* test_lm.c — language models through the public C API only (api/ember.h):
 *
 *   - greedy generation reproduces the golden token ids of shared/models/lm/ *.golden.json
 *     exactly (stories260K from llama2.c and from GGUF, aidreams260K), from BOS and from
 *     the prompt "Once upon a time"; the top-5 logits of the first steps match within
 *     1e-3; the decoded text equals the golden text;
 *   - the tokenizer passes llama.cpp's test vectors for the Llama SPM vocabulary
 *     (ggml-vocab-llama-spm.gguf.inp/.out, through the converted vocabulary-only model);
 *   - feeding N tokens one at a time gives the logits of one N-token prefill (1e-4);
 *   - a feed computing the last position's logits only (the default) equals the last row
 *     of the full [N, vocab] path (all_logits, 1e-5);
 *   - truncating and regenerating equals a fresh run; seeded sampling is reproducible;
 *   - errors: context overflow, unknown ids, not a language model, bad arguments.
 *
 * The models are converted by the CTest fixture lm_models (tests/CMakeLists.txt) into
 * ${EMBER_BUILD_DIR}/models. */
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

#define LM_DIR EMBER_SHARED_DIR "/models/lm/"
#define MODELS EMBER_BUILD_DIR "/models/"

static ember_runtime *g_rt;

/* ---- small helpers ---- */

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[len] = 0;
    if (n) *n = (size_t)len;
    return b;
}

/* The numbers of the (possibly nested) array after "key", flattened. */
static size_t json_numbers(const char *json, const char *key, double *out, size_t cap) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    p = strchr(p + strlen(pat), '[');
    if (!p) return 0;
    int depth = 0;
    size_t n = 0;
    for (; *p; p++) {
        if (*p == '[') depth++;
        else if (*p == ']') {
            if (--depth == 0) break;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            double v = strtod(p, &end);
            if (n < cap) out[n] = v;
            n++;
            p = end - 1;
        }
    }
    return n;
}

/* The string value of "key" (JSON escapes \n \" \\ \t and \u00XX decoded). */
static size_t json_string(const char *json, const char *key, char *out, size_t cap) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    p = strchr(p + strlen(pat), ':');
    p = p ? strchr(p, '"') : NULL;
    if (!p) return 0;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'u': c = (char)strtol((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16); p += 4; break;
                default: c = *p;
            }
        }
        if (n + 1 < cap) out[n++] = c;
    }
    out[n] = 0;
    return n;
}

typedef struct {
    ember_model *model;
    ember_session *session;
    ember_generator *gen;
    const ember_tokenizer *tok;
} Lm;

/* all_logits 1: feeds compute every position's logits (the session's output [n, vocab]). */
static void lm_open_opts(Lm *lm, const char *path, int64_t context, int32_t all_logits) {
    memset(lm, 0, sizeof *lm);
    if (ember_model_load_file(g_rt, path, NULL, &lm->model) != EMBER_OK)
        fail_msg("load %s: %s", path, ember_last_error());
    assert_int_equal(ember_session_create(lm->model, NULL, &lm->session), EMBER_OK);
    ember_generator_options go = {sizeof go, context, all_logits};
    if (ember_generator_create(lm->session, &go, &lm->gen) != EMBER_OK)
        fail_msg("generator on %s: %s", path, ember_last_error());
    assert_int_equal(ember_generator_tokenizer(lm->gen, &lm->tok), EMBER_OK);
}

static void lm_open(Lm *lm, const char *path, int64_t context) { lm_open_opts(lm, path, context, 0); }

static void lm_close(Lm *lm) {
    ember_generator_release(lm->gen);
    ember_session_release(lm->session);
    assert_int_equal(ember_model_release(lm->model), EMBER_OK);
}

static int32_t argmax(const float *x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* ---- golden generations ---- */

static void check_golden(const char *model, const char *golden, int64_t context) {
    char *json = read_all(golden, NULL);
    assert_non_null(json);
    static double prompt_ids[64], ids[512], topk[512];
    static char prompt[256], text[8192], got_text[8192];
    size_t n_prompt = json_numbers(json, "prompt_ids", prompt_ids, 64);
    size_t n_ids = json_numbers(json, "greedy_ids", ids, 512);
    size_t n_topk = json_numbers(json, "topk_logits_first_generated_steps", topk, 512);
    json_string(json, "prompt", prompt, sizeof prompt);
    json_string(json, "text", text, sizeof text);
    assert_true(n_prompt >= 1 && n_ids >= 32 && n_ids <= 512 && n_topk % 10 == 0 && n_topk > 0);

    Lm lm;
    lm_open(&lm, model, context);
    /* The tokenizer gives the golden prompt ids. */
    int32_t pids[64];
    size_t np = 0;
    assert_int_equal(ember_tokenizer_encode(lm.tok, prompt, strlen(prompt), EMBER_TOKENIZE_ADD_BOS, pids, 64, &np),
                     EMBER_OK);
    assert_int_equal(np, n_prompt);
    for (size_t i = 0; i < np; i++)
        if (pids[i] != (int32_t)prompt_ids[i]) fail_msg("%s: prompt id %zu is %d, golden %d", model, i, pids[i], (int)prompt_ids[i]);
    assert_int_equal(ember_generator_feed(lm.gen, pids, np), EMBER_OK);

    /* The first steps one by one: top-5 logits within 1e-3, then the greedy id. */
    int32_t out[512];
    size_t steps = n_topk / 10;
    double worst = 0.0;
    for (size_t s = 0; s < steps; s++) {
        const float *l;
        size_t nv;
        assert_int_equal(ember_generator_logits(lm.gen, &l, &nv), EMBER_OK);
        float v[5];
        int32_t id[5];
        for (int k = 0; k < 5; k++) {
            id[k] = -1;
            for (size_t i = 0; i < nv; i++) {
                int taken = 0;
                for (int j = 0; j < k; j++) taken |= id[j] == (int32_t)i;
                if (!taken && (id[k] < 0 || l[i] > l[id[k]])) id[k] = (int32_t)i;
            }
            v[k] = l[id[k]];
            const double *g = topk + s * 10 + k * 2;
            if (fabs(v[k] - g[1]) > worst) worst = fabs(v[k] - g[1]);
            if (id[k] != (int32_t)g[0] || fabs(v[k] - g[1]) > 1e-3)
                fail_msg("%s: step %zu top-%d: got id %d logit %.6f, golden id %d logit %.6f", model, s, k + 1,
                         id[k], v[k], (int)g[0], g[1]);
        }
        int32_t next;
        assert_int_equal(ember_generator_sample(lm.gen, &next), EMBER_OK);  /* greedy by default */
        assert_int_equal(next, argmax(l, nv));
        out[s] = next;
        assert_int_equal(ember_generator_feed(lm.gen, &next, 1), EMBER_OK);
    }
    /* The rest through ember_generator_generate. */
    size_t n = 0;
    ember_stop_reason why;
    ember_generate_options go = {sizeof go, (int64_t)(n_ids - steps), 0, NULL, NULL};
    assert_int_equal(ember_generator_generate(lm.gen, &go, out + steps, 512 - steps, &n, &why), EMBER_OK);
    assert_int_equal(steps + n, n_ids);
    for (size_t i = 0; i < n_ids; i++)
        if (out[i] != (int32_t)ids[i])
            fail_msg("%s: generated id %zu is %d, golden %d", model, i, out[i], (int)ids[i]);
    /* The text of prompt + generation. */
    int32_t all[600];
    memcpy(all, pids, np * sizeof(int32_t));
    memcpy(all + np, out, n_ids * sizeof(int32_t));
    size_t nb = 0;
    assert_int_equal(ember_tokenizer_decode(lm.tok, all, np + n_ids, got_text, sizeof got_text, &nb), EMBER_OK);
    if (strcmp(got_text, text) != 0) fail_msg("%s: text differs:\n%s\n--- golden:\n%s", model, got_text, text);
    printf("%s: %zu ids equal, top-5 logits of %zu steps within %.2g\n", golden, n_ids, steps, worst);
    lm_close(&lm);
    free(json);
}

static void test_golden_stories_bos(void **state) {
    (void)state;
    check_golden(MODELS "stories260K.ember", LM_DIR "stories260K.golden.json", 0);
}
static void test_golden_stories_prompt(void **state) {
    (void)state;
    check_golden(MODELS "stories260K.ember", LM_DIR "stories260K.prompt.golden.json", 0);
}
/* The GGUF says context_length 128 (llama.cpp's converter); the golden run needs 256. */
static void test_golden_stories_gguf_bos(void **state) {
    (void)state;
    check_golden(MODELS "stories260K-gguf.ember", LM_DIR "stories260K.golden.json", 512);
}
static void test_golden_stories_gguf_prompt(void **state) {
    (void)state;
    check_golden(MODELS "stories260K-gguf.ember", LM_DIR "stories260K.prompt.golden.json", 0);
}
static void test_golden_aidreams(void **state) {
    (void)state;
    /* 128 positions = the whole trained context: the last token is emitted, not fed. */
    check_golden(MODELS "aidreams260K.ember", LM_DIR "aidreams260K.golden.json", 0);
}

/* ---- tokenizer: llama.cpp's vectors for the Llama SPM vocabulary ---- */

static void test_tokenizer_llama_spm(void **state) {
    (void)state;
    size_t n_in = 0, n_out = 0;
    char *inp = read_all(LM_DIR "ggml-vocab-llama-spm.gguf.inp", &n_in);
    char *outp = read_all(LM_DIR "ggml-vocab-llama-spm.gguf.out", &n_out);
    assert_non_null(inp);
    assert_non_null(outp);
    ember_model *m;
    if (ember_model_load_file(g_rt, MODELS "llama-spm-vocab.ember", NULL, &m) != EMBER_OK)
        fail_msg("%s", ember_last_error());
    ember_tokenizer *tok;
    assert_int_equal(ember_tokenizer_create(m, &tok), EMBER_OK);
    assert_int_equal(ember_model_release(m), EMBER_OK); /* the tokenizer outlives the model */
    ember_tokenizer_info ti = {sizeof ti, 0, 0, 0, 0, 0};
    assert_int_equal(ember_tokenizer_get_info(tok, &ti), EMBER_OK);
    assert_int_equal(ti.vocab_size, 32000);
    assert_int_equal(ti.bos, 1);
    assert_int_equal(ti.eos, 2);

    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *q = outp;
    int cases = 0, failed = 0;
    static int32_t ids[4096];
    for (;;) {
        char *end = strstr(p, sep);
        char *eol = strchr(q, '\n');
        if (!end || !eol) break;
        size_t n = 0;
        ember_status st = ember_tokenizer_encode(tok, p, (size_t)(end - p), 0, ids, 4096, &n);
        assert_int_equal(st, EMBER_OK);
        /* Expected: space-separated ids. */
        int32_t want[4096];
        size_t nw = 0;
        for (char *s = q; s < eol;) {
            char *e;
            long v = strtol(s, &e, 10);
            if (e == s) break;
            want[nw++] = (int32_t)v;
            s = e;
        }
        int ok = n == nw;
        for (size_t i = 0; ok && i < n; i++) ok = ids[i] == want[i];
        if (!ok) {
            failed++;
            fprintf(stderr, "case %d '%.*s': got", cases, (int)(end - p), p);
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n  want%.*s\n", (int)(eol - q), q);
        }
        cases++;
        p = end + strlen(sep);
        q = eol + 1;
    }
    assert_int_equal(cases, 46);
    if (failed) fail_msg("%d of %d tokenizer vectors differ", failed, cases);

    /* Round trip and buffer sizes. */
    const char *s = "Hello world, this is a t\xc3\xa9st";
    size_t n = 0, need = 0;
    assert_int_equal(ember_tokenizer_encode(tok, s, strlen(s), EMBER_TOKENIZE_ADD_BOS, NULL, 0, &need),
                     EMBER_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ember_tokenizer_encode(tok, s, strlen(s), EMBER_TOKENIZE_ADD_BOS, ids, need, &n), EMBER_OK);
    assert_int_equal(n, need);
    assert_int_equal(ids[0], 1);
    char text[128];
    size_t nb = 0;
    assert_int_equal(ember_tokenizer_decode(tok, ids, n, text, 4, &nb), EMBER_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(nb, strlen(s));
    assert_int_equal(ember_tokenizer_decode(tok, ids, n, text, sizeof text, &nb), EMBER_OK);
    assert_string_equal(text, s);
    /* Special tokens are text unless asked for. */
    assert_int_equal(ember_tokenizer_encode(tok, "<s>hi", 5, EMBER_TOKENIZE_PARSE_SPECIAL, ids, 64, &n), EMBER_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ember_tokenizer_encode(tok, "<s>hi", 5, 0, ids, 64, &n), EMBER_OK);
    assert_true(n > 1 && ids[0] != 1);
    int32_t bad = 32000;
    assert_int_equal(ember_tokenizer_decode(tok, &bad, 1, text, sizeof text, &nb), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "32000"));
    assert_int_equal(ember_tokenizer_encode(tok, "x", 1, 0x80, ids, 64, &n), EMBER_ERR_INVALID_ARGUMENT);
    ember_tokenizer_release(tok);
    free(inp);
    free(outp);
}

/* ---- prefill == step by step; truncate; sampling ---- */

static void test_prefill_equals_steps(void **state) {
    (void)state;
    enum { N = 24 };
    Lm lm;
    lm_open_opts(&lm, MODELS "stories260K.ember", 0, 1);
    int32_t toks[N];
    size_t np = 0;
    const char *text = "Once upon a time, there was a little girl named Lily who liked cake.";
    assert_int_equal(ember_tokenizer_encode(lm.tok, text, strlen(text), EMBER_TOKENIZE_ADD_BOS, toks, N, &np),
                     np > N ? EMBER_ERR_BUFFER_TOO_SMALL : EMBER_OK);
    assert_true(np >= N);
    /* One batched run of N tokens: the session's output holds all N rows. */
    assert_int_equal(ember_generator_feed(lm.gen, toks, N), EMBER_OK);
    const ember_tensor *out;
    assert_int_equal(ember_session_output(lm.session, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_rank(out), 2);
    assert_int_equal(ember_tensor_dims(out)[0], N);
    size_t vocab = (size_t)ember_tensor_dims(out)[1];
    float *rows = malloc(sizeof(float) * N * vocab);
    memcpy(rows, ember_tensor_data_const(out), sizeof(float) * N * vocab);
    /* A second generator on the same session, one token at a time. */
    ember_generator *g2;
    assert_int_equal(ember_generator_create(lm.session, NULL, &g2), EMBER_OK);
    double worst = 0;
    for (int t = 0; t < N; t++) {
        assert_int_equal(ember_generator_feed(g2, &toks[t], 1), EMBER_OK);
        const float *l;
        size_t nv;
        assert_int_equal(ember_generator_logits(g2, &l, &nv), EMBER_OK);
        assert_int_equal(nv, vocab);
        for (size_t i = 0; i < vocab; i++) {
            double d = fabs((double)l[i] - rows[t * vocab + i]);
            if (d > worst) worst = d;
            if (d > 1e-4) fail_msg("position %d, logit %zu: step %.7f, prefill %.7f", t, i, l[i], rows[t * vocab + i]);
        }
    }
    /* The last row is also what the prefill generator kept. */
    const float *l;
    assert_int_equal(ember_generator_logits(lm.gen, &l, NULL), EMBER_OK);
    assert_memory_equal(l, rows + (N - 1) * vocab, vocab * sizeof(float));
    printf("prefill vs steps: max |diff| %.3g over %d positions\n", worst, N);
    ember_generator_release(g2);
    free(rows);
    lm_close(&lm);
}

/* The default generator computes the classifier for the last position only: its logits
 * equal the last row of the full [N, vocab] path (a one-row dot product there, a GEMM
 * row here: 1e-5), its session output is [1, vocab], and greedy continuations agree. */
static void test_last_row_only(void **state) {
    (void)state;
    enum { N = 20, G = 40 };
    Lm lm;
    lm_open(&lm, MODELS "stories260K.ember", 0);
    int32_t toks[64];
    size_t np = 0;
    const char *text = "Once upon a time, there was a little girl named Lily who liked cake.";
    assert_int_equal(ember_tokenizer_encode(lm.tok, text, strlen(text), EMBER_TOKENIZE_ADD_BOS, toks, 64, &np),
                     EMBER_OK);
    assert_true(np >= N);
    assert_int_equal(ember_generator_feed(lm.gen, toks, N), EMBER_OK);
    const ember_tensor *out;
    assert_int_equal(ember_session_output(lm.session, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_rank(out), 2);
    assert_int_equal(ember_tensor_dims(out)[0], 1);
    const size_t vocab = (size_t)ember_tensor_dims(out)[1];
    const float *last;
    size_t nv;
    assert_int_equal(ember_generator_logits(lm.gen, &last, &nv), EMBER_OK);
    assert_int_equal(nv, vocab);
    assert_memory_equal(last, ember_tensor_data_const(out), vocab * sizeof(float));
    float *mine = malloc(sizeof(float) * vocab);
    memcpy(mine, last, sizeof(float) * vocab);

    /* The full path on the same session. */
    ember_generator *full;
    ember_generator_options go = {sizeof go, 0, 1};
    assert_int_equal(ember_generator_create(lm.session, &go, &full), EMBER_OK);
    assert_int_equal(ember_generator_feed(full, toks, N), EMBER_OK);
    assert_int_equal(ember_session_output(lm.session, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_dims(out)[0], N);
    const float *rows = ember_tensor_data_const(out);
    double worst = 0;
    for (size_t i = 0; i < vocab; i++) {
        double d = fabs((double)mine[i] - rows[(N - 1) * vocab + i]);
        if (d > worst) worst = d;
        if (d > 1e-5) fail_msg("logit %zu: last row only %.7f, full %.7f", i, mine[i], rows[(N - 1) * vocab + i]);
    }
    printf("last row only vs full: max |diff| %.3g\n", worst);
    const float *full_last;
    assert_int_equal(ember_generator_logits(full, &full_last, NULL), EMBER_OK);
    assert_memory_equal(full_last, rows + (N - 1) * vocab, vocab * sizeof(float));
    assert_int_equal(argmax(full_last, vocab), argmax(mine, vocab));

    /* Greedy continuations agree token for token. */
    int32_t a[G], b[G];
    size_t na, nb;
    ember_stop_reason why;
    ember_generate_options gen = {sizeof gen, G, 1, NULL, NULL};
    assert_int_equal(ember_generator_generate(lm.gen, &gen, a, G, &na, &why), EMBER_OK);
    assert_int_equal(ember_generator_generate(full, &gen, b, G, &nb, &why), EMBER_OK);
    assert_int_equal(na, G);
    assert_int_equal(nb, G);
    assert_memory_equal(a, b, sizeof a);
    ember_generator_release(full);
    free(mine);
    lm_close(&lm);

    /* all_logits other than 0 and 1 is refused. */
    lm_open(&lm, MODELS "stories260K.ember", 0);
    ember_generator *bad = NULL;
    go.all_logits = 2;
    assert_int_equal(ember_generator_create(lm.session, &go, &bad), EMBER_ERR_INVALID_ARGUMENT);
    assert_null(bad);
    lm_close(&lm);
}

static void test_truncate_regenerate(void **state) {
    (void)state;
    Lm lm;
    lm_open(&lm, MODELS "stories260K.ember", 0);
    int32_t p[16];
    size_t np;
    assert_int_equal(ember_tokenizer_encode(lm.tok, "Once upon a time", 16, EMBER_TOKENIZE_ADD_BOS, p, 16, &np),
                     EMBER_OK);
    ember_sampler_options so = {sizeof so, 0.9f, 40, 0.95f, 7};
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_OK);
    int32_t a[40], b[40], c[40];
    size_t na, nb, nc;
    ember_stop_reason why;
    ember_generate_options go = {sizeof go, 40, 1, NULL, NULL};
    assert_int_equal(ember_generator_feed(lm.gen, p, np), EMBER_OK);
    assert_int_equal(ember_generator_generate(lm.gen, &go, a, 40, &na, &why), EMBER_OK);
    assert_int_equal(na, 40);
    assert_int_equal(why, EMBER_STOP_LENGTH);
    int64_t pos, ctx;
    assert_int_equal(ember_generator_position(lm.gen, &pos, &ctx), EMBER_OK);
    assert_int_equal(pos, (int64_t)np + 40);
    assert_int_equal(ctx, 512);

    /* Back to the prompt minus its last token, re-feed it, same seed: same tokens. */
    assert_int_equal(ember_generator_truncate(lm.gen, (int64_t)np - 1), EMBER_OK);
    const float *l;
    assert_int_equal(ember_generator_logits(lm.gen, &l, NULL), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_generator_feed(lm.gen, &p[np - 1], 1), EMBER_OK);
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_OK);
    assert_int_equal(ember_generator_generate(lm.gen, &go, b, 40, &nb, &why), EMBER_OK);
    assert_int_equal(nb, 40);
    assert_memory_equal(a, b, sizeof a);

    /* A fresh generator gives the same run. */
    ember_generator *g2;
    assert_int_equal(ember_generator_create(lm.session, NULL, &g2), EMBER_OK);
    assert_int_equal(ember_generator_set_sampler(g2, &so), EMBER_OK);
    assert_int_equal(ember_generator_feed(g2, p, np), EMBER_OK);
    assert_int_equal(ember_generator_generate(g2, &go, c, 40, &nc, &why), EMBER_OK);
    assert_memory_equal(a, c, sizeof a);
    ember_generator_release(g2);

    /* Truncate into the generated part: greedy continuation from there matches a fresh
     * greedy run fed the same tokens. */
    assert_int_equal(ember_generator_set_sampler(lm.gen, NULL), EMBER_OK);
    assert_int_equal(ember_generator_truncate(lm.gen, (int64_t)np + 10), EMBER_OK);
    assert_int_equal(ember_generator_feed(lm.gen, &a[10], 1), EMBER_OK);
    int32_t t1[8], t2[8];
    size_t n1, n2;
    ember_generate_options g8 = {sizeof g8, 8, 1, NULL, NULL};
    assert_int_equal(ember_generator_generate(lm.gen, &g8, t1, 8, &n1, &why), EMBER_OK);
    assert_int_equal(ember_generator_create(lm.session, NULL, &g2), EMBER_OK);
    assert_int_equal(ember_generator_feed(g2, p, np), EMBER_OK);
    assert_int_equal(ember_generator_feed(g2, a, 11), EMBER_OK);
    assert_int_equal(ember_generator_generate(g2, &g8, t2, 8, &n2, &why), EMBER_OK);
    assert_int_equal(n1, 8);
    assert_memory_equal(t1, t2, sizeof t1);
    ember_generator_release(g2);

    /* Another seed gives another sequence (40 tokens at temperature 0.9). */
    so.seed = 8;
    assert_int_equal(ember_generator_truncate(lm.gen, (int64_t)np - 1), EMBER_OK);
    assert_int_equal(ember_generator_feed(lm.gen, &p[np - 1], 1), EMBER_OK);
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_OK);
    assert_int_equal(ember_generator_generate(lm.gen, &go, b, 40, &nb, &why), EMBER_OK);
    assert_true(memcmp(a, b, sizeof a) != 0);
    lm_close(&lm);
}

static int32_t count_and_stop(void *user, int32_t token, const char *piece, size_t len) {
    (void)token;
    int *n = user;
    (*n)++;
    assert_true(piece != NULL);
    (void)len;
    return *n == 5;
}

static void test_callback_and_context_end(void **state) {
    (void)state;
    Lm lm;
    lm_open(&lm, MODELS "stories260K.ember", 8);
    int32_t bos = 1;
    int calls = 0;
    int32_t ids[16];
    size_t n;
    ember_stop_reason why;
    ember_generate_options go = {sizeof go, 0, 1, count_and_stop, &calls};
    assert_int_equal(ember_generator_feed(lm.gen, &bos, 1), EMBER_OK);
    assert_int_equal(ember_generator_generate(lm.gen, &go, ids, 16, &n, &why), EMBER_OK);
    assert_int_equal(n, 5);
    assert_int_equal(why, EMBER_STOP_CALLBACK);
    /* Context 8: 6 fed so far; two more are fed, the third is emitted without room. */
    go.callback = NULL;
    assert_int_equal(ember_generator_generate(lm.gen, &go, ids, 16, &n, &why), EMBER_OK);
    assert_int_equal(why, EMBER_STOP_CONTEXT);
    assert_int_equal(n, 3);
    int64_t pos;
    assert_int_equal(ember_generator_position(lm.gen, &pos, NULL), EMBER_OK);
    assert_int_equal(pos, 8);
    lm_close(&lm);
}

/* ---- errors ---- */

static void test_errors(void **state) {
    (void)state;
    Lm lm;
    lm_open(&lm, MODELS "stories260K.ember", 0);
    int32_t ids[600];
    for (int i = 0; i < 600; i++) ids[i] = 300;
    /* Nothing fed yet. */
    size_t n;
    ember_stop_reason why;
    assert_int_equal(ember_generator_generate(lm.gen, NULL, ids, 4, &n, &why), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "feed"));
    /* A prompt longer than the context (512). */
    assert_int_equal(ember_generator_feed(lm.gen, ids, 600), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "context overflow"));
    int64_t pos;
    assert_int_equal(ember_generator_position(lm.gen, &pos, NULL), EMBER_OK);
    assert_int_equal(pos, 0);
    /* Unknown token ids. */
    ids[3] = 512;
    assert_int_equal(ember_generator_feed(lm.gen, ids, 5), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "512"));
    ids[3] = -1;
    assert_int_equal(ember_generator_feed(lm.gen, ids, 5), EMBER_ERR_INVALID_ARGUMENT);
    ids[3] = 300;
    assert_int_equal(ember_generator_feed(lm.gen, ids, 0), EMBER_ERR_INVALID_ARGUMENT);
    /* Fill to the end exactly, then one more overflows. */
    assert_int_equal(ember_generator_feed(lm.gen, ids, 512), EMBER_OK);
    assert_int_equal(ember_generator_feed(lm.gen, ids, 1), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_generator_truncate(lm.gen, 513), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_generator_truncate(lm.gen, -1), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_generator_truncate(lm.gen, 0), EMBER_OK);
    /* Bad sampler options. */
    ember_sampler_options so = {sizeof so, NAN, 0, 1.0f, 0};
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_ERR_INVALID_ARGUMENT);
    so.temperature = 1.0f;
    so.top_p = 1.5f;
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_ERR_INVALID_ARGUMENT);
    so.top_p = 0.5f;
    so.top_k = -1;
    assert_int_equal(ember_generator_set_sampler(lm.gen, &so), EMBER_ERR_INVALID_ARGUMENT);
    /* NULLs. */
    assert_int_equal(ember_generator_create(NULL, NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_generator_feed(NULL, ids, 1), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_tokenizer_create(NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    ember_generator_release(NULL);
    ember_tokenizer_release(NULL);
    ember_generator_options bad = {sizeof bad, -5, 0};
    ember_generator *g;
    assert_int_equal(ember_generator_create(lm.session, &bad, &g), EMBER_ERR_INVALID_ARGUMENT);
    lm_close(&lm);

    /* Not a language model: the vocabulary-only model has a tokenizer but no graph. */
    ember_model *m;
    ember_session *s;
    assert_int_equal(ember_model_load_file(g_rt, MODELS "llama-spm-vocab.ember", NULL, &m), EMBER_OK);
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    assert_int_equal(ember_generator_create(s, NULL, &g), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ember_last_error(), "not a language model"));
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
}

static int setup(void **state) {
    (void)state;
    ember_runtime_options ro = {0};
    ro.struct_size = sizeof ro;
    ro.num_threads = 2;
    return ember_runtime_create(&ro, &g_rt) == EMBER_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ember_runtime_release(g_rt) == EMBER_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_stories_bos),
        cmocka_unit_test(test_golden_stories_prompt),
        cmocka_unit_test(test_golden_stories_gguf_bos),
        cmocka_unit_test(test_golden_stories_gguf_prompt),
        cmocka_unit_test(test_golden_aidreams),
        cmocka_unit_test(test_tokenizer_llama_spm),
        cmocka_unit_test(test_prefill_equals_steps),
        cmocka_unit_test(test_last_row_only),
        cmocka_unit_test(test_truncate_regenerate),
        cmocka_unit_test(test_callback_and_context_end),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
