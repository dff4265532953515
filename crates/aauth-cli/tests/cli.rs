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
fn keygen_writes_pkcs8_pem_for_a_pem_path_and_it_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["ed25519", "es256"] {
        let key = dir.path().join(format!("{alg}.pem"));
        let out = stdout_of(aauth().args(["keygen", "--alg", alg, "--out"]).arg(&key));
        let text = std::fs::read_to_string(&key).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let printed = out
            .lines()
            .find_map(|l| l.strip_prefix("thumbprint "))
            .unwrap()
            .to_owned();
        let again = stdout_of(aauth().args(["thumbprint", "-k"]).arg(&key));
        assert_eq!(again.trim(), printed, "{alg}");
    }
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
    let url = "https://resource.example/api/data?x=1";
    // SK-25: the resource sees the key derived for its origin.
    let thumb = stdout_of(
        aauth()
            .args(["thumbprint", "--origin", url, "-k"])
            .arg(&key),
    );
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

/// A hostile loopback resource: `/.well-known/…` answers 404, every other request gets
/// `respond(path, stream)`; one request per connection.
fn hostile_server(respond: fn(&str, &mut std::net::TcpStream)) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let Ok(clone) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(clone);
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                let path = first.split(' ').nth(1).unwrap_or("/").to_owned();
                if path.starts_with("/.well-known/") {
                    let _ = std::io::Write::write_all(
                        &mut stream,
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                } else {
                    respond(&path, &mut stream);
                }
            });
        }
    });
    origin
}

fn send(stream: &mut std::net::TcpStream, bytes: &[u8]) {
    let _ = std::io::Write::write_all(stream, bytes);
    let _ = std::io::Write::flush(stream);
}

/// Runs `aauth args` with standard output and/or standard error a pipe nobody reads.
fn with_closed_pipes(args: &[&str], stdout: bool, stderr: bool) -> std::process::Output {
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"));
    cmd.args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("AAUTH_KEY")
        .env_remove("AAUTH_SESSIONS")
        .stdin(Stdio::null());
    cmd.stdout(if stdout { closed() } else { Stdio::piped() });
    cmd.stderr(if stderr { closed() } else { Stdio::piped() });
    cmd.output().unwrap()
}

#[test]
fn a_closed_stdout_or_stderr_never_panics_a_closed_stdout_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let key = key.to_str().unwrap();
    let origin = hostile_server(|_, s| {
        send(
            s,
            b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nhello\n",
        )
    });
    let capture = dir.path().join("cap.http");
    std::fs::write(&capture, "GET /data HTTP/1.1\r\nHost: a.example\r\n\r\n").unwrap();
    let new_key = dir.path().join("new.jwk");
    let url = format!("{origin}/x");
    let cases: [(&[&str], i32); 9] = [
        (&["completions", "bash"], 0),
        (&["thumbprint", "-k", key], 0),
        (&["thumbprint", "--json", "-k", key], 0),
        (&["keygen", "--out", new_key.to_str().unwrap()], 0),
        (&["keygen", "--out", "-"], 0),
        (&["sign", "-k", key, &url], 0),
        (&["sign", "--json", "-k", key, &url], 0),
        (&["fetch", "--no-sessions", "-i", "-k", key, &url], 0),
        (&["demo", "--auto-approve", "--timeout", "30"], 0),
    ];
    for (args, code) in cases {
        let out = with_closed_pipes(args, true, false);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !err.contains("error:"),
            "a closed stdout is quiet: {args:?}: {err}"
        );
    }
    // `verify` of an unsigned capture: the verdict is not written, the run ends quietly.
    let out = with_closed_pipes(&["verify", capture.to_str().unwrap()], true, false);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert_ne!(out.status.code(), Some(101));
    // A closed stderr: the documented exit code, no panic.
    let out = with_closed_pipes(&["fetch", "-k", "/nonexistent/k.jwk", &url], false, true);
    assert_eq!(out.status.code(), Some(1));
    let out = with_closed_pipes(&["sign", "-v", "-k", key, &url], false, true);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature-Input:"));
    let out = with_closed_pipes(&["verify", capture.to_str().unwrap()], false, true);
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn serve_keeps_serving_when_its_stdout_is_closed() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.is_none(), "serve stopped: {status:?}");
}

