//! `cargo xtask conformance agent -- <cmd…>`: runs an agent command against a scripted
//! resource on loopback, records every request it sends, and checks them (SIG, SESS, POLL).
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aauth_sig::{HwkAlgPolicy, RequestTarget, Scheme, SignatureFields, Verifier, VerifierConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::raw::now;
use crate::report::{Outcome, Report};

const CODE: &str = "K7QM-2XWD";
const TOKEN: &str = "c2Vzcy1jb25mb3JtYW5jZQ.dG9rZW4";
const BODY: &str = "conformance-ok";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    /// 202 (Retry-After 1) → 202 unknown status → 429 → 200 + AAuth-Access → re-sent request
    /// with the token → 200.
    Approve,
    /// 202 without Retry-After → 410.
    Gone,
    /// 202 (Retry-After 1) → 403 denied.
    Denied,
}

#[derive(Clone, Debug)]
struct Rec {
    at: Instant,
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body_len: usize,
    /// What the script answered.
    answered: u16,
}

struct Script {
    scenario: Scenario,
    polls: usize,
    recs: Vec<Rec>,
    origin: String,
}

type Shared = Arc<Mutex<Script>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Script> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn problem(status: StatusCode, code: &str) -> Response {
    (
        status,
        [("content-type", "application/problem+json")],
        format!("{{\"error\":\"{code}\"}}"),
    )
        .into_response()
}

fn pending(retry_after: Option<u64>, status: &str, interaction: Option<&str>) -> Response {
    let mut r = (
        StatusCode::ACCEPTED,
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
            ("location", "/pending/p1"),
        ],
        format!("{{\"status\":\"{status}\"}}"),
    )
        .into_response();
    let h = r.headers_mut();
    if let Some(s) = retry_after
        && let Ok(v) = s.to_string().parse()
    {
        h.insert("retry-after", v);
    }
    if let Some(url) = interaction
        && let Ok(v) = format!("requirement=interaction; url=\"{url}\"; code=\"{CODE}\"").parse()
    {
        h.insert("aauth-requirement", v);
    }
    r
}

async fn handle(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = lock(&s);
    let interact = format!("{}/interact", st.origin);
    let has_token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("AAuth {TOKEN}"));
    let resp = match (uri.path(), st.scenario) {
        // Metadata discovery (SIG-11): this script publishes none.
        (p, _) if p.starts_with("/.well-known/") => StatusCode::NOT_FOUND.into_response(),
        ("/pending/p1", sc) => {
            st.polls += 1;
            match (sc, st.polls) {
                (Scenario::Approve, 1) => pending(Some(1), "weird", None),
                (Scenario::Approve, 2) => problem(StatusCode::TOO_MANY_REQUESTS, "slow_down"),
                (Scenario::Approve, 3) => {
                    let mut r = (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        "{\"status\":\"authorized\"}",
                    )
                        .into_response();
                    r.headers_mut()
                        .insert("aauth-access", http::HeaderValue::from_static(TOKEN));
                    r
                }
                (Scenario::Denied, 1) => problem(StatusCode::FORBIDDEN, "denied"),
                _ => StatusCode::GONE.into_response(),
            }
        }
        (_, Scenario::Approve) if has_token => BODY.into_response(),
        (_, Scenario::Gone) => pending(None, "pending", Some(&interact)),
        _ => pending(Some(1), "pending", Some(&interact)),
    };
    st.recs.push(Rec {
        at: Instant::now(),
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body_len: body.len(),
        answered: resp.status().as_u16(),
    });
    resp
}

struct Run {
    recs: Vec<Rec>,
    started: Instant,
    exit: Option<i32>,
    stdout: String,
    stderr: String,
    addr: SocketAddr,
}

