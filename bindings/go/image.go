//go:build !ember_noimage

package ember

/*
#include <stdlib.h>
#include <string.h>
#include <ember.h>
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// ImagesSupported reports whether this build binds the image functions of api/ember.h
// (ember_image_*, ember_session_preprocess, ember_session_top_k, labels). It is false
// only when built with -tags ember_noimage, for a libember.so that predates them.
const ImagesSupported = true

// PixelFormat is the layout of 8-bit pixels given to ImageFromPixels.
type PixelFormat int

// The ember_pixel_format values of api/ember.h.
const (
	PixelGray PixelFormat = C.EMBER_PIXEL_GRAY
	PixelRGB  PixelFormat = C.EMBER_PIXEL_RGB
	PixelBGR  PixelFormat = C.EMBER_PIXEL_BGR
	PixelRGBA PixelFormat = C.EMBER_PIXEL_RGBA
	PixelBGRA PixelFormat = C.EMBER_PIXEL_BGRA
)

// Image is a decoded image. Safe for concurrent use (it is read-only).
type Image struct {
	mu     sync.RWMutex
	p      *C.ember_image
	pixels unsafe.Pointer // C copy of the pixels for ImageFromPixels, freed on Close
}

func newImage(p *C.ember_image, pixels unsafe.Pointer) *Image {
	im := &Image{p: p, pixels: pixels}
	runtime.SetFinalizer(im, func(im *Image) { im.Close() })
	return im
}

// LoadImage decodes an image file (JPEG, PNG, BMP, GIF, TGA, PNM).
func LoadImage(path string) (*Image, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var p *C.ember_image
	if err := call(func() C.ember_status { return C.ember_image_load_file(cpath, &p) }); err != nil {
		return nil, err
	}
	return newImage(p, nil), nil
}

// DecodeImage decodes an encoded image held in memory (the bytes are copied).
func DecodeImage(data []byte) (*Image, error) {
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = unsafe.Pointer(&data[0])
	}
	var p *C.ember_image
	if err := call(func() C.ember_status {
		return C.ember_image_load_memory(ptr, C.size_t(len(data)), &p)
	}); err != nil {
		return nil, err
	}
	return newImage(p, nil), nil
}

// ImageFromPixels makes an image of 8-bit pixels, rows stride bytes apart. The pixels
// are copied (C may not keep pointers to Go memory).
func ImageFromPixels(pixels []byte, width, height, stride int, format PixelFormat) (*Image, error) {
	need := 0
	if height > 0 {
		need = stride*(height-1) + 1
	}
	if width <= 0 || height <= 0 || stride <= 0 || len(pixels) < need {
		return nil, errorf(StatusInvalidArgument, "ImageFromPixels: %dx%d, stride %d needs at least %d bytes, got %d",
			width, height, stride, need, len(pixels))
	}
	buf := C.malloc(C.size_t(len(pixels)))
	if buf == nil {
		return nil, ErrOutOfMemory
	}
	C.memcpy(buf, unsafe.Pointer(&pixels[0]), C.size_t(len(pixels)))
	var p *C.ember_image
	if err := call(func() C.ember_status {
		return C.ember_image_wrap(buf, C.int32_t(width), C.int32_t(height), C.size_t(stride),
			C.ember_pixel_format(format), &p)
	}); err != nil {
		C.free(buf)
		return nil, err
	}
	return newImage(p, buf), nil
}

// Size returns the image's width and height in pixels.
func (im *Image) Size() (width, height int, err error) {
	im.mu.RLock()
	defer im.mu.RUnlock()
	if im.p == nil {
		return 0, 0, errClosed("image")
	}
	var w, h C.int32_t
	err = call(func() C.ember_status { return C.ember_image_info(im.p, &w, &h, nil) })
	return int(w), int(h), err
}

// Close releases the image. Closing twice is a no-op.
func (im *Image) Close() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.p == nil {
		return nil
	}
	C.ember_image_release(im.p)
	im.p = nil
	if im.pixels != nil {
		C.free(im.pixels)
		im.pixels = nil
	}
	runtime.SetFinalizer(im, nil)
	return nil
}

// Labels returns the class labels stored in the model (ember convert --labels); an
// *Error with StatusNotFound if it has none.
func (m *Model) Labels() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.p == nil {
		return nil, errClosed("model")
	}
	var n C.size_t
	if err := call(func() C.ember_status { return C.ember_model_label_count(m.p, &n) }); err != nil {
		return nil, err
	}
	labels := make([]string, int(n))
	for i := range labels {
		var s *C.char
		if err := call(func() C.ember_status { return C.ember_model_label(m.p, C.size_t(i), &s) }); err != nil {
			return nil, err
		}
		labels[i] = C.GoString(s)
	}
	return labels, nil
}

// ClassScore is one entry of a classification: class index, the model's label for it
// ("" if it has none) and the probability.
type ClassScore struct {
	Index int
	Label string
	Score float32
}

// imageInput returns the C tensor for input 0 of an image model, shaped like the
// model's input with symbolic dimensions (a batch) set to 1.
func (s *Session) imageInput() (*C.ember_tensor, error) {
	ins := s.model.inputs
	if len(ins) == 0 {
		return nil, errorf(StatusInvalidArgument, "the model has no inputs")
	}
	shape := append([]int64(nil), ins[0].Shape...)
	for d := range shape {
		if shape[d] < 0 {
			shape[d] = 1
		}
	}
	return s.inputTensor(0, ins[0].DType, shape)
}

// Preprocess applies the model's preprocessing (its "preprocess" metadata, or spec
// when not "") to img and returns the resulting input tensor, ready for Run.
func (s *Session) Preprocess(img *Image, spec string) (Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.preprocess(img, spec)
	if err != nil {
		return Tensor{}, err
	}
	return tensorFromC(t), nil
}

func (s *Session) preprocess(img *Image, spec string) (*C.ember_tensor, error) {
	if s.p == nil {
		return nil, errClosed("session")
	}
	img.mu.RLock()
	defer img.mu.RUnlock()
	if img.p == nil {
		return nil, errClosed("image")
	}
	t, err := s.imageInput()
	if err != nil {
		return nil, err
	}
	var cspec *C.char
	if spec != "" {
		cspec = C.CString(spec)
		defer C.free(unsafe.Pointer(cspec))
	}
	err = call(func() C.ember_status { return C.ember_session_preprocess(s.p, 0, img.p, cspec, t, 0) })
	return t, err
}

// Classify preprocesses img with the model's spec, runs the model and returns the k
// best classes of output 0, best first (scores are probabilities: softmax is applied
// when the model outputs logits).
func (s *Session) Classify(img *Image, k int) ([]ClassScore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k <= 0 {
		return nil, errorf(StatusInvalidArgument, "Classify: k must be positive, got %d", k)
	}
	t, err := s.preprocess(img, "")
	if err != nil {
		return nil, err
	}
	if err := s.runC([]*C.ember_tensor{t}); err != nil {
		return nil, err
	}
	return s.topK(0, k)
}

// TopK returns the k best classes of output outputIndex (batch row 0) of the last Run.
func (s *Session) TopK(outputIndex, k int) ([]ClassScore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil, errClosed("session")
	}
	if k <= 0 {
		return nil, errorf(StatusInvalidArgument, "TopK: k must be positive, got %d", k)
	}
	return s.topK(outputIndex, k)
}

func (s *Session) topK(outputIndex, k int) ([]ClassScore, error) {
	buf := (*C.ember_class_score)(C.malloc(C.size_t(k) * C.size_t(unsafe.Sizeof(C.ember_class_score{}))))
	if buf == nil {
		return nil, ErrOutOfMemory
	}
	defer C.free(unsafe.Pointer(buf))
	var n C.size_t
	if err := call(func() C.ember_status {
		return C.ember_session_top_k(s.p, C.size_t(outputIndex), 0, C.size_t(k), buf, &n)
	}); err != nil {
		return nil, err
	}
	out := make([]ClassScore, int(n))
	for i, c := range unsafe.Slice(buf, int(n)) {
		out[i] = ClassScore{Index: int(c.index), Label: C.GoString(c.label), Score: float32(c.score)}
	}
	return out, nil
}
