//! Raw declarations of Ember's C API, `api/ember.h`, written by hand (no bindgen) and
//! checked against the header by `tests/layout.rs` (struct sizes and field offsets
//! measured by a C program built from the same header).
//!
//! Everything here is `unsafe` and follows the header's contracts (ownership, lifetime,
//! threads) exactly; the `ember` crate is the safe wrapper. Names are the C names.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

pub const EMBER_API_VERSION: u32 = 1;
pub const EMBER_VERSION_MAJOR: u32 = 0;
pub const EMBER_VERSION_MINOR: u32 = 1;
pub const EMBER_VERSION_PATCH: u32 = 0;

/// Whether the linked libember.so exports the image functions (`ember_image_*`,
/// `ember_session_preprocess`, `ember_session_top_k`, `ember_model_label*`). When it
/// does not (a library older than that part of the header), this crate defines
/// stand-ins that return `EMBER_ERR_UNSUPPORTED`, so programs still link.
pub const HAS_IMAGE_API: bool = cfg!(ember_image);

// ---- status codes ----
pub type ember_status = u32;
pub const EMBER_OK: ember_status = 0;
pub const EMBER_ERR_INVALID_ARGUMENT: ember_status = 1;
pub const EMBER_ERR_IO: ember_status = 2;
pub const EMBER_ERR_FORMAT: ember_status = 3;
pub const EMBER_ERR_UNSUPPORTED: ember_status = 4;
pub const EMBER_ERR_OUT_OF_MEMORY: ember_status = 5;
pub const EMBER_ERR_BACKEND: ember_status = 6;
pub const EMBER_ERR_SHAPE: ember_status = 7;
pub const EMBER_ERR_INTERNAL: ember_status = 8;
pub const EMBER_ERR_ABI: ember_status = 9;
pub const EMBER_ERR_NOT_FOUND: ember_status = 10;
pub const EMBER_ERR_BUFFER_TOO_SMALL: ember_status = 11;

// ---- data types ----
pub type ember_dtype = u32;
pub const EMBER_DTYPE_UNDEFINED: ember_dtype = 0;
pub const EMBER_DTYPE_FLOAT32: ember_dtype = 1;
pub const EMBER_DTYPE_FLOAT16: ember_dtype = 2;
pub const EMBER_DTYPE_BFLOAT16: ember_dtype = 3;
pub const EMBER_DTYPE_FLOAT64: ember_dtype = 4;
pub const EMBER_DTYPE_INT8: ember_dtype = 5;
pub const EMBER_DTYPE_UINT8: ember_dtype = 6;
pub const EMBER_DTYPE_INT16: ember_dtype = 7;
pub const EMBER_DTYPE_UINT16: ember_dtype = 8;
pub const EMBER_DTYPE_INT32: ember_dtype = 9;
pub const EMBER_DTYPE_UINT32: ember_dtype = 10;
pub const EMBER_DTYPE_INT64: ember_dtype = 11;
pub const EMBER_DTYPE_UINT64: ember_dtype = 12;
pub const EMBER_DTYPE_BOOL: ember_dtype = 13;

// ---- logging ----
pub type ember_log_level = u32;
pub const EMBER_LOG_ERROR: ember_log_level = 0;
pub const EMBER_LOG_WARNING: ember_log_level = 1;
pub const EMBER_LOG_INFO: ember_log_level = 2;
pub const EMBER_LOG_DEBUG: ember_log_level = 3;

pub type ember_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: ember_log_level,
        function: *const c_char,
        message: *const c_char,
    ),
>;

// ---- pixel formats ----
pub type ember_pixel_format = u32;
pub const EMBER_PIXEL_GRAY: ember_pixel_format = 1;
pub const EMBER_PIXEL_RGB: ember_pixel_format = 3;
pub const EMBER_PIXEL_BGR: ember_pixel_format = 4;
pub const EMBER_PIXEL_RGBA: ember_pixel_format = 5;
pub const EMBER_PIXEL_BGRA: ember_pixel_format = 6;

