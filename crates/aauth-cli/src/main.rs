//! `aauth`: generate keys, fetch AAuth-protected resources, sign requests for other tools,
//! verify captured requests, run the demo resource, and run the whole two-party flow.
//!
//! Exit codes: 0 success (also: standard output closed early, e.g. `| head`) · 1 error ·
//! 2 usage or bad capture · 3 access denied · 4 expired or timed out (`--timeout`,
//! `--max-time`) · 5 signature rejected (or `verify`: invalid) · 6 the resource answered a
//! non-2xx status · 130 interrupted.
//!
//! Nothing is written with `println!`: a closed pipe must never panic. See [`term`] for the
//! output policy and the escaping of server-controlled text.
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aauth_agent::{
    AAuthClient, AAuthError, CancellationToken, FileSessionCache, InteractionPrompt, ProtocolEvent,
    SessionCacheError,
};
use aauth_cli::{demo_resource, keyfile, person, verify};
use aauth_sig::{Algorithm, SigningKey};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use origin_key::AgentKey;

mod origin_key;
mod term;

/// `--max-time` default: seconds for one HTTP exchange, body included.
const DEFAULT_MAX_TIME: u64 = 60;
/// Seconds to establish a connection (at most `--max-time`).
const CONNECT_TIMEOUT: u64 = 10;
/// Largest body `fetch --json` keeps in memory; without `--json` a body is streamed.
const MAX_JSON_BODY: usize = 16 * 1024 * 1024;
/// Largest capture `verify` reads.
const MAX_CAPTURE: u64 = 1024 * 1024;

/// `println!` that returns a [`Failure`] (quiet, exit 0, when stdout was closed early) with `?`.
macro_rules! outln {
    () => {
        term::out_bytes(b"\n").map_err(Failure::stdout)?
    };
    ($($arg:tt)*) => {
        term::out_bytes(format!("{}\n", format_args!($($arg)*)).as_bytes())
            .map_err(Failure::stdout)?
    };
}

/// A best-effort line on standard output (a server's banner: `aauth serve | head -1` must not
/// stop the server).
macro_rules! sayln {
    ($($arg:tt)*) => {
        let _ = term::out_bytes(format!("{}\n", format_args!($($arg)*)).as_bytes());
    };
}

/// `eprintln!` that never panics and escapes control characters.
macro_rules! errln {
    ($($arg:tt)*) => {
        term::err_line(&format!($($arg)*))
    };
}

#[derive(Parser)]
#[command(name = "aauth", version, about = "AAuth agent and resource tools", long_about = None)]
struct Cli {
    /// Log internals to stderr (set RUST_LOG for finer control).
    #[arg(long, global = true)]
    debug: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Alg {
    Ed25519,
    Es256,
}

/// The request options `fetch` and `sign` share (curl-style).
#[derive(Args)]
struct RequestArgs {
    /// The URL to request.
    url: String,
    /// Private key: a JWK (from `aauth keygen`) or a PKCS#8 PEM, mode 0600.
    #[arg(short, long, env = "AAUTH_KEY", default_value = "aauth-key.jwk")]
    key: PathBuf,
    #[arg(short = 'X', long, default_value = "GET")]
    method: String,
    /// Extra header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body (`@file` reads a file, `@-` standard input).
    #[arg(short = 'd', long)]
    data: Option<String>,
    /// Show the resource the key file's own key. By default each resource origin sees a
    /// distinct key derived from it, so resources cannot correlate this agent (SK-25).
    #[arg(long)]
    one_key_for_all_origins: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a signing key and write it as a private JWK (mode 0600).
    Keygen {
        /// Key file to write; `-` prints the private JWK on standard output (the thumbprint
        /// then goes to standard error).
        #[arg(short, long, default_value = "aauth-key.jwk")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "ed25519")]
        alg: Alg,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the RFC 7638 thumbprint of a key file (the agent's pseudonymous identity).
    Thumbprint {
        /// Key file: a JWK (from `aauth keygen`) or a PKCS#8 PEM.
        #[arg(short, long, env = "AAUTH_KEY", default_value = "aauth-key.jwk")]
        key: PathBuf,
        /// Print the public JWK as well, as JSON.
        #[arg(long)]
        json: bool,
        /// Print the key the resource at this URL sees instead: `fetch` and `sign` show each
        /// origin its own key derived from the key file (SK-25; Ed25519 keys only).
        #[arg(long, value_name = "URL")]
        origin: Option<String>,
    },
    /// Send a signed request; handle a person's approval if the resource asks for one.
    Fetch {
        #[command(flatten)]
        req: RequestArgs,
        /// Print the response status and headers before the body.
        #[arg(short = 'i', long)]
        include: bool,
        /// Show each protocol step and the signature bases on stderr.
        #[arg(short, long)]
        verbose: bool,
        /// Print the response as JSON: {status, headers, body}.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the person's decision (1 to 2592000, 30 days).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
        timeout: u64,
        /// Seconds allowed for each HTTP exchange, body included (0: no limit); polls waiting
        /// for the person have their own limit.
        #[arg(long, value_name = "SECS", default_value_t = DEFAULT_MAX_TIME)]
        max_time: u64,
        /// Open the approval page in the browser.
        #[arg(long)]
        open: bool,
        /// Never draw a QR code.
        #[arg(long)]
        no_qr: bool,
        /// Session-token file (kept across runs, mode 0600); default `<key>.sessions.json`.
        #[arg(long, env = "AAUTH_SESSIONS")]
        sessions: Option<PathBuf>,
        /// Keep session tokens in memory only.
        #[arg(long, conflicts_with = "sessions")]
        no_sessions: bool,
        /// Allow plain `http` to a host that is not a loopback address: the signed request
        /// and any session token travel in clear text.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Print the signature headers for a request, so any HTTP tool can send it.
    Sign {
        #[command(flatten)]
        req: RequestArgs,
        /// Print JSON {headers, signature_base} instead of header lines.
        #[arg(long)]
        json: bool,
        /// Also print the signature base (on stderr).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Verify a captured request (raw HTTP or JSON {method, url, headers, body}); prints the
    /// verdict as JSON.
    Verify {
        /// File with the capture, `-` for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Pin the clock (Unix seconds) to check recorded vectors.
        #[arg(long)]
        now: Option<u64>,
        /// Freshness window in seconds.
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// Scheme for an origin-form request target (`GET /path` + `Host`).
        #[arg(long, default_value = "https", value_parser = ["http", "https"])]
        scheme: String,
    },
    /// Run the demo resource: `/data` needs a person's approval.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Public origin if it differs from http://<listen> (must be https unless loopback).
        #[arg(long)]
        public_url: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        /// The demo person's password (shared by instances behind one origin); default: a
        /// random one per run, printed on the console.
        #[arg(long, env = "AAUTH_DEMO_PASSWORD", hide_env_values = true)]
        demo_password: Option<String>,
        /// Also serve the operator's revocation routes (loopback addresses only; see
        /// docs/operations.md), e.g. 127.0.0.1:8081.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Also accept `jwt` agent tokens (the draft's scheme for agents); issuer keys are
        /// discovered over HTTPS, public addresses only.
        #[arg(long)]
        accept_jwt: bool,
        /// Seconds a pending request and its interaction code live (10 to 2592000, 30 days).
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=2_592_000))]
        pending_ttl: u64,
        /// Seconds an agent is told to wait between polls (`Retry-After` on `202`); a poll
        /// that comes sooner than that, less one second of slack, is answered `429 slow_down`.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3600))]
        retry_after: u64,
    },
    /// Run resource and agent together and walk the two-party flow end to end.
    Demo {
        /// Play the person: approve at the interaction page automatically.
        #[arg(long)]
        auto_approve: bool,
        /// Seconds to wait for the person's decision (1 to 2592000, 30 days).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
        timeout: u64,
        /// Open the approval page in the browser.
        #[arg(long)]
        open: bool,
    },
    /// Print a shell completion script (e.g. `aauth completions bash > ~/.aauth.bash`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where `aauth serve` keeps its state.
#[derive(Args)]
struct StoreArgs {
    /// `memory` (one process) or a Redis URL (`redis://[user:pass@]host[:port][/db]`) shared by
    /// every instance of the resource.
    #[arg(
        long,
        env = "AAUTH_STORE",
        default_value = "memory",
        hide_env_values = true
    )]
    store: String,
    /// Prefix of every Redis key (instances of one resource share it).
    #[arg(long, default_value = aauth_store::redis::DEFAULT_PREFIX)]
    store_prefix: String,
    /// Refuse replayed state-changing requests (the optional replay cache of SIG-19), kept in
    /// the same store so every instance sees every signature.
    #[arg(long)]
    replay_guard: bool,
}

