//! Tensors: `TensorRef` borrows data (inputs, and outputs until the next run), `Tensor`
//! owns a copy.
use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::size_of;
use std::slice;

use crate::error::{Error, Result, Status};
use ember_sys as sys;

/// The element type of a tensor (`ember_dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int8,
    Uint8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Uint64,
    /// One byte, 0 or 1.
    Bool,
    /// Undefined or a code newer than this binding.
    Other(u32),
}

impl DType {
    pub fn from_raw(d: sys::ember_dtype) -> DType {
        match d {
            sys::EMBER_DTYPE_FLOAT32 => DType::Float32,
            sys::EMBER_DTYPE_FLOAT16 => DType::Float16,
            sys::EMBER_DTYPE_BFLOAT16 => DType::BFloat16,
            sys::EMBER_DTYPE_FLOAT64 => DType::Float64,
            sys::EMBER_DTYPE_INT8 => DType::Int8,
            sys::EMBER_DTYPE_UINT8 => DType::Uint8,
            sys::EMBER_DTYPE_INT16 => DType::Int16,
            sys::EMBER_DTYPE_UINT16 => DType::Uint16,
            sys::EMBER_DTYPE_INT32 => DType::Int32,
            sys::EMBER_DTYPE_UINT32 => DType::Uint32,
            sys::EMBER_DTYPE_INT64 => DType::Int64,
            sys::EMBER_DTYPE_UINT64 => DType::Uint64,
            sys::EMBER_DTYPE_BOOL => DType::Bool,
            other => DType::Other(other),
        }
    }

    pub fn to_raw(self) -> sys::ember_dtype {
        match self {
            DType::Float32 => sys::EMBER_DTYPE_FLOAT32,
            DType::Float16 => sys::EMBER_DTYPE_FLOAT16,
            DType::BFloat16 => sys::EMBER_DTYPE_BFLOAT16,
            DType::Float64 => sys::EMBER_DTYPE_FLOAT64,
            DType::Int8 => sys::EMBER_DTYPE_INT8,
            DType::Uint8 => sys::EMBER_DTYPE_UINT8,
            DType::Int16 => sys::EMBER_DTYPE_INT16,
            DType::Uint16 => sys::EMBER_DTYPE_UINT16,
            DType::Int32 => sys::EMBER_DTYPE_INT32,
            DType::Uint32 => sys::EMBER_DTYPE_UINT32,
            DType::Int64 => sys::EMBER_DTYPE_INT64,
            DType::Uint64 => sys::EMBER_DTYPE_UINT64,
            DType::Bool => sys::EMBER_DTYPE_BOOL,
            DType::Other(d) => d,
        }
    }

    /// Bytes per element (0 if unknown).
    pub fn size(self) -> usize {
        // SAFETY: a pure function of its argument.
        unsafe { sys::ember_dtype_size(self.to_raw()) }
    }

    /// Lower-case name, e.g. "float32".
    pub fn name(self) -> &'static str {
        // SAFETY: returns static storage.
        unsafe { CStr::from_ptr(sys::ember_dtype_name(self.to_raw())) }.to_str().unwrap_or("undefined")
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust element type with its Ember dtype. `u16` also reads Float16 and BFloat16
/// tensors (their raw bit patterns).
pub trait Element: Copy + sealed::Sealed + 'static {
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t { const DTYPE: DType = DType::$d; }
    )*};
}
element!(f32 => Float32, f64 => Float64, i8 => Int8, u8 => Uint8, i16 => Int16, u16 => Uint16,
         i32 => Int32, u32 => Uint32, i64 => Int64, u64 => Uint64);

fn element_count(shape: &[i64]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in shape {
        if d < 0 {
            return Err(Error::new(Status::InvalidArgument, format!("negative dimension in shape {:?}", shape)));
        }
        n = n
            .checked_mul(d as usize)
            .ok_or_else(|| Error::new(Status::InvalidArgument, format!("shape {:?} overflows", shape)))?;
    }
    Ok(n)
}

fn view<T: Element>(dtype: DType, bytes: &[u8]) -> Result<&[T]> {
    let ok = T::DTYPE == dtype || (T::DTYPE == DType::Uint16 && matches!(dtype, DType::Float16 | DType::BFloat16));
    if !ok {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("tensor is {}, not {}", dtype.name(), T::DTYPE.name()),
        ));
    }
    if bytes.is_empty() {
        return Ok(&[]);
    }
    if bytes.as_ptr() as usize % std::mem::align_of::<T>() != 0 {
        return Err(Error::new(Status::InvalidArgument, "tensor data is not aligned for its type"));
    }
    // SAFETY: the bytes are valid for reads, aligned for T, and every bit pattern is a
    // valid T for the numeric types implementing Element.
    Ok(unsafe { slice::from_raw_parts(bytes.as_ptr() as *const T, bytes.len() / size_of::<T>()) })
}

/// A tensor whose shape and data are borrowed: an input for `Session::run`, or an
/// output of the last run (`Session::output`), valid until the next run.
#[derive(Clone, Copy, Debug)]
pub struct TensorRef<'a> {
    dtype: DType,
    shape: &'a [i64],
    data: &'a [u8],
}

