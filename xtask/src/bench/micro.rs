//! Parts 1 and 5: the cost of full verification (and signing) against ring's raw operation on
//! the same signature base, in wall-clock ratios and in instruction counts; scaling with
//! threads, covered components and header size.
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use aauth_sig::{Algorithm, Verifier};
use http::Method;

use super::fixtures::{self, FIXED_NOW, Shape, Signed};
use super::stats::{Row, linear_fit, ns_per_op, ns_per_op_wall, stat};
use super::{Config, peers};

/// What one timed or counted loop does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// ring's verify of the signature base (the physical limit).
    RawVerify,
    /// `Verifier::verify`: parse the three headers, build the base, import the hwk key,
    /// verify, freshness.
    Verify,
    /// ring's sign of the base.
    RawSign,
    /// `Signer::sign`: Signature-Key, base, sign, Signature-Input, Signature.
    Sign,
    /// httpsig-hyper 0.0.26 verifying the same request with the key given to it.
    HyperVerify,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::RawVerify => "raw-verify",
            Op::Verify => "verify",
            Op::RawSign => "raw-sign",
            Op::Sign => "sign",
            Op::HyperVerify => "hyper-verify",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        [
            Op::RawVerify,
            Op::Verify,
            Op::RawSign,
            Op::Sign,
            Op::HyperVerify,
        ]
        .into_iter()
        .find(|o| o.name() == s)
    }
}

/// A case for the counting worker: `op/alg/extra_components/header_bytes`.
pub fn case(op: Op, shape: &Shape) -> String {
    format!(
        "{}/{}/{}/{}",
        op.name(),
        shape.alg.jose_name(),
        shape.extra_components,
        shape.header_bytes
    )
}

fn parse_case(s: &str) -> Result<(Op, Shape), String> {
    let parts: Vec<&str> = s.split('/').collect();
    let [op, alg, extra, bytes] = parts.as_slice() else {
        return Err(format!("bad case {s}"));
    };
    let op = Op::parse(op).ok_or_else(|| format!("bad op in {s}"))?;
    let alg = match *alg {
        "Ed25519" => Algorithm::Ed25519,
        "ES256" => Algorithm::Es256,
        _ => return Err(format!("bad alg in {s}")),
    };
    Ok((
        op,
        Shape {
            alg,
            extra_components: extra.parse().map_err(|_| format!("bad count in {s}"))?,
            header_bytes: bytes.parse().map_err(|_| format!("bad size in {s}"))?,
        },
    ))
}

/// A prepared loop body for `op` on one signed fixture.
pub struct Prepared {
    op: Op,
    s: Signed,
    /// The request map `Op::Sign` signs in place (each `Prepared` is used by one thread at a
    /// time, so the lock is never contended).
    scratch: std::sync::Mutex<http::HeaderMap>,
    verifier: Verifier,
    hyper: Option<peers::HyperFixture>,
}

impl Prepared {
    pub fn new(op: Op, shape: &Shape) -> Result<Prepared, String> {
        let s = fixtures::sign_with(fixtures::fixed_key(shape.alg)?, shape, FIXED_NOW)?;
        let verifier = fixtures::verifier();
        fixtures::check(&s, &verifier, FIXED_NOW)?;
        let hyper = if op == Op::HyperVerify {
            let h = peers::HyperFixture::new(&s)?;
            if !h.verify() {
                return Err("httpsig-hyper refuses the fixture".into());
            }
            Some(h)
        } else {
            None
        };
        Ok(Prepared {
            op,
            scratch: std::sync::Mutex::new(s.unsigned.clone()),
            s,
            verifier,
            hyper,
        })
    }

    /// One operation; `false` if it failed (which the callers treat as an error).
    #[inline(never)]
    pub fn once(&self) -> bool {
        let s = &self.s;
        match self.op {
            Op::RawVerify => s
                .verifying
                .verify(black_box(s.base.as_bytes()), black_box(&s.signature))
                .is_ok(),
            Op::Verify => self
                .verifier
                .verify(
                    &fixtures::target(&Method::GET, black_box(&s.headers)),
                    FIXED_NOW,
                )
                .is_ok(),
            Op::RawSign => s.key.sign(black_box(s.base.as_bytes())).is_ok(),
            Op::Sign => {
                // Signing writes the three fields into the request's map, replacing what a
                // previous round wrote, so one map serves every round: copying the request
                // is not part of signing it.
                let Ok(mut h) = self.scratch.lock() else {
                    return false;
                };
                s.signer
                    .sign(
                        &fixtures::target(&Method::GET, &s.unsigned),
                        &mut h,
                        black_box(&s.opts),
                    )
                    .is_ok()
                    && black_box(&*h).len() > 3
            }
            Op::HyperVerify => self.hyper.as_ref().is_some_and(|h| h.verify()),
        }
    }

