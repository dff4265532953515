//! `aauth`: generate keys, fetch AAuth-protected resources, run the demo resource, and run the
//! whole two-party flow end to end.
//!
//! Exit codes: 0 success · 1 error · 2 usage · 3 access denied · 4 expired or timed out ·
//! 5 signature rejected.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aauth_agent::{AAuthClient, AAuthError};
use aauth_cli::{demo_resource, keyfile, person};
use aauth_sig::{Algorithm, SigningKey};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "aauth", version, about = "AAuth agent and resource tools", long_about = None)]
struct Cli {
    /// Log protocol steps (set RUST_LOG for finer control).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Alg {
    Ed25519,
    Es256,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a signing key and write it as a private JWK (mode 0600).
    Keygen {
        #[arg(long, default_value = "aauth-key.jwk")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "ed25519")]
        alg: Alg,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the RFC 7638 thumbprint of a key file (the agent's pseudonymous identity).
    Thumbprint {
        #[arg(long, default_value = "aauth-key.jwk")]
        key: PathBuf,
    },
    /// Send a signed request; handle a person's approval if the resource asks for one.
    Fetch {
        url: String,
        #[arg(long, default_value = "aauth-key.jwk")]
        key: PathBuf,
        #[arg(short = 'X', long, default_value = "GET")]
        method: String,
        /// Extra header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Request body.
        #[arg(short = 'd', long)]
        data: Option<String>,
        /// Print the response status and headers before the body.
        #[arg(short = 'i', long)]
        include: bool,
        /// Seconds to wait for the person's decision.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Run the demo resource: `/data` needs a person's approval.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Public origin if it differs from http://<listen> (must be https unless loopback).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Run resource and agent together and walk the two-party flow end to end.
    Demo {
        /// Play the person: approve at the interaction page automatically.
        #[arg(long)]
        auto_approve: bool,
        /// Seconds to wait for the person's decision.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

/// One line of error plus a hint, and the documented exit code.
struct Failure {
    message: String,
    hint: Option<&'static str>,
    code: u8,
}

impl Failure {
    fn new(message: impl ToString, code: u8) -> Self {
        Failure {
            message: message.to_string(),
            hint: None,
            code,
        }
    }

    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl From<AAuthError> for Failure {
    fn from(e: AAuthError) -> Self {
        match &e {
            AAuthError::Denied { .. } => Failure::new(e, 3),
            AAuthError::Expired | AAuthError::Timeout(_) => {
                Failure::new(e, 4).hint("run the command again and approve within the time limit")
            }
            AAuthError::Signature { .. } => Failure::new(e, 5)
                .hint("check the machine's clock and that the resource accepts this key type"),
            AAuthError::Http(_) => {
                Failure::new(e, 1).hint("is the resource running and reachable?")
            }
            _ => Failure::new(e, 1),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "info,aauth=debug"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            if let Some(h) = f.hint {
                eprintln!("hint: {h}");
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
            let key = keyfile::generate(&out, alg, force).map_err(|e| Failure::new(e, 1))?;
            println!("wrote {} ({})", out.display(), alg.jose_name());
            println!("thumbprint {}", key.thumbprint());
            Ok(())
        }
        Command::Thumbprint { key } => {
            let key = load_key(&key)?;
            println!("{}", key.thumbprint());
            Ok(())
        }
        Command::Fetch {
            url,
            key,
            method,
            headers,
            data,
            include,
            timeout,
        } => fetch(url, key, method, headers, data, include, timeout).await,
        Command::Serve { listen, public_url } => serve(listen, public_url).await,
        Command::Demo {
            auto_approve,
            timeout,
        } => demo(auto_approve, timeout).await,
    }
}

fn load_key(path: &std::path::Path) -> Result<SigningKey, Failure> {
    keyfile::load(path).map_err(|e| match e {
        keyfile::KeyFileError::Read { .. } => {
            Failure::new(e, 1).hint("create one with `aauth keygen`")
        }
        _ => Failure::new(e, 1),
    })
}

fn client(key: SigningKey, timeout: u64, auto_approve: bool) -> Result<AAuthClient, Failure> {
    AAuthClient::builder(key)
        .use_hwk()
        .with_interaction_handling(|o| {
            o.on_interaction_required(move |prompt| async move {
                let url = prompt.approval_url();
                println!("Approve at: {url}");
                if auto_approve {
                    println!("(auto-approve: playing the person at the interaction page)");
                    tokio::spawn(async move {
                        // Give the agent's first poll a moment, as a person would.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if let Err(e) = person::decide(&url, person::Choice::Approve).await {
                            eprintln!("auto-approve failed: {e}");
                        }
                    });
                } else {
                    println!("Waiting for the approval (code {}) …", prompt.code);
                }
            });
            o.polling_timeout(Duration::from_secs(timeout));
        })
        .build()
        .map_err(Failure::from)
}

async fn fetch(
    url: String,
    key: PathBuf,
    method: String,
    headers: Vec<String>,
    data: Option<String>,
    include: bool,
    timeout: u64,
) -> Result<(), Failure> {
    let key = load_key(&key)?;
    let method = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| Failure::new(format!("invalid method {method}"), 2))?;
    let client = client(key, timeout, false)?;
    let mut req = client.request(method, &url);
    for h in headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Failure::new(
                format!("header {h:?} is not `Name: value`"),
                2,
            ));
        };
        req = req.header(name.trim(), value.trim());
    }
    if let Some(d) = data {
        req = req.body(d);
    }
    let resp = req.send().await?;
    print_response(resp, include).await
}

async fn print_response(resp: reqwest::Response, include: bool) -> Result<(), Failure> {
    if include {
        println!("{:?} {}", resp.version(), resp.status());
        for (name, value) in resp.headers() {
            if name.as_str().eq_ignore_ascii_case("aauth-access") {
                // A session token is a credential: never print it.
                println!("{name}: <redacted>");
            } else {
                println!("{name}: {}", value.to_str().unwrap_or("<binary>"));
            }
        }
        println!();
    }
    let status = resp.status();
    let body = resp.text().await.map_err(|e| Failure::new(e, 1))?;
    println!("{body}");
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::new(format!("the resource answered {status}"), 1))
    }
}

