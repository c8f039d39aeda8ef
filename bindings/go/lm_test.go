package ember

// Language models through the Go binding: stories260K converted by the tests'
// convert_lm_models fixture (EMBER_TEST_MODELS/stories260K.ember) against the golden
// greedy run of shared/models/lm/stories260K.prompt.golden.json (read here).

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type lmGolden struct {
	Prompt    string  `json:"prompt"`
	PromptIDs []int32 `json:"prompt_ids"`
	GreedyIDs []int32 `json:"greedy_ids"`
	Text      string  `json:"text"`
}

func readGolden(t *testing.T) lmGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedModels(t), "lm", "stories260K.prompt.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g lmGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.PromptIDs) == 0 || len(g.GreedyIDs) == 0 || g.Text == "" {
		t.Fatalf("golden file without prompt_ids, greedy_ids or text: %+v", g)
	}
	return g
}

// newLM opens stories260K and returns a generator on a new session of it (all closed
// at the end of the test, children first).
func newLM(t *testing.T, opts *GeneratorOptions) (*Model, *Generator) {
	t.Helper()
	m := openModel(t, "stories260K")
	s := newSession(t, m) // its cleanup runs after the generator's
	g, err := s.NewGenerator(opts)
	if err != nil {
		t.Fatalf("NewGenerator: %v", err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("Generator.Close: %v", err)
		}
	})
	return m, g
}

func feedPrompt(t *testing.T, g *Generator, gold lmGolden) {
	t.Helper()
	tok, err := g.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(gold.Prompt, AddBOS)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, gold.PromptIDs) {
		t.Fatalf("Encode(%q) = %v, golden %v", gold.Prompt, ids, gold.PromptIDs)
	}
	if err := g.Feed(ids); err != nil {
		t.Fatal(err)
	}
}

// Greedy generation from the prompt reproduces the golden ids and text; the callback
// streams the same ids, and its pieces make the same text.
func TestGenerateGolden(t *testing.T) {
	gold := readGolden(t)
	_, g := newLM(t, nil)
	feedPrompt(t, g, gold)
	logits, err := g.Logits()
	if err != nil || len(logits) != 512 || argmax(logits) != int(gold.GreedyIDs[0]) {
		t.Fatalf("Logits: %d values, argmax %d, golden first id %d, %v", len(logits), argmax(logits), gold.GreedyIDs[0], err)
	}
	var streamed []int32
	var text strings.Builder
	onToken := func(id int32, piece string) bool {
		streamed = append(streamed, id)
		text.WriteString(piece)
		return true
	}
	ids, why, err := g.Generate(&GenerateOptions{MaxTokens: int64(len(gold.GreedyIDs))}, onToken)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, gold.GreedyIDs) || why != StopLength {
		t.Fatalf("greedy ids %v (stop %v), golden %v", ids, why, gold.GreedyIDs)
	}
	if !reflect.DeepEqual(streamed, ids) {
		t.Fatalf("callback streamed %v, Generate returned %v", streamed, ids)
	}
	tok, _ := g.Tokenizer()
	prompt, err := tok.Decode(gold.PromptIDs)
	if err != nil || prompt+text.String() != gold.Text {
		t.Fatalf("streamed text %q, golden %q (%v)", prompt+text.String(), gold.Text, err)
	}
	all, err := tok.Decode(append(append([]int32{}, gold.PromptIDs...), ids...))
	if err != nil || all != gold.Text {
		t.Fatalf("Decode = %q, golden %q (%v)", all, gold.Text, err)
	}
	pos, ctx, err := g.Position()
	if err != nil || pos != int64(len(gold.PromptIDs)+len(ids)) || ctx != 512 {
		t.Fatalf("Position %d/%d %v", pos, ctx, err)
	}

	// Roll back to the prompt and regenerate: the same ids again, without a callback.
	rewindToPrompt(t, g, gold)
	again, _, err := g.Generate(&GenerateOptions{MaxTokens: int64(len(gold.GreedyIDs))}, nil)
	if err != nil || !reflect.DeepEqual(again, gold.GreedyIDs) {
		t.Fatalf("after Truncate: %v %v", again, err)
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	m := openModel(t, "stories260K")
	tok, err := m.NewTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	info, err := tok.Info()
	if err != nil || info.VocabSize != 512 || info.BOS != 1 || info.EOS != 2 {
		t.Fatalf("Info %+v %v", info, err)
	}
	for _, s := range []string{"Once upon a time", "", "Lily and Ben played in the park.\nThe end.",
		"  two  spaces", "héllo wörld, ünïcode → 日本語 😀"} {
		ids, err := tok.Encode(s, AddBOS)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		if ids[0] != info.BOS {
			t.Fatalf("Encode(%q) does not start with BOS: %v", s, ids)
		}
		back, err := tok.Decode(ids)
		if err != nil || back != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, back, err)
		}
	}
	// ParseSpecial turns "<s>" into BOS; plain text keeps it as characters.
	special, _ := tok.Encode("<s>", ParseSpecial)
	plain, _ := tok.Encode("<s>", 0)
	if len(special) == 0 || special[len(special)-1] != info.BOS || reflect.DeepEqual(special, plain) {
		t.Fatalf("ParseSpecial %v, plain %v", special, plain)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("x", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Encode on a closed tokenizer: %v", err)
	}
}