/// One line of error plus a hint, and the documented exit code.
struct Failure {
    message: String,
    hint: Option<String>,
    code: u8,
    /// Nothing to say (standard output was closed by its reader).
    quiet: bool,
}

impl Failure {
    fn new(message: impl ToString, code: u8) -> Self {
        Failure {
            message: message.to_string(),
            hint: None,
            code,
            quiet: false,
        }
    }

    /// A failed write to standard output: a reader that went away (`| head`) ends the command
    /// quietly with 0; anything else is an I/O error.
    fn stdout(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure {
                quiet: true,
                ..Failure::new("", 0)
            }
        } else {
            Failure::new(format!("cannot write to standard output: {e}"), 1)
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<AAuthError> for Failure {
    fn from(e: AAuthError) -> Self {
        match &e {
            AAuthError::Denied { .. } => Failure::new(e, 3),
            AAuthError::Expired | AAuthError::Timeout(_) => Failure::new(e, 4)
                .hint("run the command again and approve within the time limit (--timeout)"),
            AAuthError::Gone { .. } => Failure::new(e, 4).hint("start over with a new request"),
            AAuthError::Signature { .. } => signature_failure(&e),
            AAuthError::InsecureTransport(_) => Failure::new(e, 1)
                .hint("plain http is for loopback hosts; use https (or --allow-insecure-http)"),
            AAuthError::Http(inner) => http_failure(inner),
            AAuthError::Cancelled => Failure::new(e, 130),
            AAuthError::CrossOriginLocation(_) => {
                Failure::new(e, 1).hint("the resource is misconfigured; refusing to follow it")
            }
            AAuthError::Requirement(_) | AAuthError::UnsupportedRequirement(_) => {
                Failure::new(e, 1).hint("this flow needs a person server or agent token")
            }
            AAuthError::BodyNotReplayable => {
                Failure::new(e, 1).hint("send a smaller body, or approve first with a GET")
            }
            // aauth-agent prefixes the field name that the wire error already names.
            AAuthError::Protocol(_) => Failure::new(
                e.to_string().replace(
                    "AAuth-Requirement: AAuth-Requirement: ",
                    "AAuth-Requirement: ",
                ),
                1,
            ),
            _ => Failure::new(e, 1),
        }
    }
}

/// Longest text from the resource quoted in an error line.
const QUOTE_LIMIT: usize = 200;

/// `s` cut to [`QUOTE_LIMIT`] characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_LIMIT) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// A `401` with `Signature-Error`: exit 5, the resource's own words (problem `detail`), and a
/// hint that depends on the code.
fn signature_failure(e: &AAuthError) -> Failure {
    use aauth_wire::signature_error::SignatureErrorCode as C;
    let AAuthError::Signature {
        code,
        required_input,
        detail,
        accept_schemes,
        accept_algs,
    } = e
    else {
        return Failure::new(e, 5);
    };
    let mut message = e.to_string();
    if let Some(d) = detail {
        message.push_str(&format!(" — the resource says: {}", quote(d)));
    }
    let said = |v: &Option<String>| {
        v.as_deref()
            .map(|v| format!("it accepts {}", quote(v)))
            .unwrap_or_else(|| "it did not say what it accepts".into())
    };
    let hint = match code {
        C::InvalidSignature => "the signature did not verify there: check the machine's clock \
            (`created` must be inside the resource's window) and that the URL's host and port are \
            the resource's own origin (the signature covers @authority: 127.0.0.1 and localhost \
            differ)"
            .to_owned(),
        C::InvalidInput => match required_input {
            Some(r) if !r.is_empty() => format!(
                "the resource requires the signature to cover: {}; headers among them must be \
                 in the request (-H 'Name: value')",
                quote(&r.join(" "))
            ),
            _ => "the resource wants more components covered (see -v)".to_owned(),
        },
        C::UnsupportedScheme => format!(
            "the resource does not take `hwk` signatures, the scheme aauth signs with; {}",
            said(accept_schemes)
        ),
        C::UnsupportedAlgorithm => format!(
            "the resource does not take this key's algorithm; {} (`aauth keygen --alg ed25519` \
             or `--alg es256`)",
            said(accept_algs)
        ),
        C::InvalidKey => "the resource could not use the public key in Signature-Key; make a \
            new one with `aauth keygen`"
            .to_owned(),
        C::InvalidRequest => "the signature headers were missing or malformed when they \
            arrived; does a proxy strip Signature, Signature-Input or Signature-Key?"
            .to_owned(),
        C::ClockSkew => {
            "check the machine's clock: `created` must be close to the resource's time".to_owned()
        }
        C::UnknownKey
        | C::IssuerMissing
        | C::IssuerMismatch
        | C::InvalidJwt
        | C::ExpiredJwt
        | C::CacheMiss
        | C::RevokedJwt => "the resource wants an agent token (scheme jwt), which `aauth fetch` \
            does not send"
            .to_owned(),
        _ => "check the machine's clock and that the resource accepts this key type".to_owned(),
    };
    Failure::new(message, 5).hint(hint)
}

/// After an `invalid_signature`: when the resource's metadata names another origin than the
/// URL's (`localhost` vs `127.0.0.1`), say so; the signature covers `@authority`.
async fn authority_hint(url: &url::Url, max_time: u64) -> Option<String> {
    let origin = aauth_agent::origin_of(url);
    let md_url = url.join(aauth_agent::metadata::WELL_KNOWN_PATH).ok()?;
    let limit = if max_time == 0 { 5 } else { max_time.min(5) };
    let client = http_client(limit).ok()?;
    let resp = client.get(md_url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = resp.bytes().await.ok()?;
    if body.len() > 64 * 1024 {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let issuer = doc.get("issuer")?.as_str()?.trim_end_matches('/');
    let parsed = url::Url::parse(issuer).ok()?;
    (aauth_agent::origin_of(&parsed) != origin).then(|| {
        format!(
            "the resource says its origin is {} but the URL is for {origin}; the signature covers \
             @authority, so use {}{}",
            quote(issuer),
            quote(issuer),
            quote(url.path())
        )
    })
}

/// A failed HTTP exchange, with its causes (reqwest's own message omits them): a timeout is
/// exit 4, anything else exit 1.
fn http_failure(e: &reqwest::Error) -> Failure {
    let mut message = format!("HTTP request failed: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        Failure::new(message, 4)
            .hint("the resource did not answer in time; raise --max-time (0: no limit)")
    } else if message.to_ascii_lowercase().contains("certificate") {
        Failure::new(message, 1).hint(
            "the resource's TLS certificate was not accepted (unknown issuer, another host \
             name, or expired); use the host name the certificate is for, or install its CA",
        )
    } else {
        Failure::new(message, 1).hint("is the resource running and reachable?")
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors are exit code 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Without --debug only this project's warnings are logged: a library's own ERROR lines
    // (rustls on a bad certificate) would repeat the one-line error in another form.
    let filter = if cli.debug {
        "info,aauth=debug"
    } else {
        "off,aauth=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.quiet {
                // One line: newlines in server-chosen text are escaped too.
                errln!("error: {}", term::escape_controls(&f.message, false));
                if let Some(h) = f.hint {
                    // Hints may quote the resource (what it accepts): one line, escaped.
                    errln!("hint: {}", term::escape_controls(&h, false));
                }
            }
            ExitCode::from(f.code)
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Keygen { out, alg, force } => {
            let alg = match alg {
                Alg::Ed25519 => Algorithm::Ed25519,
                Alg::Es256 => Algorithm::Es256,
            };
            if out.as_os_str() == "-" {
                let key = SigningKey::generate(alg).map_err(|e| Failure::new(e, 1))?;
                let jwk = serde_json::to_string_pretty(&key.to_private_jwk())
                    .map_err(|e| Failure::new(e, 1))?;
                outln!("{jwk}");
                errln!("thumbprint {}", key.thumbprint());
                return Ok(());
            }
            let key = keyfile::generate(&out, alg, force).map_err(|e| Failure::new(e, 1))?;
            outln!("wrote {} ({})", out.display(), alg.jose_name());
            outln!("thumbprint {}", key.thumbprint());
            Ok(())
        }
        Command::Thumbprint { key, json, origin } => {
            let key = load_key(&key)?;
            let (origin, key) = match origin {
                Some(url) => {
                    let (origin, seen) = origin_key::key_seen_by(&key, &url).map_err(|e| {
                        Failure::new(e, 2).hint("leave out --origin for the key file's own key")
                    })?;
                    (Some(origin), seen)
                }
                None => (None, key),
            };
            if json {
                let mut out = serde_json::json!({
                    "thumbprint": key.thumbprint().as_str(),
                    "alg": key.algorithm().jose_name(),
                    "jwk": serde_json::to_value(key.public_jwk()).unwrap_or_default(),
                });
                if let Some(origin) = origin {
                    out["origin"] = origin.into();
                }
                outln!("{out}");
            } else {
                outln!("{}", key.thumbprint());
            }
            Ok(())
        }
        Command::Fetch {
            req,
            include,
            verbose,
            json,
            timeout,
            max_time,
            open,
            no_qr,
            sessions,
            no_sessions,
            allow_insecure_http,
        } => {
            let sessions = if no_sessions {
                None
            } else {
                Some(sessions.unwrap_or_else(|| default_sessions_path(&req.key)))
            };
            let opts = FetchOptions {
                include,
                verbose,
                json,
                timeout,
                max_time,
                open,
                qr: !no_qr,
                sessions,
                allow_insecure_http,
            };
            fetch(req, opts).await
        }
        Command::Sign { req, json, verbose } => sign(req, json, verbose).await,
        Command::Verify {
            file,
            now,
            window,
            scheme,
        } => verify_cmd(&file, now, window, &scheme),
        Command::Serve {
            listen,
            public_url,
            store,
            demo_password,
            admin_listen,
            accept_jwt,
            pending_ttl,
            retry_after,
        } => {
            let more = ServeMore {
                accept_jwt,
                pending_ttl,
                retry_after,
            };
            serve(listen, public_url, store, demo_password, admin_listen, more).await
        }
        Command::Demo {
            auto_approve,
            timeout,
            open,
        } => demo(auto_approve, timeout, open).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aauth", &mut script);
            term::out_bytes(&script).map_err(Failure::stdout)
        }
    }
}

fn default_sessions_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".sessions.json");
    PathBuf::from(s)
}

fn load_key(path: &Path) -> Result<SigningKey, Failure> {
    // A directory (mode 0777 like /tmp) would otherwise be reported as "readable by others".
    if let Ok(meta) = std::fs::metadata(path) {
        let ft = meta.file_type();
        #[cfg(unix)]
        let special_ok = {
            use std::os::unix::fs::FileTypeExt;
            ft.is_fifo() // `-k <(pass show agent-key)`
        };
        #[cfg(not(unix))]
        let special_ok = false;
        if !ft.is_file() && !special_ok {
            let what = if ft.is_dir() { " (a directory)" } else { "" };
            return Err(
                Failure::new(format!("{} is not a regular file{what}", path.display()), 1)
                    .hint("give the path of a key file (create one with `aauth keygen`)"),
            );
        }
    }
    keyfile::load(path).map_err(|e| match e {
        keyfile::KeyFileError::Read { .. } => {
            Failure::new(e, 1).hint("create one with `aauth keygen`")
        }
        keyfile::KeyFileError::TooOpen { .. } => {
            Failure::new(e, 1).hint("a signing key is an identity: keep it private")
        }
        _ => Failure::new(e, 1),
    })
}

fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::new(format!("cannot read standard input: {e}"), 1))?;
            Ok(buf)
        }
        Some(path) => {
            std::fs::read(path).map_err(|e| Failure::new(format!("cannot read {path}: {e}"), 1))
        }
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// The request URL of `fetch` and `sign`, checked before anything else: an absolute `http` or
/// `https` URL with a host (usage error, exit 2, otherwise).
fn request_url(raw: &str) -> Result<url::Url, Failure> {
    let shown = quote(raw);
    let url = url::Url::parse(raw).map_err(|e| {
        Failure::new(format!("invalid URL {shown:?}: {e}"), 2)
            .hint("give an absolute URL, e.g. https://resource.example/data")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Failure::new(
            format!("unsupported URL {shown:?}: only http and https URLs"),
            2,
        )
        .hint("give an absolute URL, e.g. https://resource.example/data"));
    }
    Ok(url)
}

