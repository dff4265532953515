//! Part 2: verifications per second of other implementations over the same request set as
//! ours, each measured in slices alternating with ours. Peers are installed at pinned
//! versions (npm, PyPI) and driven by the harnesses in xtask/bench-peers/.
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use aauth_sig::{Algorithm, Verifier};
use base64::Engine as _;
use http::Method;
use httpsig_hyper::MessageSignatureReq;
use httpsig_hyper::prelude::{AlgorithmName, PublicKey};
use serde_json::{Value, json};

use super::fixtures::{self, Shape, Signed};
use super::stats::{Row, ns_per_op, stat};
use super::{Config, cmd_ok};

const NODE_PKG: &str = "@hellocoop/httpsig";
const NODE_VERSION: &str = "2.2.0";
const PY_PKG: &str = "aauth-signing";
const PY_VERSION: &str = "0.2.0";

/// httpsig-hyper 0.0.26 verifying one of our requests, with the public key handed to it (it
/// has no Signature-Key support).
pub struct HyperFixture {
    req: http::Request<String>,
    key: PublicKey,
    rt: tokio::runtime::Runtime,
}

impl HyperFixture {
    pub fn new(s: &Signed) -> Result<HyperFixture, String> {
        let mut req = http::Request::builder()
            .method(Method::GET)
            .uri(format!(
                "https://{}{}?{}",
                fixtures::AUTHORITY,
                fixtures::PATH,
                fixtures::QUERY
            ))
            .body(String::new())
            .map_err(|e| e.to_string())?;
        *req.headers_mut() = s.headers.clone();
        let jwk = s.key.public_jwk();
        let b64 = |v: &Option<String>| {
            v.as_deref()
                .and_then(|x| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(x)
                        .ok()
                })
                .ok_or_else(|| "JWK member missing".to_owned())
        };
        let key = match s.key.algorithm() {
            Algorithm::Ed25519 => PublicKey::from_bytes(&AlgorithmName::Ed25519, &b64(&jwk.x)?),
            Algorithm::Es256 => {
                let mut sec1 = vec![4u8];
                sec1.extend(b64(&jwk.x)?);
                sec1.extend(b64(&jwk.y)?);
                PublicKey::from_bytes(&AlgorithmName::EcdsaP256Sha256, &sec1)
            }
            #[allow(unreachable_patterns)]
            _ => return Err("algorithm not benchmarked".into()),
        }
        .map_err(|e| e.to_string())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HyperFixture { req, key, rt })
    }

    pub fn verify(&self) -> bool {
        self.rt
            .block_on(self.req.verify_message_signature(&self.key, None))
            .is_ok()
    }
}

