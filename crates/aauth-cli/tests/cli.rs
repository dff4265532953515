//! The `aauth` binary, one or more tests per subcommand, run as a process (assert_cmd).
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn aauth() -> Command {
    let mut c = Command::cargo_bin("aauth").expect("binary");
    c.env_remove("AAUTH_KEY").env_remove("AAUTH_SESSIONS");
    c
}

fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc9421/keys")
}

/// Copies a shared test key into `dir` with mode 0600.
fn private_copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(keys_dir().join(name), &to).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    to
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("agent.jwk");
    aauth()
        .arg("keygen")
        .arg("--out")
        .arg(&key)
        .assert()
        .success();
    key
}

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.assert().get_output().stdout.clone()).unwrap()
}

#[test]
fn keygen_writes_a_private_jwk_with_mode_0600_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.jwk");
    for alg in ["ed25519", "es256"] {
        aauth()
            .args(["keygen", "--force", "--alg", alg, "--out"])
            .arg(&key)
            .assert()
            .success()
            .stdout(contains("thumbprint "));
        let jwk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
        assert!(jwk.get("d").is_some(), "private JWK");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    aauth()
        .args(["keygen", "--out"])
        .arg(&key)
        .assert()
        .code(1)
        .stderr(contains("already exists"));
}

#[test]
fn thumbprint_matches_keygen_and_reads_pem_and_jwk_alike() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.jwk");
    let out = stdout_of(aauth().args(["keygen", "--out"]).arg(&key));
    let printed = out
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("thumbprint ");
    aauth()
        .args(["thumbprint", "--key"])
        .arg(&key)
        .assert()
        .success()
        .stdout(format!("{printed}\n"));
    for (pem, jwk) in [
        (
            "test-key-ed25519.priv.pem",
            "test-key-ed25519.priv.jwk.json",
        ),
        (
            "test-key-ecc-p256.priv.pkcs8.pem",
            "test-key-ecc-p256.priv.jwk.json",
        ),
    ] {
        let a = stdout_of(
            aauth()
                .args(["thumbprint", "-k"])
                .arg(private_copy(dir.path(), pem)),
        );
        let b = stdout_of(
            aauth()
                .args(["thumbprint", "-k"])
                .arg(private_copy(dir.path(), jwk)),
        );
        assert_eq!(a, b, "{pem} and {jwk} are the same key");
    }
}

#[cfg(unix)]
#[test]
fn a_key_readable_by_others_is_refused_with_a_hint() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    aauth()
        .args(["thumbprint", "-k"])
        .arg(&key)
        .assert()
        .code(1)
        .stderr(contains("chmod 600").and(contains("hint:")));
}

#[test]
fn missing_key_is_one_line_plus_hint_and_never_a_backtrace() {
    aauth()
        .env("RUST_BACKTRACE", "1")
        .args(["fetch", "-k", "/nonexistent/key.jwk", "http://127.0.0.1:9/"])
        .assert()
        .code(1)
        .stderr(
            contains("error: cannot read")
                .and(contains("hint: create one with `aauth keygen`"))
                .and(contains("backtrace").not()),
        );
}

#[test]
fn usage_errors_exit_2() {
    aauth().arg("frobnicate").assert().code(2);
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    aauth()
        .args(["fetch", "-H", "no-colon", "-k"])
        .arg(&key)
        .arg("http://127.0.0.1:9/")
        .assert()
        .code(2);
}

