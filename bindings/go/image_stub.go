//go:build ember_noimage

package ember

// This file replaces image.go when built with -tags ember_noimage, for a libember.so
// that does not export the image functions yet: the API is the same, and every call
// returns an *Error with StatusUnsupported.

// ImagesSupported reports whether this build binds the image functions; see image.go.
const ImagesSupported = false

var errNoImages = &Error{Status: StatusUnsupported,
	Message: "this build of the Go binding has no image support (built with -tags ember_noimage)"}

// PixelFormat is the layout of 8-bit pixels given to ImageFromPixels.
type PixelFormat int

// The ember_pixel_format values of api/ember.h.
const (
	PixelGray PixelFormat = 1
	PixelRGB  PixelFormat = 3
	PixelBGR  PixelFormat = 4
	PixelRGBA PixelFormat = 5
	PixelBGRA PixelFormat = 6
)

// Image is a decoded image.
type Image struct{}

// ClassScore is one entry of a classification.
type ClassScore struct {
	Index int
	Label string
	Score float32
}

func LoadImage(path string) (*Image, error)   { return nil, errNoImages }
func DecodeImage(data []byte) (*Image, error) { return nil, errNoImages }
func ImageFromPixels(pixels []byte, width, height, stride int, format PixelFormat) (*Image, error) {
	return nil, errNoImages
}
func (im *Image) Size() (width, height int, err error) { return 0, 0, errNoImages }
func (im *Image) Close() error                         { return nil }
func (m *Model) Labels() ([]string, error)             { return nil, errNoImages }
func (s *Session) Preprocess(img *Image, spec string) (Tensor, error) {
	return Tensor{}, errNoImages
}
func (s *Session) Classify(img *Image, k int) ([]ClassScore, error) { return nil, errNoImages }
func (s *Session) TopK(outputIndex, k int) ([]ClassScore, error)    { return nil, errNoImages }