/// `fetch` sends nothing over plain `http` to a host that is not a loopback address unless
/// `--allow-insecure-http` says so (usage error, exit 2).
fn check_transport(url: &url::Url, allow_insecure_http: bool) -> Result<(), Failure> {
    if url.scheme() == "http" && !allow_insecure_http && !aauth_agent::flow::is_loopback(url) {
        return Err(Failure::new(
            format!(
                "refusing plain http to {}: only loopback hosts (127.0.0.1, ::1, localhost) may use http",
                url.host_str().unwrap_or_default()
            ),
            2,
        )
        .hint(
            "use https, or pass --allow-insecure-http to send the signed request (and any \
             session token) in clear text",
        ));
    }
    Ok(())
}

/// Builds the request from curl-style arguments.
fn build_request(
    client: &AAuthClient,
    req: &RequestArgs,
) -> Result<aauth_agent::RequestBuilder, Failure> {
    let method = http::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Failure::new(format!("invalid method {:?}", req.method), 2))?;
    let url = request_url(&req.url)?;
    let mut builder = client.request(method, url.as_str());
    for h in &req.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Failure::new(
                format!("header {h:?} is not `Name: value`"),
                2,
            ));
        };
        if http::HeaderName::from_bytes(name.trim().as_bytes()).is_err()
            || http::HeaderValue::from_str(value.trim()).is_err()
        {
            return Err(Failure::new(format!("header {h:?} is not valid"), 2));
        }
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(d) = &req.data {
        builder = builder.body(read_data(d)?);
    }
    Ok(builder)
}

