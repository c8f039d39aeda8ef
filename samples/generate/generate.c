/* generate.c — text generation with a language model in C: encode a prompt, feed it,
 * stream the generated tokens through the per-token callback, report tokens per second.
 *   generate MODEL.ember [PROMPT] [-n N] [--temperature T] [--seed S]
 * The model is a converted llama2.c or GGUF checkpoint carrying its tokenizer
 * (ember convert stories260K.bin --tokenizer tok512.bin -o stories260K.ember). The text
 * goes to stdout as it is produced; the speed goes to stderr. Greedy by default
 * (temperature 0), so the output is reproducible.
 * Build: cc generate.c -lember */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ember.h>

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != EMBER_OK) {                                          \
            fprintf(stderr, "%s failed: %s\n", #call, ember_last_error()); \
            return 1;                                                      \
        }                                                                  \
    } while (0)

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ember_token_callback: prints each token's text as soon as it is generated. */
static int32_t print_piece(void *user_data, int32_t token, const char *piece, size_t piece_len) {
    (void)user_data;
    (void)token;
    fwrite(piece, 1, piece_len, stdout);
    fflush(stdout);
    return 0; /* 0: continue */
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompt = "Once upon a time";
    long n_gen = 60;
    float temperature = 0.0f;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) n_gen = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--temperature") && i + 1 < argc) temperature = strtof(argv[++i], NULL);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!model_path) model_path = argv[i];
        else prompt = argv[i];
    }
    if (!model_path || n_gen < 0) {
        fprintf(stderr, "usage: %s MODEL.ember [PROMPT] [-n N] [--temperature T] [--seed S]\n", argv[0]);
        return 2;
    }

    ember_runtime *rt;
    ember_model *model;
    ember_session *session;
    ember_generator *gen;
    const ember_tokenizer *tok;
    CHECK(ember_runtime_create(NULL, &rt));
    CHECK(ember_model_load_file(rt, model_path, NULL, &model));
    CHECK(ember_session_create(model, NULL, &session));
    CHECK(ember_generator_create(session, NULL, &gen)); /* caches for the model's context */
    CHECK(ember_generator_tokenizer(gen, &tok));         /* borrowed from the generator */

    /* Encode: ask for the size first (EMBER_ERR_BUFFER_TOO_SMALL gives it), then encode. */
    size_t n_prompt = 0;
    ember_tokenizer_encode(tok, prompt, strlen(prompt), EMBER_TOKENIZE_ADD_BOS, NULL, 0, &n_prompt);
    int32_t *prompt_ids = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt_ids);
    int32_t *out_ids = malloc((size_t)(n_gen ? n_gen : 1) * sizeof *out_ids);
    if (!prompt_ids || !out_ids) return 1;
    CHECK(ember_tokenizer_encode(tok, prompt, strlen(prompt), EMBER_TOKENIZE_ADD_BOS, prompt_ids,
                                 n_prompt, &n_prompt));

    /* Print the prompt as the model sees it (decoded ids), then feed it in one run. */
    size_t n_text = 0;
    ember_tokenizer_decode(tok, prompt_ids, n_prompt, NULL, 0, &n_text); /* the size */
    char *text = malloc(n_text + 1);
    if (!text) return 1;
    CHECK(ember_tokenizer_decode(tok, prompt_ids, n_prompt, text, n_text + 1, &n_text));
    fwrite(text, 1, n_text, stdout);
    free(text);
    fflush(stdout);
    double t0 = now_seconds();
    CHECK(ember_generator_feed(gen, prompt_ids, n_prompt));
    double t1 = now_seconds();

    ember_sampler_options sampler = {.struct_size = sizeof sampler, .temperature = temperature,
                                     .top_p = 1.0f, .seed = seed};
    CHECK(ember_generator_set_sampler(gen, &sampler));
    ember_generate_options gopts = {.struct_size = sizeof gopts, .max_tokens = n_gen,
                                    .callback = print_piece};
    size_t n_out = 0;
    ember_stop_reason why;
    CHECK(ember_generator_generate(gen, &gopts, n_gen ? out_ids : NULL, (size_t)n_gen, &n_out, &why));
    double t2 = now_seconds();
    printf("\n");
    fflush(stdout);

    static const char *const reasons[] = {"none", "length", "eos", "context", "callback"};
    fprintf(stderr, "prompt: %zu tokens, %.1f tokens/s; generated: %zu tokens, %.1f tokens/s (stop: %s)\n",
            n_prompt, (double)n_prompt / (t1 - t0 > 0 ? t1 - t0 : 1e-9), n_out,
            (double)n_out / (t2 - t1 > 0 ? t2 - t1 : 1e-9), reasons[why <= 4 ? why : 0]);

    free(out_ids);
    free(prompt_ids);
    ember_generator_release(gen);
    ember_session_release(session);
    ember_model_release(model);
    ember_runtime_release(rt);
    return 0;
}
