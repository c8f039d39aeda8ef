//! Language models: [`Tokenizer`] and [`Generator`] (api/ember.h, "Language models";
//! docs/language-models.md).
use std::any::Any;
use std::ops::{BitOr, ControlFlow};
use std::os::raw::{c_char, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use ember_sys as sys;

use crate::error::check;
use crate::{Error, Model, Result, Session, Status};

// ---------------------------------------------------------------------------
// Tokenizer

/// Flags of [`Tokenizer::encode`]; combine them with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EncodeFlags(u32);

impl EncodeFlags {
    /// Plain text, no BOS.
    pub const NONE: EncodeFlags = EncodeFlags(0);
    /// Start with the vocabulary's BOS token (when it has one).
    pub const ADD_BOS: EncodeFlags = EncodeFlags(sys::EMBER_TOKENIZE_ADD_BOS);
    /// Control-token texts in the input ("<s>", "</s>") become those tokens.
    pub const PARSE_SPECIAL: EncodeFlags = EncodeFlags(sys::EMBER_TOKENIZE_PARSE_SPECIAL);

    /// The `EMBER_TOKENIZE_*` bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for EncodeFlags {
    type Output = EncodeFlags;
    fn bitor(self, rhs: EncodeFlags) -> EncodeFlags {
        EncodeFlags(self.0 | rhs.0)
    }
}

/// A vocabulary's size and special ids (-1 when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenizerInfo {
    pub vocab_size: i32,
    pub bos: i32,
    pub eos: i32,
    pub unk: i32,
    /// The model expects sequences to start with BOS.
    pub add_bos: bool,
}

/// Turns text into token ids and back (SentencePiece BPE, as llama2.c and llama.cpp run
/// it). Immutable: `Send + Sync`.
///
/// Owned when made by [`Model::tokenizer`] (dropping it releases it; it may outlive the
/// model); borrowed as `&Tokenizer` from [`Generator::tokenizer`], valid while the
/// generator lives (the borrow checker ends it).
pub struct Tokenizer {
    ptr: *mut sys::ember_tokenizer,
    /// false: borrowed from a generator (never released here; never handed out by value).
    owned: bool,
}

// SAFETY: a tokenizer is immutable and may be used by any number of threads at once
// (api/ember.h). A borrowed one is only reachable through &Generator, which is !Send.
unsafe impl Send for Tokenizer {}
unsafe impl Sync for Tokenizer {}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: created by ember_tokenizer_create, released once.
            unsafe { sys::ember_tokenizer_release(self.ptr) };
        }
    }
}

impl Model {
    /// A tokenizer from the vocabulary stored in the model. `Status::NotFound` when the
    /// model has none, `Status::Format` when it is damaged.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        let mut p = ptr::null_mut();
        // SAFETY: a live model and an out pointer.
        check(unsafe { sys::ember_tokenizer_create(self.inner.ptr, &mut p) })?;
        Ok(Tokenizer { ptr: p, owned: true })
    }
}

impl Tokenizer {
    /// Vocabulary size and special ids.
    pub fn info(&self) -> Result<TokenizerInfo> {
        let mut c = sys::ember_tokenizer_info {
            struct_size: std::mem::size_of::<sys::ember_tokenizer_info>(),
            vocab_size: 0,
            bos: -1,
            eos: -1,
            unk: -1,
            add_bos: 0,
        };
        // SAFETY: a live tokenizer and a sized struct.
        check(unsafe { sys::ember_tokenizer_get_info(self.ptr, &mut c) })?;
        Ok(TokenizerInfo { vocab_size: c.vocab_size, bos: c.bos, eos: c.eos, unk: c.unk, add_bos: c.add_bos != 0 })
    }

    /// The token ids of `text` (UTF-8; any bytes are accepted).
    pub fn encode(&self, text: impl AsRef<[u8]>, flags: EncodeFlags) -> Result<Vec<i32>> {
        let text = text.as_ref();
        let mut ids = vec![0i32; text.len() + 2]; // a token covers at least one byte, plus BOS
        loop {
            let mut n = 0usize;
            // SAFETY: text and ids are valid for their lengths during the call.
            let code = unsafe {
                sys::ember_tokenizer_encode(
                    self.ptr,
                    text.as_ptr() as *const c_char,
                    text.len(),
                    flags.0,
                    ids.as_mut_ptr(),
                    ids.len(),
                    &mut n,
                )
            };
            if code == sys::EMBER_ERR_BUFFER_TOO_SMALL && n > ids.len() {
                ids.resize(n, 0);
                continue;
            }
            check(code)?;
            ids.truncate(n);
            return Ok(ids);
        }
    }

