//! `cargo xtask conformance agent`.
use crate::report::Report;

pub async fn run(_cmd: Vec<String>) -> Result<Report, String> {
    Err("not yet".to_owned())
}
