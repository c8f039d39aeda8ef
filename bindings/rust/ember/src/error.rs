//! `Error`: a failed Ember call, with the library's status and message.
use std::ffi::CStr;
use std::fmt;

use ember_sys as sys;

/// An `ember_status` error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    InvalidArgument,
    Io,
    Format,
    Unsupported,
    OutOfMemory,
    Backend,
    Shape,
    Internal,
    Abi,
    NotFound,
    BufferTooSmall,
    /// A code newer than this binding.
    Other(u32),
}

impl Status {
    pub fn from_raw(code: sys::ember_status) -> Status {
        match code {
            sys::EMBER_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::EMBER_ERR_IO => Status::Io,
            sys::EMBER_ERR_FORMAT => Status::Format,
            sys::EMBER_ERR_UNSUPPORTED => Status::Unsupported,
            sys::EMBER_ERR_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::EMBER_ERR_BACKEND => Status::Backend,
            sys::EMBER_ERR_SHAPE => Status::Shape,
            sys::EMBER_ERR_INTERNAL => Status::Internal,
            sys::EMBER_ERR_ABI => Status::Abi,
            sys::EMBER_ERR_NOT_FOUND => Status::NotFound,
            sys::EMBER_ERR_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            other => Status::Other(other),
        }
    }

    pub fn to_raw(self) -> sys::ember_status {
        match self {
            Status::InvalidArgument => sys::EMBER_ERR_INVALID_ARGUMENT,
            Status::Io => sys::EMBER_ERR_IO,
            Status::Format => sys::EMBER_ERR_FORMAT,
            Status::Unsupported => sys::EMBER_ERR_UNSUPPORTED,
            Status::OutOfMemory => sys::EMBER_ERR_OUT_OF_MEMORY,
            Status::Backend => sys::EMBER_ERR_BACKEND,
            Status::Shape => sys::EMBER_ERR_SHAPE,
            Status::Internal => sys::EMBER_ERR_INTERNAL,
            Status::Abi => sys::EMBER_ERR_ABI,
            Status::NotFound => sys::EMBER_ERR_NOT_FOUND,
            Status::BufferTooSmall => sys::EMBER_ERR_BUFFER_TOO_SMALL,
            Status::Other(code) => code,
        }
    }

    /// The C name, e.g. "EMBER_ERR_SHAPE".
    pub fn name(self) -> &'static str {
        // SAFETY: ember_status_string never fails and returns static storage.
        unsafe { CStr::from_ptr(sys::ember_status_string(self.to_raw())) }
            .to_str()
            .unwrap_or("EMBER_ERR_UNKNOWN")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed Ember call: the status and the library's message (which names the object
/// and the numbers, e.g. the input and both shapes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    /// The error of the calling thread's last failed call (ember_last_error() is
    /// per thread, and a Rust thread is an OS thread).
    pub(crate) fn last(code: sys::ember_status) -> Error {
        // SAFETY: ember_last_error returns this thread's NUL-terminated message.
        let msg = unsafe { CStr::from_ptr(sys::ember_last_error()) };
        Error { status: Status::from_raw(code), message: msg.to_string_lossy().into_owned() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "ember: {}", self.status)
        } else {
            write!(f, "ember: {}: {}", self.status, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with Ember's error.
pub type Result<T> = std::result::Result<T, Error>;

/// Turns a status into a Result, reading the message on failure.
pub(crate) fn check(code: sys::ember_status) -> Result<()> {
    if code == sys::EMBER_OK {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}
