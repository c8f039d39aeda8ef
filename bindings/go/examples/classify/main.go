// Command classify labels images with an Ember model converted with its labels and
// preprocessing, for example:
//
//	ember convert squeezenet1.1.onnx -o squeezenet.ember --preset caffe --labels synset.txt
//	go run ./examples/classify squeezenet.ember cat.jpg [more.jpg ...]
package main

import (
	"flag"
	"fmt"
	"os"

	"ember"
)

func main() {
	k := flag.Int("k", 5, "number of classes to print per image")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: classify [-k N] MODEL.ember IMAGE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Args()[1:], *k); err != nil {
		fmt.Fprintln(os.Stderr, "classify:", err)
		os.Exit(1)
	}
}

func run(modelPath string, images []string, k int) error {
	model, err := ember.Open(modelPath)
	if err != nil {
		return err
	}
	defer model.Close()
	session, err := model.NewSession(nil)
	if err != nil {
		return err
	}
	defer session.Close()
	for _, path := range images {
		img, err := ember.LoadImage(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		top, err := session.Classify(img, k)
		img.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Println(path)
		for _, c := range top {
			fmt.Printf("  %5.3f  %4d  %s\n", c.Score, c.Index, c.Label)
		}
	}
	return nil
}
