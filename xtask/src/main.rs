//! `cargo xtask …`: the conformance suite (resource and agent modes) and the interop matrix
//! with independent implementations. See docs/conformance.md.
#![forbid(unsafe_code)]

mod agent;
mod bench;
mod interop;
mod provider;
mod raw;
mod report;
mod resource;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "xtask", about = "aauth-rs developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Black-box conformance checks named by DIGEST.md requirement IDs.
    Conformance {
        #[command(subcommand)]
        mode: Mode,
    },
    /// Interop with independent implementations installed from npm and PyPI.
    Interop {
        #[arg(long, value_enum, default_value = "all")]
        peer: Peer,
        /// Write a JSON report (one object per cell).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Samples per cell (each a separate signed request).
        #[arg(long, default_value_t = 5)]
        samples: usize,
    },
    /// Performance side by side with the peers (release build); see docs/performance.md.
    Bench(bench::Args),
}

#[derive(Subcommand)]
enum Mode {
    /// Check a resource. Without --url, starts our own demo resource (`aauth serve`).
    Resource {
        /// A protected URL of the resource (a signed GET must start an interaction).
        #[arg(long)]
        url: Option<String>,
        /// Write a JSON report (one object per check).
        #[arg(long)]
        report: Option<PathBuf>,
        /// How to play the person at a foreign resource: a shell command with `{url}` (the
        /// approval URL) and `{decision}` (`approve` or `deny`). Without it, checks that need
        /// a decision are skipped against a foreign URL.
        #[arg(long)]
        person_cmd: Option<String>,
        /// How the person opens the approval link without deciding (RM-09 `interacting`,
        /// IC-11, IC-10): a shell command with `{url}` that prints the page on stdout and
        /// exits 0 when the page accepted the code. Without it these checks are skipped
        /// against a foreign URL.
        #[arg(long)]
        person_open_cmd: Option<String>,
        /// The resource's pending-request lifetime in seconds (at most 120): the expiry checks
        /// (ERR-22, IC-10) wait it out. Without it they are skipped against a foreign URL.
        #[arg(long)]
        pending_ttl: Option<u64>,
        /// The resource's signature window in seconds (SIG-18).
        #[arg(long, default_value_t = 60)]
        window: i64,
        /// Wrong codes after which the resource locks a request (IC-09).
        #[arg(long, default_value_t = 5)]
        max_code_attempts: u32,
    },
    /// Check an agent command against a scripted resource on loopback. `{url}` in the command
    /// is replaced by the resource URL and `{key}` by a key file the suite creates. Default:
    /// our own `aauth fetch`.
    Agent {
        #[arg(long)]
        report: Option<PathBuf>,
        /// The agent command and its arguments.
        #[arg(last = true)]
        cmd: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    Node,
    Python,
    All,
}

/// The repository root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// `shared/` beside the repository (test vectors, spec).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("AAUTH_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

fn finish(report: &report::Report, title: &str, json: Option<&PathBuf>) -> ExitCode {
    report.print(title);
    if let Some(path) = json {
        if let Err(e) = report.write_json(path) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("report written to {}", path.display());
    }
    if report.fatal() > 0 {
        eprintln!(
            "error: {} required check(s) failed or unexpectedly passed",
            report.fatal()
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let (title, json, result) = match cli.command {
        Command::Bench(args) => return bench::run(args),
        Command::Conformance {
            mode:
                Mode::Resource {
                    url,
                    report,
                    person_cmd,
                    person_open_cmd,
                    pending_ttl,
                    window,
                    max_code_attempts,
                },
        } => (
            "conformance: resource",
            report,
            rt.block_on(resource::run(resource::Options {
                url,
                person_cmd,
                person_open_cmd,
                pending_ttl,
                window,
                max_code_attempts,
            })),
        ),
        Command::Conformance {
            mode: Mode::Agent { report, cmd },
        } => ("conformance: agent", report, rt.block_on(agent::run(cmd))),
        Command::Interop {
            peer,
            report,
            samples,
        } => (
            "interop",
            report,
            rt.block_on(interop::run(peer, samples.max(1))),
        ),
    };
    match result {
        Ok(report) => finish(&report, title, json.as_ref()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
