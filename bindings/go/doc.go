// Package ember is the Go binding of Ember, an embeddable inference runtime
// (api/ember.h). It links libember.so through cgo and pkg-config (`pkg-config ember`:
// an installed ember.pc, or ember-uninstalled.pc in a build folder; see
// docs/bindings.md), and needs no other Go module.
//
//	m, err := ember.Open("squeezenet.ember")       // runtime + model
//	defer m.Close()
//	s, err := m.NewSession(nil)
//	defer s.Close()
//	img, err := ember.LoadImage("cat.jpg")
//	top, err := s.Classify(img, 5)                 // preprocess + run + top-k
//
// # Objects and their lifetimes
//
// A Runtime owns a thread pool; a Model is an immutable loaded .ember file; a Session
// is a compiled plan of one model with its own memory. A Model keeps its Runtime alive
// and a Session keeps its Model alive (Go references), so finalizers release them in a
// valid order. Finalizers are only a safety net: call Close as soon as an object is no
// longer needed (a Session holds its whole arena; a Model holds a mapped file).
// Close is idempotent. Closing a Runtime or Model that still has open models or
// sessions returns an error (StatusInvalidArgument) and closes nothing, as in C.
//
// # Goroutines
//
// Runtime, Model and Image may be used by any number of goroutines at once. A Session
// runs one call at a time (the C rule: one thread at a time per session): its methods
// take a mutex, so concurrent calls on one Session are safe but serialised. For
// parallel inference, create one Session per goroutine from the same Model; they share
// the weights and the runtime's thread pool.
//
// # Errors
//
// Every failure is an *Error carrying Ember's Status and message, so
//
//	var e *ember.Error
//	if errors.As(err, &e) && e.Status == ember.StatusShape { ... }
//
// or errors.Is(err, ember.ErrShape). The C library keeps its message per OS thread;
// the binding pins the goroutine to its thread between a call and reading the message.
//
// # Tensors
//
// Tensor.Data is a Go slice whose element type gives the dtype ([]float32 is float32,
// []uint8 is uint8, ...); float16 and bfloat16 data are []uint16 with DType set
// explicitly. Session.Run copies inputs into C memory (cgo forbids C from keeping Go
// pointers) and returns outputs copied into fresh Go slices, so they stay valid after
// the next Run and after Close.
//
// # Language models
//
// A Generator runs a session of a language model (a converted llama2.c or GGUF
// checkpoint) and owns the key/value caches of one sequence; a Tokenizer turns text into
// token ids and back:
//
//	gen, err := session.NewGenerator(nil)          // the session refuses to Close before gen
//	defer gen.Close()
//	tok, _ := gen.Tokenizer()                       // borrowed: valid until gen.Close
//	ids, _ := tok.Encode("Once upon a time", ember.AddBOS)
//	err = gen.Feed(ids)                             // prefill in one run
//	out, why, err := gen.Generate(&ember.GenerateOptions{MaxTokens: 60},
//		func(id int32, piece string) bool { fmt.Print(piece); return true })
//
// A Generator's calls take its session's mutex (several generators may share one
// session). The per-token callback runs on the calling goroutine; a panic in it stops
// generation and is re-raised by Generate once the library has returned.
package ember