async fn serve(listen: SocketAddr, public_url: Option<String>) -> Result<(), Failure> {
    let (addr, resource, handle) = demo_resource::spawn(listen, public_url)
        .await
        .map_err(|e| Failure::new(e, 1).hint("is the port free? try --listen 127.0.0.1:0"))?;
    println!(
        "AAuth demo resource on http://{addr} (origin {})",
        resource.origin()
    );
    println!(
        "Protected: {}/data — try `aauth fetch {}/data`",
        resource.origin(),
        resource.origin()
    );
    let login = demo_resource::demo_login();
    println!(
        "Interaction page sign-in: user {}, password {} (valid for this run only)",
        login.username, login.password
    );
    tokio::select! {
        _ = handle => Err(Failure::new("the server stopped", 1)),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn demo(auto_approve: bool, timeout: u64) -> Result<(), Failure> {
    let (_addr, resource, _handle) = demo_resource::spawn(([127, 0, 0, 1], 0).into(), None)
        .await
        .map_err(|e| Failure::new(e, 1))?;
    println!("1. Resource listening at {}", resource.origin());
    if !auto_approve {
        let login = demo_resource::demo_login();
        println!(
            "   Sign in at the interaction page as {} with password {}",
            login.username, login.password
        );
    }
    let key = SigningKey::generate(Algorithm::Ed25519).map_err(|e| Failure::new(e, 1))?;
    println!(
        "2. Agent key generated (Ed25519, thumbprint {})",
        key.thumbprint()
    );
    let client = client(key, timeout, auto_approve)?;
    let url = format!("{}/data", resource.origin());
    println!("3. Agent: signed GET {url}");
    let resp = client.get(&url).send().await?;
    let has_token = client.session_token(resource.origin()).is_some();
    println!(
        "4. Approved; session token {}; request re-sent with Authorization: AAuth",
        if has_token { "received" } else { "not issued" }
    );
    println!("5. Resource answered {}:", resp.status());
    print_response(resp, false).await?;
    // A second call rides on the session token, with no new approval.
    let again = client.get(&url).send().await?;
    println!(
        "6. Second request with the session token: {}",
        again.status()
    );
    Ok(())
}