struct FetchOptions {
    include: bool,
    verbose: bool,
    json: bool,
    timeout: u64,
    max_time: u64,
    open: bool,
    qr: bool,
    sessions: Option<PathBuf>,
    allow_insecure_http: bool,
}

/// The waiting-for-a-person display: URL, code, QR code, spinner with elapsed time.
#[derive(Clone, Default)]
struct WaitUi {
    spinner: Arc<Mutex<Option<ProgressBar>>>,
    /// A pending request is open (from the 202 until the answer): a signal then gives the
    /// agent time to withdraw it.
    waiting: Arc<std::sync::atomic::AtomicBool>,
}

impl WaitUi {
    fn set_waiting(&self, on: bool) {
        self.waiting.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn show(&self, prompt: &InteractionPrompt, qr: bool, open: bool) {
        let url = prompt.approval_url();
        errln!("Approve at: {url}");
        errln!("Code:       {}", prompt.code);
        let tty = std::io::stderr().is_terminal();
        if qr
            && tty
            && let Ok(code) = qrcode::QrCode::new(url.as_bytes())
        {
            let art = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build();
            errln!("{art}");
        }
        if open && let Err(e) = webbrowser::open(&url) {
            errln!("(could not open a browser: {e})");
        }
        let pb = ProgressBar::new_spinner();
        if !tty {
            pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message("waiting for the person to approve");
        pb.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut s) = self.spinner.lock()
            && let Some(old) = s.replace(pb)
        {
            old.finish_and_clear();
        }
    }

    fn message(&self, msg: &'static str) {
        if let Ok(s) = self.spinner.lock()
            && let Some(pb) = s.as_ref()
        {
            pb.set_message(msg);
        }
    }

    fn done(&self) {
        self.set_waiting(false);
        if let Ok(mut s) = self.spinner.lock()
            && let Some(pb) = s.take()
        {
            pb.finish_and_clear();
        }
    }
}

/// Prints one protocol step for `-v`, on stderr, never a token.
fn print_event(e: &ProtocolEvent) {
    match e {
        ProtocolEvent::Metadata { origin, metadata } => match metadata {
            Some(m) => errln!(
                "* metadata {origin}: access_mode={} extra components={:?}",
                m.access_mode.as_deref().unwrap_or("-"),
                m.additional_signature_components
            ),
            None => errln!("* no usable metadata at {origin}"),
        },
        ProtocolEvent::Signed { method, url, base } => {
            errln!("> {method} {url}");
            errln!("* signature base:");
            for line in base.lines() {
                errln!("*   {}", redact_base_line(line));
            }
        }
        ProtocolEvent::Response {
            method,
            url,
            status,
        } => errln!("< {status} for {method} {url}"),
        ProtocolEvent::Resigning { components } => {
            errln!("* resource requires {components:?}; re-signing once")
        }
        ProtocolEvent::Interaction { location, .. } => {
            errln!("* interaction required; polling {location}")
        }
        ProtocolEvent::AwaitingApproval { location } => {
            errln!("* approval required; polling {location}")
        }
        ProtocolEvent::Waiting { wait, attempt } => {
            errln!("* waiting {}s before poll {}", wait.as_secs(), attempt + 1)
        }
        ProtocolEvent::Polled {
            status,
            interacting,
        } => errln!(
            "< poll {status}{}",
            if *interacting {
                " (person is on the page)"
            } else {
                ""
            }
        ),
        ProtocolEvent::SessionStored { origin, rotated } => errln!(
            "* session token {} for {origin}",
            if *rotated { "rotated" } else { "stored" }
        ),
        ProtocolEvent::SessionDropped { origin } => {
            errln!("* session token for {origin} dropped")
        }
        ProtocolEvent::Withdrawn { location } => errln!("* withdrew {location}"),
        _ => {}
    }
}

/// A signature-base line for `-v`: the session token in `authorization` is a credential.
fn redact_base_line(line: &str) -> std::borrow::Cow<'_, str> {
    match line.strip_prefix("\"authorization\": ") {
        Some(value) => {
            let scheme = value.split_once(' ').map_or("", |(s, _)| s);
            format!("\"authorization\": {scheme} <redacted>").into()
        }
        None => line.into(),
    }
}