    /// The bytes `ids` print: "▁" is a space, byte tokens their byte, control tokens
    /// nothing, and a piece right after BOS loses its leading space.
    /// `Status::InvalidArgument` for an id outside the vocabulary.
    pub fn decode_bytes(&self, ids: &[i32]) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; 16 * ids.len() + 1];
        loop {
            let mut n = 0usize;
            // SAFETY: ids and buf are valid for their lengths during the call.
            let code = unsafe {
                sys::ember_tokenizer_decode(
                    self.ptr,
                    ids.as_ptr(),
                    ids.len(),
                    buf.as_mut_ptr() as *mut c_char,
                    buf.len(),
                    &mut n,
                )
            };
            if code == sys::EMBER_ERR_BUFFER_TOO_SMALL && n >= buf.len() {
                buf.resize(n + 1, 0);
                continue;
            }
            check(code)?;
            buf.truncate(n);
            return Ok(buf);
        }
    }

    /// The text `ids` print, as a `String` (byte sequences that are not UTF-8, such as a
    /// lone byte token, become U+FFFD; use [`Tokenizer::decode_bytes`] for the bytes).
    pub fn decode(&self, ids: &[i32]) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.decode_bytes(ids)?).into_owned())
    }
}

// ---------------------------------------------------------------------------
// Generator

/// Options of [`Session::generator_with`]; `Default` gives the library's defaults.
#[derive(Clone, Debug, Default)]
pub struct GeneratorOptions {
    /// Positions the key/value caches hold; 0 = the model's trained context
    /// ("lm.context"). Memory: 2 * layers * context * kv_dim * 4 bytes.
    pub context: i64,
    /// Each feed leaves the logits of every position fed in the session's output 0,
    /// `[n, vocab]`; by default only the last position's are computed.
    pub all_logits: bool,
}

/// Sampling parameters of [`Generator::set_sampler`]; `Default` is greedy.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerOptions {
    /// <= 0: greedy (the first most likely token).
    pub temperature: f32,
    /// > 0: sample among the `top_k` most likely tokens; 0 = all.
    pub top_k: i32,
    /// In (0, 1): nucleus sampling; 1 = off.
    pub top_p: f32,
    /// The random stream: the same seed on the same logits gives the same tokens.
    pub seed: u64,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions { temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
    }
}

/// Options of [`Generator::generate`]; `Default`: until EOS or the end of the context.
#[derive(Clone, Debug, Default)]
pub struct GenerateOptions {
    /// Tokens to generate at most; 0 = no limit.
    pub max_tokens: usize,
    /// EOS and BOS are emitted like any other token instead of stopping generation.
    pub ignore_eos: bool,
}

/// Why [`Generator::generate`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// `max_tokens` reached.
    Length,
    /// The sampler drew EOS or BOS (not emitted).
    Eos,
    /// The caches are full: the last token was emitted, not fed.
    Context,
    /// The callback returned `ControlFlow::Break`.
    Callback,
    /// A code newer than this binding (or `EMBER_STOP_NONE`).
    Other(u32),
}

impl StopReason {
    fn from_raw(r: sys::ember_stop_reason) -> StopReason {
        match r {
            sys::EMBER_STOP_LENGTH => StopReason::Length,
            sys::EMBER_STOP_EOS => StopReason::Eos,
            sys::EMBER_STOP_CONTEXT => StopReason::Context,
            sys::EMBER_STOP_CALLBACK => StopReason::Callback,
            other => StopReason::Other(other),
        }
    }
}

/// What [`Generator::generate`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The generated ids, in order (the prompt is not included).
    pub ids: Vec<i32>,
    pub stop: StopReason,
}

/// Generates text with a language model: owns the key/value caches of one sequence and
/// runs a borrowed [`Session`], which therefore outlives it and cannot be run directly
/// while it exists. Neither `Send` nor `Sync`: generators stay on their session's thread.
/// Dropping it releases the caches.
pub struct Generator<'s> {
    ptr: *mut sys::ember_generator,
    session: &'s Session,
    /// Borrowed from the C generator (owned: false): valid until `ptr` is released.
    tokenizer: Option<Tokenizer>,
}

impl Drop for Generator<'_> {
    fn drop(&mut self) {
        // The borrowed tokenizer is not released (owned: false); drop it first anyway.
        self.tokenizer = None;
        // SAFETY: created by ember_generator_create, released once, before the session
        // (borrowed for 's) goes away.
        unsafe { sys::ember_generator_release(self.ptr) };
    }
}