// ---- opaque handles ----
#[repr(C)]
pub struct ember_runtime {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ember_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ember_session {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ember_tensor {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ember_image {
    _private: [u8; 0],
}

// ---- structs (checked by tests/layout.rs) ----
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_runtime_options {
    pub struct_size: usize,
    pub num_threads: i32,
    pub log_fn: ember_log_fn,
    pub log_user_data: *mut c_void,
    pub log_level: i32,
    pub disable_plugin_discovery: i32,
    pub spin_us: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_plugin_info {
    pub struct_size: usize,
    pub name: *const c_char,
    pub path: *const c_char,
    pub version: *const c_char,
    pub loaded: i32,
    pub reason: *const c_char,
    pub device_count: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_model_options {
    pub struct_size: usize,
    pub copy_on_load: i32,
    pub verify_checksums: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_value_info {
    pub struct_size: usize,
    pub name: *const c_char,
    pub dtype: ember_dtype,
    pub rank: usize,
    pub dims: *const i64,
    pub dim_names: *const *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_session_options {
    pub struct_size: usize,
    pub backends: *const c_char,
    pub num_threads: i32,
    pub max_arena_bytes: i64,
    pub enable_profiling: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_class_score {
    pub index: i64,
    pub label: *const c_char,
    pub score: f32,
}

extern "C" {
    // versions, status, errors, dtypes
    pub fn ember_api_version() -> u32;
    pub fn ember_version() -> *const c_char;
    pub fn ember_status_string(status: ember_status) -> *const c_char;
    pub fn ember_last_error() -> *const c_char;
    pub fn ember_dtype_size(dtype: ember_dtype) -> usize;
    pub fn ember_dtype_name(dtype: ember_dtype) -> *const c_char;

    // runtime
    pub fn ember_runtime_create(
        opts: *const ember_runtime_options,
        out: *mut *mut ember_runtime,
    ) -> ember_status;
    pub fn ember_runtime_release(runtime: *mut ember_runtime) -> ember_status;
    pub fn ember_runtime_num_threads(runtime: *const ember_runtime, out: *mut i32) -> ember_status;

    // plugins
    pub fn ember_runtime_load_plugin(runtime: *mut ember_runtime, path: *const c_char) -> ember_status;
    pub fn ember_runtime_plugin_count(runtime: *const ember_runtime, out: *mut usize) -> ember_status;
    pub fn ember_runtime_plugin_info(
        runtime: *const ember_runtime,
        index: usize,
        info: *mut ember_plugin_info,
    ) -> ember_status;
    pub fn ember_runtime_plugin_device(
        runtime: *const ember_runtime,
        index: usize,
        device: i32,
        name: *mut *const c_char,
    ) -> ember_status;

    // model
    pub fn ember_model_load_file(
        runtime: *mut ember_runtime,
        path: *const c_char,
        opts: *const ember_model_options,
        out: *mut *mut ember_model,
    ) -> ember_status;
    pub fn ember_model_load_memory(
        runtime: *mut ember_runtime,
        data: *const c_void,
        size: usize,
        opts: *const ember_model_options,
        out: *mut *mut ember_model,
    ) -> ember_status;
    pub fn ember_model_release(model: *mut ember_model) -> ember_status;
    pub fn ember_model_input_count(model: *const ember_model, out: *mut usize) -> ember_status;
    pub fn ember_model_output_count(model: *const ember_model, out: *mut usize) -> ember_status;
    pub fn ember_model_input_info(
        model: *const ember_model,
        index: usize,
        info: *mut ember_value_info,
    ) -> ember_status;
    pub fn ember_model_output_info(
        model: *const ember_model,
        index: usize,
        info: *mut ember_value_info,
    ) -> ember_status;
    pub fn ember_model_metadata(
        model: *const ember_model,
        key: *const c_char,
        value: *mut *const c_char,
        size: *mut usize,
    ) -> ember_status;

    // tensor
    pub fn ember_tensor_create(
        dtype: ember_dtype,
        dims: *const i64,
        rank: usize,
        out: *mut *mut ember_tensor,
    ) -> ember_status;
    pub fn ember_tensor_wrap(
        dtype: ember_dtype,
        dims: *const i64,
        rank: usize,
        data: *mut c_void,
        size_bytes: usize,
        out: *mut *mut ember_tensor,
    ) -> ember_status;
    pub fn ember_tensor_release(tensor: *mut ember_tensor);
    pub fn ember_tensor_dtype(tensor: *const ember_tensor) -> ember_dtype;
    pub fn ember_tensor_rank(tensor: *const ember_tensor) -> usize;
    pub fn ember_tensor_dims(tensor: *const ember_tensor) -> *const i64;
    pub fn ember_tensor_size_bytes(tensor: *const ember_tensor) -> usize;
    pub fn ember_tensor_element_count(tensor: *const ember_tensor) -> i64;
    pub fn ember_tensor_data(tensor: *mut ember_tensor) -> *mut c_void;
    pub fn ember_tensor_data_const(tensor: *const ember_tensor) -> *const c_void;

    // session
    pub fn ember_session_create(
        model: *mut ember_model,
        opts: *const ember_session_options,
        out: *mut *mut ember_session,
    ) -> ember_status;
    pub fn ember_session_release(session: *mut ember_session);
    pub fn ember_session_run(
        session: *mut ember_session,
        inputs: *const *const ember_tensor,
        n_inputs: usize,
    ) -> ember_status;
    pub fn ember_session_output(
        session: *mut ember_session,
        index: usize,
        out: *mut *const ember_tensor,
    ) -> ember_status;
    pub fn ember_session_input_index(
        session: *const ember_session,
        name: *const c_char,
        out: *mut usize,
    ) -> ember_status;
    pub fn ember_session_output_index(
        session: *const ember_session,
        name: *const c_char,
        out: *mut usize,
    ) -> ember_status;
    pub fn ember_session_node_count(session: *const ember_session, out: *mut usize) -> ember_status;
    pub fn ember_session_node_info(
        session: *const ember_session,
        index: usize,
        name: *mut *const c_char,
        op_type: *mut *const c_char,
        backend: *mut *const c_char,
    ) -> ember_status;
    pub fn ember_session_arena_bytes(session: *const ember_session, out: *mut usize) -> ember_status;
    pub fn ember_session_profile_count(session: *const ember_session, out: *mut usize) -> ember_status;
    pub fn ember_session_profile(
        session: *const ember_session,
        index: usize,
        name: *mut *const c_char,
        op_type: *mut *const c_char,
        backend: *mut *const c_char,
        n_nodes: *mut i64,
        total_ms: *mut f64,
        calls: *mut i64,
    ) -> ember_status;
}

// Images and preprocessing (the end of api/ember.h).
#[cfg(ember_image)]
extern "C" {
    pub fn ember_image_load_file(path: *const c_char, out: *mut *mut ember_image) -> ember_status;
    pub fn ember_image_load_memory(
        data: *const c_void,
        size: usize,
        out: *mut *mut ember_image,
    ) -> ember_status;
    pub fn ember_image_wrap(
        pixels: *const c_void,
        width: i32,
        height: i32,
        stride_bytes: usize,
        format: ember_pixel_format,
        out: *mut *mut ember_image,
    ) -> ember_status;
    pub fn ember_image_release(image: *mut ember_image);
    pub fn ember_image_info(
        image: *const ember_image,
        width: *mut i32,
        height: *mut i32,
        format: *mut ember_pixel_format,
    ) -> ember_status;
    pub fn ember_session_preprocess(
        session: *mut ember_session,
        input_index: usize,
        image: *const ember_image,
        spec: *const c_char,
        tensor: *mut ember_tensor,
        batch_index: i64,
    ) -> ember_status;
    pub fn ember_model_label_count(model: *const ember_model, out: *mut usize) -> ember_status;
    pub fn ember_model_label(model: *const ember_model, index: usize, out: *mut *const c_char)
        -> ember_status;
    pub fn ember_session_top_k(
        session: *mut ember_session,
        output_index: usize,
        batch_index: i64,
        k: usize,
        out: *mut ember_class_score,
        n_out: *mut usize,
    ) -> ember_status;
}

#[cfg(not(ember_image))]
mod image_stand_ins {
    //! Stand-ins for a libember.so without the image functions: same signatures, each
    //! returns EMBER_ERR_UNSUPPORTED (ember_last_error() then says nothing about it).
    #![allow(clippy::missing_safety_doc)]
    use super::*;
    pub unsafe extern "C" fn ember_image_load_file(_: *const c_char, _: *mut *mut ember_image) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_image_load_memory(
        _: *const c_void,
        _: usize,
        _: *mut *mut ember_image,
    ) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_image_wrap(
        _: *const c_void,
        _: i32,
        _: i32,
        _: usize,
        _: ember_pixel_format,
        _: *mut *mut ember_image,
    ) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_image_release(_: *mut ember_image) {}
    pub unsafe extern "C" fn ember_image_info(
        _: *const ember_image,
        _: *mut i32,
        _: *mut i32,
        _: *mut ember_pixel_format,
    ) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_session_preprocess(
        _: *mut ember_session,
        _: usize,
        _: *const ember_image,
        _: *const c_char,
        _: *mut ember_tensor,
        _: i64,
    ) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_model_label_count(_: *const ember_model, _: *mut usize) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_model_label(_: *const ember_model, _: usize, _: *mut *const c_char) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
    pub unsafe extern "C" fn ember_session_top_k(
        _: *mut ember_session,
        _: usize,
        _: i64,
        _: usize,
        _: *mut ember_class_score,
        _: *mut usize,
    ) -> ember_status {
        EMBER_ERR_UNSUPPORTED
    }
}
#[cfg(not(ember_image))]
pub use image_stand_ins::*;

// ---- language models (the "Language models" part of api/ember.h) ----
// Wrapped by the `ember` crate's Tokenizer and Generator (ember/src/lm.rs).
#[repr(C)]
pub struct ember_tokenizer {
    _private: [u8; 0],
}
#[repr(C)]
pub struct ember_generator {
    _private: [u8; 0],
}

pub const EMBER_TOKENIZE_ADD_BOS: u32 = 1;
pub const EMBER_TOKENIZE_PARSE_SPECIAL: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_tokenizer_info {
    pub struct_size: usize,
    pub vocab_size: i32,
    pub bos: i32,
    pub eos: i32,
    pub unk: i32,
    pub add_bos: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_generator_options {
    pub struct_size: usize,
    pub context: i64,
    pub all_logits: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_sampler_options {
    pub struct_size: usize,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub seed: u64,
}

pub type ember_token_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, token: i32, piece: *const c_char, piece_len: usize) -> i32>;

pub type ember_stop_reason = u32;
pub const EMBER_STOP_NONE: ember_stop_reason = 0;
pub const EMBER_STOP_LENGTH: ember_stop_reason = 1;
pub const EMBER_STOP_EOS: ember_stop_reason = 2;
pub const EMBER_STOP_CONTEXT: ember_stop_reason = 3;
pub const EMBER_STOP_CALLBACK: ember_stop_reason = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ember_generate_options {
    pub struct_size: usize,
    pub max_tokens: i64,
    pub ignore_eos: i32,
    pub callback: ember_token_callback,
    pub user_data: *mut c_void,
}

extern "C" {
    pub fn ember_tokenizer_create(model: *const ember_model, out: *mut *mut ember_tokenizer) -> ember_status;
    pub fn ember_tokenizer_release(tokenizer: *mut ember_tokenizer);
    pub fn ember_tokenizer_get_info(tokenizer: *const ember_tokenizer, info: *mut ember_tokenizer_info)
        -> ember_status;
    pub fn ember_tokenizer_encode(
        tokenizer: *const ember_tokenizer,
        text: *const c_char,
        text_len: usize,
        flags: u32,
        ids: *mut i32,
        capacity: usize,
        n_ids: *mut usize,
    ) -> ember_status;
    pub fn ember_tokenizer_decode(
        tokenizer: *const ember_tokenizer,
        ids: *const i32,
        n_ids: usize,
        text: *mut c_char,
        capacity: usize,
        n_bytes: *mut usize,
    ) -> ember_status;
    pub fn ember_generator_create(
        session: *mut ember_session,
        opts: *const ember_generator_options,
        out: *mut *mut ember_generator,
    ) -> ember_status;
    pub fn ember_generator_release(generator: *mut ember_generator);
    pub fn ember_generator_tokenizer(generator: *const ember_generator, out: *mut *const ember_tokenizer)
        -> ember_status;
    pub fn ember_generator_feed(generator: *mut ember_generator, ids: *const i32, n_ids: usize) -> ember_status;
    pub fn ember_generator_logits(
        generator: *const ember_generator,
        logits: *mut *const f32,
        n_vocab: *mut usize,
    ) -> ember_status;
    pub fn ember_generator_position(generator: *const ember_generator, position: *mut i64, context: *mut i64)
        -> ember_status;
    pub fn ember_generator_truncate(generator: *mut ember_generator, position: i64) -> ember_status;
    pub fn ember_generator_set_sampler(generator: *mut ember_generator, opts: *const ember_sampler_options)
        -> ember_status;
    pub fn ember_generator_sample(generator: *mut ember_generator, token: *mut i32) -> ember_status;
    pub fn ember_generator_generate(
        generator: *mut ember_generator,
        opts: *const ember_generate_options,
        ids: *mut i32,
        capacity: usize,
        n_ids: *mut usize,
        reason: *mut ember_stop_reason,
    ) -> ember_status;
}

/// Offset of a field in a struct, without `core::mem::offset_of!` (Rust 1.77), so the
/// crate builds with Debian 12's rustc 1.63.
#[macro_export]
macro_rules! field_offset {
    ($t:ty, $f:ident) => {{
        let u = ::core::mem::MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        // SAFETY: addr_of! computes the field's address without reading it.
        #[allow(unused_unsafe)]
        let field = unsafe { ::core::ptr::addr_of!((*base).$f) };
        field as usize - base as usize
    }};
}
