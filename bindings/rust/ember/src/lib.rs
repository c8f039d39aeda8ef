//! Safe Rust binding of Ember, an embeddable inference runtime (`api/ember.h`).
//!
//! ```no_run
//! let model = ember::Model::open("squeezenet.ember")?;      // runtime + model
//! let mut session = model.session()?;
//! let image = ember::Image::load("cat.jpg")?;
//! for c in session.classify(&image, 5)? {                     // preprocess + run + top-k
//!     println!("{:.3} {}", c.score, c.label);
//! }
//! # Ok::<(), ember::Error>(())
//! ```
//!
//! # Ownership and threads
//!
//! The types follow the C API's rules, enforced by the compiler:
//!
//! - [`Runtime`] (thread pool, logging) and [`Model`] (an immutable loaded file) are
//!   `Send + Sync` and cheap to clone (reference counted): share them between threads.
//! - A [`Session`] is `Send` but not `Sync`: it may move to another thread but is used
//!   by one thread at a time (its running methods take `&mut self`). Create one session
//!   per thread from a shared model for parallel inference.
//! - A model keeps its runtime alive and a session keeps its model alive, so C objects
//!   are always released in a valid order (session, then model, then runtime) on drop.
//! - [`Image`] is read-only once decoded: `Send + Sync`.
//! - A [`Tokenizer`] is immutable: `Send + Sync`. A [`Generator`] borrows its session
//!   (`Generator<'s>` holds `&'s Session`), so the session outlives it and cannot run on
//!   its own meanwhile; several generators may share one session, all on the session's
//!   thread (a generator is neither `Send` nor `Sync`).
//!
//! ```compile_fail
//! fn shared_between_threads<T: Sync>() {}
//! shared_between_threads::<ember::Session>(); // a Session is not Sync
//! ```
//!
//! ```compile_fail
//! fn sent_to_another_thread<T: Send>() {}
//! sent_to_another_thread::<ember::Generator<'static>>(); // a Generator stays on its session's thread
//! ```
//!
//! Text generation with a language model (a converted llama2.c or GGUF checkpoint):
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! let model = ember::Model::open("stories260K.ember")?;
//! let session = model.session()?;
//! let mut gen = session.generator()?;
//! let prompt = gen.tokenizer()?.encode("Once upon a time", ember::EncodeFlags::ADD_BOS)?;
//! gen.feed(&prompt)?;
//! let out = gen.generate_with(&ember::GenerateOptions { max_tokens: 60, ..Default::default() }, |_id, piece| {
//!     print!("{}", String::from_utf8_lossy(piece));
//!     ControlFlow::Continue(())
//! })?;
//! println!("\n{} tokens, stopped by {:?}", out.ids.len(), out.stop);
//! # Ok::<(), ember::Error>(())
//! ```
//!
//! Errors are [`Error`] values carrying Ember's [`Status`] and message.
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use ember_sys as sys;

mod error;
mod image;
mod lm;
mod tensor;

pub use error::{Error, Result, Status};
pub use image::{ClassScore, Image, PixelFormat};
pub use lm::{
    EncodeFlags, GenerateOptions, Generated, Generator, GeneratorOptions, SamplerOptions, StopReason, Tokenizer,
    TokenizerInfo,
};
pub use tensor::{DType, Element, Tensor, TensorRef};
/// The raw C declarations, for what the safe API does not cover.
pub use ember_sys;

use error::check;
use tensor::OwnedCTensor;

/// The library version, e.g. "0.1.0".
pub fn version() -> &'static str {
    // SAFETY: static storage.
    unsafe { CStr::from_ptr(sys::ember_version()) }.to_str().unwrap_or("")
}

/// The ABI version of the loaded libember.so (at least `ember_sys::EMBER_API_VERSION`
/// for a compatible library).
pub fn api_version() -> u32 {
    // SAFETY: no arguments, never fails.
    unsafe { sys::ember_api_version() }
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(Status::InvalidArgument, format!("{} contains a NUL byte", what)))
}

fn path_cstring(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::new(Status::InvalidArgument, "path contains a NUL byte"))
}

unsafe fn string_from(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

// ---------------------------------------------------------------------------
// Runtime

/// Runtime options; `Default` gives the library's defaults.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Worker threads including the caller; 0 = one per online CPU.
    pub num_threads: i32,
    /// Do not scan EMBER_PLUGIN_PATH and the plugin folder beside libember.so
    /// ([`Runtime::load_plugin`] still works).
    pub disable_plugin_discovery: bool,
    /// Microseconds idle workers (and callers waiting for them) poll before they sleep;
    /// 0 (default): nothing spins. Faster token-by-token decoding on 2+ threads on a
    /// machine that is yours alone (`ember_runtime_options.spin_us`).
    pub spin_us: i32,
}