async fn run_scenario(scenario: Scenario, cmd: &[String], key: &str) -> Result<Run, String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shared: Shared = Arc::new(Mutex::new(Script {
        scenario,
        polls: 0,
        recs: Vec::new(),
        origin: format!("http://{addr}"),
    }));
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/data");
    let argv: Vec<String> = cmd
        .iter()
        .map(|a| a.replace("{url}", &url).replace("{key}", key))
        .collect();
    let (prog, args) = argv.split_first().ok_or("empty agent command")?;
    let started = Instant::now();
    let child = tokio::process::Command::new(prog)
        .args(args)
        .current_dir(crate::repo_root())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(600), child)
        .await
        .map_err(|_| format!("agent command timed out: {}", argv.join(" ")))?
        .map_err(|e| format!("running {prog}: {e}"))?;
    // Anything sent after the command ended (or a poll it leaves running) shows up here.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.abort();
    let recs = lock(&shared).recs.clone();
    Ok(Run {
        recs,
        started,
        exit: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        addr,
    })
}

/// Verifies a recorded request with our verifier (hwk with or without `alg`, so the key
/// rule is reported separately by SK-11).
fn verify(rec: &Rec, addr: SocketAddr) -> Result<String, String> {
    let authority = addr.to_string();
    let cfg = VerifierConfig::new(authority.clone())
        .with_scheme("http")
        .with_accepted_schemes(vec![Scheme::Hwk])
        .with_hwk_alg(HwkAlgPolicy::Either);
    let target = RequestTarget {
        method: &rec.method,
        scheme: "http",
        authority: &authority,
        path: &rec.path,
        query: rec.query.as_deref(),
        headers: &rec.headers,
    };
    let now = u64::try_from(now()).unwrap_or(0);
    Verifier::new(cfg)
        .verify(&target, now)
        .map(|v| v.thumbprint.as_str().to_owned())
        .map_err(|e| format!("{} {}: {e} ({})", rec.method, rec.path, e.code().as_str()))
}

struct Sig {
    components: Vec<String>,
    created: Option<i64>,
    alg: bool,
    label: String,
}

fn parse_sig(rec: &Rec) -> Result<Sig, String> {
    let f = SignatureFields::from_headers(&rec.headers).map_err(|e| e.to_string())?;
    let label = f.labels().next().ok_or("no label")?.to_owned();
    let p = f.get(&label).map_err(|e| e.to_string())?;
    Ok(Sig {
        components: p
            .components
            .iter()
            .map(|c| c.to_string().trim_matches('"').to_owned())
            .collect(),
        created: p.created,
        alg: p.alg.is_some(),
        label,
    })
}

fn all<T>(recs: &[&Rec], f: impl Fn(&Rec) -> Result<T, String>) -> Result<Vec<T>, String> {
    recs.iter().map(|r| f(r)).collect()
}