fn node_modules_ok(modules: &Path) -> bool {
    std::fs::read_to_string(modules.join(NODE_PKG).join("package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .is_some_and(|v| v["version"] == NODE_VERSION)
}

/// The pinned npm package: reused from `cargo xtask interop`'s cache when it holds the same
/// version, else installed into target/bench-peers/node from the same pin file.
fn install_node(root: &Path) -> Result<PathBuf, String> {
    let shared = root.join("target/interop/node/node_modules");
    if node_modules_ok(&shared) {
        return Ok(shared);
    }
    let dir = root.join("target/bench-peers/node");
    let modules = dir.join("node_modules");
    if node_modules_ok(&modules) {
        return Ok(modules);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::copy(
        root.join("xtask/interop/node/package.json"),
        dir.join("package.json"),
    )
    .map_err(|e| format!("pin file: {e}"))?;
    eprintln!(
        "bench: installing {NODE_PKG}@{NODE_VERSION} into {}",
        dir.display()
    );
    cmd_ok(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir),
    )?;
    if node_modules_ok(&modules) {
        Ok(modules)
    } else {
        Err(format!(
            "{NODE_PKG}@{NODE_VERSION} not installed after npm install"
        ))
    }
}

fn python_ok(py: &Path) -> bool {
    Command::new(py)
        .args([
            "-c",
            &format!(
                "import importlib.metadata as m, aauth_signing; assert m.version('{PY_PKG}') == '{PY_VERSION}'"
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The pinned PyPI package (and its pinned dependencies), reused or installed like node's.
fn install_python(root: &Path) -> Result<PathBuf, String> {
    let shared = root.join("target/interop/python/venv/bin/python");
    if python_ok(&shared) {
        return Ok(shared);
    }
    let venv = root.join("target/bench-peers/python/venv");
    let py = venv.join("bin/python");
    if python_ok(&py) {
        return Ok(py);
    }
    std::fs::create_dir_all(&venv).map_err(|e| e.to_string())?;
    eprintln!(
        "bench: installing {PY_PKG}=={PY_VERSION} into {}",
        venv.display()
    );
    cmd_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    cmd_ok(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "-q", "-r"])
            .arg(root.join("xtask/interop/python/requirements.txt")),
    )?;
    if python_ok(&py) {
        Ok(py)
    } else {
        Err(format!(
            "{PY_PKG}=={PY_VERSION} not importable after pip install"
        ))
    }
}

/// A peer process speaking the line protocol of xtask/bench-peers/*.
struct Harness {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    check: Value,
}

impl Harness {
    fn start(name: &'static str, mut cmd: Command, job: &Value) -> Result<Harness, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        writeln!(stdin, "{job}").map_err(|e| format!("{name}: {e}"))?;
        let mut h = Harness {
            name,
            child,
            stdin: Some(stdin),
            stdout,
            check: Value::Null,
        };
        h.check = h.read()?;
        Ok(h)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", self.name))?;
        serde_json::from_str(&line).map_err(|_| format!("{}: no answer ({line:?})", self.name))
    }

    fn rep(&mut self) -> Result<(f64, f64), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "rep").map_err(|e| format!("{}: {e}", self.name))?;
        let v = self.read()?;
        if v["bad"].as_u64().unwrap_or(1) != 0 {
            return Err(format!("{}: some timed verifications failed", self.name));
        }
        Ok((
            v["verify_per_s"].as_f64().unwrap_or(f64::NAN),
            v["raw_per_s"].as_f64().unwrap_or(f64::NAN),
        ))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit");
        }
        // stdin is closed now; a harness that still lingers is stopped.
        for _ in 0..50 {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request_json(s: &Signed) -> Value {
    let headers: serde_json::Map<String, Value> = s
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or(""))))
        .collect();
    json!({
        "method": "GET",
        "authority": fixtures::AUTHORITY,
        "path": fixtures::PATH,
        "query": fixtures::QUERY,
        "headers": headers,
        "base": s.base,
        "sig_b64": base64::engine::general_purpose::STANDARD.encode(&s.signature),
        "jwk": s.key.public_jwk(),
    })
}

pub fn run(
    cfg: &Config,
    rows: &mut Vec<Row>,
    json_out: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let agents = if cfg.quick { 16 } else { 64 };
    let now = fixtures::now_unix();
    let shape = Shape::typical(Algorithm::Ed25519);
    let set: Vec<Signed> = (0..agents)
        .map(|_| fixtures::sign(&shape, now))
        .collect::<Result<_, _>>()?;
    let verifier: Verifier = fixtures::verifier();
    for s in &set {
        fixtures::check(s, &verifier, now)?;
    }
    let hyper: Vec<HyperFixture> = set
        .iter()
        .map(HyperFixture::new)
        .collect::<Result<_, _>>()?;
    let hyper_ok = hyper.iter().filter(|h| h.verify()).count();
    let job = json!({
        "requests": set.iter().map(request_json).collect::<Vec<_>>(),
        "slice_ms": cfg.slice.as_millis() as u64,
    });

    let root = crate::repo_root();
    let mut harnesses: Vec<Harness> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    match install_node(&root) {
        Ok(modules) => {
            let mut cmd = Command::new("node");
            cmd.arg(root.join("xtask/bench-peers/node-verify.mjs"))
                .env("AAUTH_BENCH_NODE_MODULES", &modules);
            match Harness::start("node", cmd, &job) {
                Ok(h) => harnesses.push(h),
                Err(e) => skipped.push(("@hellocoop/httpsig (node)".into(), e)),
            }
        }
        Err(e) => skipped.push(("@hellocoop/httpsig (node)".into(), e)),
    }
    match install_python(&root) {
        Ok(py) => {
            let mut cmd = Command::new(py);
            cmd.arg(root.join("xtask/bench-peers/python-verify.py"));
            match Harness::start("python", cmd, &job) {
                Ok(h) => harnesses.push(h),
                Err(e) => skipped.push(("aauth-signing (python)".into(), e)),
            }
        }
        Err(e) => skipped.push(("aauth-signing (python)".into(), e)),
    }

    // Rotate over the whole set, as the peers do.
    let time_ours = |set: &[Signed]| {
        let mut i = 0usize;
        let mut bad = 0usize;
        let ns = ns_per_op(cfg.slice, &mut || {
            let s = &set[i % set.len()];
            if verifier
                .verify(&fixtures::target(&Method::GET, &s.headers), now)
                .is_err()
            {
                bad += 1;
            }
            i += 1;
        });
        (1e9 / ns, bad)
    };
    let time_hyper = |h: &[HyperFixture]| {
        let mut i = 0usize;
        let ns = ns_per_op(cfg.slice, &mut || {
            let _ = h[i % h.len()].verify();
            i += 1;
        });
        1e9 / ns
    };
    // One untimed round each: node's JIT and python's caches warm up.
    for h in harnesses.iter_mut() {
        h.rep()?;
    }
    let mut ours_per_s = Vec::new();
    let mut hyper_ratio = Vec::new();
    let mut peer_ratio: Vec<Vec<f64>> = vec![Vec::new(); harnesses.len()];
    let mut peer_raw: Vec<Vec<f64>> = vec![Vec::new(); harnesses.len()];
    for _ in 0..cfg.reps {
        let (ours, bad) = time_ours(&set);
        if bad > 0 {
            return Err("our verifier failed while timed".into());
        }
        ours_per_s.push(ours);
        if hyper_ok == hyper.len() {
            hyper_ratio.push(time_hyper(&hyper) / ours);
        }
        for (i, h) in harnesses.iter_mut().enumerate() {
            let (full, raw) = h.rep()?;
            peer_ratio[i].push(full / ours);
            peer_raw[i].push(full / raw);
        }
    }
    let ours = stat(&ours_per_s);
    json_out.insert("peers/ours_per_s".into(), json!(ours_per_s));
    rows.push(
        Row::new(
            "2 peers",
            format!("httpsig-hyper 0.0.26 verifications/s / ours ({agents} Ed25519 requests)"),
            "ratio",
        )
        .with_stat(stat(&hyper_ratio))
        .note(if hyper_ok == hyper.len() {
            "RFC 9421 only: given the key, skips Signature-Key and freshness".to_owned()
        } else {
            format!(
                "verified only {hyper_ok}/{} of our requests: not timed",
                hyper.len()
            )
        }),
    );
    for (i, h) in harnesses.iter().enumerate() {
        let (label, how) = match h.name {
            "node" => (
                format!("{NODE_PKG}@{NODE_VERSION} (node {})", node_version()),
                "our exact requests; its own crypto.verify is",
            ),
            _ => (
                format!("{PY_PKG}=={PY_VERSION} (python)"),
                "Signature re-encoded base64url (deviation D1); its raw Ed25519 is",
            ),
        };
        let ok = h.check["ok"].as_u64().unwrap_or(0);
        let n = h.check["n"].as_u64().unwrap_or(0);
        json_out.insert(
            format!("peers/{}", h.name),
            json!({"check": h.check, "ratio_to_ours": peer_ratio[i], "full_over_raw": peer_raw[i]}),
        );
        if ok != n || n == 0 {
            rows.push(
                Row::new(
                    "2 peers",
                    format!("{label} verifications/s / ours"),
                    "ratio",
                )
                .note(format!(
                    "verified {ok}/{n} of our requests: {}",
                    h.check["error"].as_str().unwrap_or("?")
                )),
            );
            continue;
        }
        let raw_share = stat(&peer_raw[i]).map(|s| s.median).unwrap_or(f64::NAN);
        rows.push(
            Row::new(
                "2 peers",
                format!("{label} verifications/s / ours"),
                "ratio",
            )
            .with_stat(stat(&peer_ratio[i]))
            .note(format!(
                "{how} {:.1}× faster than its verify()",
                1.0 / raw_share
            )),
        );
    }
    for (name, why) in skipped {
        rows.push(
            Row::new("2 peers", format!("{name} verifications/s / ours"), "ratio")
                .note(format!("not measured: {why}")),
        );
    }
    if let Some(o) = ours {
        rows.push(
            Row::new(
                "2 peers",
                "ours: verifications/s on one core (context only)",
                "per s",
            )
            .with_stat(Some(o))
            .note("absolute: drifts with machine load"),
        );
    }
    Ok(())
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
