// Command generate streams text from a language model converted by ember convert:
//
//	ember convert stories260K.bin --tokenizer tok512.bin -o stories260K.ember
//	go run ./examples/generate [-n 60] [-temperature 0] [-seed 0] stories260K.ember "Once upon a time"
package main

import (
	"flag"
	"fmt"
	"os"

	"ember"
)

func main() {
	n := flag.Int64("n", 60, "tokens to generate at most (0: until EOS or the end of the context)")
	temperature := flag.Float64("temperature", 0, "sampling temperature; 0 = greedy")
	topP := flag.Float64("top-p", 1, "nucleus sampling threshold; 1 = off")
	seed := flag.Uint64("seed", 0, "random seed of the sampler")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: generate [flags] MODEL.ember [PROMPT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || flag.NArg() > 2 {
		flag.Usage()
		os.Exit(2)
	}
	prompt := "Once upon a time"
	if flag.NArg() == 2 {
		prompt = flag.Arg(1)
	}
	sampler := &ember.SamplerOptions{Temperature: float32(*temperature), TopP: float32(*topP), Seed: *seed}
	if err := run(flag.Arg(0), prompt, *n, sampler); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(modelPath, prompt string, n int64, sampler *ember.SamplerOptions) error {
	model, err := ember.Open(modelPath)
	if err != nil {
		return err
	}
	defer model.Close()
	session, err := model.NewSession(nil)
	if err != nil {
		return err
	}
	defer session.Close() // after gen.Close: deferred calls run in reverse
	gen, err := session.NewGenerator(nil)
	if err != nil {
		return err
	}
	defer gen.Close()
	tok, err := gen.Tokenizer()
	if err != nil {
		return err
	}
	ids, err := tok.Encode(prompt, ember.AddBOS)
	if err != nil {
		return err
	}
	text, err := tok.Decode(ids)
	if err != nil {
		return err
	}
	fmt.Print(text)
	if err := gen.Feed(ids); err != nil {
		return err
	}
	if err := gen.SetSampler(sampler); err != nil {
		return err
	}
	out, why, err := gen.Generate(&ember.GenerateOptions{MaxTokens: n}, func(_ int32, piece string) bool {
		fmt.Print(piece)
		return true
	})
	fmt.Println()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d tokens (stop: %v)\n", len(out), why)
	return nil
}
