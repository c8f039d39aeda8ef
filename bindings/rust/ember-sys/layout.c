/* layout.c — prints the size and field offsets of every struct of api/ember.h, and the
 * size of its enums, as Rust source (ember-sys/build.rs compiles and runs it; the test
 * tests/layout.rs compares the numbers with ember-sys's #[repr(C)] declarations).
 * A struct or field added to ember.h goes here and into src/lib.rs. */
#include <stddef.h>
#include <stdio.h>

#include <ember.h>

#define SIZE(T) printf("    (\"%s\", %zu),\n", #T, sizeof(T))
#define FIELD(T, f) printf("    (\"%s.%s\", %zu),\n", #T, #f, offsetof(T, f))

int main(void) {
    printf("pub const C_LAYOUT: Option<&[(&str, usize)]> = Some(&[\n");
    SIZE(ember_status);
    SIZE(ember_dtype);
    SIZE(ember_log_level);
    SIZE(ember_pixel_format);

    SIZE(ember_runtime_options);
    FIELD(ember_runtime_options, struct_size);
    FIELD(ember_runtime_options, num_threads);
    FIELD(ember_runtime_options, log_fn);
    FIELD(ember_runtime_options, log_user_data);
    FIELD(ember_runtime_options, log_level);

    SIZE(ember_model_options);
    FIELD(ember_model_options, struct_size);
    FIELD(ember_model_options, copy_on_load);
    FIELD(ember_model_options, verify_checksums);

    SIZE(ember_value_info);
    FIELD(ember_value_info, struct_size);
    FIELD(ember_value_info, name);
    FIELD(ember_value_info, dtype);
    FIELD(ember_value_info, rank);
    FIELD(ember_value_info, dims);
    FIELD(ember_value_info, dim_names);

    SIZE(ember_session_options);
    FIELD(ember_session_options, struct_size);
    FIELD(ember_session_options, backends);
    FIELD(ember_session_options, num_threads);
    FIELD(ember_session_options, max_arena_bytes);

    SIZE(ember_class_score);
    FIELD(ember_class_score, index);
    FIELD(ember_class_score, label);
    FIELD(ember_class_score, score);
    printf("]);\n");
    return 0;
}