    /// CPU nanoseconds per operation over about `slice`.
    pub fn time(&self, slice: Duration) -> Result<f64, String> {
        self.time_with(slice, ns_per_op)
    }

    /// Wall-clock nanoseconds per operation over about `slice`.
    pub fn time_wall(&self, slice: Duration) -> Result<f64, String> {
        self.time_with(slice, ns_per_op_wall)
    }

    fn time_with(
        &self,
        slice: Duration,
        clock: fn(Duration, &mut dyn FnMut()) -> f64,
    ) -> Result<f64, String> {
        let mut failed = false;
        let ns = clock(slice, &mut || {
            if !self.once() {
                failed = true;
            }
        });
        if failed {
            Err(format!("{} failed while timed", self.op.name()))
        } else {
            Ok(ns)
        }
    }
}

/// `xtask bench --worker count --case … --iters N`: the loop callgrind counts.
pub fn worker_count(case: &str, iters: u64) -> Result<(), String> {
    if case == super::stack::CASE {
        return super::stack::worker(iters);
    }
    let (op, shape) = parse_case(case)?;
    let p = Prepared::new(op, &shape)?;
    for _ in 0..iters {
        if !p.once() {
            return Err("operation failed".into());
        }
    }
    Ok(())
}

/// Instructions per operation: two callgrind runs of the worker with different iteration
/// counts; the difference cancels start-up and fixture set-up.
pub fn instructions(exe: &Path, case: &str, n1: u64, n2: u64) -> Result<f64, String> {
    let count = |n: u64| -> Result<f64, String> {
        let out = std::process::Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                "--cache-sim=no",
            ])
            .arg(exe)
            .args(["bench", "--worker", "count", "--case", case, "--iters"])
            .arg(n.to_string())
            .output()
            .map_err(|e| format!("valgrind: {e}"))?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("callgrind run of {case} failed: {err}"));
        }
        err.lines()
            .find_map(|l| l.split("Collected :").nth(1))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("no instruction total in callgrind output for {case}"))
    };
    let a = count(n1)?;
    let b = count(n2)?;
    Ok((b - a) / (n2 - n1) as f64)
}

/// Runs `cases` through callgrind, two at a time (instruction counts do not care about load).
pub fn instructions_many(
    exe: &Path,
    cases: &[String],
    n1: u64,
    n2: u64,
) -> Vec<Result<f64, String>> {
    let mut out: Vec<Result<f64, String>> = Vec::new();
    for pair in cases.chunks(2) {
        let results: Vec<Result<f64, String>> = std::thread::scope(|sc| {
            let handles: Vec<_> = pair
                .iter()
                .map(|c| sc.spawn(move || instructions(exe, c, n1, n2)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
                .collect()
        });
        out.extend(results);
    }
    out
}

fn ratio_rows_timed(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    // (alg, ours, raw, label, target)
    let pairs = [
        (
            Algorithm::Ed25519,
            Op::Verify,
            Op::RawVerify,
            "verify",
            "≤ 1.15×",
        ),
        (Algorithm::Ed25519, Op::Sign, Op::RawSign, "sign", "≤ 1.15×"),
        (
            Algorithm::Es256,
            Op::Verify,
            Op::RawVerify,
            "verify",
            "≤ 1.15×",
        ),
        (Algorithm::Es256, Op::Sign, Op::RawSign, "sign", "≤ 1.15×"),
    ];
    let mut prepared = Vec::new();
    for (alg, ours, raw, _, _) in pairs {
        let shape = Shape::typical(alg);
        prepared.push((Prepared::new(ours, &shape)?, Prepared::new(raw, &shape)?));
    }
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); pairs.len()];
    let mut ns: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); pairs.len()];
    for rep in 0..cfg.reps {
        for (i, (ours, raw)) in prepared.iter().enumerate() {
            // Alternate which runs first so a drift does not favour one side.
            let (a, b) = if rep % 2 == 0 {
                let a = ours.time(cfg.slice)?;
                (a, raw.time(cfg.slice)?)
            } else {
                let b = raw.time(cfg.slice)?;
                (ours.time(cfg.slice)?, b)
            };
            ratios[i].push(a / b);
            ns[i].0.push(a);
            ns[i].1.push(b);
        }
    }
    for (i, (alg, ours, raw, label, target)) in pairs.iter().enumerate() {
        let a = stat(&ns[i].0);
        let b = stat(&ns[i].1);
        let note = match (a, b) {
            (Some(a), Some(b)) => format!(
                "{:.1} µs vs {:.1} µs (this run)",
                a.median / 1000.0,
                b.median / 1000.0
            ),
            _ => String::new(),
        };
        rows.push(
            Row::new(
                "1 cost",
                format!("{label} {} full hwk / ring raw (CPU time)", alg.jose_name()),
                "ratio",
            )
            .with_stat(stat(&ratios[i]))
            .target(target)
            .note(note),
        );
        json.insert(
            format!("time/{}/{}", ours.name(), alg.jose_name()),
            serde_json::json!({ "ours_ns": ns[i].0, "raw_ns": ns[i].1, "raw": raw.name() }),
        );
    }
    Ok(())
}

