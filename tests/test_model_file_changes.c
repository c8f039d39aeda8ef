/* test_model_file_changes.c — a model file truncated or overwritten on disk while a
 * model loaded from it is in use (docs/reliability.md, "Model files that change").
 *
 *   - copy_on_load (ember_model_options): the file is read into memory owned by the
 *     model, so truncating it to zero, then overwriting it with other bytes, changes
 *     nothing: the session keeps running with bit-identical outputs, and new sessions
 *     of the model give them too. Loading the damaged file again is refused cleanly.
 *   - the default, mmap: the documented behaviour is checked in a child process (the
 *     signal must not reach this one): after the file is truncated, touching the
 *     weights raises SIGBUS (POSIX), so the child dies of a signal. An application
 *     that cannot rule out such changes loads with copy_on_load.
 * Public API only (libember.so). */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ember.h"

static char g_src[1024], g_tmp[1024];

static int setup(void **state) {
    (void)state;
    snprintf(g_src, sizeof g_src, "%s/models/mnist-8.ember", EMBER_BUILD_DIR);
    snprintf(g_tmp, sizeof g_tmp, "%s/models/file-changes-%d.ember", EMBER_BUILD_DIR, (int)getpid());
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(g_tmp);
    return 0;
}

/* Copies the model to g_tmp. */
static void copy_model(void) {
    FILE *in = fopen(g_src, "rb"), *out = fopen(g_tmp, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Truncates g_tmp to 0 bytes, then fills it with `size` bytes of a pattern, in place
 * (the same inode, as an editor or a copy over the file would). */
static void damage_file(size_t size) {
    int fd = open(g_tmp, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    char buf[4096];
    memset(buf, 0x5a, sizeof buf);
    for (size_t done = 0; done < size; done += sizeof buf)
        assert_true(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf);
    assert_int_equal(close(fd), 0);
}

static ember_tensor *input(void) {
    int64_t dims[4] = {1, 1, 28, 28};
    ember_tensor *t = NULL;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 4, &t), EMBER_OK);
    float *x = ember_tensor_data(t);
    for (int i = 0; i < 28 * 28; i++) x[i] = (float)((i * 37) % 256);
    return t;
}

static void run(ember_session *s, const ember_tensor *in, float *out) {
    const ember_tensor *ins[1] = {in};
    if (ember_session_run(s, ins, 1) != EMBER_OK) fail_msg("run: %s", ember_last_error());
    const ember_tensor *o = NULL;
    assert_int_equal(ember_session_output(s, 0, &o), EMBER_OK);
    memcpy(out, ember_tensor_data_const(o), 10 * sizeof(float));
}

static ember_runtime *runtime(void) {
    ember_runtime_options o = {sizeof o};
    o.num_threads = 2;
    o.disable_plugin_discovery = 1;
    ember_runtime *rt = NULL;
    assert_int_equal(ember_runtime_create(&o, &rt), EMBER_OK);
    return rt;
}

static void test_copy_on_load_survives_truncation(void **state) {
    (void)state;
    copy_model();
    ember_runtime *rt = runtime();
    ember_model_options mo = {sizeof mo};
    mo.copy_on_load = 1;
    mo.verify_checksums = 1;
    ember_model *m = NULL;
    if (ember_model_load_file(rt, g_tmp, &mo, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    ember_session *s = NULL;
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    ember_tensor *in = input();
    float before[10], after[10];
    run(s, in, before);

    damage_file(0);  /* truncated to nothing */
    run(s, in, after);
    assert_memory_equal(before, after, sizeof before);
    damage_file(64 * 1024);  /* then overwritten with other bytes */
    run(s, in, after);
    assert_memory_equal(before, after, sizeof before);
    /* a new session of the same model: packs the weights again, from the model's copy */
    ember_session *s2 = NULL;
    assert_int_equal(ember_session_create(m, NULL, &s2), EMBER_OK);
    run(s2, in, after);
    assert_memory_equal(before, after, sizeof before);
    ember_session_release(s2);
    /* the damaged file itself is refused with a message, both ways */
    ember_model *bad = NULL;
    assert_int_equal(ember_model_load_file(rt, g_tmp, &mo, &bad), EMBER_ERR_FORMAT);
    assert_true(ember_last_error()[0] != '\0');
    assert_null(bad);
    assert_int_equal(ember_model_load_file(rt, g_tmp, NULL, &bad), EMBER_ERR_FORMAT);
    assert_null(bad);

    ember_tensor_release(in);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

/* The mmap default: a truncated file's pages are gone; the first access raises SIGBUS.
 * In a child, which loads, truncates, then creates a session (reading the weights). */
static void test_mmap_truncation_is_sigbus(void **state) {
    (void)state;
    copy_model();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child: no CMocka here, only exit codes */
        ember_runtime_options o = {sizeof o};
        o.num_threads = 1;
        o.disable_plugin_discovery = 1;
        ember_runtime *rt = NULL;
        ember_model *m = NULL;
        if (ember_runtime_create(&o, &rt) != EMBER_OK) _exit(10);
        if (ember_model_load_file(rt, g_tmp, NULL, &m) != EMBER_OK) _exit(11);
        int fd = open(g_tmp, O_WRONLY);
        if (fd < 0 || ftruncate(fd, 0) != 0) _exit(12);
        close(fd);
        ember_session *s = NULL;
        ember_session_create(m, NULL, &s); /* reads the weights: SIGBUS */
        _exit(0);                          /* not reached on Linux */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) >= 10)
        fail_msg("child could not set up (exit %d)", WEXITSTATUS(status));
    /* SIGBUS itself, or (under AddressSanitizer, which catches SIGBUS and reports it) an
     * abnormal end */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        fail_msg("the session was created from a truncated mapping: the documented SIGBUS "
                 "did not happen");
    if (WIFSIGNALED(status)) assert_true(WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_on_load_survives_truncation),
        cmocka_unit_test(test_mmap_truncation_is_sigbus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