impl Session {
    /// A generator with default options (the model's context, greedy sampling).
    pub fn generator(&self) -> Result<Generator<'_>> {
        self.generator_with(&GeneratorOptions::default())
    }

    /// A generator on this session of a language model: allocates its caches.
    /// `Status::InvalidArgument` ("not a language model") for other models.
    pub fn generator_with(&self, opts: &GeneratorOptions) -> Result<Generator<'_>> {
        let _busy = BusyGuard::enter(self)?;
        let co = sys::ember_generator_options {
            struct_size: std::mem::size_of::<sys::ember_generator_options>(),
            context: opts.context,
            all_logits: opts.all_logits as i32,
        };
        let mut p = ptr::null_mut();
        // SAFETY: a live session (borrowed for the generator's lifetime) and options.
        check(unsafe { sys::ember_generator_create(self.ptr, &co, &mut p) })?;
        let mut t = ptr::null();
        // SAFETY: a live generator; the tokenizer is owned by it.
        let tokenizer = if unsafe { sys::ember_generator_tokenizer(p, &mut t) } == sys::EMBER_OK {
            Some(Tokenizer { ptr: t as *mut _, owned: false })
        } else {
            None
        };
        Ok(Generator { ptr: p, session: self, tokenizer })
    }
}

/// Marks the session busy for the length of one C call of a generator.
struct BusyGuard<'a>(&'a Session);

impl<'a> BusyGuard<'a> {
    fn enter(s: &'a Session) -> Result<BusyGuard<'a>> {
        if s.busy.replace(true) {
            return Err(Error::new(
                Status::InvalidArgument,
                "the session is busy: a token callback may not use another generator of its session",
            ));
        }
        Ok(BusyGuard(s))
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.set(false);
    }
}

/// What the C callback reaches through its user data.
struct CallbackState<F> {
    f: F,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

/// `ember_token_callback` for a closure `F`: catches a panic (it must not unwind into the
/// library's C++ frames), keeps it for `generate` to resume, and asks the library to stop.
unsafe extern "C" fn token_trampoline<F>(user: *mut c_void, token: i32, piece: *const c_char, len: usize) -> i32
where
    F: FnMut(i32, &[u8]) -> ControlFlow<()>,
{
    let state = &mut *(user as *mut CallbackState<F>);
    let bytes: &[u8] = if len == 0 || piece.is_null() {
        &[]
    } else {
        // SAFETY: the library passes `len` readable bytes, valid during the call.
        std::slice::from_raw_parts(piece as *const u8, len)
    };
    let f = &mut state.f;
    match panic::catch_unwind(AssertUnwindSafe(|| f(token, bytes))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(payload) => {
            state.panic = Some(payload);
            1
        }
    }
}

impl<'s> Generator<'s> {
    /// The session this generator runs.
    pub fn session(&self) -> &'s Session {
        self.session
    }

    /// The model's tokenizer, borrowed from the generator. `Status::NotFound` when the
    /// model has none.
    pub fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer
            .as_ref()
            .ok_or_else(|| Error::new(Status::NotFound, "the model has no tokenizer (metadata 'lm.tokenizer')"))
    }

    /// Runs `ids` at the next positions in one batched run (a prompt's prefill, or one
    /// token) and keeps the logits of the last. `Status::InvalidArgument` for no ids, an
    /// id outside the vocabulary or a context overflow; nothing is fed then.
    pub fn feed(&mut self, ids: &[i32]) -> Result<()> {
        let _busy = BusyGuard::enter(self.session)?;
        // SAFETY: a live generator; ids valid for the call.
        check(unsafe { sys::ember_generator_feed(self.ptr, ids.as_ptr(), ids.len()) })
    }

    /// The logits (vocabulary size) of the last token fed, borrowed until the next
    /// `feed`, `generate` or `truncate` (which take `&mut self`). `Status::InvalidArgument`
    /// when nothing was fed since creation or the last truncate.
    pub fn logits(&self) -> Result<&[f32]> {
        let (mut p, mut n) = (ptr::null(), 0usize);
        // SAFETY: the logits live in the generator until it is mutated (&mut self).
        unsafe {
            check(sys::ember_generator_logits(self.ptr, &mut p, &mut n))?;
            Ok(std::slice::from_raw_parts(p, n))
        }
    }

    /// Tokens held: the next position.
    pub fn position(&self) -> i64 {
        self.position_context().0
    }