struct RuntimeInner(*mut sys::ember_runtime);

// SAFETY: the C API allows a runtime to be used by many threads at once.
unsafe impl Send for RuntimeInner {}
unsafe impl Sync for RuntimeInner {}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        // SAFETY: every model holds an Arc to this runtime, so none is left; the status
        // can only report live models.
        unsafe { sys::ember_runtime_release(self.0) };
    }
}

/// The thread pool and logging that models and sessions run on. `Send + Sync`, and
/// `Clone` shares the same runtime.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime with default options.
    pub fn new() -> Result<Runtime> {
        Runtime::with_options(&RuntimeOptions::default())
    }

    pub fn with_options(opts: &RuntimeOptions) -> Result<Runtime> {
        let co = sys::ember_runtime_options {
            struct_size: std::mem::size_of::<sys::ember_runtime_options>(),
            num_threads: opts.num_threads,
            log_fn: None,
            log_user_data: ptr::null_mut(),
            log_level: sys::EMBER_LOG_WARNING as i32,
            disable_plugin_discovery: opts.disable_plugin_discovery as i32,
            spin_us: opts.spin_us,
        };
        let mut p = ptr::null_mut();
        // SAFETY: valid options and out pointer.
        check(unsafe { sys::ember_runtime_create(&co, &mut p) })?;
        Ok(Runtime { inner: Arc::new(RuntimeInner(p)) })
    }

    /// Threads in the runtime's pool (including the caller).
    pub fn num_threads(&self) -> Result<i32> {
        let mut n = 0;
        // SAFETY: a live runtime.
        check(unsafe { sys::ember_runtime_num_threads(self.inner.0, &mut n) })?;
        Ok(n)
    }

    /// Loads one more backend plugin file (`libember-<name>.so`). On failure the plugin
    /// stays listed in [`Runtime::plugins`] with its reason.
    pub fn load_plugin(&self, path: impl AsRef<Path>) -> Result<()> {
        let c = path_cstring(path.as_ref())?;
        // SAFETY: a live runtime and a valid path.
        check(unsafe { sys::ember_runtime_load_plugin(self.inner.0, c.as_ptr()) })
    }

    /// The plugins found so far, loaded and refused.
    pub fn plugins(&self) -> Result<Vec<PluginInfo>> {
        let mut n = 0;
        // SAFETY: strings owned by the runtime, copied at once.
        unsafe {
            check(sys::ember_runtime_plugin_count(self.inner.0, &mut n))?;
            (0..n)
                .map(|i| {
                    let mut info = sys::ember_plugin_info {
                        struct_size: std::mem::size_of::<sys::ember_plugin_info>(),
                        name: ptr::null(),
                        path: ptr::null(),
                        version: ptr::null(),
                        loaded: 0,
                        reason: ptr::null(),
                        device_count: 0,
                    };
                    check(sys::ember_runtime_plugin_info(self.inner.0, i, &mut info))?;
                    let mut devices = Vec::new();
                    for d in 0..info.device_count.max(0) {
                        let mut name = ptr::null();
                        check(sys::ember_runtime_plugin_device(self.inner.0, i, d, &mut name))?;
                        devices.push(string_from(name));
                    }
                    Ok(PluginInfo {
                        name: string_from(info.name),
                        path: string_from(info.path),
                        version: string_from(info.version),
                        loaded: info.loaded != 0,
                        reason: string_from(info.reason),
                        devices,
                    })
                })
                .collect()
        }
    }

    /// Loads a .ember file (memory-mapped: the file must not change while the model lives;
    /// see [`ModelOptions::copy_on_load`]).
    pub fn load_model(&self, path: impl AsRef<Path>) -> Result<Model> {
        self.load_model_with(path, &ModelOptions::default())
    }

    pub fn load_model_with(&self, path: impl AsRef<Path>, opts: &ModelOptions) -> Result<Model> {
        let cpath = path_cstring(path.as_ref())?;
        let co = opts.to_c();
        let mut p = ptr::null_mut();
        // SAFETY: valid runtime, path, options and out pointer.
        check(unsafe { sys::ember_model_load_file(self.inner.0, cpath.as_ptr(), &co, &mut p) })?;
        Model::wrap(p, self.inner.clone())
    }

    /// Loads a model from bytes (copied).
    pub fn load_model_bytes(&self, data: &[u8], opts: &ModelOptions) -> Result<Model> {
        let co = opts.to_c();
        let mut p = ptr::null_mut();
        // SAFETY: data valid for data.len() bytes, copied by the library.
        check(unsafe {
            sys::ember_model_load_memory(self.inner.0, data.as_ptr() as *const _, data.len(), &co, &mut p)
        })?;
        Model::wrap(p, self.inner.clone())
    }
}