// The same seed gives the same tokens; another seed other tokens.
func TestSeededSampler(t *testing.T) {
	gold := readGolden(t)
	_, g := newLM(t, nil)
	feedPrompt(t, g, gold)
	run := func(seed uint64) []int32 {
		rewindToPrompt(t, g, gold)
		if err := g.SetSampler(&SamplerOptions{Temperature: 1, TopK: 40, TopP: 0.9, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		ids, _, err := g.Generate(&GenerateOptions{MaxTokens: 40, IgnoreEOS: true}, nil)
		if err != nil || len(ids) != 40 {
			t.Fatalf("sampled %v %v", ids, err)
		}
		return ids
	}
	a, b, c := run(42), run(42), run(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 42 twice: %v and %v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 42 and 7 gave the same 40 tokens %v", a)
	}
	if err := g.SetSampler(&SamplerOptions{Temperature: 1, TopK: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative TopK: %v", err)
	}
	if err := g.SetSampler(nil); err != nil { // greedy again
		t.Fatal(err)
	}
	tok, err := g.Sample()
	if err != nil || tok != argmaxLogits(t, g) {
		t.Fatalf("greedy Sample %d %v", tok, err)
	}
}

// rewindToPrompt truncates to the prompt minus its last token and feeds that token again
// (a truncate forgets the logits, and sampling needs the last prompt token's).
func rewindToPrompt(t *testing.T, g *Generator, gold lmGolden) {
	t.Helper()
	n := len(gold.PromptIDs)
	if err := g.Truncate(int64(n - 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Logits(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Logits after Truncate: %v", err)
	}
	if err := g.Feed(gold.PromptIDs[n-1:]); err != nil {
		t.Fatal(err)
	}
}

func argmaxLogits(t *testing.T, g *Generator) int32 {
	l, err := g.Logits()
	if err != nil {
		t.Fatal(err)
	}
	return int32(argmax(l))
}

// The callback stops generation; a panicking callback stops it and the panic comes out
// of Generate, with the generator still usable; a full context stops it.
func TestGenerateStops(t *testing.T) {
	gold := readGolden(t)
	_, g := newLM(t, nil)
	feedPrompt(t, g, gold)
	n := 0
	ids, why, err := g.Generate(nil, func(int32, string) bool { n++; return n < 3 })
	if err != nil || why != StopCallback || !reflect.DeepEqual(ids, gold.GreedyIDs[:3]) {
		t.Fatalf("callback stop: %v %v %v", ids, why, err)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the callback's panic", r)
			}
		}()
		g.Generate(nil, func(int32, string) bool { panic("boom") })
		t.Fatal("Generate returned after the callback panicked")
	}()
	// The panicking token was fed: 3 + 1 tokens after the prompt.
	if pos, _, err := g.Position(); err != nil || pos != int64(len(gold.PromptIDs)+4) {
		t.Fatalf("position after the panic %d %v", pos, err)
	}
	rest, _, err := g.Generate(&GenerateOptions{MaxTokens: 4}, nil)
	if err != nil || !reflect.DeepEqual(rest, gold.GreedyIDs[4:8]) {
		t.Fatalf("continuing after the panic: %v %v", rest, err)
	}

	_, small := newLM(t, &GeneratorOptions{Context: 8})
	feedPrompt(t, small, gold)
	ids, why, err = small.Generate(nil, nil)
	// 5 prompt tokens + 3 fed; the 4th is emitted but not fed.
	if err != nil || why != StopContext || !reflect.DeepEqual(ids, gold.GreedyIDs[:4]) {
		t.Fatalf("context stop: %v %v %v", ids, why, err)
	}
}

func TestLMErrors(t *testing.T) {
	gold := readGolden(t)
	_, g := newLM(t, &GeneratorOptions{Context: 16})
	var e *Error
	if _, _, err := g.Generate(nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Generate before Feed: %v", err)
	}
	if _, err := g.Logits(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Logits before Feed: %v", err)
	}
	if err := g.Feed([]int32{1, 403, 512}); !errors.As(err, &e) || e.Status != StatusInvalidArgument ||
		!strings.Contains(e.Message, "512") {
		t.Fatalf("unknown token id: %v", err)
	}
	if err := g.Feed(make([]int32, 17)); !errors.As(err, &e) || e.Status != StatusInvalidArgument ||
		!strings.Contains(e.Message, "context overflow") {
		t.Fatalf("context overflow: %v", err)
	}
	if pos, _, _ := g.Position(); pos != 0 {
		t.Fatalf("failed feeds moved the position to %d", pos)
	}
	if err := g.Feed(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty feed: %v", err)
	}
	if err := g.Truncate(1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Truncate past the position: %v", err)
	}
	tok, _ := g.Tokenizer()
	if _, err := tok.Decode([]int32{5, 600}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Decode of an unknown id: %v", err)
	}
	feedPrompt(t, g, gold) // still usable

	// The session refuses to close under an open generator; closing the generator
	// ends its borrowed tokenizer.
	s := g.Session()
	if err := s.Close(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Session.Close with an open generator: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("x", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("borrowed tokenizer after Generator.Close: %v", err)
	}
	if err := g.Feed([]int32{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Feed on a closed generator: %v", err)
	}

	// Not a language model.
	mnist := openModel(t, "mnist-8")
	ms := newSession(t, mnist)
	if _, err := ms.NewGenerator(nil); !errors.As(err, &e) || e.Status != StatusInvalidArgument ||
		!strings.Contains(e.Message, "not a language model") {
		t.Fatalf("generator on mnist: %v", err)
	}
	if _, err := mnist.NewTokenizer(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("tokenizer of mnist: %v", err)
	}
}

// Generators on their own sessions run in parallel goroutines; generators sharing one
// session from several goroutines are serialised by its mutex. All give the golden ids.
func TestGeneratorConcurrency(t *testing.T) {
	gold := readGolden(t)
	m := openModel(t, "stories260K")
	shared := newSession(t, m)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	work := func(s *Session) {
		g, err := s.NewGenerator(nil)
		if err != nil {
			errs <- err
			return
		}
		defer g.Close()
		for i := 0; i < 3; i++ {
			if err := g.Truncate(0); err != nil {
				errs <- err
				return
			}
			if err := g.Feed(gold.PromptIDs); err != nil {
				errs <- err
				return
			}
			var text strings.Builder
			ids, _, err := g.Generate(&GenerateOptions{MaxTokens: int64(len(gold.GreedyIDs))},
				func(_ int32, piece string) bool { text.WriteString(piece); return true })
			if err != nil || !reflect.DeepEqual(ids, gold.GreedyIDs) || text.String() != gold.Text[len(gold.Prompt):] {
				errs <- errorf(StatusInternal, "ids %v, text %q, %v", ids, text.String(), err)
				return
			}
		}
	}
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i < 2 {
				work(shared)
				return
			}
			s, err := m.NewSession(nil)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			work(s)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
