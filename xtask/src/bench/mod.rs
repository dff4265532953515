//! `cargo xtask bench`: performance as ratios measured in one run on one machine (issue 8).
//! See docs/performance.md for what each row means and how to read it.
//!
//! `cargo xtask` runs a debug build, so the first thing `bench` does is build xtask (and with
//! it every crate) in release and re-run itself from `target/release/xtask`. The measuring
//! process also starts copies of itself as workers (`--worker …`): callgrind counts and
//! memory figures need a fresh process.
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod approval;
mod fixtures;
mod memory;
mod micro;
mod peers;
mod redis_server;
mod stack;
mod stats;
mod throughput;

use stats::Row;

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A ~2-minute smoke run: fewer repetitions, shorter slices, fewer callgrind rows.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/bench/report.json")]
    pub report: PathBuf,
    /// Only these parts (comma-separated): cost, peers, throughput, memory, approval, scaling.
    #[arg(long, value_delimiter = ',')]
    pub parts: Vec<String>,
    /// Internal: run one worker in this process (used by the bench itself).
    #[arg(long, hide = true)]
    pub worker: Option<String>,
    #[arg(long, hide = true, default_value = "")]
    pub case: String,
    #[arg(long, hide = true, default_value_t = 0)]
    pub iters: u64,
    /// Internal: the memory worker puts its records into the Redis server at this address.
    #[arg(long, hide = true)]
    pub redis: Option<String>,
}

/// Settings shared by the parts.
pub struct Config {
    pub quick: bool,
    /// Repetitions of every timed comparison.
    pub reps: usize,
    /// Length of one timed slice.
    pub slice: Duration,
    /// The release binary (for workers).
    pub exe: PathBuf,
    /// valgrind is installed.
    pub callgrind: bool,
}

/// Runs a command to completion; its stderr on failure.
pub fn cmd_ok(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            (v.len() == 3).then(|| v.join(" "))
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::repo_root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "loadavg_at_start": loadavg(),
        "rustc": rustc,
        "commit": commit,
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

fn worker(args: &Args) -> ExitCode {
    let result = match args.worker.as_deref() {
        Some("count") => micro::worker_count(&args.case, args.iters),
        Some("memory") => memory::worker(&args.case, args.iters, args.redis.as_deref()),
        other => Err(format!("unknown worker {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Builds xtask in release and runs `bench` from there, unless this already is that build.
fn reexec_release(args: &Args) -> Option<ExitCode> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: building xtask and the workspace in release …");
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "xtask"])
        .current_dir(crate::repo_root())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("error: cargo build --release -p xtask failed");
        return Some(ExitCode::from(2));
    }
    let exe = target_dir().join("release/xtask");
    let mut cmd = Command::new(exe);
    cmd.arg("bench").arg("--report").arg(&args.report);
    if args.quick {
        cmd.arg("--quick");
    }
    if !args.parts.is_empty() {
        cmd.arg("--parts").arg(args.parts.join(","));
    }
    let status = cmd.current_dir(crate::repo_root()).status();
    Some(match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(2)),
        Err(e) => {
            eprintln!("error: running the release build: {e}");
            ExitCode::from(2)
        }
    })
}

fn print_table(rows: &[Row]) {
    let rendered: Vec<[String; 5]> = rows.iter().map(Row::render).collect();
    let header = [
        "part".to_owned(),
        "metric".to_owned(),
        "median".to_owned(),
        "spread [min–max]".to_owned(),
        "note".to_owned(),
    ];
    let mut width = [0usize; 4];
    for r in std::iter::once(&header).chain(rendered.iter()) {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 5]| {
        let pad =
            |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
        println!(
            "{}  {}  {}  {}  {}",
            pad(&r[0], width[0]),
            pad(&r[1], width[1]),
            pad(&r[2], width[2]),
            pad(&r[3], width[3]),
            r[4]
        );
    };
    line(&header);
    println!("{}", "-".repeat(width.iter().sum::<usize>() + 8 + 20));
    let mut last = "";
    for (r, row) in rendered.iter().zip(rows) {
        if !last.is_empty() && last != row.part {
            println!();
        }
        last = &row.part;
        line(r);
    }
}

pub fn run(args: Args) -> ExitCode {
    if args.worker.is_some() {
        return worker(&args);
    }
    if let Some(code) = reexec_release(&args) {
        return code;
    }
    let started = Instant::now();
    let exe = std::env::current_exe().unwrap_or_else(|_| target_dir().join("release/xtask"));
    let callgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let cfg = Config {
        quick: args.quick,
        reps: if args.quick { 5 } else { 11 },
        slice: Duration::from_millis(if args.quick { 150 } else { 300 }),
        exe,
        callgrind,
    };
    let want = |p: &str| args.parts.is_empty() || args.parts.iter().any(|x| x == p);
    let machine = machine();
    eprintln!(
        "bench: {} run on {} ({} cpus), load average {}",
        if cfg.quick { "quick" } else { "full" },
        machine["cpu"].as_str().unwrap_or("?"),
        machine["cpus"],
        loadavg()
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut raw = serde_json::Map::new();
    let mut failures: Vec<String> = Vec::new();
    type Part = fn(
        &Config,
        &mut Vec<Row>,
        &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String>;
    let parts: [(&str, Part); 6] = [
        ("cost", micro::run),
        ("peers", peers::run),
        ("throughput", throughput::run),
        ("memory", memory::run),
        ("approval", approval::run),
        ("scaling", micro::run_scaling),
    ];
    for (name, part) in parts {
        if !want(name) {
            continue;
        }
        let t = Instant::now();
        eprintln!("bench: {name} …");
        if let Err(e) = part(&cfg, &mut rows, &mut raw) {
            eprintln!("bench: {name} failed: {e}");
            failures.push(format!("{name}: {e}"));
            rows.push(Row::new(name, "(part failed)", "").note(e));
        }
        eprintln!("bench: {name} took {:.0} s", t.elapsed().as_secs_f64());
    }
    // Group by part number (parts add rows for each other, e.g. callgrind scaling rows);
    // the sort is stable, so the order within a part is kept.
    rows.sort_by_key(|r| r.part.chars().next());
    println!();
    print_table(&rows);
    let report = serde_json::json!({
        "machine": machine,
        "quick": cfg.quick,
        "reps": cfg.reps,
        "slice_ms": cfg.slice.as_millis() as u64,
        "duration_s": started.elapsed().as_secs_f64(),
        "loadavg_at_end": loadavg(),
        "rows": rows,
        "raw": raw,
        "failures": failures,
    });
    let path = if args.report.is_absolute() {
        args.report.clone()
    } else {
        crate::repo_root().join(&args.report)
    };
    let written = path
        .parent()
        .map(std::fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|_| {
            std::fs::write(
                &path,
                serde_json::to_vec_pretty(&report).unwrap_or_default(),
            )
        });
    match written {
        Ok(()) => println!(
            "\nreport written to {} ({:.0} s)",
            path.display(),
            started.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