/// The reqwest client of `fetch` and `demo`: no redirects (the agent checks origins itself),
/// a connect timeout, and `max_time` seconds per exchange (0: no limit). The agent gives each
/// poll its own, longer limit (`Prefer: wait` plus a margin), so waiting for a person is not
/// cut short.
fn http_client(max_time: u64) -> Result<reqwest::Client, Failure> {
    aauth_cli::install_ring_provider();
    let mut connect = Duration::from_secs(CONNECT_TIMEOUT);
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_version_min(reqwest::tls::Version::TLS_1_2) // SIG-35
        .user_agent(concat!("aauth/", env!("CARGO_PKG_VERSION")));
    if max_time > 0 {
        let total = Duration::from_secs(max_time);
        connect = connect.min(total);
        builder = builder.timeout(total);
    }
    builder
        .connect_timeout(connect)
        .build()
        .map_err(|e| Failure::new(format!("cannot set up HTTP: {e}"), 1))
}

type Show = Arc<dyn Fn(InteractionPrompt) + Send + Sync>;

/// How `fetch` and `demo` set up their client.
struct ClientSetup<'a> {
    /// Seconds to wait for the person's decision.
    timeout: u64,
    /// `--max-time`.
    max_time: u64,
    verbose: bool,
    sessions: Option<&'a Path>,
    allow_insecure_http: bool,
}

fn interactive_client(
    key: AgentKey,
    setup: ClientSetup<'_>,
    ui: WaitUi,
    show: Show,
) -> Result<AAuthClient, Failure> {
    let ClientSetup {
        timeout,
        max_time,
        verbose,
        sessions,
        allow_insecure_http,
    } = setup;
    let mut builder = key
        .builder()
        .allow_insecure_http(allow_insecure_http)
        .http_client(http_client(max_time)?)
        .on_event(move |e| {
            if verbose {
                print_event(e);
            }
            match e {
                ProtocolEvent::Interaction { .. } | ProtocolEvent::AwaitingApproval { .. } => {
                    ui.set_waiting(true);
                }
                ProtocolEvent::Polled {
                    interacting: true, ..
                } => ui.message("the person is on the approval page"),
                _ => {}
            }
        })
        .with_interaction_handling(move |o| {
            o.on_interaction_required(move |prompt| {
                show(prompt);
                async {}
            });
            o.polling_timeout(Duration::from_secs(timeout));
        });
    if let Some(path) = sessions {
        let cache = FileSessionCache::open(path).map_err(|e| match e {
            SessionCacheError::TooOpen { .. } => {
                Failure::new(e, 1).hint("session tokens are this agent's credentials: keep them private")
            }
            _ => Failure::new(e, 1)
                .hint("give the path of a session file (a corrupt one may be deleted), or pass --no-sessions"),
        })?;
        builder = builder.session_cache(Arc::new(cache));
    }
    builder.build().map_err(Failure::from)
}

/// How long a command may take to end by itself after Ctrl-C or SIGTERM.
const SIGNAL_GRACE: Duration = Duration::from_secs(2);

/// Ctrl-C or SIGTERM cancels the token: a wait for the person ends and withdraws its pending
/// request (the agent answers `Cancelled`, exit 130). Listening for the signals takes their
/// default action away, so every other phase (a slow first answer, a streaming body) is ended
/// by [`interruptible`]; a second signal exits at once.
fn cancel_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    // Registered before any work starts, so an early signal is not lost to the default action.
    let mut signals = Signals::listen();
    tokio::spawn(async move {
        while signals.next().await {
            if t.is_cancelled() {
                errln!("error: interrupted");
                std::process::exit(130);
            }
            t.cancel();
        }
    });
    token
}