fn instruction_rows(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    if !cfg.callgrind {
        rows.push(
            Row::new("1 cost", "instruction counts", "ratio-instr")
                .note("valgrind not found: skipped"),
        );
        return Ok(());
    }
    let ed = Shape::typical(Algorithm::Ed25519);
    let es = Shape::typical(Algorithm::Es256);
    let mut cases = vec![
        case(Op::Verify, &ed),
        case(Op::RawVerify, &ed),
        case(Op::Sign, &ed),
        case(Op::RawSign, &ed),
        case(Op::Verify, &es),
        case(Op::RawVerify, &es),
        case(Op::Sign, &es),
        case(Op::RawSign, &es),
        case(Op::HyperVerify, &ed),
        super::stack::CASE.to_owned(),
    ];
    let scaling_components = [0usize, 4, 12, 28];
    let scaling_bytes = [1024usize, 4096, 16384];
    if !cfg.quick {
        for k in scaling_components.iter().skip(1) {
            cases.push(case(
                Op::Verify,
                &Shape {
                    extra_components: *k,
                    ..ed
                },
            ));
        }
        for b in scaling_bytes {
            let shape = Shape {
                header_bytes: b,
                ..ed
            };
            cases.push(case(Op::Verify, &shape));
            cases.push(case(Op::RawVerify, &shape));
        }
    }
    let (n1, n2) = if cfg.quick { (10, 60) } else { (20, 220) };
    let results = instructions_many(&cfg.exe, &cases, n1, n2);
    let mut got = std::collections::HashMap::new();
    for (c, r) in cases.iter().zip(results) {
        match r {
            Ok(v) => {
                json.insert(format!("instr/{c}"), serde_json::json!(v));
                got.insert(c.clone(), v);
            }
            Err(e) => return Err(e),
        }
    }
    let get = |op: Op, s: &Shape| got.get(&case(op, s)).copied();
    for (alg, shape) in [(Algorithm::Ed25519, ed), (Algorithm::Es256, es)] {
        for (ours, raw, label) in [
            (Op::Verify, Op::RawVerify, "verify"),
            (Op::Sign, Op::RawSign, "sign"),
        ] {
            if let (Some(a), Some(b)) = (get(ours, &shape), get(raw, &shape)) {
                rows.push(
                    Row::new(
                        "1 cost",
                        format!(
                            "{label} {} full hwk / ring raw (instructions)",
                            alg.jose_name()
                        ),
                        "ratio-instr",
                    )
                    .value(a / b)
                    .target("≤ 1.15×")
                    .note(format!(
                        "{:.0}k vs {:.0}k instr/op",
                        a / 1000.0,
                        b / 1000.0
                    )),
                );
            }
        }
    }
    if let (Some(s), Some(b)) = (
        got.get(super::stack::CASE).copied(),
        get(Op::RawVerify, &ed),
    ) {
        rows.push(
            Row::new(
                "1 cost",
                "request through the demo router in process (verify, session, handler) / ring raw verify (instructions)",
                "ratio-instr",
            )
            .value(s / b)
            .note(format!(
                "{:.0}k vs {:.0}k instr/op; no socket, no HTTP/1 codec",
                s / 1000.0,
                b / 1000.0
            )),
        );
    }
    if let (Some(h), Some(o)) = (get(Op::HyperVerify, &ed), get(Op::Verify, &ed)) {
        rows.push(
            Row::new(
                "2 peers",
                "httpsig-hyper 0.0.26 verify / ours (instructions per verify)",
                "ratio-instr",
            )
            .value(h / o)
            .note("> 1: the peer executes more; it is given the key (no Signature-Key)"),
        );
    }
    if !cfg.quick {
        let base = get(Op::RawVerify, &ed);
        let pts: Vec<(f64, f64)> = scaling_components
            .iter()
            .filter_map(|k| {
                let s = Shape {
                    extra_components: *k,
                    ..ed
                };
                Some(((5 + k) as f64, get(Op::Verify, &s)? / base?))
            })
            .collect();
        if let Some((_, slope, r2)) = linear_fit(&pts) {
            let last = pts.last().map(|p| p.1).unwrap_or(f64::NAN);
            rows.push(
                Row::new(
                    "5 scaling",
                    "verify cost per extra covered component (instructions, × raw verify)",
                    "ratio-instr",
                )
                .value(slope)
                .note(format!(
                    "linear fit 5→33 components, r²={r2:.4}; 33 components: {last:.3}×"
                )),
            );
        }
        let mut pts = vec![(0.0, get(Op::Verify, &ed).zip(base).map(|(a, b)| a / b))];
        for b in scaling_bytes {
            let s = Shape {
                header_bytes: b,
                ..ed
            };
            pts.push((
                b as f64 / 1024.0,
                get(Op::Verify, &s)
                    .zip(get(Op::RawVerify, &s))
                    .map(|(a, r)| a / r),
            ));
        }
        let overhead: Vec<(f64, f64)> = pts.iter().filter_map(|(x, y)| Some((*x, (*y)?))).collect();
        let abs: Vec<(f64, f64)> = std::iter::once(0usize)
            .chain(scaling_bytes)
            .filter_map(|b| {
                let s = Shape {
                    header_bytes: b,
                    ..ed
                };
                Some((b as f64 / 1024.0, get(Op::Verify, &s)? / base?))
            })
            .collect();
        if let Some((_, slope, r2)) = linear_fit(&abs) {
            let at16 = overhead.last().map(|p| p.1).unwrap_or(f64::NAN);
            rows.push(
                Row::new(
                    "5 scaling",
                    "verify cost per KiB of covered header (instructions, × raw verify)",
                    "ratio-instr",
                )
                .value(slope)
                .note(format!(
                    "linear fit 0→16 KiB, r²={r2:.4}; at 16 KiB full/raw of the same base = {at16:.3}×"
                )),
            );
        }
    }
    Ok(())
}

