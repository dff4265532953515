//! Wire types for AAuth and HTTP Signature Keys: header names, structured-field headers, token68
//! credentials, problem details and interaction codes. No I/O and no cryptography live here.
#![forbid(unsafe_code)]

pub mod access;
pub mod capabilities;
pub mod error;
pub mod headers;
pub mod interaction_code;
pub mod polling;
pub mod problem;
pub mod requirement;
pub mod retry_after;
mod sf;
pub mod sf_view;
pub mod signature_error;
pub mod signature_key;
mod thumbprint;

pub use error::WireError;
pub use thumbprint::Thumbprint;
