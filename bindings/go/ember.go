package ember

/*
#cgo pkg-config: ember
#include <stdlib.h>
#include <ember.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// APIVersion is the ABI version of the header this binding was built against
// (EMBER_API_VERSION); LibraryAPIVersion gives the loaded library's.
const APIVersion = C.EMBER_API_VERSION

// Version returns the library version ("0.1.0").
func Version() string { return C.GoString(C.ember_version()) }

// LibraryAPIVersion returns the ABI version of the loaded libember.so.
func LibraryAPIVersion() int { return int(C.ember_api_version()) }

// Status is an ember_status code.
type Status int

// The ember_status codes of api/ember.h.
const (
	StatusOK              Status = C.EMBER_OK
	StatusInvalidArgument Status = C.EMBER_ERR_INVALID_ARGUMENT
	StatusIO              Status = C.EMBER_ERR_IO
	StatusFormat          Status = C.EMBER_ERR_FORMAT
	StatusUnsupported     Status = C.EMBER_ERR_UNSUPPORTED
	StatusOutOfMemory     Status = C.EMBER_ERR_OUT_OF_MEMORY
	StatusBackend         Status = C.EMBER_ERR_BACKEND
	StatusShape           Status = C.EMBER_ERR_SHAPE
	StatusInternal        Status = C.EMBER_ERR_INTERNAL
	StatusABI             Status = C.EMBER_ERR_ABI
	StatusNotFound        Status = C.EMBER_ERR_NOT_FOUND
	StatusBufferTooSmall  Status = C.EMBER_ERR_BUFFER_TOO_SMALL
)

// String returns the C name of the status ("EMBER_ERR_SHAPE").
func (s Status) String() string { return C.GoString(C.ember_status_string(C.ember_status(s))) }

// Error is a failed Ember call: the status and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "ember: " + e.Status.String()
	}
	return "ember: " + e.Status.String() + ": " + e.Message
}

// Is makes errors.Is(err, ember.ErrShape) match any *Error with that status (a target
// with a Message must match it too).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for errors.Is, one per status.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrIO              = &Error{Status: StatusIO}
	ErrFormat          = &Error{Status: StatusFormat}
	ErrUnsupported     = &Error{Status: StatusUnsupported}
	ErrOutOfMemory     = &Error{Status: StatusOutOfMemory}
	ErrBackend         = &Error{Status: StatusBackend}
	ErrShape           = &Error{Status: StatusShape}
	ErrInternal        = &Error{Status: StatusInternal}
	ErrABI             = &Error{Status: StatusABI}
	ErrNotFound        = &Error{Status: StatusNotFound}
	ErrBufferTooSmall  = &Error{Status: StatusBufferTooSmall}
)

// errClosed is returned by methods of a closed object.
func errClosed(what string) error {
	return &Error{Status: StatusInvalidArgument, Message: what + " is closed"}
}

func errorf(st Status, format string, args ...interface{}) error {
	return &Error{Status: st, Message: fmt.Sprintf(format, args...)}
}

// call runs one C call and, on failure, reads the calling thread's message. The
// goroutine stays on its OS thread in between: ember_last_error() is thread-local.
func call(f func() C.ember_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.EMBER_OK {
		return &Error{Status: Status(st), Message: C.GoString(C.ember_last_error())}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Runtime

// RuntimeOptions configures NewRuntime; the zero value (or nil) means defaults.
type RuntimeOptions struct {
	NumThreads int // worker threads including the caller; 0 = one per online CPU
	// DisablePluginDiscovery: do not scan EMBER_PLUGIN_PATH and the plugin folder
	// beside libember.so (LoadPlugin still works).
	DisablePluginDiscovery bool
	// SpinMicros: microseconds idle workers (and callers waiting for them) poll before
	// they sleep; 0 (default): nothing spins. Faster token-by-token decoding on 2+
	// threads on a machine that is yours alone (ember_runtime_options.spin_us).
	SpinMicros int
}

// Runtime owns the thread pool that models and sessions run on. Safe for concurrent use.
type Runtime struct {
	mu sync.RWMutex // Close takes it exclusively: no other call may be in flight
	p  *C.ember_runtime
}

// NewRuntime creates a runtime.
func NewRuntime(opts *RuntimeOptions) (*Runtime, error) {
	var co C.ember_runtime_options
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	if opts != nil {
		co.num_threads = C.int32_t(opts.NumThreads)
		if opts.DisablePluginDiscovery {
			co.disable_plugin_discovery = 1
		}
		co.spin_us = C.int32_t(opts.SpinMicros)
	}
	var p *C.ember_runtime
	if err := call(func() C.ember_status { return C.ember_runtime_create(&co, &p) }); err != nil {
		return nil, err
	}
	r := &Runtime{p: p}
	runtime.SetFinalizer(r, func(r *Runtime) { r.Close() })
	return r, nil
}

// Close releases the runtime. It fails with StatusInvalidArgument while models loaded
// with it are open. Closing twice is a no-op.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p == nil {
		return nil
	}
	if err := call(func() C.ember_status { return C.ember_runtime_release(r.p) }); err != nil {
		return err
	}
	r.p = nil
	runtime.SetFinalizer(r, nil)
	return nil
}

// NumThreads returns the size of the runtime's thread pool (including the caller).
func (r *Runtime) NumThreads() (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return 0, errClosed("runtime")
	}
	var n C.int32_t
	err := call(func() C.ember_status { return C.ember_runtime_num_threads(r.p, &n) })
	return int(n), err
}

// PluginInfo describes a backend plugin the runtime found: loaded, or refused with the
// reason.
type PluginInfo struct {
	Name, Path string
	Version    string // "" when not loaded
	Loaded     bool
	Reason     string // why it was refused; "" when loaded
	Devices    []string
}

// LoadPlugin loads one more backend plugin file (libember-<name>.so). On failure the
// plugin stays listed by Plugins with its reason.
func (r *Runtime) LoadPlugin(path string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return errClosed("runtime")
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.ember_status { return C.ember_runtime_load_plugin(r.p, cpath) })
}

// Plugins lists the plugins found so far, loaded and refused.
func (r *Runtime) Plugins() ([]PluginInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return nil, errClosed("runtime")
	}
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_runtime_plugin_count(r.p, &n) }); err != nil {
		return nil, err
	}
	out := make([]PluginInfo, int(n))
	for i := range out {
		var info C.ember_plugin_info
		info.struct_size = C.size_t(unsafe.Sizeof(info))
		if err := call(func() C.ember_status { return C.ember_runtime_plugin_info(r.p, C.size_t(i), &info) }); err != nil {
			return nil, err
		}
		pi := PluginInfo{Name: C.GoString(info.name), Path: C.GoString(info.path),
			Version: C.GoString(info.version), Loaded: info.loaded != 0, Reason: C.GoString(info.reason)}
		for d := 0; d < int(info.device_count); d++ {
			var name *C.char
			if err := call(func() C.ember_status {
				return C.ember_runtime_plugin_device(r.p, C.size_t(i), C.int32_t(d), &name)
			}); err != nil {
				return nil, err
			}
			pi.Devices = append(pi.Devices, C.GoString(name))
		}
		out[i] = pi
	}
	return out, nil
}

// ModelOptions configures loading; nil means defaults.
type ModelOptions struct {
	CopyOnLoad         bool // read the whole file instead of mapping it
	SkipChecksumVerify bool // do not verify section checksums (trusted files only)
}

func (o *ModelOptions) c() C.ember_model_options {
	var co C.ember_model_options
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	co.verify_checksums = 1
	if o != nil {
		if o.CopyOnLoad {
			co.copy_on_load = 1
		}
		if o.SkipChecksumVerify {
			co.verify_checksums = 0
		}
	}
	return co
}

// LoadModel loads a .ember file (mapped; see ModelOptions.CopyOnLoad).
func (r *Runtime) LoadModel(path string, opts *ModelOptions) (*Model, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return nil, errClosed("runtime")
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	co := opts.c()
	var p *C.ember_model
	if err := call(func() C.ember_status { return C.ember_model_load_file(r.p, cpath, &co, &p) }); err != nil {
		return nil, err
	}
	return newModel(r, p, false)
}

// LoadModelBytes loads a model from memory (the bytes are copied).
func (r *Runtime) LoadModelBytes(data []byte, opts *ModelOptions) (*Model, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return nil, errClosed("runtime")
	}
	co := opts.c()
	var p *C.ember_model
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = unsafe.Pointer(&data[0])
	}
	if err := call(func() C.ember_status {
		return C.ember_model_load_memory(r.p, ptr, C.size_t(len(data)), &co, &p)
	}); err != nil {
		return nil, err
	}
	return newModel(r, p, false)
}

// Open creates a runtime with default options and loads the model at path with it.
// Closing the model also closes that runtime.
func Open(path string) (*Model, error) {
	r, err := NewRuntime(nil)
	if err != nil {
		return nil, err
	}
	m, err := r.LoadModel(path, nil)
	if err != nil {
		r.Close()
		return nil, err
	}
	m.ownsRuntime = true
	return m, nil
}

// ---------------------------------------------------------------------------
// Model

// ValueInfo describes a graph input or output. A dimension of -1 is symbolic (a batch
// size); DimNames gives its name then, "" otherwise.
type ValueInfo struct {
	Name     string
	DType    DType
	Shape    []int64
	DimNames []string
}

// Model is an immutable loaded model. Safe for concurrent use.
type Model struct {
	mu          sync.RWMutex
	p           *C.ember_model
	rt          *Runtime // kept alive (and closed with the model when ownsRuntime)
	ownsRuntime bool
	inputs      []ValueInfo
	outputs     []ValueInfo
}

func newModel(r *Runtime, p *C.ember_model, owns bool) (*Model, error) {
	m := &Model{p: p, rt: r, ownsRuntime: owns}
	var err error
	if m.inputs, err = m.infos(true); err == nil {
		m.outputs, err = m.infos(false)
	}
	if err != nil {
		C.ember_model_release(p)
		return nil, err
	}
	runtime.SetFinalizer(m, func(m *Model) { m.Close() })
	return m, nil
}

func (m *Model) infos(inputs bool) ([]ValueInfo, error) {
	var n C.size_t
	err := call(func() C.ember_status {
		if inputs {
			return C.ember_model_input_count(m.p, &n)
		}
		return C.ember_model_output_count(m.p, &n)
	})
	if err != nil {
		return nil, err
	}
	out := make([]ValueInfo, int(n))
	for i := range out {
		var info C.ember_value_info
		info.struct_size = C.size_t(unsafe.Sizeof(info))
		err := call(func() C.ember_status {
			if inputs {
				return C.ember_model_input_info(m.p, C.size_t(i), &info)
			}
			return C.ember_model_output_info(m.p, C.size_t(i), &info)
		})
		if err != nil {
			return nil, err
		}
		rank := int(info.rank)
		v := ValueInfo{Name: C.GoString(info.name), DType: DType(info.dtype),
			Shape: make([]int64, rank), DimNames: make([]string, rank)}
		if rank > 0 {
			dims := unsafe.Slice(info.dims, rank)
			names := unsafe.Slice(info.dim_names, rank)
			for d := 0; d < rank; d++ {
				v.Shape[d] = int64(dims[d])
				if names[d] != nil {
					v.DimNames[d] = C.GoString(names[d])
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

// Inputs describes the model's graph inputs, in the order Session.Run takes them.
func (m *Model) Inputs() []ValueInfo { return m.inputs }

// Outputs describes the model's graph outputs, in the order Session.Run returns them.
func (m *Model) Outputs() []ValueInfo { return m.outputs }

// Metadata returns the metadata value stored under key ("labels", "preprocess",
// "producer"...); an *Error with StatusNotFound if absent.
func (m *Model) Metadata(key string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.p == nil {
		return "", errClosed("model")
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var v *C.char
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_model_metadata(m.p, ckey, &v, &n) }); err != nil {
		return "", err
	}
	return C.GoStringN(v, C.int(n)), nil
}

// Close releases the model (and the runtime Open created for it). It fails with
// StatusInvalidArgument while sessions of the model are open. Closing twice is a no-op.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p == nil {
		return nil
	}
	if err := call(func() C.ember_status { return C.ember_model_release(m.p) }); err != nil {
		return err
	}
	m.p = nil
	runtime.SetFinalizer(m, nil)
	if m.ownsRuntime {
		return m.rt.Close()
	}
	return nil
}

// SessionOptions configures NewSession; nil means defaults.
type SessionOptions struct {
	Backends      string // priority list, e.g. "cpu"; "" = "auto"
	NumThreads    int    // threads this session may use; 0 = all of the runtime's
	MaxArenaBytes int64  // 0 = no cap
	// EnableProfiling times every step of every run (Session.Profile).
	EnableProfiling bool
}

// NewSession compiles the model into a session (plan, packed weights).
func (m *Model) NewSession(opts *SessionOptions) (*Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.p == nil {
		return nil, errClosed("model")
	}
	var co C.ember_session_options
	co.struct_size = C.size_t(unsafe.Sizeof(co))
	if opts != nil {
		if opts.Backends != "" {
			co.backends = C.CString(opts.Backends)
			defer C.free(unsafe.Pointer(co.backends))
		}
		co.num_threads = C.int32_t(opts.NumThreads)
		co.max_arena_bytes = C.int64_t(opts.MaxArenaBytes)
		if opts.EnableProfiling {
			co.enable_profiling = 1
		}
	}
	var p *C.ember_session
	if err := call(func() C.ember_status { return C.ember_session_create(m.p, &co, &p) }); err != nil {
		return nil, err
	}
	s := &Session{p: p, model: m}
	runtime.SetFinalizer(s, func(s *Session) { s.Close() })
	return s, nil
}

// ---------------------------------------------------------------------------
// Session

// Session is a compiled plan of one model. Its methods are serialised by a mutex
// (the C API allows one thread at a time per session); use one Session per goroutine
// for parallel inference.
type Session struct {
	mu     sync.Mutex
	p      *C.ember_session
	model  *Model            // kept alive while the session lives
	inputs []*C.ember_tensor // C copies of the inputs, reused while dtype and shape stay
	// generators counts the open Generators of this session (lm.go): the session must
	// outlive them, so Close refuses while there are any.
	generators int
}

// Model returns the model the session was created from.
func (s *Session) Model() *Model { return s.model }

// Close releases the session. It fails with StatusInvalidArgument while generators of
// the session are open. Closing twice is a no-op.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	if s.generators > 0 {
		return errorf(StatusInvalidArgument, "the session has %d open generator(s): close them first", s.generators)
	}
	s.releaseInputs()
	C.ember_session_release(s.p)
	s.p = nil
	runtime.SetFinalizer(s, nil)
	return nil
}

func (s *Session) releaseInputs() {
	for _, t := range s.inputs {
		C.ember_tensor_release(t)
	}
	s.inputs = nil
}

// inputTensor returns a C tensor of the given dtype and shape for slot i, reusing the
// one from the previous run when it fits.
func (s *Session) inputTensor(i int, dt DType, shape []int64) (*C.ember_tensor, error) {
	for len(s.inputs) <= i {
		s.inputs = append(s.inputs, nil)
	}
	if t := s.inputs[i]; t != nil && DType(C.ember_tensor_dtype(t)) == dt && sameShape(t, shape) {
		return t, nil
	}
	C.ember_tensor_release(s.inputs[i])
	s.inputs[i] = nil
	var dims *C.int64_t
	if len(shape) > 0 {
		cdims := make([]C.int64_t, len(shape))
		for d, v := range shape {
			cdims[d] = C.int64_t(v)
		}
		dims = &cdims[0]
	}
	var t *C.ember_tensor
	if err := call(func() C.ember_status {
		return C.ember_tensor_create(C.ember_dtype(dt), dims, C.size_t(len(shape)), &t)
	}); err != nil {
		return nil, err
	}
	s.inputs[i] = t
	return t, nil
}

func sameShape(t *C.ember_tensor, shape []int64) bool {
	rank := int(C.ember_tensor_rank(t))
	if rank != len(shape) {
		return false
	}
	if rank == 0 {
		return true
	}
	dims := unsafe.Slice(C.ember_tensor_dims(t), rank)
	for d := range shape {
		if int64(dims[d]) != shape[d] {
			return false
		}
	}
	return true
}

// Run runs the model on inputs (in Model.Inputs order) and returns the outputs (in
// Model.Outputs order), copied into new Go slices. A dtype or shape that does not fit
// the model gives an *Error with StatusShape; the session stays usable.
func (s *Session) Run(inputs []Tensor) ([]Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, errClosed("session")
	}
	cins := make([]*C.ember_tensor, len(inputs))
	for i, in := range inputs {
		raw, dt, err := in.bytes()
		if err != nil {
			return nil, errorf(StatusInvalidArgument, "input %d: %v", i, err)
		}
		t, err := s.inputTensor(i, dt, in.Shape)
		if err != nil {
			return nil, err
		}
		dst := C.ember_tensor_data(t)
		if len(raw) > 0 && int(C.ember_tensor_size_bytes(t)) == len(raw) {
			copy(unsafe.Slice((*byte)(dst), len(raw)), raw)
		}
		cins[i] = t
	}
	if err := s.runC(cins); err != nil {
		return nil, err
	}
	return s.copyOutputs()
}

// runC runs the session on C tensors. (The Go slice holds C pointers only, so cgo
// allows passing it.)
func (s *Session) runC(cins []*C.ember_tensor) error {
	var arr **C.ember_tensor
	if len(cins) > 0 {
		arr = &cins[0]
	}
	return call(func() C.ember_status { return C.ember_session_run(s.p, arr, C.size_t(len(cins))) })
}

func (s *Session) copyOutputs() ([]Tensor, error) {
	outs := make([]Tensor, len(s.model.outputs))
	for i := range outs {
		var t *C.ember_tensor
		if err := call(func() C.ember_status { return C.ember_session_output(s.p, C.size_t(i), &t) }); err != nil {
			return nil, err
		}
		outs[i] = tensorFromC(t)
	}
	return outs, nil
}

// ArenaBytes returns the size of the session's intermediate-tensor arena for its
// current plan (0 before the first plan).
func (s *Session) ArenaBytes() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return 0, errClosed("session")
	}
	var n C.size_t
	err := call(func() C.ember_status { return C.ember_session_arena_bytes(s.p, &n) })
	return int64(n), err
}

// ProfileEntry is the timing of one step of the current plan (a kernel, or a plugin
// subgraph of NNodes nodes whose first operator is OpType), accumulated over its runs.
type ProfileEntry struct {
	Name, OpType, Backend string
	NNodes                int64
	TotalMs               float64
	Calls                 int64
}

// Profile returns the per-step timings of the current plan; the session must have been
// created with EnableProfiling (otherwise StatusInvalidArgument).
func (s *Session) Profile() ([]ProfileEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, errClosed("session")
	}
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_session_profile_count(s.p, &n) }); err != nil {
		return nil, err
	}
	out := make([]ProfileEntry, int(n))
	for i := range out {
		var name, op, be *C.char
		var nodes, calls C.int64_t
		var ms C.double
		if err := call(func() C.ember_status {
			return C.ember_session_profile(s.p, C.size_t(i), &name, &op, &be, &nodes, &ms, &calls)
		}); err != nil {
			return nil, err
		}
		out[i] = ProfileEntry{C.GoString(name), C.GoString(op), C.GoString(be), int64(nodes), float64(ms), int64(calls)}
	}
	return out, nil
}

// NodeInfo describes one node the session executes.
type NodeInfo struct {
	Name, OpType, Backend string
}

// Nodes lists the nodes the session executes, with the backend running each.
func (s *Session) Nodes() ([]NodeInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, errClosed("session")
	}
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_session_node_count(s.p, &n) }); err != nil {
		return nil, err
	}
	out := make([]NodeInfo, int(n))
	for i := range out {
		var name, op, be *C.char
		if err := call(func() C.ember_status {
			return C.ember_session_node_info(s.p, C.size_t(i), &name, &op, &be)
		}); err != nil {
			return nil, err
		}
		out[i] = NodeInfo{C.GoString(name), C.GoString(op), C.GoString(be)}
	}
	return out, nil
}