/// A backend plugin the runtime found: loaded, or refused with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub path: String,
    /// "" when not loaded.
    pub version: String,
    pub loaded: bool,
    /// Why it was refused; "" when loaded.
    pub reason: String,
    /// Device names of a loaded plugin.
    pub devices: Vec<String>,
}

// ---------------------------------------------------------------------------
// Model

/// Model loading options.
#[derive(Clone, Debug)]
pub struct ModelOptions {
    /// Read the whole file into memory instead of mapping it.
    pub copy_on_load: bool,
    /// Check every section's checksum (default true).
    pub verify_checksums: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions { copy_on_load: false, verify_checksums: true }
    }
}

impl ModelOptions {
    fn to_c(&self) -> sys::ember_model_options {
        sys::ember_model_options {
            struct_size: std::mem::size_of::<sys::ember_model_options>(),
            copy_on_load: self.copy_on_load as i32,
            verify_checksums: self.verify_checksums as i32,
        }
    }
}

/// A graph input or output. A dimension of -1 is symbolic (its name in `dim_names`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<i64>,
    pub dim_names: Vec<String>,
}

pub(crate) struct ModelInner {
    pub(crate) ptr: *mut sys::ember_model,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    _runtime: Arc<RuntimeInner>, // dropped after the model is released
}

// SAFETY: a model is immutable and may be shared by threads (api/ember.h).
unsafe impl Send for ModelInner {}
unsafe impl Sync for ModelInner {}

impl Drop for ModelInner {
    fn drop(&mut self) {
        // SAFETY: every session holds an Arc to this model, so none is left.
        unsafe { sys::ember_model_release(self.ptr) };
    }
}

/// An immutable loaded model. `Send + Sync`; `Clone` shares it.
#[derive(Clone)]
pub struct Model {
    pub(crate) inner: Arc<ModelInner>,
}

fn value_infos(m: *mut sys::ember_model, inputs: bool) -> Result<Vec<ValueInfo>> {
    let mut n = 0;
    // SAFETY: a live model.
    check(unsafe {
        if inputs {
            sys::ember_model_input_count(m, &mut n)
        } else {
            sys::ember_model_output_count(m, &mut n)
        }
    })?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut info = sys::ember_value_info {
            struct_size: std::mem::size_of::<sys::ember_value_info>(),
            name: ptr::null(),
            dtype: 0,
            rank: 0,
            dims: ptr::null(),
            dim_names: ptr::null(),
        };
        // SAFETY: the model owns the strings and arrays in `info`; copied at once.
        unsafe {
            check(if inputs {
                sys::ember_model_input_info(m, i, &mut info)
            } else {
                sys::ember_model_output_info(m, i, &mut info)
            })?;
            let (mut shape, mut names) = (Vec::new(), Vec::new());
            for d in 0..info.rank {
                shape.push(*info.dims.add(d));
                names.push(if info.dim_names.is_null() { String::new() } else { string_from(*info.dim_names.add(d)) });
            }
            out.push(ValueInfo { name: string_from(info.name), dtype: DType::from_raw(info.dtype), shape, dim_names: names });
        }
    }
    Ok(out)
}

impl Model {
    fn wrap(p: *mut sys::ember_model, runtime: Arc<RuntimeInner>) -> Result<Model> {
        let infos = value_infos(p, true).and_then(|i| Ok((i, value_infos(p, false)?)));
        match infos {
            Ok((inputs, outputs)) => {
                Ok(Model { inner: Arc::new(ModelInner { ptr: p, inputs, outputs, _runtime: runtime }) })
            }
            Err(e) => {
                // SAFETY: just loaded, no session.
                unsafe { sys::ember_model_release(p) };
                Err(e)
            }
        }
    }

    /// Loads `path` with a new runtime of default options (kept alive by the model).
    pub fn open(path: impl AsRef<Path>) -> Result<Model> {
        Runtime::new()?.load_model(path)
    }