pub async fn run(cmd: Vec<String>) -> Result<Report, String> {
    let dir = crate::repo_root().join("target/conformance");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let key_path = dir.join("agent-key.jwk");
    aauth_cli::keyfile::generate(&key_path, aauth_sig::Algorithm::Ed25519, true)
        .map_err(|e| e.to_string())?;
    let key = key_path.to_string_lossy().into_owned();
    let cmd = if cmd.is_empty() {
        // Build first, so compile time never overlaps the script's timing checks.
        let st = tokio::process::Command::new("cargo")
            .args(["build", "-q", "-p", "aauth-cli"])
            .current_dir(crate::repo_root())
            .status()
            .await
            .map_err(|e| format!("cargo build -p aauth-cli: {e}"))?;
        if !st.success() {
            return Err(format!("cargo build -p aauth-cli failed: {st}"));
        }
        [
            "cargo",
            "run",
            "-q",
            "-p",
            "aauth-cli",
            "--",
            "fetch",
            "--key",
            "{key}",
            "--timeout",
            "60",
            "{url}",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    } else {
        cmd
    };
    println!("agent command: {}", cmd.join(" "));
    let mut r = Report::default();
    let approved = run_scenario(Scenario::Approve, &cmd, &key).await?;
    approve(&mut r, &approved);
    let gone_run = run_scenario(Scenario::Gone, &cmd, &key).await?;
    gone(&mut r, &gone_run);
    let denied_run = run_scenario(Scenario::Denied, &cmd, &key).await?;
    denied(&mut r, &denied_run);
    per_origin_keys(&mut r, &[&approved, &gone_run, &denied_run]);
    Ok(r)
}

/// SK-25: a pseudonymous (`hwk`) agent uses one key per server. Each scenario's script listens
/// on its own port, so each run is another origin: the key must stay the same within a run and
/// differ between runs. An agent that signs with another scheme is identified anyway (skip).
fn per_origin_keys(r: &mut Report, runs: &[&Run]) {
    const CASE: &str = "hwk: one key per origin, never the same key at two origins";
    let mut per_run: Vec<(SocketAddr, std::collections::BTreeSet<String>)> = Vec::new();
    for run in runs {
        let recs = signed(run);
        let hwk = recs.iter().all(|x| {
            x.headers
                .get("signature-key")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("=hwk"))
        });
        if recs.is_empty() || !hwk {
            r.skip(
                "SK-25",
                "MUST",
                CASE,
                format!(
                    "the run on {} did not sign every request with hwk",
                    run.addr
                ),
            );
            return;
        }
        let thumbs = recs
            .iter()
            .filter_map(|x| verify(x, run.addr).ok())
            .collect();
        per_run.push((run.addr, thumbs));
    }
    let result = (|| {
        for (addr, thumbs) in &per_run {
            if thumbs.len() != 1 {
                return Err(format!("{} keys at {addr}", thumbs.len()));
            }
        }
        for (i, (a, ta)) in per_run.iter().enumerate() {
            for (b, tb) in &per_run[i + 1..] {
                if ta == tb {
                    return Err(format!("the same key at {a} and {b}"));
                }
            }
        }
        Ok(format!("{} origins, {} keys", per_run.len(), per_run.len()))
    })();
    r.record("SK-25", "MUST", CASE, result);
}

/// The requests to the protected resource and its pending URL: unsigned metadata fetches
/// (`/.well-known/…`) are discovery, not AAuth requests.
fn signed(run: &Run) -> Vec<&Rec> {
    run.recs
        .iter()
        .filter(|x| !x.path.starts_with("/.well-known/"))
        .collect()
}