#[test]
fn fetch_gives_up_after_max_time_and_streams_what_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|path, s| {
        if path == "/partial" {
            // Headers and a first chunk, then nothing: the body never completes.
            send(
                s,
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst bytes\n",
            );
        }
        std::thread::sleep(std::time::Duration::from_secs(120));
    });
    let started = std::time::Instant::now();
    aauth()
        .args(["fetch", "--no-sessions", "--max-time", "2", "-k"])
        .arg(&key)
        .arg(format!("{origin}/hang"))
        .timeout(std::time::Duration::from_secs(40))
        .assert()
        .code(4)
        .stderr(contains("timed out").and(contains("--max-time")));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // Streamed: the first chunk reaches stdout although the body never completes.
    aauth()
        .args(["fetch", "--no-sessions", "--max-time", "2", "-k"])
        .arg(&key)
        .arg(format!("{origin}/partial"))
        .timeout(std::time::Duration::from_secs(40))
        .assert()
        .code(4)
        .stdout("first bytes\n");
}

#[test]
fn fetch_streams_a_large_body_byte_for_byte_and_caps_json() {
    const SIZE: usize = 17 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|_, s| {
        send(
            s,
            format!("HTTP/1.1 200 OK\r\ncontent-length: {SIZE}\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        );
        let chunk = vec![b'A'; 1024 * 1024];
        for _ in 0..SIZE / chunk.len() {
            send(s, &chunk);
        }
    });
    let out = aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/big"))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out.len(), SIZE, "exactly the body, no newline added");
    assert!(out.iter().all(|&b| b == b'A'));
    aauth()
        .args(["fetch", "--json", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/big"))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("larger than 16 MiB").and(contains("hint: drop --json")));
}

#[test]
fn server_text_in_errors_is_escaped_and_single_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|path, s| {
        if path == "/ansi" {
            let body = r#"{"error":"denied","detail":"\u001b[2J\nhint: fake \u0007ok"}"#;
            send(s, format!("HTTP/1.1 403 Forbidden\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes());
        } else {
            send(s, b"HTTP/1.1 202 Accepted\r\naauth-requirement: requirement=interaction;url=(((\r\nlocation: /p\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    let out = aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/ansi"))
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(
        err.contains("\\u{1b}[2J\\u{a}hint: fake \\u{7}ok"),
        "{err:?}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no forged hint: {err:?}");
    aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/garbage"))
        .assert()
        .code(1)
        .stderr(
            contains("AAuth-Requirement: ")
                .and(contains("AAuth-Requirement: AAuth-Requirement").not()),
        );
}

#[test]
fn fetch_verbose_never_shows_the_session_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|_, s| {
        send(
            s,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
        )
    });
    // Sessions are kept under the key the origin sees (SK-25).
    let thumb = stdout_of(
        aauth()
            .args(["thumbprint", "--origin", &origin, "-k"])
            .arg(&key),
    );
    let sessions = dir.path().join("s.json");
    let doc = serde_json::json!({"version": 1, "sessions": [
        {"origin": origin, "key": thumb.trim(), "token": "SECRET-SESSION-TOKEN"}
    ]});
    std::fs::write(&sessions, doc.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sessions, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    aauth()
        .args(["fetch", "-v", "--sessions"])
        .arg(&sessions)
        .arg("-k")
        .arg(&key)
        .arg(format!("{origin}/x"))
        .assert()
        .success()
        .stderr(
            contains("\"authorization\": AAuth <redacted>")
                .and(contains("SECRET-SESSION-TOKEN").not()),
        );
}

#[test]
fn verify_caps_its_input_and_refuses_non_utf8_as_a_bad_capture() {
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a.example\r\nx: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    aauth()
        .arg("verify")
        .write_stdin(big)
        .assert()
        .code(2)
        .stderr(contains("larger than 1024 KiB").and(contains("hint:")));
    aauth()
        .arg("verify")
        .write_stdin(b"GET / HTTP/1.1\r\nHost: a.example\r\nx: \xff\xfe\r\n\r\n".to_vec())
        .assert()
        .code(2)
        .stderr(contains("not UTF-8"));
    aauth()
        .args(["verify", "/nonexistent/capture.http"])
        .assert()
        .code(1)
        .stderr(contains("cannot read"));
}

#[test]
fn thumbprint_of_a_directory_says_it_is_not_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    aauth()
        .args(["thumbprint", "-k"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(contains("is not a regular file").and(contains("chmod").not()));
}

#[test]
fn keygen_out_dash_prints_the_jwk_and_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = aauth()
        .current_dir(dir.path())
        .args(["keygen", "--out", "-"])
        .assert()
        .success()
        .stderr(contains("thumbprint "))
        .get_output()
        .stdout
        .clone();
    let jwk: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(jwk.get("d").is_some(), "private JWK on stdout");
    assert!(!dir.path().join("-").exists(), "no file named -");
}

#[test]
fn serve_accept_jwt_and_pending_ttl() {
    // Below the 10 s floor or above 30 days (u64::MAX once overflowed the expiry): a usage
    // error.
    for ttl in ["5", "2592001", "18446744073709551615"] {
        aauth()
            .args(["serve", "--listen", "127.0.0.1:0", "--pending-ttl", ttl])
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(contains("--pending-ttl"));
    }
    // Retry-After 0 would invite a busy loop (AMB-12): refused as a usage error.
    aauth()
        .args(["serve", "--listen", "127.0.0.1:0", "--retry-after", "0"])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(contains("--retry-after"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--accept-jwt",
            "--pending-ttl",
            "10",
            "--retry-after",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..3 {
        out.read_line(&mut banner).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        banner.starts_with("AAuth demo resource on http://"),
        "{banner}"
    );
    assert!(banner.contains("Agents: hwk and jwt"), "{banner}");
}

#[test]
fn serve_configuration_errors_are_usage_errors_with_their_own_hint() {
    aauth()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "ftp://x",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(contains("--public-url").and(contains("port free").not()));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    aauth()
        .args(["serve", "--listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(1)
        .stderr(contains("port free"));
}

/// A `sign --json` capture of `POST url` with body `{"a":1}`, as JSON with `body` (or none).
fn digest_capture(key: &Path, url: &str, body: Option<&str>) -> (String, String) {
    let out = stdout_of(
        aauth()
            .args(["sign", "--json", "-X", "POST", "-d", "{\"a\":1}", "-k"])
            .arg(key)
            .arg(url),
    );
    let signed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut capture =
        serde_json::json!({"method": "POST", "url": url, "headers": signed["headers"]});
    if let Some(b) = body {
        capture["body"] = b.into();
    }
    let created: String = signed["headers"]["signature-input"]
        .as_str()
        .unwrap()
        .split("created=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (capture.to_string(), created)
}

#[test]
fn sig_11_verify_checks_the_body_against_a_covered_content_digest() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let url = "http://127.0.0.1:18080/data";
    // The signed body: valid, and the verdict says the body was checked.
    let (good, created) = digest_capture(&key, url, Some("{\"a\":1}"));
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin(good)
        .assert()
        .success()
        .stdout(
            contains("\"verdict\":\"valid\"")
                .and(contains("\"content-digest\""))
                .and(contains("matches the covered Content-Digest")),
        );
    // Another body under the same signature: invalid, exit 5, as the resource answers.
    let (tampered, created) = digest_capture(&key, url, Some("{\"a\":2}"));
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin(tampered)
        .assert()
        .code(5)
        .stdout(
            contains("\"verdict\":\"invalid\"")
                .and(contains("\"signature_error\":\"invalid_signature\""))
                .and(contains("Content-Digest does not match the body")),
        )
        .stderr(contains(
            "signature invalid: invalid_signature (Content-Digest does not match",
        ));
    // Covered content-digest, no body in the capture: the empty body does not match.
    let (bodiless, created) = digest_capture(&key, url, None);
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin(bodiless)
        .assert()
        .code(5)
        .stdout(contains("the capture has no body"));
    // Raw HTTP: the body after the blank line, cut at Content-Length.
    let out = stdout_of(
        aauth()
            .args(["sign", "--json", "-X", "POST", "-d", "{\"a\":1}", "-k"])
            .arg(&key)
            .arg(url),
    );
    let signed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let created = signed["headers"]["signature-input"].as_str().unwrap();
    let created: String = created
        .split("created=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let raw = |body: &str| {
        let mut s =
            "POST /data HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nContent-Length: 7\r\n".to_owned();
        for (k, v) in signed["headers"].as_object().unwrap() {
            s.push_str(&format!("{k}: {}\r\n", v.as_str().unwrap()));
        }
        s.push_str("\r\n");
        s.push_str(body);
        s
    };
    for (body, ok) in [("{\"a\":1}\n", true), ("{\"a\":2}", false)] {
        let a = aauth()
            .args(["verify", "--scheme", "http", "--now", &created])
            .write_stdin(raw(body))
            .assert();
        if ok {
            a.success();
        } else {
            a.code(5)
                .stdout(contains("Content-Digest does not match the body"));
        }
    }
}

#[test]
fn verify_says_when_a_body_is_not_covered_by_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    // No -d: the signature covers no content-digest, yet the capture carries a body.
    let (capture, created) = signed_capture(&key, "https://resource.example/data", &["-X", "POST"]);
    aauth()
        .args(["verify", "--now", &created])
        .write_stdin(capture.to_string())
        .assert()
        .success()
        .stdout(contains("\"verdict\":\"valid\"").and(contains("not protected")));
}

#[test]
fn verify_clips_echoed_input_and_words_json_errors_for_json() {
    let out = aauth()
        .arg("verify")
        .write_stdin("[".repeat(100_000))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(out.len() < 1000, "{} bytes of error", out.len());
    aauth()
        .arg("verify")
        .write_stdin(r#"{"method":"G E T","url":"http://x/","headers":{}}"#)
        .assert()
        .code(2)
        .stderr(
            contains("method \"G E T\" is not an HTTP method token")
                .and(contains("request line").not()),
        );
    aauth()
        .arg("verify")
        .write_stdin(r#"{"method":"GET","url":"http://x/","headers":{"signature":1}}"#)
        .assert()
        .code(2)
        .stderr(contains("must be a string").and(contains("invalid header line").not()));
    aauth()
        .arg("verify")
        .write_stdin("GET / HTTP/1.1\r\nHost: a.example\r\nHost: evil\r\n\r\n")
        .assert()
        .code(2)
        .stderr(contains("more than one Host"));
    aauth()
        .args(["verify", "--scheme", "ftp"])
        .write_stdin("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .assert()
        .code(2);
}

#[test]
fn fetch_and_sign_accept_only_http_and_https_urls_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    for url in [
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "mailto:a@b",
        "http://",
    ] {
        for cmd in ["fetch", "sign"] {
            aauth()
                .args([cmd, "-k"])
                .arg(&key)
                .arg(url)
                .assert()
                .code(2)
                .stdout("")
                .stderr(
                    contains("URL")
                        .and(contains("HTTP request failed").not())
                        .and(contains("hint:")),
                );
        }
    }
    aauth()
        .args(["sign", "-k"])
        .arg(&key)
        .arg("ftp://127.0.0.1/x")
        .assert()
        .stderr(contains("only http and https URLs"));
}

#[test]
fn fetch_refuses_plain_http_to_a_host_that_is_not_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg("http://10.255.255.1/data")
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(
            contains("refusing plain http to 10.255.255.1").and(contains("--allow-insecure-http")),
        );
    // With the flag it is attempted (and, with nobody there, fails otherwise).
    aauth()
        .args([
            "fetch",
            "--allow-insecure-http",
            "--max-time",
            "1",
            "--no-sessions",
            "-k",
        ])
        .arg(&key)
        .arg("http://10.255.255.1/data")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(predicate::ne(2))
        .stderr(contains("refusing").not());
}

#[test]
fn sig_27_a_401_hint_depends_on_the_signature_error_code_and_shows_the_detail() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|path, s| {
        let (field, extra, detail) = match path {
            "/input" => (
                "error=invalid_input, required_input=(\"@method\" \"x-custom\")",
                "",
                "x-custom must be covered",
            ),
            "/alg" => (
                "error=unsupported_algorithm",
                "accept-signature-alg: ES256\r\n",
                "algorithm not accepted",
            ),
            _ => (
                "error=invalid_signature",
                "",
                "signature does not verify\u{1b}[2J",
            ),
        };
        let body = serde_json::json!({"type": "urn:x", "error": "x", "detail": detail}).to_string();
        send(s, format!("HTTP/1.1 401 Unauthorized\r\nsignature-error: {field}\r\n{extra}content-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes());
    });
    let run = |path: &str| {
        let out = aauth()
            .args(["fetch", "--no-sessions", "-k"])
            .arg(&key)
            .arg(format!("{origin}{path}"))
            .assert()
            .code(5)
            .get_output()
            .stderr
            .clone();
        String::from_utf8(out).unwrap()
    };
    let err = run("/input");
    assert!(
        err.contains("the resource says: x-custom must be covered"),
        "{err}"
    );
    assert!(
        err.contains("hint: the resource requires the signature to cover: @method x-custom"),
        "{err}"
    );
    let err = run("/alg");
    assert!(
        err.contains("hint: the resource does not take this key's algorithm; it accepts ES256"),
        "{err}"
    );
    let err = run("/sig");
    assert!(
        err.contains("signature does not verify\\u{1b}[2J"),
        "escaped: {err:?}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("127.0.0.1 and localhost differ"), "{err}");
    assert!(!err.contains("accepts this key type"), "{err}");
}

#[test]
fn fetch_localhost_against_a_127_0_0_1_resource_names_the_origin_mismatch() {
    let (mut child, origin) = serve();
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let url = format!("{}/data", origin.replace("127.0.0.1", "localhost"));
    let out = aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg(&url)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(5)
        .get_output()
        .stderr
        .clone();
    let _ = child.kill();
    let _ = child.wait();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("the resource says: "), "{err}");
    assert!(
        err.contains(&format!("the resource says its origin is {origin}")),
        "{err}"
    );
}

#[test]
fn logs_to_a_file_or_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|_, s| {
        send(
            s,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
        )
    });
    let out = aauth()
        .env("RUST_LOG", "trace")
        .args(["fetch", "--debug", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/x"))
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "logs were written: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no ANSI escapes: {err:?}");
}

#[test]
fn serve_checks_admin_listen_before_starting_anything() {
    // Not loopback: a usage error, and nothing printed on stdout (no banner, no password).
    aauth()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "0.0.0.0:0",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("loopback"));
    // Busy: exit 1, like a busy --listen.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    aauth()
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("--admin-listen").and(contains("port free")));
}

/// The `hwk` thumbprint `aauth sign` shows `url`'s resource (via `verify`).
fn signed_thumbprint(key: &Path, url: &str, extra: &[&str]) -> String {
    let mut args = vec!["sign", "--json"];
    args.extend_from_slice(extra);
    let out = stdout_of(aauth().args(&args).arg("-k").arg(key).arg(url));
    let signed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut capture = serde_json::json!({"method": "GET", "url": url, "headers": {}});
    for (name, value) in signed["headers"].as_object().unwrap() {
        capture["headers"][name] = value.clone();
    }
    let file = key.with_extension(format!("cap{}.json", extra.len()));
    std::fs::write(&file, capture.to_string()).unwrap();
    let out = stdout_of(aauth().arg("verify").arg(&file));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "valid", "{v}");
    v["thumbprint"].as_str().unwrap().to_owned()
}

#[test]
fn sk_25_sign_shows_each_origin_its_own_key_and_thumbprint_origin_predicts_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let own = stdout_of(aauth().args(["thumbprint", "-k"]).arg(&key));
    let a = "https://a.example/data?x=1";
    let b = "https://b.example/data";
    let seen_a = signed_thumbprint(&key, a, &[]);
    let seen_b = signed_thumbprint(&key, b, &[]);
    assert_ne!(seen_a, seen_b, "two resources must not see the same key");
    assert_ne!(seen_a, own.trim());
    // Stable across runs, and what `thumbprint --origin` prints (URL or bare origin).
    assert_eq!(signed_thumbprint(&key, a, &[]), seen_a);
    let predicted = stdout_of(
        aauth()
            .args(["thumbprint", "--origin", "https://A.example:443", "-k"])
            .arg(&key),
    );
    assert_eq!(predicted.trim(), seen_a);
    let json = stdout_of(
        aauth()
            .args(["thumbprint", "--json", "--origin", b, "-k"])
            .arg(&key),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["thumbprint"], seen_b.as_str());
    assert_eq!(v["origin"], "https://b.example");
}

#[test]
fn sk_25_one_key_for_all_origins_shows_every_resource_the_key_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let own = stdout_of(aauth().args(["thumbprint", "-k"]).arg(&key));
    for url in ["https://a.example/", "https://b.example/"] {
        let seen = signed_thumbprint(&key, url, &["--one-key-for-all-origins"]);
        assert_eq!(seen, own.trim(), "{url}");
    }
}

#[test]
fn sk_25_thumbprint_origin_refuses_es256_keys_and_non_http_urls() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("es.jwk");
    stdout_of(
        aauth()
            .args(["keygen", "--alg", "es256", "--out"])
            .arg(&key),
    );
    aauth()
        .args(["thumbprint", "--origin", "https://a.example", "-k"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(contains("ES256").and(contains("hint:")));
    let ed = keygen(dir.path());
    aauth()
        .args(["thumbprint", "--origin", "ftp://a.example", "-k"])
        .arg(&ed)
        .assert()
        .code(2)
        .stderr(contains("not an http(s) URL"));
}

#[test]
fn sig_35_fetch_offers_tls_1_2_or_later_only() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    // rustls has no TLS 1.0/1.1 at all, so what this guards is the binary's TLS stack: a
    // build that picked up a system TLS backend (reqwest's native-tls) would offer what the
    // system library allows, and fail here.
    let catcher = aauth_sig::testing::ClientHelloCatcher::start().unwrap();
    // The catcher reads the ClientHello and hangs up: the fetch fails, which is not the point.
    let out = aauth()
        .args(["fetch", "--no-sessions", "--max-time", "10", "-k"])
        .arg(&key)
        .arg(format!("https://{}/data", catcher.addr()))
        .timeout(std::time::Duration::from_secs(40))
        .output()
        .unwrap();
    assert!(!out.status.success());
    catcher.assert_only_tls_1_2_or_later();
}

#[test]
fn a_429_says_when_to_try_again_and_timeout_0_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|_, s| {
        let body = r#"{"error":"slow_down"}"#;
        send(s, format!("HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/problem+json\r\nretry-after: 7\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes());
    });
    aauth()
        .args(["fetch", "--no-sessions", "-k"])
        .arg(&key)
        .arg(format!("{origin}/data"))
        .timeout(std::time::Duration::from_secs(40))
        .assert()
        .code(6)
        .stderr(contains("429").and(contains("try again after 7 s")));
    for cmd in [
        &["fetch", "--timeout", "0", "http://127.0.0.1:9/"][..],
        &["demo", "--timeout", "0"],
        &[
            "fetch",
            "--timeout",
            "18446744073709551615",
            "http://127.0.0.1:9/",
        ],
        &["demo", "--timeout", "2592001"],
    ] {
        aauth()
            .args(cmd)
            .timeout(std::time::Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(contains("--timeout"));
    }
}

/// Sends `signal` (`INT`, `TERM`) to a child process with the system's `kill`.
#[cfg(unix)]
fn signal(child: &std::process::Child, signal: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal}");
}

/// Waits at most `limit` for `child` to exit; its exit code.
#[cfg(unix)]
fn exit_within(child: &mut std::process::Child, limit: std::time::Duration) -> Option<i32> {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("still running after {limit:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_or_sigterm_end_fetch_in_any_phase_with_exit_130() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|_, s| {
        // Headers and a first chunk, then nothing: fetch is streaming when the signal comes.
        send(
            s,
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst bytes\n",
        );
        std::thread::sleep(std::time::Duration::from_secs(120));
    });
    for sig in ["INT", "TERM"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"))
            .args(["fetch", "--no-sessions", "--max-time", "0", "-k"])
            .arg(&key)
            .arg(format!("{origin}/stream"))
            .env_remove("AAUTH_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "first bytes\n");
        signal(&child, sig);
        let code = exit_within(&mut child, std::time::Duration::from_secs(20));
        assert_eq!(code, Some(130), "{sig}");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_while_waiting_for_the_person_withdraws_the_pending_request() {
    static WITHDRAWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let origin = hostile_server(|path, s| {
        if path == "/pending/1" {
            // Retry-After is 60 s, so the only request here within the test is the DELETE.
            WITHDRAWN.store(true, std::sync::atomic::Ordering::SeqCst);
            send(s, b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        } else {
            send(s, b"HTTP/1.1 202 Accepted\r\naauth-requirement: requirement=interaction;url=\"http://127.0.0.1:9/i\";code=\"ABCD-EFGH\"\r\nlocation: /pending/1\r\nretry-after: 60\r\ncache-control: no-store\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aauth"))
        .args(["fetch", "--no-sessions", "--no-qr", "-k"])
        .arg(&key)
        .arg(format!("{origin}/data"))
        .env_remove("AAUTH_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The prompt names the code once the 202 is in.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("ABCD-EFGH") {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "no prompt: {seen}");
        seen.push_str(&line);
    }
    signal(&child, "TERM");
    let code = exit_within(&mut child, std::time::Duration::from_secs(20));
    assert_eq!(code, Some(130));
    assert!(WITHDRAWN.load(std::sync::atomic::Ordering::SeqCst));
}

#[cfg(unix)]
#[test]
fn serve_stops_cleanly_on_sigint_and_sigterm() {
    for sig in ["INT", "TERM"] {
        let (mut child, _origin) = serve();
        signal(&child, sig);
        let code = exit_within(&mut child, std::time::Duration::from_secs(20));
        assert_eq!(code, Some(0), "{sig}");
    }
}
