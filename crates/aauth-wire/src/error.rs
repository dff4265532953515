//! The crate's one error type.
pub struct WireError;
