package ember

// Language models: tokenizers and generators (the "Language models" part of api/ember.h,
// docs/language-models.md).

/*
#include <stdint.h>
#include <stdlib.h>
#include <ember.h>

// Defined in lm_callback.go (a file with //export may not define C functions).
extern int32_t emberGoTokenCallback(uintptr_t handle, int32_t token, char *piece, size_t piece_len);

static int32_t ember_go_trampoline(void *user, int32_t token, const char *piece, size_t piece_len) {
	return emberGoTokenCallback((uintptr_t)user, token, (char *)piece, piece_len);
}

// Fills ember_generate_options in C: the callback is a C function pointer and the
// user data a cgo.Handle (an integer), neither of which Go code can store as a pointer.
static ember_status ember_go_generate(ember_generator *g, int64_t max_tokens, int32_t ignore_eos,
                                      uintptr_t handle, int32_t *ids, size_t capacity,
                                      size_t *n_ids, ember_stop_reason *reason) {
	ember_generate_options o = {0};
	o.struct_size = sizeof o;
	o.max_tokens = max_tokens;
	o.ignore_eos = ignore_eos;
	if (handle) {
		o.callback = ember_go_trampoline;
		o.user_data = (void *)handle;
	}
	return ember_generator_generate(g, &o, ids, capacity, n_ids, reason);
}
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// EncodeFlags are the flags of Tokenizer.Encode (EMBER_TOKENIZE_*).
type EncodeFlags uint32

const (
	// AddBOS starts the ids with the vocabulary's BOS token (when it has one).
	AddBOS EncodeFlags = C.EMBER_TOKENIZE_ADD_BOS
	// ParseSpecial turns control-token texts in the input ("<s>", "</s>") into those
	// tokens instead of plain text.
	ParseSpecial EncodeFlags = C.EMBER_TOKENIZE_PARSE_SPECIAL
)

// TokenizerInfo gives a vocabulary's size and special ids (-1 when absent).
type TokenizerInfo struct {
	VocabSize, BOS, EOS, UNK int32
	AddBOS                   bool // the model expects sequences to start with BOS
}

// Tokenizer turns text into token ids and back (SentencePiece BPE, as llama2.c and
// llama.cpp run it). It is immutable: any number of goroutines may use it at once.
//
// A Tokenizer from Model.NewTokenizer is owned: Close it (a finalizer is the safety net);
// it may outlive the model. One from Generator.Tokenizer is borrowed from the
// generator: its Close does nothing, and it stops working (StatusInvalidArgument) once
// the generator is closed.
type Tokenizer struct {
	mu    sync.RWMutex
	p     *C.ember_tokenizer
	owned bool
}

// NewTokenizer creates a tokenizer from the vocabulary stored in the model. Errors:
// StatusNotFound (the model has no tokenizer), StatusFormat (damaged vocabulary).
func (m *Model) NewTokenizer() (*Tokenizer, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.p == nil {
		return nil, errClosed("model")
	}
	var p *C.ember_tokenizer
	if err := call(func() C.ember_status { return C.ember_tokenizer_create(m.p, &p) }); err != nil {
		return nil, err
	}
	t := &Tokenizer{p: p, owned: true}
	runtime.SetFinalizer(t, func(t *Tokenizer) { t.Close() })
	return t, nil
}

// Close releases an owned tokenizer; for a borrowed one (Generator.Tokenizer) it does
// nothing. Closing twice is a no-op.
func (t *Tokenizer) Close() error {
	if !t.owned {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p != nil {
		C.ember_tokenizer_release(t.p)
		t.p = nil
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

func (t *Tokenizer) live() (*C.ember_tokenizer, error) {
	if t.p == nil {
		if t.owned {
			return nil, errClosed("tokenizer")
		}
		return nil, errClosed("the generator owning this tokenizer")
	}
	return t.p, nil
}

// Info returns the vocabulary size and special ids.
func (t *Tokenizer) Info() (TokenizerInfo, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, err := t.live()
	if err != nil {
		return TokenizerInfo{}, err
	}
	var ci C.ember_tokenizer_info
	ci.struct_size = C.size_t(unsafe.Sizeof(ci))
	if err := call(func() C.ember_status { return C.ember_tokenizer_get_info(p, &ci) }); err != nil {
		return TokenizerInfo{}, err
	}
	return TokenizerInfo{int32(ci.vocab_size), int32(ci.bos), int32(ci.eos), int32(ci.unk), ci.add_bos != 0}, nil
}

// Encode turns UTF-8 text into token ids (flags: AddBOS, ParseSpecial, or 0).
func (t *Tokenizer) Encode(text string, flags EncodeFlags) ([]int32, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, err := t.live()
	if err != nil {
		return nil, err
	}
	ctext := C.CBytes([]byte(text)) // C memory: cgo forbids passing a Go string's bytes
	defer C.free(ctext)
	// A first guess (a token covers at least one byte, plus BOS), then the size the
	// library asks for when it was short.
	ids := make([]int32, len(text)+2)
	var n C.size_t
	for {
		err := call(func() C.ember_status {
			return C.ember_tokenizer_encode(p, (*C.char)(ctext), C.size_t(len(text)), C.uint32_t(flags),
				(*C.int32_t)(unsafe.Pointer(&ids[0])), C.size_t(len(ids)), &n)
		})
		if e, ok := err.(*Error); ok && e.Status == StatusBufferTooSmall && int(n) > len(ids) {
			ids = make([]int32, int(n))
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:int(n)], nil
	}
}

// Decode turns token ids into text: "▁" becomes a space, byte tokens their byte, control
// tokens nothing, and a piece right after BOS loses its leading space. An id outside
// the vocabulary is an *Error with StatusInvalidArgument.
func (t *Tokenizer) Decode(ids []int32) (string, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, err := t.live()
	if err != nil {
		return "", err
	}
	var cids *C.int32_t
	if len(ids) > 0 {
		cids = (*C.int32_t)(unsafe.Pointer(&ids[0]))
	}
	buf := make([]byte, 16*len(ids)+1)
	var n C.size_t
	for {
		err := call(func() C.ember_status {
			return C.ember_tokenizer_decode(p, cids, C.size_t(len(ids)), (*C.char)(unsafe.Pointer(&buf[0])),
				C.size_t(len(buf)), &n)
		})
		if e, ok := err.(*Error); ok && e.Status == StatusBufferTooSmall && int(n) >= len(buf) {
			buf = make([]byte, int(n)+1)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:int(n)]), nil
	}
}

// ---------------------------------------------------------------------------
// Generator

// GeneratorOptions configures NewGenerator; nil means defaults.
type GeneratorOptions struct {
	// Context is the number of positions the key/value caches hold; 0 = the model's
	// trained context ("lm.context"). Memory: 2 * layers * Context * kv_dim * 4 bytes.
	Context int64
	// AllLogits: each Feed leaves the logits of every position fed in the session's
	// output 0, [n, vocab]; by default only the last position's are computed.
	AllLogits bool
}

// SamplerOptions are the sampling parameters of Generator.SetSampler. The zero value is
// greedy; set TopP to 1 (or 0, meaning off here) to sample from the whole distribution.
type SamplerOptions struct {
	Temperature float32 // <= 0: greedy (the first most likely token)
	TopK        int32   // > 0: sample among the TopK most likely tokens; 0 = all
	TopP        float32 // in (0, 1): nucleus sampling; 0 or 1 = off
	Seed        uint64  // the same seed on the same logits gives the same tokens
}

// GenerateOptions configures Generator.Generate; nil means defaults.
type GenerateOptions struct {
	// MaxTokens is the most tokens to generate; 0 = until EOS or the end of the context.
	MaxTokens int64
	// IgnoreEOS: EOS and BOS are emitted like any other token instead of stopping.
	IgnoreEOS bool
}

// StopReason says why Generate stopped.
type StopReason int

// The ember_stop_reason values of api/ember.h.
const (
	StopNone     StopReason = C.EMBER_STOP_NONE
	StopLength   StopReason = C.EMBER_STOP_LENGTH   // MaxTokens reached
	StopEOS      StopReason = C.EMBER_STOP_EOS      // EOS or BOS drawn (not emitted)
	StopContext  StopReason = C.EMBER_STOP_CONTEXT  // caches full: the last token was emitted, not fed
	StopCallback StopReason = C.EMBER_STOP_CALLBACK // the callback returned false
)

func (r StopReason) String() string {
	switch r {
	case StopLength:
		return "length"
	case StopEOS:
		return "eos"
	case StopContext:
		return "context"
	case StopCallback:
		return "callback"
	}
	return "none"
}

// TokenFunc receives each generated token as it is produced: its id and the text it
// prints (piece; may be a partial UTF-8 sequence for byte tokens, "" when the model has
// no tokenizer). Return true to continue, false to stop (the token is still fed, so
// the generator can continue later). It runs on the goroutine that called Generate and
// must not call the generator or its session (they are locked: it would deadlock), nor
// runtime.Goexit (so not t.Fatal in a test: use t.Error), which would unwind through
// the library's C++ frames. A panic is fine: see Generate.
type TokenFunc func(token int32, piece string) bool

// Generator generates text with a language model: it owns the key/value caches of one
// sequence and runs a Session. It keeps its Session (and so the model) alive; the
// session refuses to close while generators of it are open. Several generators may share
// a session: their calls, and the session's own, are serialised by the session's mutex.
// Close releases the caches (a finalizer is the safety net).
type Generator struct {
	p       *C.ember_generator // guarded by session.mu
	session *Session
	tok     *Tokenizer // borrowed tokenizer, nil when the model has none
}

// NewGenerator creates a generator on a session of a language model (greedy until
// SetSampler). Errors: StatusInvalidArgument "not a language model", StatusFormat
// (damaged lm.* metadata), StatusOutOfMemory.
func (s *Session) NewGenerator(opts *GeneratorOptions) (*Generator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, errClosed("session")
	}
	var co C.ember_generator_options
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	if opts != nil {
		co.context = C.int64_t(opts.Context)
		if opts.AllLogits {
			co.all_logits = 1
		}
	}
	var p *C.ember_generator
	if err := call(func() C.ember_status { return C.ember_generator_create(s.p, &co, &p) }); err != nil {
		return nil, err
	}
	g := &Generator{p: p, session: s}
	var tp *C.ember_tokenizer
	if call(func() C.ember_status { return C.ember_generator_tokenizer(p, &tp) }) == nil {
		g.tok = &Tokenizer{p: tp}
	}
	s.generators++
	runtime.SetFinalizer(g, func(g *Generator) { g.Close() })
	return g, nil
}

// lock takes the session's mutex and checks that the generator is open.
func (g *Generator) lock() error {
	g.session.mu.Lock()
	if g.p == nil {
		g.session.mu.Unlock()
		return errClosed("generator")
	}
	return nil
}

// Close releases the generator (its caches; its borrowed Tokenizer stops working).
// Closing twice is a no-op.
func (g *Generator) Close() error {
	g.session.mu.Lock()
	defer g.session.mu.Unlock()
	if g.p == nil {
		return nil
	}
	if g.tok != nil {
		g.tok.mu.Lock()
		g.tok.p = nil
		g.tok.mu.Unlock()
	}
	C.ember_generator_release(g.p)
	g.p = nil
	g.session.generators--
	runtime.SetFinalizer(g, nil)
	return nil
}

// Session returns the session the generator runs.
func (g *Generator) Session() *Session { return g.session }

// Tokenizer returns the model's tokenizer, borrowed from the generator (valid until the
// generator is closed; no need to Close it). StatusNotFound when the model has none.
func (g *Generator) Tokenizer() (*Tokenizer, error) {
	if g.tok == nil {
		return nil, errorf(StatusNotFound, "the model has no tokenizer (metadata 'lm.tokenizer')")
	}
	return g.tok, nil
}

// Feed runs ids at the next positions in one batched run (a prompt's prefill, or one
// token) and keeps the logits of the last. An id outside the vocabulary, or tokens that
// do not fit the context, give StatusInvalidArgument and feed nothing.
func (g *Generator) Feed(ids []int32) error {
	if err := g.lock(); err != nil {
		return err
	}
	defer g.session.mu.Unlock()
	var cids *C.int32_t
	if len(ids) > 0 {
		cids = (*C.int32_t)(unsafe.Pointer(&ids[0]))
	}
	return call(func() C.ember_status { return C.ember_generator_feed(g.p, cids, C.size_t(len(ids))) })
}

// Logits returns a copy of the logits (vocabulary size) of the last token fed.
// StatusInvalidArgument when nothing was fed since creation or the last Truncate.
func (g *Generator) Logits() ([]float32, error) {
	if err := g.lock(); err != nil {
		return nil, err
	}
	defer g.session.mu.Unlock()
	var l *C.float
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_generator_logits(g.p, &l, &n) }); err != nil {
		return nil, err
	}
	out := make([]float32, int(n))
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(l)), int(n)))
	return out, nil
}

// Position returns the number of tokens held (the next position) and the context size.
func (g *Generator) Position() (position, context int64, err error) {
	if err := g.lock(); err != nil {
		return 0, 0, err
	}
	defer g.session.mu.Unlock()
	var p, c C.int64_t
	err = call(func() C.ember_status { return C.ember_generator_position(g.p, &p, &c) })
	return int64(p), int64(c), err
}

// Truncate rolls back to position (0 <= position <= Position): feeding continues from
// there as if the later tokens had never been fed. The logits are forgotten: Feed (at
// least the last kept token, after truncating one further) before Sample or Generate.
func (g *Generator) Truncate(position int64) error {
	if err := g.lock(); err != nil {
		return err
	}
	defer g.session.mu.Unlock()
	return call(func() C.ember_status { return C.ember_generator_truncate(g.p, C.int64_t(position)) })
}

// SetSampler sets the sampling parameters and restarts the random stream from
// opts.Seed; nil means greedy. StatusInvalidArgument for a non-finite temperature or
// TopP, TopP above 1, or a negative TopK.
func (g *Generator) SetSampler(opts *SamplerOptions) error {
	if err := g.lock(); err != nil {
		return err
	}
	defer g.session.mu.Unlock()
	if opts == nil {
		return call(func() C.ember_status { return C.ember_generator_set_sampler(g.p, nil) })
	}
	var co C.ember_sampler_options
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.temperature = C.float(opts.Temperature)
	co.top_k = C.int32_t(opts.TopK)
	co.top_p = C.float(opts.TopP)
	if opts.TopP == 0 {
		co.top_p = 1
	}
	co.seed = C.uint64_t(opts.Seed)
	return call(func() C.ember_status { return C.ember_generator_set_sampler(g.p, &co) })
}

// Sample draws one token from the current logits with the sampler, without feeding it.
func (g *Generator) Sample() (int32, error) {
	if err := g.lock(); err != nil {
		return 0, err
	}
	defer g.session.mu.Unlock()
	var t C.int32_t
	err := call(func() C.ember_status { return C.ember_generator_sample(g.p, &t) })
	return int32(t), err
}

// callbackState is what the C callback reaches through its cgo.Handle.
type callbackState struct {
	fn    TokenFunc
	panic interface{} // a panic of fn, re-raised once the C call has returned
}

// Generate samples, emits and feeds tokens until MaxTokens, EOS/BOS (unless IgnoreEOS),
// fn returning false, or a full context, and returns the generated ids and why it
// stopped. Every emitted token is fed except when the context is full, so the
// generator can continue or be truncated afterwards. fn (nil: none) is called once per
// token as it is produced. If fn panics, generation stops after that token and the
// panic is re-raised here once the library has returned (the generator stays usable).
// On error, the ids generated before it are returned with it.
func (g *Generator) Generate(opts *GenerateOptions, fn TokenFunc) ([]int32, StopReason, error) {
	if err := g.lock(); err != nil {
		return nil, StopNone, err
	}
	defer g.session.mu.Unlock()
	var o GenerateOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxTokens < 0 {
		return nil, StopNone, errorf(StatusInvalidArgument, "MaxTokens is negative (%d)", o.MaxTokens)
	}
	// The ids buffer: MaxTokens, else as many tokens as the context can still take (each
	// is fed, and one more may be emitted when it is full).
	var pos, ctx C.int64_t
	if err := call(func() C.ember_status { return C.ember_generator_position(g.p, &pos, &ctx) }); err != nil {
		return nil, StopNone, err
	}
	capacity := int64(ctx-pos) + 1
	if o.MaxTokens > 0 && o.MaxTokens < capacity {
		capacity = o.MaxTokens
	}
	ids := make([]int32, capacity)
	var handle C.uintptr_t
	state := &callbackState{fn: fn}
	if fn != nil {
		h := cgo.NewHandle(state)
		defer h.Delete()
		handle = C.uintptr_t(h)
	}
	ignore := C.int32_t(0)
	if o.IgnoreEOS {
		ignore = 1
	}
	var n C.size_t
	var why C.ember_stop_reason
	err := call(func() C.ember_status {
		return C.ember_go_generate(g.p, C.int64_t(o.MaxTokens), ignore, handle,
			(*C.int32_t)(unsafe.Pointer(&ids[0])), C.size_t(len(ids)), &n, &why)
	})
	if state.panic != nil {
		panic(state.panic)
	}
	return ids[:int(n)], StopReason(why), err
}