/// Ctrl-C and SIGTERM, listened for from the moment of [`Signals::listen`].
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next Ctrl-C or SIGTERM; `false` when they cannot be listened for.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some((int, term)) = self.unix.as_mut() {
            return tokio::select! {
                s = int.recv() => s.is_some(),
                s = term.recv() => s.is_some(),
            };
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Runs `work` (given the cancellation token and the waiting display) until it ends or a
/// signal comes: then it ends with exit 130 at once, or, while a pending request is open,
/// when it does not finish within [`SIGNAL_GRACE`] (time for the agent to withdraw the
/// request and say so itself).
async fn interruptible<Fut>(
    work: impl FnOnce(CancellationToken, WaitUi) -> Fut,
) -> Result<(), Failure>
where
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let cancel = cancel_on_signals();
    let ui = WaitUi::default();
    tokio::select! {
        r = work(cancel.clone(), ui.clone()) => r,
        () = async {
            cancel.cancelled().await;
            if ui.is_waiting() {
                tokio::time::sleep(SIGNAL_GRACE).await;
            }
        } => Err(Failure::new("interrupted", 130)),
    }
}

async fn fetch(req: RequestArgs, opts: FetchOptions) -> Result<(), Failure> {
    interruptible(|cancel, ui| fetch_until(req, opts, cancel, ui)).await
}

async fn fetch_until(
    req: RequestArgs,
    opts: FetchOptions,
    cancel: CancellationToken,
    ui: WaitUi,
) -> Result<(), Failure> {
    let url = request_url(&req.url)?;
    check_transport(&url, opts.allow_insecure_http)?;
    let key = AgentKey::new(load_key(&req.key)?, !req.one_key_for_all_origins);
    if let Some(note) = key.es256_note(opts.sessions.is_some()) {
        errln!("{note}");
    }
    let show_ui = ui.clone();
    let (qr, open) = (opts.qr, opts.open);
    let client = interactive_client(
        key,
        ClientSetup {
            timeout: opts.timeout,
            max_time: opts.max_time,
            verbose: opts.verbose,
            sessions: opts.sessions.as_deref(),
            allow_insecure_http: opts.allow_insecure_http,
        },
        ui.clone(),
        Arc::new(move |p| show_ui.show(&p, qr, open)),
    )?;
    let builder = build_request(&client, &req)?.cancel_on(cancel);
    let result = builder.send().await;
    ui.done();
    let resp = match result {
        Err(
            e @ AAuthError::Signature {
                code: aauth_wire::signature_error::SignatureErrorCode::InvalidSignature,
                ..
            },
        ) => {
            let mut f = Failure::from(e);
            if let Some(h) = authority_hint(&url, opts.max_time).await {
                f = f.hint(h);
            }
            return Err(f);
        }
        r => r?,
    };
    let tty = std::io::stdout().is_terminal();
    print_response(resp, opts.include, opts.json, tty).await
}

/// Prints a response: `--json` reads the body into memory (at most [`MAX_JSON_BODY`]),
/// otherwise it is streamed to standard output chunk by chunk, byte for byte — or with control
/// characters escaped when standard output is a terminal. `newline`: end a body that lacks a
/// final newline with one (for a terminal, and the demo's narration).
async fn print_response(
    mut resp: reqwest::Response,
    include: bool,
    json: bool,
    newline: bool,
) -> Result<(), Failure> {
    let status = resp.status();
    let version = resp.version();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(name, value)| {
            let v = if name.as_str().eq_ignore_ascii_case("aauth-access") {
                // A session token is a credential: never print it.
                "<redacted>".to_owned()
            } else {
                term::escape_controls(value.to_str().unwrap_or("<binary>"), false).into_owned()
            };
            (name.as_str().to_owned(), v)
        })
        .collect();
    if json {
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_failure(&e))? {
            if body.len().saturating_add(chunk.len()) > MAX_JSON_BODY {
                return Err(Failure::new(
                    format!(
                        "the response body is larger than {} MiB, too large for --json",
                        MAX_JSON_BODY / (1024 * 1024)
                    ),
                    1,
                )
                .hint("drop --json to stream the body (-i shows the status and headers)"));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&body);
        let mut map = serde_json::Map::new();
        for (k, v) in &headers {
            map.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        // serde_json escapes control characters: JSON output is safe on a terminal.
        let parsed = serde_json::from_str::<serde_json::Value>(&body)
            .unwrap_or_else(|_| serde_json::Value::String(body.into_owned()));
        outln!(
            "{}",
            serde_json::json!({"status": status.as_u16(), "headers": map, "body": parsed})
        );
    } else {
        if include {
            outln!("{version:?} {status}");
            for (k, v) in &headers {
                outln!("{k}: {v}");
            }
            outln!();
        }
        let mut escaper = std::io::stdout()
            .is_terminal()
            .then(term::TerminalEscaper::default);
        let mut last = None;
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_failure(&e))? {
            if let Some(&b) = chunk.last() {
                last = Some(b);
            }
            match escaper.as_mut() {
                Some(t) => term::out_bytes(t.push(&chunk).as_bytes()),
                None => term::out_bytes(&chunk),
            }
            .map_err(Failure::stdout)?;
        }
        if let Some(t) = escaper.as_mut() {
            term::out_bytes(t.finish().as_bytes()).map_err(Failure::stdout)?;
        }
        if newline && last.is_some_and(|b| b != b'\n') {
            outln!();
        }
    }
    if status.is_success() {
        return Ok(());
    }
    let failure = Failure::new(format!("the resource answered {status}"), 6);
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        // The resource limits open approvals per agent: ours are withdrawn on Ctrl-C and
        // otherwise expire with the pending request.
        let wait = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| format!("after {v} s "))
            .unwrap_or_default();
        return Err(failure.hint(format!(
            "too many requests from this agent, or too many waiting for approval: try again \
             {wait}(requests left waiting expire on their own)"
        )));
    }
    Err(failure)
}

