package ember

/*
#include <ember.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// DType is an ember_dtype: the element type of a tensor.
type DType int

// The ember_dtype values of api/ember.h.
const (
	Undefined DType = C.EMBER_DTYPE_UNDEFINED
	Float32   DType = C.EMBER_DTYPE_FLOAT32
	Float16   DType = C.EMBER_DTYPE_FLOAT16
	BFloat16  DType = C.EMBER_DTYPE_BFLOAT16
	Float64   DType = C.EMBER_DTYPE_FLOAT64
	Int8      DType = C.EMBER_DTYPE_INT8
	Uint8     DType = C.EMBER_DTYPE_UINT8
	Int16     DType = C.EMBER_DTYPE_INT16
	Uint16    DType = C.EMBER_DTYPE_UINT16
	Int32     DType = C.EMBER_DTYPE_INT32
	Uint32    DType = C.EMBER_DTYPE_UINT32
	Int64     DType = C.EMBER_DTYPE_INT64
	Uint64    DType = C.EMBER_DTYPE_UINT64
	Bool      DType = C.EMBER_DTYPE_BOOL
)

// String returns the dtype's lower-case name ("float32").
func (d DType) String() string { return C.GoString(C.ember_dtype_name(C.ember_dtype(d))) }

// Size returns the size of one element in bytes (0 if undefined).
func (d DType) Size() int { return int(C.ember_dtype_size(C.ember_dtype(d))) }

// Tensor is a typed n-dimensional array held in a Go slice.
//
// Data's element type gives the dtype: []float32, []float64, []int8, []uint8, []int16,
// []uint16, []int32, []uint32, []int64, []uint64 or []bool. Float16 and BFloat16 data
// are the raw 16-bit patterns in a []uint16, with DType set to Float16 or BFloat16.
// DType may be left Undefined for the other types. len(Data) must equal the product
// of Shape (1 for a scalar, Shape empty).
type Tensor struct {
	DType DType
	Shape []int64
	Data  interface{}
}

// NewTensor returns a tensor of shape holding data (not copied).
func NewTensor(shape []int64, data interface{}) Tensor {
	return Tensor{Shape: shape, Data: data}
}

// ElementCount returns the product of the shape (1 for a scalar).
func (t Tensor) ElementCount() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s returns the data as []float32, or nil if the tensor is not float32.
func (t Tensor) Float32s() []float32 {
	v, _ := t.Data.([]float32)
	return v
}

// Int64s returns the data as []int64, or nil if the tensor is not int64.
func (t Tensor) Int64s() []int64 {
	v, _ := t.Data.([]int64)
	return v
}

// viewBytes views the memory of v as bytes (no copy).
func viewBytes[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))
}

// bytes returns the tensor's data as raw bytes (a view, not a copy) and its dtype.
func (t Tensor) bytes() ([]byte, DType, error) {
	var raw []byte
	var dt DType
	var n int
	switch v := t.Data.(type) {
	case []float32:
		raw, dt, n = viewBytes(v), Float32, len(v)
	case []float64:
		raw, dt, n = viewBytes(v), Float64, len(v)
	case []int8:
		raw, dt, n = viewBytes(v), Int8, len(v)
	case []uint8:
		raw, dt, n = viewBytes(v), Uint8, len(v)
	case []int16:
		raw, dt, n = viewBytes(v), Int16, len(v)
	case []uint16:
		raw, dt, n = viewBytes(v), Uint16, len(v)
	case []int32:
		raw, dt, n = viewBytes(v), Int32, len(v)
	case []uint32:
		raw, dt, n = viewBytes(v), Uint32, len(v)
	case []int64:
		raw, dt, n = viewBytes(v), Int64, len(v)
	case []uint64:
		raw, dt, n = viewBytes(v), Uint64, len(v)
	case []bool: // Go's bool is one byte, 0 or 1: the C layout of EMBER_DTYPE_BOOL
		raw, dt, n = viewBytes(v), Bool, len(v)
	default:
		return nil, Undefined, fmt.Errorf("unsupported data type %T", t.Data)
	}
	if t.DType != Undefined && t.DType != dt {
		if !(dt == Uint16 && (t.DType == Float16 || t.DType == BFloat16)) {
			return nil, Undefined, fmt.Errorf("DType %v does not match data of type %T", t.DType, t.Data)
		}
		dt = t.DType
	}
	for _, d := range t.Shape {
		if d < 0 {
			return nil, Undefined, fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
	}
	if want := t.ElementCount(); int64(n) != want {
		return nil, Undefined, fmt.Errorf("shape %v has %d elements, data has %d", t.Shape, want, n)
	}
	return raw, dt, nil
}

// makeTyped allocates a Go slice of n elements for dtype dt and returns it with a byte
// view of its memory.
func makeTyped(dt DType, n int) (interface{}, []byte) {
	switch dt {
	case Float32:
		v := make([]float32, n)
		return v, viewBytes(v)
	case Float64:
		v := make([]float64, n)
		return v, viewBytes(v)
	case Int8:
		v := make([]int8, n)
		return v, viewBytes(v)
	case Uint8:
		v := make([]uint8, n)
		return v, v
	case Int16:
		v := make([]int16, n)
		return v, viewBytes(v)
	case Uint16, Float16, BFloat16:
		v := make([]uint16, n)
		return v, viewBytes(v)
	case Int32:
		v := make([]int32, n)
		return v, viewBytes(v)
	case Uint32:
		v := make([]uint32, n)
		return v, viewBytes(v)
	case Int64:
		v := make([]int64, n)
		return v, viewBytes(v)
	case Uint64:
		v := make([]uint64, n)
		return v, viewBytes(v)
	case Bool:
		v := make([]bool, n)
		return v, viewBytes(v)
	}
	v := make([]uint8, n*dt.Size())
	return v, v
}

// tensorFromC copies a C tensor into a Go Tensor.
func tensorFromC(t *C.ember_tensor) Tensor {
	dt := DType(C.ember_tensor_dtype(t))
	rank := int(C.ember_tensor_rank(t))
	shape := make([]int64, rank)
	if rank > 0 {
		for d, v := range unsafe.Slice(C.ember_tensor_dims(t), rank) {
			shape[d] = int64(v)
		}
	}
	n := int(C.ember_tensor_element_count(t))
	data, dst := makeTyped(dt, n)
	if size := int(C.ember_tensor_size_bytes(t)); size > 0 {
		copy(dst, unsafe.Slice((*byte)(C.ember_tensor_data_const(t)), size))
	}
	return Tensor{DType: dt, Shape: shape, Data: data}
}