/// `sign --json` output turned into a JSON capture for `verify`.
fn signed_capture(key: &Path, url: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let out = stdout_of(
        aauth()
            .args(["sign", "--json", "-k"])
            .arg(key)
            .args(extra)
            .arg(url),
    );
    let signed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut headers = signed["headers"].as_object().unwrap().clone();
    headers.insert("content-type".into(), "text/plain".into());
    let capture =
        serde_json::json!({"method": "POST", "url": url, "headers": headers, "body": "hi"});
    let created: String = signed["headers"]["signature-input"]
        .as_str()
        .unwrap()
        .split("created=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (capture, created)
}

#[test]
fn sign_prints_headers_that_verify_checks_with_a_pinned_clock() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let thumb = stdout_of(aauth().args(["thumbprint", "-k"]).arg(&key));
    let url = "https://resource.example/api/data?x=1";
    // Plain output: three header lines any HTTP tool can send.
    aauth()
        .args(["sign", "-X", "POST", "-k"])
        .arg(&key)
        .arg(url)
        .assert()
        .success()
        .stdout(
            contains("Signature-Key: sig=hwk;")
                .and(contains(
                    "Signature-Input: sig=(\"@method\" \"@authority\" \"@path\" \"@query\"",
                ))
                .and(contains("Signature: sig=:")),
        );
    let (capture, created) = signed_capture(
        &key,
        url,
        &["-X", "POST", "-H", "Content-Type: text/plain", "-d", "hi"],
    );
    let file = dir.path().join("cap.json");
    std::fs::write(&file, capture.to_string()).unwrap();
    let out = stdout_of(aauth().args(["verify", "--now", &created]).arg(&file));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["thumbprint"], thumb.trim());

    // The same capture an hour later: stale, exit 5, the resource's Signature-Error code.
    let later = (created.parse::<u64>().unwrap() + 3600).to_string();
    aauth()
        .args(["verify", "--now", &later])
        .arg(&file)
        .assert()
        .code(5)
        .stdout(contains("\"verdict\":\"invalid\"").and(contains("invalid_signature")));
}

#[test]
fn verify_reads_raw_http_from_stdin_and_spots_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let (capture, created) = signed_capture(&key, "https://resource.example/data", &["-X", "POST"]);
    let h = capture["headers"].as_object().unwrap();
    let raw = |method: &str| {
        let mut s = format!("{method} /data HTTP/1.1\r\nHost: resource.example\r\n");
        for (k, v) in h {
            s.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap()));
        }
        s.push_str("\r\nhi");
        s
    };
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin(raw("POST"))
        .assert()
        .success()
        .stdout(contains("\"verdict\":\"valid\""));
    aauth()
        .args(["verify", "--now", &created, "-"])
        .write_stdin(raw("PUT"))
        .assert()
        .code(5)
        .stdout(contains("\"signature_error\":\"invalid_signature\""));
    // Unsigned request: the code a resource would send for missing headers.
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin("GET /data HTTP/1.1\r\nHost: resource.example\r\n\r\n")
        .assert()
        .code(5)
        .stdout(contains("invalid_request"));
    aauth()
        .arg("verify")
        .write_stdin("not a request")
        .assert()
        .code(2)
        .stderr(contains("hint:"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        aauth()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains("aauth").and(contains("verify")));
    }
}

#[test]
fn demo_auto_approve_walks_the_whole_flow() {
    aauth()
        .args(["demo", "--auto-approve", "--timeout", "60"])
        .assert()
        .success()
        .stdout(
            contains("Approve at: http://127.0.0.1:")
                .and(contains("4. Approved; session token received"))
                .and(contains("6. Second request with the session token: 200 OK")),
        );
}

/// Starts `aauth serve` on a free port; returns the child and its origin.
fn serve() -> (std::process::Child, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("AAuth demo resource on http://"), "{line}");
    let origin = line
        .split("origin ")
        .nth(1)
        .unwrap()
        .trim_end_matches([')', '\n'])
        .to_owned();
    (child, origin)
}

#[test]
fn serve_and_fetch_public_json_include_and_timeout_exit_codes() {
    let (mut child, origin) = serve();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    // A public page: signed anyway, answered 200.
    aauth()
        .args(["fetch", "-i", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/"))
        .assert()
        .success()
        .stdout(contains("200 OK").and(contains("AAuth demo resource")));
    aauth()
        .args(["fetch", "--json", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/"))
        .assert()
        .success()
        .stdout(contains("\"status\":200"));
    // The protected route needs a person; nobody approves within a second: exit 4.
    aauth()
        .args([
            "fetch",
            "-v",
            "--timeout",
            "1",
            "--no-qr",
            "--no-sessions",
            "-k",
        ])
        .arg(&key)
        .arg(format!("{origin}/data"))
        .assert()
        .code(4)
        .stderr(
            contains("Approve at: ")
                .and(contains("* signature base:"))
                .and(contains("\"@method\": GET"))
                .and(contains("< 202")),
        );
    let _ = child.kill();
    let _ = child.wait();
}
