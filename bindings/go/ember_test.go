package ember

// The Go binding against real models: the converted .ember files of the tests'
// convert_models fixture (EMBER_TEST_MODELS) and the ONNX Runtime reference outputs in
// shared/models/ref (EMBER_SHARED_DIR), with the tolerances of tests/test_models.c:
// |got - ref| <= 1e-4 * max|ref| + 1e-5 per element, and the same top-1 class.
// Without the environment variables (a plain `go test` outside CTest) these tests skip.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func modelsDir(t *testing.T) string {
	d := os.Getenv("EMBER_TEST_MODELS")
	if d == "" {
		t.Skip("EMBER_TEST_MODELS is not set (run through CTest: ctest -L bindings)")
	}
	return d
}

func sharedModels(t *testing.T) string {
	d := os.Getenv("EMBER_SHARED_DIR")
	if d == "" {
		t.Skip("EMBER_SHARED_DIR is not set (run through CTest: ctest -L bindings)")
	}
	return filepath.Join(d, "models")
}

func openModel(t *testing.T, id string) *Model {
	t.Helper()
	m, err := Open(filepath.Join(modelsDir(t), id+".ember"))
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close %s: %v", id, err)
		}
	})
	return m
}

func newSession(t *testing.T, m *Model) *Session {
	t.Helper()
	s, err := m.NewSession(nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readFloats(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

type refCase struct {
	name, input, output string
	shape               []int64
}

// refCases reads ref/<id>.tsv, keeping the rows of the model's first output.
func refCases(t *testing.T, id, output string) []refCase {
	f, err := os.Open(filepath.Join(sharedModels(t), "ref", id+".tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []refCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 9 || c[0] == "case" || c[4] != output || c[2] != "float32" {
			continue
		}
		var shape []int64
		for _, d := range strings.Split(c[3], "x") {
			n, _ := strconv.ParseInt(d, 10, 64)
			shape = append(shape, n)
		}
		cases = append(cases, refCase{c[0], c[1], c[5], shape})
	}
	return cases
}

func checkReference(t *testing.T, id string) {
	m := openModel(t, id)
	s := newSession(t, m)
	out := m.Outputs()[0]
	cases := refCases(t, id, out.Name)
	if len(cases) == 0 {
		t.Fatalf("%s: no reference cases", id)
	}
	for _, c := range cases {
		in := readFloats(t, filepath.Join(sharedModels(t), c.input))
		want := readFloats(t, filepath.Join(sharedModels(t), c.output))
		outs, err := s.Run([]Tensor{{Shape: c.shape, Data: in}})
		if err != nil {
			t.Fatalf("%s/%s: Run: %v", id, c.name, err)
		}
		got := outs[0].Float32s()
		if len(got) != len(want) {
			t.Fatalf("%s/%s: %d outputs, reference has %d", id, c.name, len(got), len(want))
		}
		rmax := 0.0
		for _, w := range want {
			rmax = math.Max(rmax, math.Abs(float64(w)))
		}
		tol := 1e-4*rmax + 1e-5
		for i := range got {
			if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
				t.Fatalf("%s/%s: element %d: got %g, want %g (|diff| %g > %g)", id, c.name, i, got[i], want[i], d, tol)
			}
		}
		if argmax(got) != argmax(want) {
			t.Fatalf("%s/%s: top-1 %d, reference %d", id, c.name, argmax(got), argmax(want))
		}
	}
	t.Logf("%s: %d reference cases match", id, len(cases))
}

func TestVersion(t *testing.T) {
	if Version() == "" || LibraryAPIVersion() < APIVersion {
		t.Fatalf("library %q API %d, header API %d", Version(), LibraryAPIVersion(), APIVersion)
	}
	if StatusShape.String() != "EMBER_ERR_SHAPE" || Float32.String() != "float32" || Float16.Size() != 2 {
		t.Fatal("status or dtype names")
	}
}

func TestLoadAndDescribe(t *testing.T) {
	m := openModel(t, "mnist-8")
	ins, outs := m.Inputs(), m.Outputs()
	if len(ins) != 1 || ins[0].Name != "Input3" || ins[0].DType != Float32 ||
		len(ins[0].Shape) != 4 || ins[0].Shape[2] != 28 {
		t.Fatalf("inputs %+v", ins)
	}
	if len(outs) != 1 || outs[0].Name != "Plus214_Output_0" {
		t.Fatalf("outputs %+v", outs)
	}
	s := newSession(t, m)
	nodes, err := s.Nodes()
	if err != nil || len(nodes) == 0 || nodes[0].Backend == "" {
		t.Fatalf("Nodes: %v %v", nodes, err)
	}
	if _, err := s.Profile(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Profile without profiling: %v", err)
	}
	ps, err := m.NewSession(&SessionOptions{EnableProfiling: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	for i := 0; i < 3; i++ {
		if _, err := ps.Run([]Tensor{{Shape: []int64{1, 1, 28, 28}, Data: make([]float32, 784)}}); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := ps.Profile()
	if err != nil || len(steps) == 0 || steps[0].Calls != 3 {
		t.Fatalf("Profile: %+v %v", steps, err)
	}
	// Model bytes load the same model.
	b, err := os.ReadFile(filepath.Join(modelsDir(t), "mnist-8.ember"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(&RuntimeOptions{NumThreads: 2, DisablePluginDiscovery: true, SpinMicros: 50})
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := rt.Plugins(); err != nil || len(ps) != 0 {
		t.Fatalf("Plugins with discovery off: %v %v", ps, err)
	}
	if n, err := rt.NumThreads(); err != nil || n != 2 {
		t.Fatalf("NumThreads %d %v", n, err)
	}
	m2, err := rt.LoadModelBytes(b, &ModelOptions{CopyOnLoad: true})
	if err != nil {
		t.Fatal(err)
	}
	// A runtime with an open model refuses to close, as in C.
	if err := rt.Close(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Runtime.Close with an open model: %v", err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := rt.LoadModel("x", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("LoadModel on a closed runtime: %v", err)
	}
}

// The build's sample plugin (samples/plugin_relu) loads; a file that is not a plugin
// is refused with its reason and listed.
func TestPlugins(t *testing.T) {
	build := filepath.Dir(modelsDir(t))
	rt, err := NewRuntime(&RuntimeOptions{DisablePluginDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	sample := filepath.Join(build, "plugins", "libember-samplerelu.so")
	_, statErr := os.Stat(sample)
	if statErr == nil {
		if err := rt.LoadPlugin(sample); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.LoadPlugin(filepath.Join(modelsDir(t), "mnist-8.ember")); !errors.Is(err, ErrBackend) {
		t.Fatalf("LoadPlugin of a model file: %v", err)
	}
	ps, err := rt.Plugins()
	if err != nil {
		t.Fatal(err)
	}
	refused, sampleLoaded := false, false
	for _, p := range ps {
		refused = refused || (!p.Loaded && p.Reason != "")
		sampleLoaded = sampleLoaded || (p.Loaded && p.Name == "samplerelu")
	}
	if !refused || (statErr == nil && !sampleLoaded) {
		t.Fatalf("plugins %+v", ps)
	}
}

func TestMnistReference(t *testing.T)      { checkReference(t, "mnist-8") }
func TestSqueezenetReference(t *testing.T) { checkReference(t, "squeezenet1.1-caffe2-fp32") }

func TestErrors(t *testing.T) {
	rt, err := NewRuntime(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	_, err = rt.LoadModel(filepath.Join(t.TempDir(), "missing.ember"), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusIO || e.Message == "" {
		t.Fatalf("missing file: %v", err)
	}
	if _, err = rt.LoadModelBytes([]byte("not a model at all"), nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("garbage bytes: %v", err)
	}

	m := openModel(t, "mnist-8")
	s := newSession(t, m)
	// Wrong shape: the model wants 1x1x28x28.
	_, err = s.Run([]Tensor{{Shape: []int64{1, 1, 27, 28}, Data: make([]float32, 27*28)}})
	if !errors.As(err, &e) || e.Status != StatusShape || !strings.Contains(e.Message, "Input3") {
		t.Fatalf("bad shape: %v", err)
	}
	// Wrong dtype.
	if _, err = s.Run([]Tensor{{Shape: []int64{1, 1, 28, 28}, Data: make([]float64, 784)}}); !errors.Is(err, ErrShape) {
		t.Fatalf("bad dtype: %v", err)
	}
	// Wrong count, and data that does not fill the shape (caught in Go).
	if _, err = s.Run(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("no inputs: %v", err)
	}
	if _, err = s.Run([]Tensor{{Shape: []int64{1, 1, 28, 28}, Data: make([]float32, 5)}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("short data: %v", err)
	}
	if _, err = s.Run([]Tensor{{Shape: []int64{1}, Data: []string{"x"}}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad data type: %v", err)
	}
	// The session stays usable after failed runs.
	if _, err = s.Run([]Tensor{{Shape: []int64{1, 1, 28, 28}, Data: make([]float32, 784)}}); err != nil {
		t.Fatalf("run after errors: %v", err)
	}
	if _, err = m.Metadata("no such key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("metadata: %v", err)
	}
	// A model with an open session refuses to close; the session then closes it.
	if err := m.Close(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Model.Close with an open session: %v", err)
	}
	s.Close()
	if _, err := s.Run(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Run on a closed session: %v", err)
	}
}

// One session shared by goroutines (serialised by its mutex) and one session per
// goroutine (parallel) give the same, correct results.
func TestConcurrency(t *testing.T) {
	m := openModel(t, "mnist-8")
	cases := refCases(t, "mnist-8", m.Outputs()[0].Name)
	ins := make([][]float32, len(cases))
	wants := make([]int, len(cases))
	for i, c := range cases {
		ins[i] = readFloats(t, filepath.Join(sharedModels(t), c.input))
		wants[i] = argmax(readFloats(t, filepath.Join(sharedModels(t), c.output)))
	}
	shared := newSession(t, m)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			own, err := m.NewSession(nil)
			if err != nil {
				errs <- err
				return
			}
			defer own.Close()
			for i := 0; i < 20; i++ {
				j := (g + i) % len(cases)
				c, in, want := cases[j], ins[j], wants[j]
				for _, s := range []*Session{shared, own} {
					outs, err := s.Run([]Tensor{{Shape: c.shape, Data: in}})
					if err != nil {
						errs <- err
						return
					}
					if got := argmax(outs[0].Float32s()); got != want {
						errs <- errorf(StatusInternal, "%s: top-1 %d, want %d", c.name, got, want)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