    /// Graph inputs, in the order [`Session::run`] takes them.
    pub fn inputs(&self) -> &[ValueInfo] {
        &self.inner.inputs
    }

    /// Graph outputs, in the order [`Session::run`] returns them.
    pub fn outputs(&self) -> &[ValueInfo] {
        &self.inner.outputs
    }

    /// The metadata value under `key` ("labels", "preprocess", "producer", ...);
    /// `Status::NotFound` if absent.
    pub fn metadata(&self, key: &str) -> Result<String> {
        let ckey = cstring(key, "key")?;
        let (mut v, mut n) = (ptr::null(), 0usize);
        // SAFETY: the value is owned by the model and copied at once.
        unsafe {
            check(sys::ember_model_metadata(self.inner.ptr, ckey.as_ptr(), &mut v, &mut n))?;
            Ok(String::from_utf8_lossy(std::slice::from_raw_parts(v as *const u8, n)).into_owned())
        }
    }

    /// Class labels stored in the model (`ember convert --labels`); `Status::NotFound` if
    /// it has none.
    pub fn labels(&self) -> Result<Vec<String>> {
        image::require_image_api()?;
        let mut n = 0;
        // SAFETY: a live model; label strings are copied at once.
        unsafe {
            check(sys::ember_model_label_count(self.inner.ptr, &mut n))?;
            (0..n)
                .map(|i| {
                    let mut s = ptr::null();
                    check(sys::ember_model_label(self.inner.ptr, i, &mut s))?;
                    Ok(string_from(s))
                })
                .collect()
        }
    }

    /// A session with default options.
    pub fn session(&self) -> Result<Session> {
        self.session_with(&SessionOptions::default())
    }

    /// Compiles the model into a session (plan, packed weights).
    pub fn session_with(&self, opts: &SessionOptions) -> Result<Session> {
        let backends = match &opts.backends {
            Some(b) => Some(cstring(b, "backends")?),
            None => None,
        };
        let co = sys::ember_session_options {
            struct_size: std::mem::size_of::<sys::ember_session_options>(),
            backends: backends.as_ref().map_or(ptr::null(), |b| b.as_ptr()),
            num_threads: opts.num_threads,
            max_arena_bytes: opts.max_arena_bytes,
            enable_profiling: opts.enable_profiling as i32,
        };
        let mut p = ptr::null_mut();
        // SAFETY: valid model, options (strings outlive the call) and out pointer.
        check(unsafe { sys::ember_session_create(self.inner.ptr, &co, &mut p) })?;
        Ok(Session { ptr: p, model: self.clone(), image_input: None, busy: std::cell::Cell::new(false) })
    }
}

// ---------------------------------------------------------------------------
// Session

/// Session options; `Default` gives the library's defaults.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Backend priority list, e.g. "cpu"; None = "auto".
    pub backends: Option<String>,
    /// Threads this session may use; 0 = all of the runtime's.
    pub num_threads: i32,
    /// Arena cap in bytes; 0 = none.
    pub max_arena_bytes: i64,
    /// Time every step of every run ([`Session::profile`]).
    pub enable_profiling: bool,
}

/// One node the session executes.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    pub op_type: String,
    pub backend: String,
}

/// Timings of one step of the current plan (a kernel, or a plugin subgraph of
/// `n_nodes` nodes whose first operator is `op_type`), accumulated over its runs.
#[derive(Clone, Debug)]
pub struct ProfileEntry {
    pub name: String,
    pub op_type: String,
    pub backend: String,
    pub n_nodes: i64,
    pub total_ms: f64,
    pub calls: i64,
}

/// A compiled plan of one model with its own memory. `Send`, not `Sync`: one thread
/// at a time, as the C API requires.
pub struct Session {
    ptr: *mut sys::ember_session,
    model: Model,
    /// The input tensor that image preprocessing writes into (created on first use).
    image_input: Option<OwnedCTensor>,
    /// Set while a generator of this session is inside a C call (lm.rs): a token
    /// callback that reaches another generator of the session gets an error instead of
    /// running the session re-entrantly.
    pub(crate) busy: std::cell::Cell<bool>,
}

// SAFETY: a session may be used from any thread, one at a time; not Sync because the C
// API forbids concurrent calls on one session (the raw pointer keeps it !Sync).
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        self.image_input = None;
        // SAFETY: released once; the model (an Arc) outlives this call.
        unsafe { sys::ember_session_release(self.ptr) };
    }
}