async fn sign(req: RequestArgs, json: bool, verbose: bool) -> Result<(), Failure> {
    request_url(&req.url)?;
    let key = AgentKey::new(load_key(&req.key)?, !req.one_key_for_all_origins);
    // No metadata fetch: `sign` works offline.
    let client = key
        .builder()
        .resource_metadata(false)
        .build()
        .map_err(Failure::from)?;
    let mut request = build_request(&client, &req)?
        .build()
        .map_err(Failure::from)?;
    client.sign(&mut request).map_err(Failure::from)?;
    // After signing: the signer may add headers it covers (Content-Digest for a body).
    let base = client.signature_base(&request).map_err(Failure::from)?;
    let names = [
        ("content-digest", "Content-Digest"),
        ("signature-key", "Signature-Key"),
        ("signature-input", "Signature-Input"),
        ("signature", "Signature"),
    ];
    if verbose {
        errln!("signature base:\n{base}");
    }
    let value = |n: &str| {
        request
            .headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if json {
        let mut map = serde_json::Map::new();
        for (n, _) in names {
            if let Some(v) = value(n) {
                map.insert(n.to_owned(), serde_json::Value::String(v));
            }
        }
        outln!(
            "{}",
            serde_json::json!({"headers": map, "signature_base": base})
        );
    } else {
        for (n, display) in names {
            if let Some(v) = value(n) {
                outln!("{display}: {v}");
            }
        }
    }
    Ok(())
}

fn verify_cmd(file: &Path, now: Option<u64>, window: u64, scheme: &str) -> Result<(), Failure> {
    let text = read_capture(file)?;
    let captured = verify::parse_capture(&text, scheme).map_err(|e| {
        if verify::is_json(&text) {
            Failure::new(e, 2).hint(
                "a JSON capture is {\"method\", \"url\", \"headers\": {name: value}, \"body\"}",
            )
        } else {
            Failure::new(e, 2).hint("give raw HTTP or JSON {method, url, headers, body}")
        }
    })?;
    let now = now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let verdict = verify::verify(&captured, now, Duration::from_secs(window));
    outln!(
        "{}",
        serde_json::to_string(&verdict).unwrap_or_else(|_| "{}".into())
    );
    if verdict.verdict == "valid" {
        Ok(())
    } else {
        Err(Failure::new(
            format!(
                "signature invalid: {}{}",
                verdict.signature_error.as_deref().unwrap_or("unknown"),
                verdict
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({})", quote(d)))
                    .unwrap_or_default()
            ),
            5,
        ))
    }
}

/// Reads a capture: at most [`MAX_CAPTURE`] bytes of UTF-8. An unreadable file is an I/O error
/// (exit 1); a capture too large or not UTF-8 is a bad capture (exit 2, as a malformed one).
fn read_capture(file: &Path) -> Result<String, Failure> {
    let (name, input): (String, Box<dyn Read>) = if file.as_os_str() == "-" {
        ("standard input".into(), Box::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", file.display()), 1))?;
        (file.display().to_string(), Box::new(f))
    };
    let mut bytes = Vec::new();
    input
        .take(MAX_CAPTURE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::new(format!("cannot read {name}: {e}"), 1))?;
    if bytes.len() as u64 > MAX_CAPTURE {
        return Err(Failure::new(
            format!(
                "{name}: the capture is larger than {} KiB",
                MAX_CAPTURE / 1024
            ),
            2,
        )
        .hint("give one captured request (raw HTTP or JSON {method, url, headers})"));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(format!("{name}: the capture is not UTF-8 ({e})"), 2)
            .hint("give raw HTTP or JSON {method, url, headers} as UTF-8 text")
    })
}

/// The stores `--store` names: `None` for memory.
async fn open_stores(args: &StoreArgs) -> Result<Option<demo_resource::DemoStores>, Failure> {
    use aauth_store::redis::{RedisBackend, RedisConfig};
    if args.store == "memory" {
        return Ok(None);
    }
    if !(args.store.starts_with("redis://") || args.store.starts_with("rediss://")) {
        return Err(Failure::new(
            "--store must be `memory` or a redis:// URL",
            2,
        ));
    }
    let config = RedisConfig::new(args.store.as_str()).prefix(args.store_prefix.as_str());
    let shown = config.redacted_url();
    let backend = RedisBackend::connect(config).await.map_err(|e| {
        Failure::new(format!("store {shown}: {e}"), 1)
            .hint("is Redis running? (redis-cli -u URL ping)")
    })?;
    sayln!(
        "State in Redis at {shown}, key prefix {:?}",
        args.store_prefix
    );
    Ok(Some(demo_resource::DemoStores {
        sessions: Arc::new(backend.session_store()),
        pending: Arc::new(backend.pending_store()),
        revocations: Arc::new(backend.revocation_store()),
        replay: Arc::new(backend.replay_store()),
    }))
}

/// Why `serve` could not start: the listener (with the matching hint) or the configuration
/// (`--public-url`; usage, exit 2).
fn serve_failure(listen: SocketAddr, e: &std::io::Error) -> Failure {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => Failure::new(format!("cannot listen on {listen}: {e}"), 1)
            .hint("is the port free? try --listen 127.0.0.1:0"),
        ErrorKind::AddrNotAvailable => Failure::new(format!("cannot listen on {listen}: {e}"), 1)
            .hint("use an address of this machine, e.g. --listen 127.0.0.1:8080"),
        ErrorKind::PermissionDenied => Failure::new(format!("cannot listen on {listen}: {e}"), 1)
            .hint("ports below 1024 need privileges; try --listen 127.0.0.1:8080"),
        // spawn_with reports the resource's configuration as ErrorKind::Other.
        ErrorKind::Other => Failure::new(format!("invalid configuration: {e}"), 2).hint(
            "--public-url must be the origin agents use, e.g. https://resource.example \
             (plain http only for loopback)",
        ),
        _ => Failure::new(format!("cannot listen on {listen}: {e}"), 1),
    }
}

/// `aauth serve`'s resource settings beyond the listener, stores and login.
struct ServeMore {
    accept_jwt: bool,
    pending_ttl: u64,
    retry_after: u64,
}

