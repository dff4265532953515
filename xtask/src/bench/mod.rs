//! `cargo xtask bench`: performance as ratios measured in one run on one machine (issue 8).
//! See docs/performance.md for what each row means and how to read it.
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A ~2-minute smoke run: fewer repetitions, shorter slices, no callgrind scaling rows.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/report.json")]
    pub report: PathBuf,
}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("error: cargo xtask bench is not implemented yet");
    ExitCode::from(2)
}