impl Session {
    /// The model this session runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn run_c(&mut self, inputs: &[*const sys::ember_tensor]) -> Result<()> {
        // SAFETY: the tensors are live for the call.
        check(unsafe { sys::ember_session_run(self.ptr, inputs.as_ptr(), inputs.len()) })
    }

    /// Runs the model on `inputs` (in [`Model::inputs`] order; borrowed, not copied) and
    /// returns copies of the outputs. Use [`Session::output`] to read an output in place.
    /// A dtype or shape that does not fit gives `Status::Shape`; the session stays
    /// usable.
    pub fn run(&mut self, inputs: &[TensorRef<'_>]) -> Result<Vec<Tensor>> {
        self.run_in_place(inputs)?;
        (0..self.model.outputs().len()).map(|i| Ok(self.output(i)?.to_owned())).collect()
    }

    /// Runs the model without copying the outputs; read them with [`Session::output`].
    pub fn run_in_place(&mut self, inputs: &[TensorRef<'_>]) -> Result<()> {
        let wrapped = inputs.iter().map(OwnedCTensor::wrap).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const sys::ember_tensor> = wrapped.iter().map(|t| t.0 as *const _).collect();
        self.run_c(&ptrs)
    }

    /// Output `index` of the last run, borrowed from the session: the borrow checker
    /// ends the view before the next run.
    pub fn output(&self, index: usize) -> Result<TensorRef<'_>> {
        let mut t = ptr::null();
        // SAFETY: the output lives until the next run, which needs &mut self.
        unsafe {
            check(sys::ember_session_output(self.ptr, index, &mut t))?;
            Ok(TensorRef::from_c(t))
        }
    }

    /// Index of the input called `name`.
    pub fn input_index(&self, name: &str) -> Result<usize> {
        let c = cstring(name, "name")?;
        let mut i = 0;
        // SAFETY: valid session and string.
        check(unsafe { sys::ember_session_input_index(self.ptr, c.as_ptr(), &mut i) })?;
        Ok(i)
    }

    /// Index of the output called `name`.
    pub fn output_index(&self, name: &str) -> Result<usize> {
        let c = cstring(name, "name")?;
        let mut i = 0;
        // SAFETY: valid session and string.
        check(unsafe { sys::ember_session_output_index(self.ptr, c.as_ptr(), &mut i) })?;
        Ok(i)
    }

    /// The nodes the session executes and the backend running each.
    pub fn nodes(&self) -> Result<Vec<NodeInfo>> {
        let mut n = 0;
        // SAFETY: strings owned by the session, copied at once.
        unsafe {
            check(sys::ember_session_node_count(self.ptr, &mut n))?;
            (0..n)
                .map(|i| {
                    let (mut a, mut b, mut c) = (ptr::null(), ptr::null(), ptr::null());
                    check(sys::ember_session_node_info(self.ptr, i, &mut a, &mut b, &mut c))?;
                    Ok(NodeInfo { name: string_from(a), op_type: string_from(b), backend: string_from(c) })
                })
                .collect()
        }
    }

    /// Per-step timings of the current plan; the session must have been created with
    /// `enable_profiling` (otherwise `Status::InvalidArgument`).
    pub fn profile(&self) -> Result<Vec<ProfileEntry>> {
        let mut n = 0;
        // SAFETY: strings owned by the session, copied at once.
        unsafe {
            check(sys::ember_session_profile_count(self.ptr, &mut n))?;
            (0..n)
                .map(|i| {
                    let (mut a, mut b, mut c) = (ptr::null(), ptr::null(), ptr::null());
                    let (mut nodes, mut ms, mut calls) = (0i64, 0f64, 0i64);
                    check(sys::ember_session_profile(self.ptr, i, &mut a, &mut b, &mut c, &mut nodes, &mut ms, &mut calls))?;
                    Ok(ProfileEntry {
                        name: string_from(a),
                        op_type: string_from(b),
                        backend: string_from(c),
                        n_nodes: nodes,
                        total_ms: ms,
                        calls,
                    })
                })
                .collect()
        }
    }

    /// Bytes of the intermediate-tensor arena of the current plan (0 before the first).
    pub fn arena_bytes(&self) -> Result<usize> {
        let mut n = 0;
        // SAFETY: a live session.
        check(unsafe { sys::ember_session_arena_bytes(self.ptr, &mut n) })?;
        Ok(n)
    }
}