impl<'a> TensorRef<'a> {
    /// A tensor of `shape` over `data` (no copy). `data.len()` must equal the product of
    /// the shape.
    pub fn new<T: Element>(shape: &'a [i64], data: &'a [T]) -> Result<TensorRef<'a>> {
        // SAFETY: any initialised numeric slice may be viewed as bytes.
        let bytes = unsafe { slice::from_raw_parts(data.as_ptr() as *const u8, data.len() * size_of::<T>()) };
        TensorRef::from_bytes(T::DTYPE, shape, bytes)
    }

    /// A tensor of any dtype over raw little-endian bytes (for Float16, BFloat16, Bool).
    pub fn from_bytes(dtype: DType, shape: &'a [i64], data: &'a [u8]) -> Result<TensorRef<'a>> {
        let need = element_count(shape)?.checked_mul(dtype.size()).unwrap_or(usize::MAX);
        if dtype.size() == 0 || data.len() != need {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("shape {:?} of {} needs {} bytes, data has {}", shape, dtype.name(), need, data.len()),
            ));
        }
        Ok(TensorRef { dtype, shape, data })
    }

    /// Borrows a C tensor.
    ///
    /// # Safety
    /// `t` must be a valid tensor that outlives `'a` and is not modified during `'a`.
    pub(crate) unsafe fn from_c(t: *const sys::ember_tensor) -> TensorRef<'a> {
        let rank = sys::ember_tensor_rank(t);
        let shape = if rank == 0 { &[][..] } else { slice::from_raw_parts(sys::ember_tensor_dims(t), rank) };
        let size = sys::ember_tensor_size_bytes(t);
        let data = if size == 0 {
            &[][..]
        } else {
            slice::from_raw_parts(sys::ember_tensor_data_const(t) as *const u8, size)
        };
        TensorRef { dtype: DType::from_raw(sys::ember_tensor_dtype(t)), shape, data }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &'a [i64] {
        self.shape
    }
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }
    /// The data as a slice of `T`; an error if `T` is not the tensor's dtype.
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T]> {
        view(self.dtype, self.data)
    }
    /// An owned copy.
    pub fn to_owned(&self) -> Tensor {
        Tensor::copy_of(self.dtype, self.shape, self.data)
    }
}

/// A tensor that owns its shape and data (8-byte aligned, so `as_slice` works for every
/// element type).
#[derive(Clone, Debug)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<i64>,
    words: Vec<u64>,
    len: usize,
}

impl Tensor {
    fn copy_of(dtype: DType, shape: &[i64], data: &[u8]) -> Tensor {
        let mut words = vec![0u64; (data.len() + 7) / 8];
        // SAFETY: `words` holds at least data.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), words.as_mut_ptr() as *mut u8, data.len()) };
        Tensor { dtype, shape: shape.to_vec(), words, len: data.len() }
    }

    /// A tensor holding a copy of `data`.
    pub fn from_slice<T: Element>(shape: &[i64], data: &[T]) -> Result<Tensor> {
        Ok(TensorRef::new(shape, data)?.to_owned())
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[i64] {
        &self.shape
    }
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of `words` are initialised.
        unsafe { slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) }
    }
    /// The data as a slice of `T`; an error if `T` is not the tensor's dtype.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        view(self.dtype, self.as_bytes())
    }
    /// A borrowed view, e.g. to feed an output back as an input.
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef { dtype: self.dtype, shape: &self.shape, data: self.as_bytes() }
    }
}

/// A C tensor created and released by the binding (RAII).
pub(crate) struct OwnedCTensor(pub(crate) *mut sys::ember_tensor, PhantomData<*mut ()>);

impl OwnedCTensor {
    /// Wraps `t`'s memory without copying it. The C tensor must not outlive `t`'s
    /// borrow; the library only reads inputs.
    pub(crate) fn wrap(t: &TensorRef<'_>) -> Result<OwnedCTensor> {
        let mut out = std::ptr::null_mut();
        // SAFETY: shape and data are valid for the sizes given; Ember never writes to an
        // input tensor, so casting away const is sound.
        crate::error::check(unsafe {
            sys::ember_tensor_wrap(
                t.dtype.to_raw(),
                t.shape.as_ptr(),
                t.shape.len(),
                t.data.as_ptr() as *mut std::os::raw::c_void,
                t.data.len(),
                &mut out,
            )
        })?;
        Ok(OwnedCTensor(out, PhantomData))
    }

    /// A zero-filled C tensor owning its memory.
    pub(crate) fn create(dtype: DType, shape: &[i64]) -> Result<OwnedCTensor> {
        let mut out = std::ptr::null_mut();
        // SAFETY: shape is valid for shape.len() elements.
        crate::error::check(unsafe { sys::ember_tensor_create(dtype.to_raw(), shape.as_ptr(), shape.len(), &mut out) })?;
        Ok(OwnedCTensor(out, PhantomData))
    }
}

impl Drop for OwnedCTensor {
    fn drop(&mut self) {
        // SAFETY: created by ember_tensor_wrap/create and released once.
        unsafe { sys::ember_tensor_release(self.0) }
    }
}
