use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::StoreError;

/// Fills a fixed-size array from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| StoreError::Random)?;
    Ok(out)
}

/// A 128-bit random identifier, base64url without padding (22 characters); used for pending
/// URLs and interaction URLs, which must be unguessable (RM-11).
pub fn random_id() -> Result<String, StoreError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}