fn scaling_rows(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let ed = Shape::typical(Algorithm::Ed25519);
    let p = Prepared::new(Op::Verify, &ed)?;
    let p2 = Prepared::new(Op::Verify, &ed)?;
    let mut ratios = Vec::new();
    for _ in 0..cfg.reps {
        let one = 1e9 / p.time_wall(cfg.slice)?;
        let two: Result<f64, String> = std::thread::scope(|sc| {
            let a = sc.spawn(|| p.time_wall(cfg.slice));
            let b = sc.spawn(|| p2.time_wall(cfg.slice));
            let a = a.join().map_err(|_| "thread panicked".to_owned())??;
            let b = b.join().map_err(|_| "thread panicked".to_owned())??;
            Ok(1e9 / a + 1e9 / b)
        });
        ratios.push(two? / one);
    }
    json.insert("threads/2_over_1".into(), serde_json::json!(ratios));
    rows.push(
        Row::new(
            "5 scaling",
            "verify throughput, 2 threads / 1 thread (wall clock)",
            "ratio",
        )
        .with_stat(stat(&ratios))
        .target("2.00 on 2 idle cores")
        .note(format!("load average at start {}", super::loadavg())),
    );

    // Covered components, timed (the instruction-count fit is in the full run).
    let raw = Prepared::new(Op::RawVerify, &ed)?;
    let ks = [0usize, 4, 12, 28];
    let preps: Vec<Prepared> = ks
        .iter()
        .map(|k| {
            Prepared::new(
                Op::Verify,
                &Shape {
                    extra_components: *k,
                    ..ed
                },
            )
        })
        .collect::<Result<_, _>>()?;
    let mut per_k: Vec<Vec<f64>> = vec![Vec::new(); ks.len()];
    let reps = cfg.reps.div_ceil(2).max(3);
    for _ in 0..reps {
        let r = raw.time(cfg.slice)?;
        for (i, p) in preps.iter().enumerate() {
            per_k[i].push(p.time(cfg.slice)? / r);
        }
    }
    let pts: Vec<(f64, f64)> = ks
        .iter()
        .zip(&per_k)
        .filter_map(|(k, v)| Some(((5 + k) as f64, stat(v)?.median)))
        .collect();
    json.insert("time/components".into(), serde_json::json!({"covered": ks.iter().map(|k| 5 + k).collect::<Vec<_>>(), "ratio_to_raw": per_k}));
    if let Some((_, slope, r2)) = linear_fit(&pts) {
        rows.push(
            Row::new(
                "5 scaling",
                "verify Ed25519, 33 covered components / raw verify (CPU time)",
                "ratio",
            )
            .with_stat(per_k.last().and_then(|v| stat(v)))
            .note(format!(
                "slope {slope:.4}× raw per component, r²={r2:.3} (5, 9, 17, 33 components)"
            )),
        );
    }
    Ok(())
}

pub fn run(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    ratio_rows_timed(cfg, rows, json)?;
    instruction_rows(cfg, rows, json)?;
    Ok(())
}

pub fn run_scaling(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    scaling_rows(cfg, rows, json)
}