fn approve(r: &mut Report, run: &Run) {
    let recs = signed(run);
    if recs.is_empty() {
        r.push(
            "SIG-08",
            "implied",
            "the agent sent a request",
            Outcome::Fail,
            format!(
                "nothing arrived; exit {:?}, stderr {}",
                run.exit, run.stderr
            ),
        );
        return;
    }
    r.record(
        "SIG-08",
        "implied",
        "every request carries Signature-Input, Signature, Signature-Key",
        all(&recs, |x| {
            for h in ["signature-input", "signature", "signature-key"] {
                if !x.headers.contains_key(h) {
                    return Err(format!("{} {} without {h}", x.method, x.path));
                }
            }
            Ok(())
        })
        .map(|v| format!("{} requests", v.len())),
    );
    r.record(
        "SIG-09",
        "MUST",
        "every request covers @method @authority @path signature-key",
        all(&recs, |x| {
            let s = parse_sig(x)?;
            for m in ["@method", "@authority", "@path", "signature-key"] {
                if !s.components.iter().any(|c| c == m) {
                    return Err(format!("{} {} does not cover {m}", x.method, x.path));
                }
            }
            Ok(s.components.join(" "))
        })
        .map(|v| v.first().cloned().unwrap_or_default()),
    );
    r.record(
        "SIG-13",
        "MUST",
        "created present and current (±5 s)",
        all(&recs, |x| {
            let s = parse_sig(x)?;
            let c = s.created.ok_or("no created")?;
            let skew = (c - now()).abs();
            if skew <= 5 + i64::try_from(x.at.elapsed().as_secs()).unwrap_or(0) {
                Ok(())
            } else {
                Err(format!("created {c} is {skew}s off"))
            }
        })
        .map(|_| "fresh".to_owned()),
    );
    r.record(
        "SIG-14",
        "MUST NOT",
        "no alg signature parameter",
        all(&recs, |x| {
            if parse_sig(x)?.alg {
                Err("alg parameter sent".to_owned())
            } else {
                Ok(())
            }
        })
        .map(|_| "absent".to_owned()),
    );
    r.record(
        "SK-01",
        "MUST",
        "Signature-Key member for the label, a scheme Token",
        all(&recs, |x| {
            let label = parse_sig(x)?.label;
            let raw = x
                .headers
                .get("signature-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let sk = aauth_wire::signature_key::SignatureKey::parse(raw)
                .map_err(|e| format!("{raw}: {e}"))?;
            sk.member(&label)
                .map(|m| m.scheme.to_string())
                .ok_or_else(|| format!("no member {label} in {raw}"))
        })
        .map(|v| format!("schemes {v:?}")),
    );
    r.record(
        "SK-11",
        "REQUIRED",
        "hwk carries alg",
        all(&recs, |x| {
            let raw = x
                .headers
                .get("signature-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !raw.contains("=hwk") || raw.contains("alg=") {
                Ok(())
            } else {
                Err(format!("hwk without alg: {raw}"))
            }
        })
        .map(|_| "alg present".to_owned()),
    );
    r.record(
        "SIG-33",
        "MUST",
        "every signature verifies (base reproduced by our verifier)",
        all(&recs, |x| verify(x, run.addr)).map(|v| format!("{} verified", v.len())),
    );
    let thumbs: std::collections::HashSet<String> = recs
        .iter()
        .filter_map(|x| verify(x, run.addr).ok())
        .collect();

    let first = recs[0];
    let polls: Vec<&Rec> = recs
        .iter()
        .copied()
        .filter(|x| x.path == "/pending/p1")
        .collect();
    r.record(
        "POLL-01",
        "implied",
        "polls are bodiless GETs to the resolved Location",
        if polls.is_empty() {
            Err("no poll arrived".to_owned())
        } else {
            all(&polls, |x| {
                if x.method == Method::GET && x.body_len == 0 {
                    Ok(())
                } else {
                    Err(format!("{} with {} body bytes", x.method, x.body_len))
                }
            })
            .map(|v| format!("{} polls", v.len()))
        },
    );
    r.record(
        "POLL-02",
        "implied",
        "polls are signed by the same key, with fresh created",
        if thumbs.len() == 1 && !polls.is_empty() {
            let created: Vec<i64> = polls
                .iter()
                .filter_map(|x| parse_sig(x).ok()?.created)
                .collect();
            if created.windows(2).all(|w| w[1] > w[0]) {
                Ok(format!("one key, created {created:?}"))
            } else {
                Err(format!("created not fresh per poll: {created:?}"))
            }
        } else {
            Err(format!(
                "{} keys across {} requests",
                thumbs.len(),
                recs.len()
            ))
        },
    );
    let gap = |a: &Rec, b: &Rec| b.at.saturating_duration_since(a.at);
    let tol = Duration::from_millis(150);
    r.record(
        "POLL-03",
        "MUST",
        "waits Retry-After (1 s) before polling",
        match polls.first() {
            Some(p) if gap(first, p) + tol >= Duration::from_secs(1) => {
                Ok(format!("{:?}", gap(first, p)))
            }
            Some(p) => Err(format!("polled after {:?}", gap(first, p))),
            None => Err("no poll".to_owned()),
        },
    );
    r.record(
        "POLL-07",
        "MUST",
        "unknown status treated as pending (kept polling)",
        if polls.len() >= 2 {
            Ok("polled again after status \"weird\"".to_owned())
        } else {
            Err(format!(
                "{} polls; stopped after the unknown status",
                polls.len()
            ))
        },
    );
    r.record(
        "POLL-04",
        "MUST",
        "after 429 slow_down the interval grows by 5 s",
        match (polls.get(1), polls.get(2)) {
            (Some(a), Some(b)) if gap(a, b) + tol >= Duration::from_secs(6) => {
                Ok(format!("{:?} after the 429", gap(a, b)))
            }
            (Some(a), Some(b)) => Err(format!("next poll {:?} after the 429", gap(a, b))),
            _ => Err("no poll after the 429".to_owned()),
        },
    );
    let after: Vec<&Rec> = recs
        .iter()
        .copied()
        .filter(|x| {
            x.path != "/pending/p1" && x.at > polls.get(2).map(|p| p.at).unwrap_or(run.started)
        })
        .collect();
    let with_token: Vec<&Rec> = after
        .iter()
        .copied()
        .filter(|x| x.headers.contains_key("authorization"))
        .collect();
    r.record(
        "SESS-04",
        "implied",
        "later request sends Authorization: AAuth <token>, still signed",
        match with_token.first() {
            Some(x)
                if x.headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some(&format!("AAuth {TOKEN}"))
                    && x.headers.contains_key("signature") =>
            {
                Ok(format!("{} {}", x.method, x.path))
            }
            Some(x) => Err(format!(
                "Authorization {:?}",
                x.headers.get("authorization")
            )),
            None => Err(format!(
                "no request with the token after the 200 ({} after)",
                after.len()
            )),
        },
    );
    r.record(
        "SESS-05",
        "MUST",
        "authorization is a covered component",
        match with_token.first() {
            Some(x) => match parse_sig(x) {
                Ok(s) if s.components.iter().any(|c| c == "authorization") => {
                    Ok(s.components.join(" "))
                }
                Ok(s) => Err(format!("covers {}", s.components.join(" "))),
                Err(e) => Err(e),
            },
            None => Err("no request with the token".to_owned()),
        },
    );
    let approval = format!("http://{}/interact?code={CODE}", run.addr);
    r.record(
        "RM-20",
        "implied",
        "shows {url}?code={code} to the person",
        if run.stdout.contains(&approval) || run.stderr.contains(&approval) {
            Ok(approval)
        } else {
            Err(format!("{approval} not printed"))
        },
    );
    r.record(
        "POLL-09",
        "implied",
        "200 ends polling; the result is delivered (exit 0)",
        if run.exit == Some(0) && run.stdout.contains(BODY) {
            Ok("exit 0, body printed".to_owned())
        } else {
            Err(format!(
                "exit {:?}, stdout {:?}, stderr {:?}",
                run.exit,
                run.stdout.trim(),
                run.stderr.trim()
            ))
        },
    );
    let _ = first.answered;
}

fn gone(r: &mut Report, run: &Run) {
    let recs = signed(run);
    let polls: Vec<&Rec> = recs
        .iter()
        .copied()
        .filter(|x| x.path == "/pending/p1")
        .collect();
    let first = recs.first();
    r.record(
        "POLL-03",
        "MUST",
        "Retry-After absent → waits 5 s",
        match (first, polls.first()) {
            (Some(a), Some(p)) => {
                let g = p.at.saturating_duration_since(a.at);
                if g + Duration::from_millis(150) >= Duration::from_secs(5) {
                    Ok(format!("{g:?}"))
                } else {
                    Err(format!("polled after {g:?}"))
                }
            }
            _ => Err(format!("no poll (exit {:?})", run.exit)),
        },
    );
    r.record(
        "POLL-09",
        "MUST NOT",
        "410 ends polling: no retry, failure surfaced",
        if polls.len() == 1 && run.exit.is_some_and(|c| c != 0) {
            Ok(format!("one poll, exit {:?}", run.exit))
        } else {
            Err(format!("{} polls, exit {:?}", polls.len(), run.exit))
        },
    );
}

fn denied(r: &mut Report, run: &Run) {
    let polls = run.recs.iter().filter(|x| x.path == "/pending/p1").count();
    let stray = run.recs.iter().filter(|x| x.answered == 410).count();
    r.record(
        "POLL-09",
        "implied",
        "403 denied ends polling; failure surfaced",
        if polls == 1 && stray == 0 && run.exit.is_some_and(|c| c != 0) {
            Ok(format!("exit {:?}", run.exit))
        } else {
            Err(format!("{polls} polls, exit {:?}", run.exit))
        },
    );
}