async fn serve(
    listen: SocketAddr,
    public_url: Option<String>,
    store: StoreArgs,
    demo_password: Option<String>,
    admin_listen: Option<SocketAddr>,
    more: ServeMore,
) -> Result<(), Failure> {
    // Before the banner: a supervisor may signal as soon as it sees it.
    let mut signals = Signals::listen();
    let shared_password = demo_password.is_some();
    let login = match demo_password {
        Some(p) if p.is_empty() => {
            return Err(Failure::new("--demo-password must not be empty", 2));
        }
        Some(password) => person::Login {
            username: demo_resource::DEMO_USER.to_owned(),
            password,
        },
        None => demo_resource::demo_login().clone(),
    };
    // The admin address is checked and bound before anything starts or is printed: a bad
    // one is a usage error (2), a busy one the same error as a busy --listen (1).
    let admin_listener = match admin_listen {
        Some(a) => Some(aauth_cli::admin::bind(a).await.map_err(|e| {
            let f = Failure::new(format!("--admin-listen {a}: {e}"), 1);
            match e.kind() {
                std::io::ErrorKind::InvalidInput => Failure { code: 2, ..f }
                    .hint("give a loopback address, e.g. --admin-listen 127.0.0.1:8081"),
                std::io::ErrorKind::AddrInUse => {
                    f.hint("is the port free? try --admin-listen 127.0.0.1:0")
                }
                _ => f,
            }
        })?),
        None => None,
    };
    let opts = demo_resource::DemoOptions {
        login: Some(login.clone()),
        stores: open_stores(&store).await?,
        replay_guard: store.replay_guard,
        accept_jwt: more.accept_jwt,
        key_resolver: None,
        pending_ttl: Some(more.pending_ttl),
        retry_after: Some(more.retry_after),
    };
    let (addr, resource, handle) = demo_resource::spawn_with(listen, public_url, opts)
        .await
        .map_err(|e| serve_failure(listen, &e))?;
    sayln!(
        "AAuth demo resource on http://{addr} (origin {})",
        resource.origin()
    );
    sayln!(
        "Protected: {}/data — try `aauth fetch {}/data`",
        resource.origin(),
        resource.origin()
    );
    if more.accept_jwt {
        sayln!("Agents: hwk and jwt (agent tokens; issuer keys discovered over HTTPS)");
    }
    if shared_password {
        sayln!(
            "Interaction page sign-in: user {}, password from --demo-password / AAUTH_DEMO_PASSWORD",
            login.username
        );
    } else {
        sayln!(
            "Interaction page sign-in: user {}, password {} (valid for this run only)",
            login.username,
            login.password
        );
    }
    let admin = match admin_listener {
        Some(listener) => {
            let (bound, handle) = aauth_cli::admin::serve_on(listener, resource.clone())
                .map_err(|e| Failure::new(format!("--admin-listen: {e}"), 1))?;
            sayln!("Admin (revocation) routes on http://{bound}");
            Some(handle)
        }
        None => None,
    };
    let admin_stopped = async {
        match admin {
            Some(h) => {
                let _ = h.await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = handle => Err(Failure::new("the server stopped", 1)),
        _ = admin_stopped => Err(Failure::new("the admin listener stopped", 1)),
        // Ctrl-C or SIGTERM (`docker stop`, systemd) stop the server cleanly.
        () = async {
            if !signals.next().await {
                std::future::pending::<()>().await;
            }
        } => Ok(()),
    }
}

async fn demo(auto_approve: bool, timeout: u64, open: bool) -> Result<(), Failure> {
    interruptible(|cancel, ui| demo_until(auto_approve, timeout, open, cancel, ui)).await
}

async fn demo_until(
    auto_approve: bool,
    timeout: u64,
    open: bool,
    cancel: CancellationToken,
    ui: WaitUi,
) -> Result<(), Failure> {
    let (_addr, resource, _handle) = demo_resource::spawn(([127, 0, 0, 1], 0).into(), None)
        .await
        .map_err(|e| Failure::new(e, 1))?;
    outln!("1. Resource listening at {}", resource.origin());
    if !auto_approve {
        let login = demo_resource::demo_login();
        outln!(
            "   Sign in at the interaction page as {} with password {}",
            login.username,
            login.password
        );
    }
    let key = SigningKey::generate(Algorithm::Ed25519).map_err(|e| Failure::new(e, 1))?;
    // SK-25: the resource sees a key derived for its origin, not the generated key itself.
    let seen = key
        .derive_for_origin(resource.origin())
        .map_err(|e| Failure::new(e, 1))?;
    outln!(
        "2. Agent key generated (Ed25519); this resource sees key {}",
        seen.thumbprint()
    );
    let show_ui = ui.clone();
    let show: Show = Arc::new(move |prompt| {
        if auto_approve {
            let url = prompt.approval_url();
            // Best effort here; the next line the demo prints reports a closed stdout.
            sayln!("Approve at: {url}");
            sayln!("(auto-approve: playing the person at the interaction page)");
            tokio::spawn(async move {
                // Give the agent's first poll a moment, as a person would.
                tokio::time::sleep(Duration::from_millis(300)).await;
                if let Err(e) = person::decide(&url, person::Choice::Approve).await {
                    errln!("auto-approve failed: {e}");
                }
            });
        } else {
            show_ui.show(&prompt, true, open);
        }
    });
    let client = interactive_client(
        AgentKey::new(key, true),
        ClientSetup {
            timeout,
            max_time: DEFAULT_MAX_TIME,
            verbose: false,
            sessions: None,
            allow_insecure_http: false,
        },
        ui.clone(),
        show,
    )?;
    let url = format!("{}/data", resource.origin());
    outln!("3. Agent: signed GET {url}");
    let result = client.get(&url).cancel_on(cancel).send().await;
    ui.done();
    let resp = result?;
    let has_token = client.session_token(resource.origin()).is_some();
    outln!(
        "4. Approved; session token {}; request re-sent with Authorization: AAuth",
        if has_token { "received" } else { "not issued" }
    );
    outln!("5. Resource answered {}:", resp.status());
    print_response(resp, false, false, true).await?;
    // A second call rides on the session token, with no new approval.
    let again = client.get(&url).send().await?;
    outln!(
        "6. Second request with the session token: {}",
        again.status()
    );
    Ok(())
}
