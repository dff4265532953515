//! `cargo xtask interop`.
use crate::report::Report;

pub async fn run(_peer: crate::Peer, _samples: usize) -> Result<Report, String> {
    Err("not yet".to_owned())
}
