//! Struct sizes and field offsets of ember-sys against the C header's, measured by
//! layout.c (compiled from the same ember.h by build.rs). Enum sizes too.
use ember_sys::*;
use std::collections::BTreeMap;
use std::mem::size_of;

include!(concat!(env!("OUT_DIR"), "/c_layout.rs"));

macro_rules! layout {
    ($map:ident, $t:ident { $($f:ident),* }) => {
        $map.insert(stringify!($t).to_string(), size_of::<$t>());
        $( $map.insert(format!("{}.{}", stringify!($t), stringify!($f)), field_offset!($t, $f)); )*
    };
}

fn rust_layout() -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    m.insert("ember_status".to_string(), size_of::<ember_status>());
    m.insert("ember_dtype".to_string(), size_of::<ember_dtype>());
    m.insert("ember_log_level".to_string(), size_of::<ember_log_level>());
    m.insert("ember_pixel_format".to_string(), size_of::<ember_pixel_format>());
    layout!(m, ember_runtime_options { struct_size, num_threads, log_fn, log_user_data, log_level });
    layout!(m, ember_model_options { struct_size, copy_on_load, verify_checksums });
    layout!(m, ember_value_info { struct_size, name, dtype, rank, dims, dim_names });
    layout!(m, ember_session_options { struct_size, backends, num_threads, max_arena_bytes });
    layout!(m, ember_class_score { index, label, score });
    m
}

#[test]
fn struct_layout_matches_the_c_header() {
    let c = C_LAYOUT.expect("build.rs could not compile layout.c (no C compiler or no ember.h?)");
    let rust = rust_layout();
    let mut errors = Vec::new();
    for (name, c_value) in c {
        match rust.get(*name) {
            None => errors.push(format!("{}: in ember.h (layout.c) but not in ember-sys", name)),
            Some(r) if r != c_value => errors.push(format!("{}: C {} bytes, ember-sys {}", name, c_value, r)),
            _ => {}
        }
    }
    for name in rust.keys() {
        if !c.iter().any(|(n, _)| n == name) {
            errors.push(format!("{}: in ember-sys but not measured by layout.c", name));
        }
    }
    assert!(
        errors.is_empty(),
        "ember-sys does not match api/ember.h; update bindings/rust/ember-sys/src/lib.rs \
         (and layout.c, tests/layout.rs for new fields):\n  {}",
        errors.join("\n  ")
    );
    println!("{} sizes and offsets match", c.len());
}