    /// Positions the caches hold.
    pub fn context(&self) -> i64 {
        self.position_context().1
    }

    fn position_context(&self) -> (i64, i64) {
        let (mut p, mut c) = (0i64, 0i64);
        // SAFETY: a live generator; never fails with valid arguments.
        unsafe { sys::ember_generator_position(self.ptr, &mut p, &mut c) };
        (p, c)
    }

    /// Rolls back to `position` (0 <= position <= [`Generator::position`]): feeding
    /// continues as if the later tokens had never been fed. The logits are forgotten.
    pub fn truncate(&mut self, position: i64) -> Result<()> {
        // SAFETY: a live generator.
        check(unsafe { sys::ember_generator_truncate(self.ptr, position) })
    }

    /// Sets the sampling parameters and restarts the random stream from `opts.seed`.
    /// `Status::InvalidArgument` for a non-finite temperature or top_p, top_p above 1,
    /// or a negative top_k.
    pub fn set_sampler(&mut self, opts: &SamplerOptions) -> Result<()> {
        let co = sys::ember_sampler_options {
            struct_size: std::mem::size_of::<sys::ember_sampler_options>(),
            temperature: opts.temperature,
            top_k: opts.top_k,
            top_p: opts.top_p,
            seed: opts.seed,
        };
        // SAFETY: a live generator and options.
        check(unsafe { sys::ember_generator_set_sampler(self.ptr, &co) })
    }

    /// Draws one token from the current logits with the sampler (does not feed it).
    pub fn sample(&mut self) -> Result<i32> {
        let mut t = 0;
        // SAFETY: a live generator.
        check(unsafe { sys::ember_generator_sample(self.ptr, &mut t) })?;
        Ok(t)
    }

    /// Samples, emits and feeds tokens until `max_tokens`, EOS/BOS (unless
    /// `ignore_eos`) or a full context. Every emitted token is fed except when the
    /// context is full, so the generator can continue or be truncated afterwards.
    pub fn generate(&mut self, opts: &GenerateOptions) -> Result<Generated> {
        self.generate_c(opts, None, ptr::null_mut())
    }

    /// As [`Generator::generate`], calling `f(id, piece)` as each token is produced:
    /// `piece` is the bytes the token prints (a byte token may be part of a UTF-8
    /// sequence). `ControlFlow::Break(())` stops generation after that token (which is
    /// fed). If `f` panics, generation stops the same way and the panic resumes here
    /// once the library has returned; the generator stays usable. The borrow checker
    /// keeps `f` from using this generator; another generator of the same session gives
    /// an error.
    pub fn generate_with<F>(&mut self, opts: &GenerateOptions, f: F) -> Result<Generated>
    where
        F: FnMut(i32, &[u8]) -> ControlFlow<()>,
    {
        let mut state = CallbackState { f, panic: None };
        let result =
            self.generate_c(opts, Some(token_trampoline::<F>), &mut state as *mut CallbackState<F> as *mut c_void);
        if let Some(payload) = state.panic.take() {
            panic::resume_unwind(payload);
        }
        result
    }

    fn generate_c(
        &mut self,
        opts: &GenerateOptions,
        callback: sys::ember_token_callback,
        user_data: *mut c_void,
    ) -> Result<Generated> {
        let _busy = BusyGuard::enter(self.session)?;
        // The ids buffer: max_tokens, else what the context can still take (each token is
        // fed, and one more may be emitted when it is full).
        let (pos, ctx) = self.position_context();
        let mut capacity = (ctx - pos).max(0) as usize + 1;
        if opts.max_tokens > 0 {
            capacity = capacity.min(opts.max_tokens);
        }
        let mut ids = vec![0i32; capacity];
        let co = sys::ember_generate_options {
            struct_size: std::mem::size_of::<sys::ember_generate_options>(),
            max_tokens: opts.max_tokens.min(i64::MAX as usize) as i64,
            ignore_eos: opts.ignore_eos as i32,
            callback,
            user_data,
        };
        let (mut n, mut why) = (0usize, sys::EMBER_STOP_NONE);
        // SAFETY: a live generator; ids has `capacity` entries; user_data points to the
        // CallbackState that `callback` expects, alive for the call.
        check(unsafe { sys::ember_generator_generate(self.ptr, &co, ids.as_mut_ptr(), ids.len(), &mut n, &mut why) })?;
        ids.truncate(n);
        Ok(Generated { ids, stop: StopReason::from_raw(why) })
    }
}
