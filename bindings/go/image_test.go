package ember

// Image classification through the binding: decode, preprocess with the spec stored in
// the model, run, top-k. Needs the labelled models of the bindings_classifiers fixture
// (EMBER_TEST_MODELS/squeezenet-labelled.ember, mnist-labelled.ember) and a library
// with the image functions (ImagesSupported).

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func labelledModel(t *testing.T, name string) *Model {
	t.Helper()
	if !ImagesSupported {
		t.Skip("built with -tags ember_noimage: libember.so has no image functions yet")
	}
	path := filepath.Join(modelsDir(t), name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found (the bindings_classifiers fixture converts it)", path)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestClassifyImages(t *testing.T) {
	m := labelledModel(t, "squeezenet-labelled.ember")
	labels, err := m.Labels()
	if err != nil || len(labels) != 1000 {
		t.Fatalf("labels: %d %v", len(labels), err)
	}
	s := newSession(t, m)
	for _, c := range []struct {
		file  string
		class int
	}{
		{"skimage_coffee.jpg", 967}, {"in525_dam.jpg", 525}, {"wonnx_bald_eagle.jpg", 22},
		{"winml_kitten.png", 281},
	} {
		img, err := LoadImage(filepath.Join(sharedModels(t), "images", "imagenet", c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		top, err := s.Classify(img, 5)
		img.Close()
		if err != nil {
			t.Fatalf("%s: Classify: %v", c.file, err)
		}
		if len(top) != 5 || top[0].Index != c.class || top[0].Label != labels[c.class] {
			t.Fatalf("%s: top-5 %+v, want class %d", c.file, top, c.class)
		}
		for i := 1; i < len(top); i++ {
			if top[i].Score > top[i-1].Score || top[i].Score < 0 || top[0].Score > 1 {
				t.Fatalf("%s: scores not sorted probabilities: %+v", c.file, top)
			}
		}
		t.Logf("%s: %d %s (%.3f)", c.file, top[0].Index, top[0].Label, top[0].Score)
	}
}

func TestClassifyDigit(t *testing.T) {
	m := labelledModel(t, "mnist-labelled.ember")
	s := newSession(t, m)
	b, err := os.ReadFile(filepath.Join(sharedModels(t), "images", "mnist", "mnist8_testset0_digit2.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if w, h, err := img.Size(); err != nil || w != 28 || h != 28 {
		t.Fatalf("Size %dx%d %v", w, h, err)
	}
	top, err := s.Classify(img, 3)
	if err != nil || len(top) != 3 || top[0].Index != 2 || strings.TrimSpace(top[0].Label) != "2" {
		t.Fatalf("digit: %+v %v", top, err)
	}
	// Preprocess gives the input tensor itself: 1x1x28x28 float32 in 0..255.
	in, err := s.Preprocess(img, "")
	if err != nil || in.ElementCount() != 784 || len(in.Float32s()) != 784 {
		t.Fatalf("Preprocess: %+v %v", in.Shape, err)
	}
}

func TestImageErrors(t *testing.T) {
	if !ImagesSupported {
		t.Skip("built with -tags ember_noimage")
	}
	if _, err := LoadImage(filepath.Join(t.TempDir(), "none.jpg")); !errors.Is(err, ErrIO) {
		t.Fatalf("missing image: %v", err)
	}
	if _, err := DecodeImage([]byte("definitely not a JPEG")); !errors.Is(err, ErrFormat) {
		t.Fatalf("garbage image: %v", err)
	}
	if _, err := ImageFromPixels(make([]byte, 10), 4, 4, 12, PixelRGB); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("short pixels: %v", err)
	}
	img, err := ImageFromPixels(make([]byte, 4*4*3), 4, 4, 12, PixelRGB)
	if err != nil {
		t.Fatal(err)
	}
	if w, h, err := img.Size(); err != nil || w != 4 || h != 4 {
		t.Fatalf("Size %dx%d %v", w, h, err)
	}
	img.Close()
	img.Close()
}
