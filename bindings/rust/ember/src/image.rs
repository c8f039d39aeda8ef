//! Images, preprocessing and classification (the "Images and preprocessing" part of
//! api/ember.h). With a libember.so older than that part, every call here returns
//! `Status::Unsupported` (see `ember_sys::HAS_IMAGE_API`).
use std::path::Path;
use std::ptr;

use crate::error::{check, Error, Result, Status};
use crate::tensor::{OwnedCTensor, Tensor, TensorRef};
use crate::{cstring, path_cstring, string_from, Session};
use ember_sys as sys;

pub(crate) fn require_image_api() -> Result<()> {
    if sys::HAS_IMAGE_API {
        Ok(())
    } else {
        Err(Error::new(
            Status::Unsupported,
            "the libember.so this crate was built against has no image functions",
        ))
    }
}

/// Layout of 8-bit pixels given to [`Image::from_pixels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Gray,
    Rgb,
    Bgr,
    Rgba,
    Bgra,
}

impl PixelFormat {
    fn to_raw(self) -> sys::ember_pixel_format {
        match self {
            PixelFormat::Gray => sys::EMBER_PIXEL_GRAY,
            PixelFormat::Rgb => sys::EMBER_PIXEL_RGB,
            PixelFormat::Bgr => sys::EMBER_PIXEL_BGR,
            PixelFormat::Rgba => sys::EMBER_PIXEL_RGBA,
            PixelFormat::Bgra => sys::EMBER_PIXEL_BGRA,
        }
    }
}

/// A decoded image (read-only: `Send + Sync`).
pub struct Image {
    ptr: *mut sys::ember_image,
    /// The pixels an image made by `from_pixels` borrows (owned here, never moved).
    _pixels: Option<Box<[u8]>>,
}

// SAFETY: an image is immutable after creation; the C API allows any thread.
unsafe impl Send for Image {}
unsafe impl Sync for Image {}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: released once, before the pixels it borrows.
        unsafe { sys::ember_image_release(self.ptr) };
    }
}

impl Image {
    /// Decodes an image file (JPEG, PNG, BMP, GIF, TGA, PNM).
    pub fn load(path: impl AsRef<Path>) -> Result<Image> {
        require_image_api()?;
        let c = path_cstring(path.as_ref())?;
        let mut p = ptr::null_mut();
        // SAFETY: valid path and out pointer.
        check(unsafe { sys::ember_image_load_file(c.as_ptr(), &mut p) })?;
        Ok(Image { ptr: p, _pixels: None })
    }

    /// Decodes encoded image bytes (copied).
    pub fn decode(data: &[u8]) -> Result<Image> {
        require_image_api()?;
        let mut p = ptr::null_mut();
        // SAFETY: data valid for its length; the library copies it.
        check(unsafe { sys::ember_image_load_memory(data.as_ptr() as *const _, data.len(), &mut p) })?;
        Ok(Image { ptr: p, _pixels: None })
    }

    /// An image over 8-bit pixels, rows `stride` bytes apart (the pixels move into the
    /// image).
    pub fn from_pixels(pixels: Vec<u8>, width: i32, height: i32, stride: usize, format: PixelFormat) -> Result<Image> {
        require_image_api()?;
        let need = if height > 0 { stride * (height as usize - 1) + 1 } else { 0 };
        if width <= 0 || height <= 0 || pixels.len() < need {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("{}x{} pixels, stride {}: need {} bytes, got {}", width, height, stride, need, pixels.len()),
            ));
        }
        let pixels = pixels.into_boxed_slice();
        let mut p = ptr::null_mut();
        // SAFETY: the boxed pixels are kept in the Image and outlive the C image.
        check(unsafe {
            sys::ember_image_wrap(pixels.as_ptr() as *const _, width, height, stride, format.to_raw(), &mut p)
        })?;
        Ok(Image { ptr: p, _pixels: Some(pixels) })
    }

    /// Width and height in pixels.
    pub fn size(&self) -> Result<(i32, i32)> {
        let (mut w, mut h) = (0, 0);
        // SAFETY: a live image; NULL format pointer is allowed.
        check(unsafe { sys::ember_image_info(self.ptr, &mut w, &mut h, ptr::null_mut()) })?;
        Ok((w, h))
    }
}

/// One class of a classification: index, the model's label ("" if none), probability.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassScore {
    pub index: i64,
    pub label: String,
    pub score: f32,
}

impl Session {
    /// The input-0 tensor that preprocessing fills, shaped like the model's input with
    /// symbolic dimensions (a batch) set to 1; created once.
    fn image_input(&mut self) -> Result<*mut sys::ember_tensor> {
        if self.image_input.is_none() {
            let info = self
                .model()
                .inputs()
                .first()
                .ok_or_else(|| Error::new(Status::InvalidArgument, "the model has no inputs"))?;
            let shape: Vec<i64> = info.shape.iter().map(|&d| if d < 0 { 1 } else { d }).collect();
            self.image_input = Some(OwnedCTensor::create(info.dtype, &shape)?);
        }
        Ok(self.image_input.as_ref().map(|t| t.0).unwrap_or(ptr::null_mut()))
    }

    fn preprocess_c(&mut self, image: &Image, spec: Option<&str>) -> Result<*mut sys::ember_tensor> {
        require_image_api()?;
        let t = self.image_input()?;
        let spec = match spec {
            Some(s) => Some(cstring(s, "spec")?),
            None => None,
        };
        // SAFETY: live session, image and tensor; spec outlives the call.
        check(unsafe {
            sys::ember_session_preprocess(self.ptr, 0, image.ptr, spec.as_ref().map_or(ptr::null(), |s| s.as_ptr()), t, 0)
        })?;
        Ok(t)
    }

    /// Applies the model's preprocessing (its "preprocess" metadata, or `spec`) to
    /// `image` and returns the input tensor it makes.
    pub fn preprocess(&mut self, image: &Image, spec: Option<&str>) -> Result<Tensor> {
        let t = self.preprocess_c(image, spec)?;
        // SAFETY: the tensor is owned by the session and not modified during the copy.
        Ok(unsafe { TensorRef::from_c(t) }.to_owned())
    }

    /// Preprocesses `image`, runs the model and returns the `k` best classes of output
    /// 0, best first (probabilities: softmax is applied when the model outputs logits).
    pub fn classify(&mut self, image: &Image, k: usize) -> Result<Vec<ClassScore>> {
        let t = self.preprocess_c(image, None)?;
        self.run_c(&[t as *const _])?;
        self.top_k(0, k)
    }

    /// The `k` best classes of output `output_index` (batch row 0) of the last run.
    pub fn top_k(&mut self, output_index: usize, k: usize) -> Result<Vec<ClassScore>> {
        require_image_api()?;
        let mut buf = vec![sys::ember_class_score { index: 0, label: ptr::null(), score: 0.0 }; k];
        let mut n = 0;
        // SAFETY: buf holds k entries; labels are owned by the model and copied at once.
        unsafe {
            check(sys::ember_session_top_k(self.ptr, output_index, 0, k, buf.as_mut_ptr(), &mut n))?;
            Ok(buf[..n.min(k)]
                .iter()
                .map(|c| ClassScore { index: c.index, label: string_from(c.label), score: c.score })
                .collect())
        }
    }
}
