//! `cargo xtask conformance resource`: black-box checks of a resource over HTTP, each named by
//! its DIGEST.md requirement ID.
use std::time::{Duration, Instant};

use aauth_sig::{Algorithm, Jwk, SigningKey};
use aauth_wire::requirement::{AAuthRequirement, Requirement};
use aauth_wire::signature_error::SignatureErrorCode as C;
use http::{Method, StatusCode};

use crate::raw::{self, Spec, fixed_key, fresh_key, hwk_member, now};
use crate::report::{Outcome, Report};
use crate::wire::{Reply, client, plain, send};

/// How the person is played at the interaction page.
#[derive(Clone, Debug)]
pub enum Person {
    /// Our `aauth_cli::person` helper (the target is our own server).
    Builtin,
    /// A shell command; `{url}` is the approval URL, `{decision}` `approve` or `deny`.
    Command(String),
    /// Nobody: checks that need a decision are skipped.
    Nobody,
}

pub struct Options {
    pub url: Option<String>,
    pub person_cmd: Option<String>,
    /// How the person opens the approval link and stops there (no decision): a shell command
    /// with `{url}` that prints the page on stdout and exits 0 when the page accepted the code.
    pub person_open_cmd: Option<String>,
    pub window: i64,
    pub max_code_attempts: u32,
    /// The target's pending-request lifetime in seconds, when known: the expiry checks
    /// (ERR-22, IC-10) wait it out. Our own resource is checked with a second instance
    /// started with `--pending-ttl 10`.
    pub pending_ttl: Option<u64>,
}

#[derive(Clone)]
struct Target {
    url: url::Url,
    http: reqwest::Client,
    person: Person,
    open_cmd: Option<String>,
}

/// What the person saw after opening the approval link without deciding.
struct Opened {
    /// The page accepted the code (a 2xx page; for `--person-open-cmd`, exit status 0).
    accepted: bool,
    /// The HTTP status, or the command's exit status.
    status: String,
    html: String,
    /// Our person's browser, to decide on that page later (not for a command).
    page: Option<aauth_cli::person::OpenedPage>,
}

/// Longest pending lifetime the expiry checks are willing to wait out.
const MAX_TTL_WAIT: u64 = 120;

struct Pending {
    url: String,
    code: String,
    location: url::Url,
    last: Instant,
    retry: u64,
}

impl Pending {
    fn approval_url(&self) -> String {
        format!("{}?code={}", self.url, self.code)
    }
}

impl Target {
    async fn get(&self, key: &SigningKey, spec: Spec) -> Result<Reply, String> {
        let signed = raw::sign(key, &spec)?;
        send(&self.http, &signed).await
    }

    async fn get_target(&self, key: &SigningKey) -> Result<Reply, String> {
        self.get(key, Spec::get(&self.url)).await
    }

    /// A signed GET of the protected URL that must start an interaction.
    async fn start(&self, key: &SigningKey) -> Result<Pending, String> {
        let first = self.get_target(key).await?;
        if first.status != StatusCode::ACCEPTED {
            return Err(format!("expected 202, got {}", first.summary()));
        }
        let raw = first
            .header("aauth-requirement")
            .ok_or("202 without AAuth-Requirement")?;
        let req = AAuthRequirement::parse(raw).map_err(|e| format!("AAuth-Requirement: {e}"))?;
        let Requirement::Interaction { url, code } = req.requirement else {
            return Err(format!("requirement is not interaction: {raw}"));
        };
        let loc = first.header("location").ok_or("202 without Location")?;
        let location = self
            .url
            .join(loc)
            .map_err(|e| format!("Location {loc:?}: {e}"))?;
        let retry = first
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        Ok(Pending {
            url,
            code,
            location,
            last: Instant::now(),
            retry,
        })
    }

    /// A signed poll, after waiting the advertised Retry-After.
    async fn poll(&self, key: &SigningKey, p: &mut Pending) -> Result<Reply, String> {
        let due = p.last + Duration::from_secs(p.retry);
        tokio::time::sleep_until(due.into()).await;
        let r = self.get(key, Spec::get(&p.location)).await?;
        p.last = Instant::now();
        if let Some(ra) = r.header("retry-after").and_then(|v| v.parse().ok()) {
            p.retry = ra;
        }
        Ok(r)
    }

    async fn decide(&self, approval_url: &str, approve: bool) -> Result<(), String> {
        match &self.person {
            Person::Builtin => {
                let choice = if approve {
                    aauth_cli::person::Choice::Approve
                } else {
                    aauth_cli::person::Choice::Deny
                };
                aauth_cli::person::decide(approval_url, choice)
                    .await
                    .map_err(|e| format!("person: {e}"))
            }
            Person::Command(cmd) => {
                let line = cmd
                    .replace("{url}", approval_url)
                    .replace("{decision}", if approve { "approve" } else { "deny" });
                let st = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(&line)
                    .status()
                    .await
                    .map_err(|e| format!("person command: {e}"))?;
                if st.success() {
                    Ok(())
                } else {
                    Err(format!("person command exited {st}"))
                }
            }
            Person::Nobody => Err("no person".to_owned()),
        }
    }

    fn can_decide(&self) -> bool {
        !matches!(self.person, Person::Nobody)
    }

    /// Whether the person can open the page and stop there without deciding.
    fn can_open(&self) -> bool {
        self.open_cmd.is_some() || matches!(self.person, Person::Builtin)
    }

    /// The person opens `approval_url` (signing in where needed) and decides nothing.
    async fn open(&self, approval_url: &str) -> Result<Opened, String> {
        if let Some(cmd) = &self.open_cmd {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd.replace("{url}", approval_url))
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| format!("person open command: {e}"))?;
            return Ok(Opened {
                accepted: out.status.success(),
                status: out.status.to_string(),
                html: String::from_utf8_lossy(&out.stdout).into_owned(),
                page: None,
            });
        }
        match self.person {
            Person::Builtin => {
                let page = aauth_cli::person::open(approval_url)
                    .await
                    .map_err(|e| format!("person: {e}"))?;
                Ok(Opened {
                    accepted: (200..300).contains(&page.status),
                    status: page.status.to_string(),
                    html: page.html.clone(),
                    page: Some(page),
                })
            }
            _ => Err("no way to open the page without deciding".to_owned()),
        }
    }

    /// A signed poll carrying `Prefer: wait=N`, after the advertised Retry-After; returns the
    /// reply and how long the resource held it.
    async fn poll_wait(
        &self,
        key: &SigningKey,
        p: &mut Pending,
        wait: u64,
    ) -> Result<(Reply, Duration), String> {
        let due = p.last + Duration::from_secs(p.retry);
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        let r = self
            .get(
                key,
                Spec::get(&p.location).header("prefer", &format!("wait={wait}")),
            )
            .await?;
        p.last = Instant::now();
        if let Some(ra) = r.header("retry-after").and_then(|v| v.parse().ok()) {
            p.retry = ra;
        }
        Ok((r, sent.elapsed()))
    }

    /// Approves and polls until the 200; returns it.
    async fn approved(&self, key: &SigningKey) -> Result<(Pending, Reply), String> {
        let mut p = self.start(key).await?;
        self.decide(&p.approval_url(), true).await?;
        let r = self.poll(key, &mut p).await?;
        if r.status != StatusCode::OK {
            return Err(format!("poll after approval: {}", r.summary()));
        }
        Ok((p, r))
    }
}

const NO_PERSON: &str =
    "needs a person's decision: the target is not our own server and no --person-cmd was given";
const NO_OPEN: &str = "needs the person to open the page without deciding: the target is not our own server and no --person-open-cmd was given";

/// Runs the suite; starts our own demo resource (`aauth serve`) when no URL is given.
pub async fn run(opts: Options) -> Result<Report, String> {
    let http = client()?;
    // The expiry checks need a target whose pending requests die within the run: for our
    // own resource a second instance with `--pending-ttl 10`, for a foreign one the target
    // itself when `--pending-ttl` says how long its requests live.
    let (url, own, short, _servers) = match &opts.url {
        Some(u) => {
            let url = url::Url::parse(u).map_err(|e| format!("--url: {e}"))?;
            let short = opts
                .pending_ttl
                .filter(|ttl| *ttl <= MAX_TTL_WAIT)
                .map(|ttl| (url.clone(), ttl));
            (url, false, short, Vec::new())
        }
        None => {
            let (addr, resource, handle) =
                aauth_cli::demo_resource::spawn(([127, 0, 0, 1], 0).into(), None)
                    .await
                    .map_err(|e| format!("starting aauth serve: {e}"))?;
            println!(
                "started our resource (aauth serve) at http://{addr}, origin {}",
                resource.origin()
            );
            let u = url::Url::parse(&format!("{}/data", resource.origin()))
                .map_err(|e| e.to_string())?;
            const SHORT_TTL: u64 = 10;
            let (addr2, short_resource, handle2) = aauth_cli::demo_resource::spawn_with(
                ([127, 0, 0, 1], 0).into(),
                None,
                aauth_cli::demo_resource::DemoOptions {
                    pending_ttl: Some(SHORT_TTL),
                    // Long enough that a poll sent right after another is measurably too
                    // early on whole-second clocks (ERR-24).
                    retry_after: Some(SLOW_RETRY_AFTER),
                    // The replay cache is a MAY (SIG-19), off on the main instance.
                    replay_guard: true,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("starting aauth serve --pending-ttl {SHORT_TTL}: {e}"))?;
            println!(
                "started a second instance (aauth serve --pending-ttl {SHORT_TTL} --retry-after {SLOW_RETRY_AFTER} --replay-guard) at http://{addr2} for ERR-22/IC-10/ERR-24/SIG-19"
            );
            let u2 = url::Url::parse(&format!("{}/data", short_resource.origin()))
                .map_err(|e| e.to_string())?;
            (u, true, Some((u2, SHORT_TTL)), vec![handle, handle2])
        }
    };
    let person = match (&opts.person_cmd, own) {
        (Some(c), _) => Person::Command(c.clone()),
        (None, true) => Person::Builtin,
        (None, false) => Person::Nobody,
    };
    let t = Target {
        url,
        http,
        person,
        open_cmd: opts.person_open_cmd.clone(),
    };
    let mut r = Report::default();
    // Start the requests that are left to expire first, so the wait overlaps the other checks.
    // ERR-24 runs beside the other checks too: on the short-lived instance (whose Retry-After
    // is long enough to poll measurably early), else on the target itself.
    let variant = Target {
        url: short
            .as_ref()
            .map_or_else(|| t.url.clone(), |(u, _)| u.clone()),
        ..t.clone()
    };
    let slow = tokio::spawn(slow_down_probe(variant.clone()));
    let expiry = match short {
        Some((url, ttl)) => {
            let st = Target { url, ..t.clone() };
            Some(start_expiry(st, ttl).await)
        }
        None => None,
    };
    two_party(&t, &mut r, &opts).await?;
    interaction_code(&t, &mut r, &opts).await?;
    page_shows_code(&t, &mut r).await?;
    long_poll(&t, &mut r).await?;
    sessions(&t, &mut r).await?;
    signatures(&t, &mut r, &opts).await?;
    keys(&t, &mut r).await?;
    replay(&variant, &mut r).await?;
    match slow.await {
        Ok(Ok(row)) => r.record(SLOW_ROW.0, SLOW_ROW.1, SLOW_ROW.2, row),
        Ok(Err(why)) => r.skip(SLOW_ROW.0, SLOW_ROW.1, SLOW_ROW.2, why),
        Err(e) => r.record(
            SLOW_ROW.0,
            SLOW_ROW.1,
            SLOW_ROW.2,
            Err(format!("probe failed: {e}")),
        ),
    }
    match expiry {
        Some(Ok(probe)) => finish_expiry(probe, &mut r).await?,
        Some(Err(e)) => expiry_skipped(&mut r, &format!("no pending request to let expire: {e}")),
        None => expiry_skipped(
            &mut r,
            &match opts.pending_ttl {
                Some(ttl) => format!(
                    "the target's pending lifetime ({ttl} s) is longer than the suite waits ({MAX_TTL_WAIT} s)"
                ),
                None => format!(
                    "the target's pending lifetime is unknown: give --pending-ttl SECS (at most {MAX_TTL_WAIT}) to wait it out"
                ),
            },
        ),
    }
    Ok(r)
}

fn is_crockford(code: &str) -> bool {
    code.chars()
        .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
}

fn loopback_http(u: &url::Url) -> bool {
    u.scheme() == "http"
        && match u.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        }
}

fn pending_shape(which: &str, reply: &Reply, r: &mut Report) {
    r.record(
        "RM-07",
        "REQUIRED",
        &format!("{which} 202: Cache-Control no-store"),
        match reply.header("cache-control") {
            Some(v)
                if v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-store")) =>
            {
                Ok(v.to_owned())
            }
            other => Err(format!("Cache-Control {other:?}")),
        },
    );
    r.record(
        "RM-08",
        "MUST",
        &format!("{which} 202: Retry-After whole seconds"),
        match reply.header("retry-after") {
            Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Ok(v.to_owned()),
            other => Err(format!("Retry-After {other:?}")),
        },
    );
    r.record(
        "RM-09",
        "REQUIRED",
        &format!("{which} 202: JSON status"),
        match reply.json().and_then(|j| j.get("status").cloned()) {
            Some(serde_json::Value::String(s)) if s == "pending" || s == "interacting" => {
                Ok(format!("status {s}"))
            }
            other => Err(format!("status {other:?}, body {}", reply.text())),
        },
    );
}

/// ERR-05/ERR-07: an AAuth error body is problem+json with `error`, and a 403/408/410/429
/// carries none of the signature headers.
fn problem(reply: &Reply, code: &str) -> Result<String, String> {
    let ct = reply.header("content-type").unwrap_or_default();
    if !ct.starts_with("application/problem+json") {
        return Err(format!("Content-Type {ct:?}"));
    }
    let err = reply.json().and_then(|j| j.get("error").cloned());
    if err != Some(serde_json::Value::String(code.to_owned())) {
        return Err(format!("body error {err:?}, want {code}"));
    }
    for h in [
        "signature-error",
        "accept-signature-scheme",
        "accept-signature-alg",
    ] {
        if reply.header(h).is_some() {
            return Err(format!("{} carries {h}", reply.status));
        }
    }
    Ok(format!("{} {code}", reply.status.as_u16()))
}

async fn two_party(t: &Target, r: &mut Report, _o: &Options) -> Result<(), String> {
    // RM-02…RM-10 on several fresh agents, so a property that holds by luck shows.
    let mut codes = Vec::new();
    for i in 0..4 {
        let key = fresh_key(if i % 2 == 0 {
            Algorithm::Ed25519
        } else {
            Algorithm::Es256
        })?;
        let reply = t.get_target(&key).await?;
        if reply.status != StatusCode::ACCEPTED {
            r.push(
                "RM-02",
                "implied",
                "fresh agent gets 202",
                Outcome::Fail,
                reply.summary(),
            );
            continue;
        }
        codes.push(reply);
    }
    if codes.is_empty() {
        return Ok(());
    }
    r.push(
        "RM-02",
        "implied",
        "fresh agent gets 202",
        Outcome::Pass,
        format!("{} agents (Ed25519 and ES256)", codes.len()),
    );
    let raws: Vec<&str> = codes
        .iter()
        .filter_map(|c| c.header("aauth-requirement"))
        .collect();
    r.record(
        "RM-03",
        "MUST",
        "AAuth-Requirement requirement=interaction (Token)",
        if raws.len() != codes.len() {
            Err("a 202 without AAuth-Requirement".to_owned())
        } else {
            raws.iter()
                .map(|raw| match AAuthRequirement::parse(raw) {
                    Ok(AAuthRequirement {
                        requirement: Requirement::Interaction { .. },
                        ..
                    }) => Ok(()),
                    Ok(_) => Err(format!("not interaction: {raw}")),
                    Err(e) => Err(format!("{raw}: {e}")),
                })
                .collect::<Result<Vec<()>, String>>()
                .map(|_| raws[0].to_owned())
        },
    );
    let parsed: Vec<(String, String)> = raws
        .iter()
        .filter_map(|raw| match AAuthRequirement::parse(raw).ok()?.requirement {
            Requirement::Interaction { url, code } => Some((url, code)),
            _ => None,
        })
        .collect();
    r.record(
        "RM-04",
        "MUST",
        "interaction url: https, no query, no fragment",
        parsed
            .iter()
            .map(|(u, _)| {
                let url = url::Url::parse(u).map_err(|e| format!("{u}: {e}"))?;
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(format!("{u} has a query or fragment"));
                }
                if url.scheme() == "https" {
                    Ok(u.clone())
                } else if loopback_http(&url) && loopback_http(&t.url) {
                    Ok(format!(
                        "{u} (plain http accepted only because the target itself is a loopback http dev server)"
                    ))
                } else {
                    Err(format!("{u} is not https"))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(" ")),
    );
    r.record(
        "RM-05",
        "MUST",
        "code parameter present",
        if parsed.len() == codes.len() && parsed.iter().all(|(_, c)| !c.is_empty()) {
            Ok(format!("{} codes", parsed.len()))
        } else {
            Err("missing code".to_owned())
        },
    );
    r.record(
        "IC-01",
        "MUST",
        "code is an SF String (quoted)",
        raws.iter()
            .zip(&parsed)
            .map(|(raw, (_, c))| {
                if raw.contains(&format!("code=\"{c}\"")) {
                    Ok(())
                } else {
                    Err(format!("code not a quoted String in {raw}"))
                }
            })
            .collect::<Result<Vec<()>, String>>()
            .map(|_| "quoted".to_owned()),
    );
    r.record(
        "IC-02",
        "MUST",
        "code uses Crockford base32 (+ hyphens)",
        parsed
            .iter()
            .map(|(_, c)| {
                if is_crockford(c) {
                    Ok(c.clone())
                } else {
                    Err(format!("{c} has a non-Crockford symbol"))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(" ")),
    );
    r.record(
        "IC-03",
        "MUST",
        "code has at least 8 symbols",
        parsed
            .iter()
            .map(|(_, c)| {
                let n = c.chars().filter(|c| *c != '-').count();
                if n >= 8 {
                    Ok(n)
                } else {
                    Err(format!("{c}: {n} symbols"))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| format!("symbols {v:?}")),
    );
    let distinct: std::collections::HashSet<&String> = parsed.iter().map(|(_, c)| c).collect();
    r.record(
        "IC-03",
        "MUST",
        "codes differ between requests",
        if distinct.len() == parsed.len() {
            Ok(format!("{} distinct", distinct.len()))
        } else {
            Err("two requests got the same code".to_owned())
        },
    );
    r.record(
        "RM-06",
        "MUST",
        "exactly one Location, resolvable",
        codes
            .iter()
            .map(|c| match (c.count("location"), c.header("location")) {
                (1, Some(l)) => t
                    .url
                    .join(l)
                    .map(|u| u.to_string())
                    .map_err(|e| e.to_string()),
                (n, _) => Err(format!("{n} Location fields")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(" ")),
    );
    let origin = t.url.origin();
    r.record(
        "RM-10",
        "MUST",
        "pending URL on the same origin",
        codes
            .iter()
            .filter_map(|c| c.header("location"))
            .map(|l| match t.url.join(l) {
                Ok(u) if u.origin() == origin => Ok(()),
                Ok(u) => Err(format!("{u} is on another origin")),
                Err(e) => Err(e.to_string()),
            })
            .collect::<Result<Vec<()>, String>>()
            .map(|_| origin.ascii_serialization()),
    );
    let distinct_loc: std::collections::HashSet<&str> =
        codes.iter().filter_map(|c| c.header("location")).collect();
    r.record(
        "RM-11",
        "MUST",
        "pending URLs differ and are not sequential-looking",
        if distinct_loc.len() == codes.len()
            && distinct_loc
                .iter()
                .all(|l| l.rsplit('/').next().is_some_and(|id| id.len() >= 16))
        {
            Ok(format!("{} distinct, ids of 16+ chars", distinct_loc.len()))
        } else {
            Err(format!("locations {distinct_loc:?}"))
        },
    );
    pending_shape("initial", &codes[0], r);

    // A poll that is still pending has the same shape; RM-12 unsigned and foreign polls.
    let key = fresh_key(Algorithm::Ed25519)?;
    let mut p = t.start(&key).await?;
    let poll = t.poll(&key, &mut p).await?;
    if poll.status == StatusCode::ACCEPTED {
        pending_shape("poll", &poll, r);
    } else {
        r.push(
            "RM-07",
            "REQUIRED",
            "poll 202",
            Outcome::Fail,
            format!("poll answered {}", poll.summary()),
        );
    }
    let unsigned = plain(&t.http, Method::GET, p.location.as_str(), &[], None).await?;
    r.record(
        "RM-12",
        "MUST",
        "unsigned poll → 401 + Signature-Error",
        unsigned.expect_401(&[C::InvalidRequest, C::InvalidSignature]),
    );
    let thief = fresh_key(Algorithm::Ed25519)?;
    let stolen = t.get(&thief, Spec::get(&p.location)).await?;
    r.record(
        "RM-12",
        "MUST",
        "poll signed by another key is refused",
        if stolen.status.is_success() || stolen.header("aauth-access").is_some() {
            Err(format!("answered {}", stolen.summary()))
        } else {
            Ok(stolen.summary())
        },
    );

    // POLL-11: DELETE withdraws; afterwards 410.
    let del = t
        .get(&key, {
            let mut s = Spec::get(&p.location);
            s.method = Method::DELETE;
            s
        })
        .await?;
    if del.status.is_success() {
        let after = t.poll(&key, &mut p).await?;
        r.record(
            "POLL-11",
            "MAY",
            "DELETE withdraws; later GET → 410",
            if after.status == StatusCode::GONE {
                Ok(format!("DELETE {} then {}", del.status, after.status))
            } else {
                Err(format!(
                    "after DELETE the poll answered {}",
                    after.summary()
                ))
            },
        );
    } else {
        r.skip(
            "POLL-11",
            "MAY",
            "DELETE withdraws; later GET → 410",
            format!("DELETE not offered ({})", del.summary()),
        );
    }

    // RM-09 once the person is on the page (signed in, code redeemed, nothing decided), then
    // IC-07: a decision without the person's browser session changes nothing.
    let mut p = t.start(&key).await?;
    let case = "status interacting once the person is on the page";
    if t.can_open() {
        let opened = t.open(&p.approval_url()).await;
        let interacting = t.poll(&key, &mut p).await?;
        let status = interacting
            .json()
            .and_then(|j| j.get("status").and_then(|s| s.as_str().map(str::to_owned)));
        r.record(
            "RM-09",
            "REQUIRED",
            case,
            match (opened, status.as_deref()) {
                (Err(e), _) => Err(e),
                (Ok(o), _) if !o.accepted => {
                    Err(format!("the page refused the code ({})", o.status))
                }
                (Ok(_), Some("interacting")) => Ok("page opened, poll 202 interacting".to_owned()),
                (Ok(_), _) => Err(format!(
                    "page opened, then the poll answered {}",
                    interacting.summary()
                )),
            },
        );
    } else {
        // Without a person: a bare GET of the page may be enough on a resource without login.
        let _arrival = plain(&t.http, Method::GET, &p.approval_url(), &[], None).await?;
        let interacting = t.poll(&key, &mut p).await?;
        let status = interacting
            .json()
            .and_then(|j| j.get("status").and_then(|s| s.as_str().map(str::to_owned)));
        match status.as_deref() {
            Some("interacting") => r.push(
                "RM-09",
                "REQUIRED",
                case,
                Outcome::Pass,
                "interacting after a bare GET of the page",
            ),
            Some("pending") => r.skip("RM-09", "REQUIRED", case, NO_OPEN),
            _ => r.push(
                "RM-09",
                "REQUIRED",
                case,
                Outcome::Fail,
                interacting.summary(),
            ),
        }
    }
    let forged = plain(
        &t.http,
        Method::POST,
        &p.url,
        &[("content-type", "application/x-www-form-urlencoded")],
        Some("nonce=guess&decision=approve".to_owned()),
    )
    .await?;
    let after = t.poll(&key, &mut p).await?;
    r.record(
        "IC-07",
        "MUST",
        "decision posted without the person's session is refused",
        if !forged.status.is_success() && after.status == StatusCode::ACCEPTED {
            Ok(format!(
                "forged POST {}, poll still {}",
                forged.status.as_u16(),
                after.status.as_u16()
            ))
        } else {
            Err(format!(
                "forged POST {}, poll then {}",
                forged.status,
                after.summary()
            ))
        },
    );

    if !t.can_decide() {
        for (id, lv, case) in [
            ("RM-14", "implied", "approve → poll 200 + AAuth-Access"),
            ("RM-13", "MUST", "after 200 the pending URL answers 410"),
            ("ERR-20", "implied", "deny → 403 denied problem+json"),
            (
                "SIG-28",
                "MUST NOT",
                "403 without Signature-Error / Accept-*",
            ),
            ("RM-13", "MUST", "after 403 the pending URL answers 410"),
        ] {
            r.skip(id, lv, case, NO_PERSON);
        }
        return Ok(());
    }
    // RM-14, SESS-01, RM-13 on approval.
    match t.approved(&key).await {
        Ok((mut p, done)) => {
            let tokens = done.count("aauth-access");
            r.record(
                "RM-14",
                "implied",
                "approve → poll 200 + AAuth-Access",
                match (tokens, done.header("aauth-access")) {
                    (0, _) => Ok("200 without AAuth-Access (MAY)".to_owned()),
                    (1, Some(v)) => aauth_wire::access::SessionToken::parse(v)
                        .map(|_| "200 + one token68 AAuth-Access".to_owned())
                        .map_err(|e| format!("AAuth-Access not token68: {e}")),
                    (n, _) => Err(format!("{n} AAuth-Access fields")),
                },
            );
            let again = t.poll(&key, &mut p).await?;
            r.record(
                "RM-13",
                "MUST",
                "after 200 the pending URL answers 410",
                if again.status == StatusCode::GONE && again.header("aauth-access").is_none() {
                    Ok("410".to_owned())
                } else {
                    Err(again.summary())
                },
            );
        }
        Err(e) => r.push(
            "RM-14",
            "implied",
            "approve → poll 200 + AAuth-Access",
            Outcome::Fail,
            e,
        ),
    }
    // ERR-20, SIG-28/ERR-07, RM-13 on denial.
    let mut p = t.start(&key).await?;
    t.decide(&p.approval_url(), false).await?;
    let denied = t.poll(&key, &mut p).await?;
    r.record(
        "ERR-20",
        "implied",
        "deny → 403 denied problem+json",
        if denied.status == StatusCode::FORBIDDEN {
            problem(&denied, "denied")
        } else {
            Err(denied.summary())
        },
    );
    r.record(
        "SIG-28",
        "MUST NOT",
        "403 without Signature-Error / Accept-*",
        match [
            "signature-error",
            "accept-signature-scheme",
            "accept-signature-alg",
        ]
        .iter()
        .find(|h| denied.header(h).is_some())
        {
            Some(h) => Err(format!("403 carries {h}")),
            None if denied.status == StatusCode::FORBIDDEN => Ok("none".to_owned()),
            None => Err(format!("no 403: {}", denied.summary())),
        },
    );
    let gone = t.poll(&key, &mut p).await?;
    r.record(
        "RM-13",
        "MUST",
        "after 403 the pending URL answers 410",
        if gone.status == StatusCode::GONE {
            Ok("410".to_owned())
        } else {
            Err(gone.summary())
        },
    );
    Ok(())
}

async fn interaction_code(t: &Target, r: &mut Report, o: &Options) -> Result<(), String> {
    if !t.can_decide() {
        for (id, case) in [
            ("IC-04", "code typed without/with extra hyphens"),
            ("IC-05", "code typed in lower case"),
            ("IC-06", "code typed with I/L for 1 and O for 0"),
            ("IC-08", "a code works once"),
            (
                "IC-09",
                "wrong codes lock the request; poll → 410 invalid_code",
            ),
        ] {
            r.skip(id, "MUST", case, NO_PERSON);
        }
        return Ok(());
    }
    let key = fresh_key(Algorithm::Ed25519)?;
    type Variant = fn(&str) -> String;
    let variants: [(&str, &str, Variant); 4] = [
        ("IC-04", "code typed without hyphens", |c| {
            c.replace('-', "")
        }),
        (
            "IC-04",
            "code typed with a hyphen after every symbol",
            |c| {
                c.chars()
                    .filter(|ch| *ch != '-')
                    .flat_map(|ch| [ch, '-'])
                    .collect()
            },
        ),
        ("IC-05", "code typed in lower case", |c| {
            c.to_ascii_lowercase()
        }),
        ("IC-06", "code typed with l for 1 and o for 0", |c| {
            c.replace('1', "l").replace('0', "o")
        }),
    ];
    for (id, case, f) in variants {
        let mut p = t.start(&key).await?;
        let typed = f(&p.code);
        let url = format!("{}?code={typed}", p.url);
        let res = match t.decide(&url, true).await {
            Ok(()) => {
                let done = t.poll(&key, &mut p).await?;
                if done.status == StatusCode::OK {
                    Ok(format!("{typed} for {}", p.code))
                } else {
                    Err(format!("approved via {typed}, poll {}", done.summary()))
                }
            }
            Err(e) => Err(format!("{typed} for {}: {e}", p.code)),
        };
        r.record(id, "MUST", case, res);
    }
    // IC-08: single use.
    let p = t.start(&key).await?;
    t.decide(&p.approval_url(), true).await?;
    let second = t.decide(&p.approval_url(), true).await;
    r.record(
        "IC-08",
        "MUST",
        "a code works once",
        match second {
            Ok(()) => Err("the code was accepted twice".to_owned()),
            Err(e) => Ok(format!("second use refused: {e}")),
        },
    );
    // IC-09: lock-out after wrong codes, then 410 invalid_code on the poll.
    let mut p = t.start(&key).await?;
    let wrong = if p.code.starts_with('Z') {
        "YYYY-YYYY"
    } else {
        "ZZZZ-ZZZZ"
    };
    // Each wrong attempt is made by the person (signed in where the page needs it).
    for _ in 0..o.max_code_attempts {
        let _ = t.decide(&format!("{}?code={wrong}", p.url), true).await;
    }
    let right = t.decide(&p.approval_url(), true).await;
    let poll = t.poll(&key, &mut p).await?;
    r.record(
        "IC-09",
        "MUST",
        "wrong codes lock the request; poll → 410 invalid_code",
        match right {
            Ok(()) => Err(format!(
                "the right code still worked after {} wrong ones",
                o.max_code_attempts
            )),
            Err(_) if poll.status == StatusCode::GONE => problem(&poll, "invalid_code"),
            Err(_) => Err(format!("poll after lock-out: {}", poll.summary())),
        },
    );
    Ok(())
}

/// IC-11: the page the person opens shows the code it is handling and who is asking.
async fn page_shows_code(t: &Target, r: &mut Report) -> Result<(), String> {
    let code_case = "page shows the code, grouped as issued";
    let agent_case = "page shows the requesting agent (hwk: its key thumbprint)";
    if !t.can_open() {
        r.skip("IC-11", "implied", code_case, NO_OPEN);
        r.skip("IC-11", "derived", agent_case, NO_OPEN);
        return Ok(());
    }
    let key = fresh_key(Algorithm::Ed25519)?;
    let p = match t.start(&key).await {
        Ok(p) => p,
        Err(e) => {
            for (lv, case) in [("implied", code_case), ("derived", agent_case)] {
                r.skip("IC-11", lv, case, format!("no pending request: {e}"));
            }
            return Ok(());
        }
    };
    let opened = t.open(&p.approval_url()).await;
    let thumbprint = key.thumbprint();
    let shown = |what: &str| match &opened {
        Err(e) => Err(e.clone()),
        Ok(o) if !o.accepted => Err(format!("the page refused the code ({})", o.status)),
        Ok(o) if o.html.contains(what) => Ok(format!("{what} shown")),
        Ok(o) => Err(format!("{what} not on the page ({} bytes)", o.html.len())),
    };
    r.record("IC-11", "implied", code_case, shown(&p.code));
    r.record("IC-11", "derived", agent_case, shown(thumbprint.as_str()));
    Ok(())
}

/// POLL-06: a resource that honours `Prefer: wait=N` holds a poll at most N seconds, and
/// answers at once when the state changes.
async fn long_poll(t: &Target, r: &mut Report) -> Result<(), String> {
    const HELD: u64 = 3;
    const LONG: u64 = 10;
    let held_case = "Prefer: wait=3 on an unchanged request: held ≈3 s, then 202";
    let decided_case = "Prefer: wait=10: answered as soon as the person decides";
    let key = fresh_key(Algorithm::Ed25519)?;
    let mut p = match t.start(&key).await {
        Ok(p) => p,
        Err(e) => {
            for case in [held_case, decided_case] {
                r.skip(
                    "POLL-06",
                    "derived",
                    case,
                    format!("no pending request: {e}"),
                );
            }
            return Ok(());
        }
    };
    let (reply, held) = t.poll_wait(&key, &mut p, HELD).await?;
    let secs = held.as_secs_f64();
    if reply.status == StatusCode::ACCEPTED && secs < 1.0 {
        // Answered at once: the resource does not honour the preference (RFC 7240 lets it).
        for case in [held_case, decided_case] {
            r.skip(
                "POLL-06",
                "derived",
                case,
                format!("Prefer: wait not honoured (202 after {secs:.1} s)"),
            );
        }
        return Ok(());
    }
    r.record(
        "POLL-06",
        "derived",
        held_case,
        if reply.status != StatusCode::ACCEPTED {
            Err(format!("answered {} after {secs:.1} s", reply.summary()))
        } else if secs > HELD as f64 + 1.5 {
            Err(format!("held {secs:.1} s, longer than the 3 s asked for"))
        } else {
            Ok(format!("held {secs:.1} s, then 202"))
        },
    );
    if !t.can_decide() {
        r.skip("POLL-06", "derived", decided_case, NO_PERSON);
        return Ok(());
    }
    // The person is on the page first where we can (our person), so the state does not change
    // until the decision itself; a command person opens and decides in one go, and an answer
    // at the first change (`interacting`) is then just as right.
    let mut p = t.start(&key).await?;
    let page = match t.person {
        Person::Builtin => t.open(&p.approval_url()).await?.page,
        _ => None,
    };
    let t0 = Instant::now();
    let url = p.approval_url();
    let polling = async {
        let res = t.poll_wait(&key, &mut p, LONG).await;
        (res, t0.elapsed())
    };
    let deciding = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let res = match &page {
            Some(page) => page
                .decide(aauth_cli::person::Choice::Approve)
                .await
                .map_err(|e| format!("person: {e}")),
            None => t.decide(&url, true).await,
        };
        (res, t0.elapsed())
    };
    let ((polled, answered_at), (decided, decided_at)) = tokio::join!(polling, deciding);
    let (reply, held) = polled?;
    decided?;
    let (held, answered, decided_s) = (
        held.as_secs_f64(),
        answered_at.as_secs_f64(),
        decided_at.as_secs_f64(),
    );
    let status = reply
        .json()
        .and_then(|j| j.get("status").and_then(|s| s.as_str().map(str::to_owned)));
    let changed = reply.status == StatusCode::OK
        || (page.is_none()
            && reply.status == StatusCode::ACCEPTED
            && status.as_deref() == Some("interacting"));
    r.record(
        "POLL-06",
        "derived",
        decided_case,
        if !changed {
            Err(format!(
                "answered {} after {held:.1} s; the person decided at {decided_s:.1} s",
                reply.summary()
            ))
        } else if answered > decided_s + 1.5 {
            Err(format!(
                "answered {answered:.1} s into the check, the decision was at {decided_s:.1} s"
            ))
        } else {
            Ok(format!(
                "{} after {held:.1} s, {:.1} s after the decision",
                reply.status.as_u16(),
                (answered - decided_s).max(0.0)
            ))
        },
    );
    Ok(())
}

/// The `Retry-After` of our second instance: with a one-second slack for whole-second
/// clocks, a resource can only call a poll early when the interval is at least 3 s.
const SLOW_RETRY_AFTER: u64 = 3;

const SLOW_ROW: (&str, &str, &str) = (
    "ERR-24",
    "implied",
    "poll again right after a poll (before Retry-After) → 429 slow_down, a longer Retry-After",
);

/// ERR-24 (and POLL-04's resource side): a pending request is polled once on time and then
/// at once again. `Ok(row)` is the check's result; `Err(why)` means it cannot be judged
/// here (a Retry-After too short to poll measurably early, or no pending request).
async fn slow_down_probe(t: Target) -> Result<Result<String, String>, String> {
    let key = fresh_key(Algorithm::Ed25519)?;
    let mut p = t
        .start(&key)
        .await
        .map_err(|e| format!("no pending request: {e}"))?;
    if p.retry < SLOW_RETRY_AFTER {
        return Err(format!(
            "Retry-After is {} s: too short to poll measurably early on whole-second clocks (needs {SLOW_RETRY_AFTER} s or more)",
            p.retry
        ));
    }
    let asked = p.retry;
    let on_time = t.poll(&key, &mut p).await?;
    if on_time.status != StatusCode::ACCEPTED {
        return Err(format!(
            "the on-time poll was not answered 202 ({})",
            on_time.summary()
        ));
    }
    let early = t.get(&key, Spec::get(&p.location)).await?;
    if early.status != StatusCode::TOO_MANY_REQUESTS {
        return Ok(Err(format!(
            "an immediate second poll (Retry-After {asked}) answered {}",
            early.summary()
        )));
    }
    Ok(problem(&early, "slow_down").and_then(|ok| {
        match early
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(ra) if ra > asked => Ok(format!("{ok}, Retry-After {ra}")),
            Some(ra) => Err(format!(
                "{ok} but Retry-After {ra} is not longer than {asked}"
            )),
            None => Ok(format!("{ok} (no Retry-After)")),
        }
    }))
}

/// Requests left to expire on a target with a known, short pending lifetime.
struct ExpiryProbe {
    t: Target,
    ttl: u64,
    started: Instant,
    key: SigningKey,
    /// Only polled after the lifetime (ERR-22).
    polled: Pending,
    /// Its code is presented after the lifetime, then it is polled (IC-10).
    presented: Pending,
}

async fn start_expiry(t: Target, ttl: u64) -> Result<ExpiryProbe, String> {
    let key = fresh_key(Algorithm::Ed25519)?;
    let started = Instant::now();
    let polled = t.start(&key).await?;
    let presented = t.start(&key).await?;
    Ok(ExpiryProbe {
        t,
        ttl,
        started,
        key,
        polled,
        presented,
    })
}

fn expiry_skipped(r: &mut Report, why: &str) {
    for (id, lv, case) in EXPIRY_ROWS {
        r.skip(id, lv, case, why);
    }
}

const EXPIRY_ROWS: [(&str, &str, &str); 4] = [
    (
        "ERR-22",
        "implied",
        "poll after the pending lifetime → 408 expired problem+json",
    ),
    ("RM-13", "MUST", "after 408 the pending URL answers 410"),
    (
        "IC-10",
        "MUST",
        "code presented after the pending lifetime is refused as expired",
    ),
    ("IC-10", "MUST", "then the poll → 408 expired"),
];

/// ERR-22, IC-10: once the lifetime is over, a poll gets `408 expired` (then `410`), and the
/// code no longer works.
async fn finish_expiry(mut e: ExpiryProbe, r: &mut Report) -> Result<(), String> {
    // One second of slack for whole-second clocks.
    let due = e.started + Duration::from_secs(e.ttl) + Duration::from_millis(1500);
    tokio::time::sleep_until(due.into()).await;
    let [err22, rm13, ic10_code, ic10_poll] = EXPIRY_ROWS;
    let expired = e.t.poll(&e.key, &mut e.polled).await?;
    r.record(
        err22.0,
        err22.1,
        err22.2,
        if expired.status == StatusCode::REQUEST_TIMEOUT {
            problem(&expired, "expired")
        } else {
            Err(format!("{} s after the 202: {}", e.ttl, expired.summary()))
        },
    );
    let gone = e.t.poll(&e.key, &mut e.polled).await?;
    r.record(
        rm13.0,
        rm13.1,
        rm13.2,
        if gone.status == StatusCode::GONE {
            Ok("410".to_owned())
        } else {
            Err(gone.summary())
        },
    );
    let url = e.presented.approval_url();
    let presented = if e.t.can_open() {
        match e.t.open(&url).await {
            Ok(o) if o.accepted => Err(format!("the page accepted the code ({})", o.status)),
            Ok(o) if o.html.to_ascii_lowercase().contains("expire") => {
                Ok(format!("refused ({}), the page says it expired", o.status))
            }
            Ok(o) => Err(format!(
                "refused ({}) without saying the request expired",
                o.status
            )),
            Err(err) => Err(err),
        }
    } else if e.t.can_decide() {
        match e.t.decide(&url, true).await {
            Ok(()) => Err("the person could still approve".to_owned()),
            Err(err) => Ok(format!("approval refused ({err}); page text not seen")),
        }
    } else {
        r.skip(
            ic10_code.0,
            ic10_code.1,
            ic10_code.2,
            "needs a person to present the code: the target is not our own server and neither --person-open-cmd nor --person-cmd was given",
        );
        r.skip(
            ic10_poll.0,
            ic10_poll.1,
            ic10_poll.2,
            "covered by ERR-22 without a person",
        );
        return Ok(());
    };
    r.record(ic10_code.0, ic10_code.1, ic10_code.2, presented);
    let after = e.t.poll(&e.key, &mut e.presented).await?;
    r.record(
        ic10_poll.0,
        ic10_poll.1,
        ic10_poll.2,
        if after.status == StatusCode::REQUEST_TIMEOUT {
            problem(&after, "expired")
        } else {
            Err(after.summary())
        },
    );
    Ok(())
}

async fn sessions(t: &Target, r: &mut Report) -> Result<(), String> {
    let key = fresh_key(Algorithm::Ed25519)?;
    // SESS-16 (no person needed): an unknown token with a good signature is no signature error.
    let bogus = t
        .get(
            &key,
            Spec::get(&t.url)
                .header("authorization", "AAuth bm90LWEtdG9rZW4")
                .cover("authorization"),
        )
        .await?;
    r.record(
        "SESS-16",
        "derived",
        "unknown session token + valid signature → no Signature-Error",
        if bogus.status == StatusCode::UNAUTHORIZED || bogus.header("signature-error").is_some() {
            Err(bogus.summary())
        } else {
            Ok(bogus.summary())
        },
    );
    if !t.can_decide() {
        for (id, lv, case) in [
            (
                "SESS-05",
                "MUST",
                "token + signature covering authorization → 200",
            ),
            ("SESS-03", "MUST NOT", "token without a signature → 401"),
            (
                "SESS-06",
                "derived",
                "signature not covering authorization → invalid_input",
            ),
            (
                "SESS-07",
                "derived",
                "token under another key is not honoured",
            ),
            ("SESS-11", "MUST", "empty credential is not honoured"),
            (
                "SESS-12",
                "MUST",
                "credential with whitespace is not honoured",
            ),
            ("SESS-13", "MUST", "two Authorization lines are rejected"),
        ] {
            r.skip(id, lv, case, NO_PERSON);
        }
        return Ok(());
    }
    let (_, done) = t.approved(&key).await?;
    let Some(token) = done.header("aauth-access").map(str::to_owned) else {
        r.skip(
            "SESS-05",
            "MUST",
            "token + signature covering authorization → 200",
            "the resource issued no session token (MAY)",
        );
        return Ok(());
    };
    let auth = format!("AAuth {token}");
    let ok = t
        .get(
            &key,
            Spec::get(&t.url)
                .header("authorization", &auth)
                .cover("authorization"),
        )
        .await?;
    r.record(
        "SESS-05",
        "MUST",
        "token + signature covering authorization → 200",
        if ok.status == StatusCode::OK {
            Ok("200".to_owned())
        } else {
            Err(ok.summary())
        },
    );
    let bare = plain(
        &t.http,
        Method::GET,
        t.url.as_str(),
        &[("authorization", &auth)],
        None,
    )
    .await?;
    r.record(
        "SESS-03",
        "MUST NOT",
        "token without a signature → 401",
        bare.expect_401(&[C::InvalidRequest, C::InvalidSignature]),
    );
    let uncovered = t
        .get(&key, Spec::get(&t.url).header("authorization", &auth))
        .await?;
    r.record(
        "SESS-06",
        "derived",
        "signature not covering authorization → invalid_input",
        uncovered.expect_401(&[C::InvalidInput]).and_then(|s| {
            let e = uncovered.sig_error()?;
            if e.required_input
                .unwrap_or_default()
                .iter()
                .any(|c| c == "authorization")
            {
                Ok(s)
            } else {
                Err(format!("required_input does not name authorization: {s}"))
            }
        }),
    );
    let thief = fresh_key(Algorithm::Ed25519)?;
    let stolen = t
        .get(
            &thief,
            Spec::get(&t.url)
                .header("authorization", &auth)
                .cover("authorization"),
        )
        .await?;
    r.record(
        "SESS-07",
        "derived",
        "token under another key is not honoured",
        if stolen.status == StatusCode::OK {
            Err("200 for a stolen token".to_owned())
        } else {
            Ok(stolen.summary())
        },
    );
    for (id, case, value) in [
        (
            "SESS-11",
            "empty credential is not honoured",
            "AAuth ".to_owned(),
        ),
        (
            "SESS-12",
            "credential with whitespace is not honoured",
            format!("AAuth {token} x"),
        ),
    ] {
        let reply = t
            .get(
                &key,
                Spec::get(&t.url)
                    .header("authorization", &value)
                    .cover("authorization"),
            )
            .await?;
        r.record(
            id,
            "MUST",
            case,
            if reply.status == StatusCode::OK {
                Err("200".to_owned())
            } else {
                Ok(reply.summary())
            },
        );
    }
    let doubled = t
        .get(
            &key,
            Spec::get(&t.url)
                .header("authorization", &auth)
                .header("authorization", &auth)
                .cover("authorization"),
        )
        .await?;
    r.record(
        "SESS-13",
        "MUST",
        "two Authorization lines are rejected",
        if doubled.status.is_client_error() {
            Ok(doubled.summary())
        } else {
            Err(doubled.summary())
        },
    );
    Ok(())
}

async fn signatures(t: &Target, r: &mut Report, o: &Options) -> Result<(), String> {
    let ed = fixed_key(Algorithm::Ed25519)?;
    let es = fixed_key(Algorithm::Es256)?;
    let u = &t.url;
    let w = o.window;

    // Positive baselines: a correct signature is accepted (else every negative check below
    // would pass for the wrong reason).
    r.record(
        "SIG-01",
        "MUST",
        "Ed25519 hwk signature accepted",
        t.get(&ed, Spec::get(u)).await?.expect_accepted(),
    );
    r.record(
        "SIG-02",
        "SHOULD",
        "ES256 hwk signature accepted",
        t.get(&es, Spec::get(u)).await?.expect_accepted(),
    );
    let mut q = u.clone();
    q.set_query(Some("a=1&b=x%20y"));
    r.record(
        "SIG-36",
        "note",
        "query covered with @query accepted",
        t.get(&ed, Spec::get(&q).cover("@query"))
            .await?
            .expect_accepted(),
    );

    // SIG-20 / ERR-08: each missing header.
    for drop in ["signature", "signature-input", "signature-key"] {
        let mut s = raw::sign(&ed, &Spec::get(u))?;
        s.remove(drop);
        let reply = send(&t.http, &s).await?;
        r.record(
            "SIG-20",
            "MUST",
            &format!("missing {drop} → invalid_request"),
            reply.expect_401(&[C::InvalidRequest]),
        );
        if drop == "signature" {
            let body = reply.json();
            r.record(
                "ERR-04",
                "SHOULD / MUST",
                "401 body problem+json, type urn:ietf:params:sig-error:<code>",
                match body {
                    Some(b)
                        if b["type"] == "urn:ietf:params:sig-error:invalid_request"
                            && reply
                                .header("content-type")
                                .is_some_and(|c| c.starts_with("application/problem+json")) =>
                    {
                        Ok(b["type"].to_string())
                    }
                    _ => Err(format!("body {}", reply.text())),
                },
            );
            r.record(
                "ERR-05",
                "REQUIRED",
                "401 body carries error = the Signature-Error code",
                match reply.json() {
                    Some(b) if b["error"] == "invalid_request" => {
                        Ok("error invalid_request".into())
                    }
                    _ => Err(format!("body {}", reply.text())),
                },
            );
        }
    }
    let unsigned = plain(&t.http, Method::GET, u.as_str(), &[], None).await?;
    r.record(
        "ERR-01",
        "MUST",
        "unsigned request → 401 with Signature-Error",
        unsigned.expect_401(&[C::InvalidRequest, C::InvalidSignature]),
    );

    // SIG-21 / SK-06 / SIG-09 (resource side) / ERR-09: each mandatory component omitted.
    for c in ["signature-key", "@method", "@authority", "@path"] {
        let reply = t.get(&ed, Spec::get(u).without(c)).await?;
        let res = reply.expect_401(&[C::InvalidInput]).and_then(|s| {
            let e = reply.sig_error()?;
            let req = e.required_input.unwrap_or_default();
            if ["@method", "@authority", "@path", "signature-key"]
                .iter()
                .all(|m| req.iter().any(|x| x == m))
            {
                Ok(s)
            } else {
                Err(format!("required_input lacks the mandatory four: {s}"))
            }
        });
        let id = if c == "signature-key" {
            "SK-06"
        } else {
            "SIG-21"
        };
        r.record(id, "MUST", &format!("{c} not covered → invalid_input"), res);
    }

    // SIG-13 / SIG-18 / SIG-16 / ERR-10: freshness.
    let mut s = Spec::get(u);
    s.created = None;
    r.record(
        "SIG-13",
        "MUST",
        "no created → invalid_signature",
        t.get(&ed, s).await?.expect_401(&[C::InvalidSignature]),
    );
    for (case, created, ok) in [
        ("created too old", now() - w - 30, false),
        ("created too far ahead", now() + w + 30, false),
        (
            "created a little old, inside the window",
            now() - w / 2,
            true,
        ),
    ] {
        let mut s = Spec::get(u);
        s.created = Some(created);
        let reply = t.get(&ed, s).await?;
        r.record(
            "SIG-18",
            "MUST",
            &format!("{case} (window {w}s)"),
            if ok {
                reply.expect_accepted()
            } else {
                reply.expect_401(&[C::InvalidSignature, C::ClockSkew])
            },
        );
    }
    let mut s = Spec::get(u);
    s.params.push(format!("expires={}", now() - 5));
    r.record(
        "SIG-16",
        "MUST",
        "expires in the past → invalid_signature",
        t.get(&ed, s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut s = Spec::get(u);
    s.params.push(format!("expires={}", now() + 30));
    r.record(
        "SIG-16",
        "MUST",
        "expires in the future is honoured (accepted)",
        t.get(&ed, s).await?.expect_accepted(),
    );

    // SIG-14 / SIG-15 / SIG-17: parameters the verifier must ignore.
    let mut s = Spec::get(u);
    s.params.push("alg=\"rsa-pss-sha512\"".to_owned());
    r.record(
        "SIG-14",
        "MUST",
        "alg parameter is ignored",
        t.get(&ed, s).await?.expect_accepted(),
    );
    let mut s = Spec::get(u);
    s.params.push(format!("keyid=\"{}\"", ed.thumbprint()));
    r.record(
        "SIG-15",
        "MUST",
        "keyid naming the same key is accepted",
        t.get(&ed, s).await?.expect_accepted(),
    );
    let mut s = Spec::get(u);
    s.params.push("nonce=\"n-1\"".to_owned());
    s.params.push("tag=\"t-1\"".to_owned());
    r.record(
        "SIG-17",
        "derived",
        "nonce and tag are accepted",
        t.get(&ed, s).await?.expect_accepted(),
    );

    // SIG-26 / ERR-10: tampering.
    let mut s = raw::sign(&ed, &Spec::get(u))?;
    let sig = s.get("signature");
    let flipped = flip_signature(&sig);
    s.set("signature", &flipped);
    r.record(
        "SIG-26",
        "MUST",
        "one signature byte flipped → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut other = u.clone();
    other.set_path("/elsewhere");
    let mut s = raw::sign(&ed, &Spec::get(&other))?;
    s.url = u.clone();
    r.record(
        "SIG-26",
        "MUST",
        "path changed after signing → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut s = raw::sign(&ed, &Spec::get(u))?;
    s.method = Method::HEAD;
    r.record(
        "SIG-26",
        "MUST",
        "method changed after signing → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut s = raw::sign(&ed, &Spec::get(u))?;
    let sk = s.get("signature-key").replacen(";", "; ", 1);
    s.set("signature-key", &sk);
    r.record(
        "SIG-26",
        "MUST",
        "Signature-Key bytes changed (same key) → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut s = raw::sign(
        &ed,
        &Spec::get(u).header("x-covered", "one").cover("x-covered"),
    )?;
    s.set("x-covered", "two");
    r.record(
        "SIG-26",
        "MUST",
        "covered header changed → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );
    let mut s = raw::sign(
        &ed,
        &Spec::get(u).header("x-covered", "one").cover("x-covered"),
    )?;
    s.remove("x-covered");
    r.record(
        "SIG-26",
        "MUST",
        "covered header absent → invalid_signature",
        send(&t.http, &s).await?.expect_401(&[C::InvalidSignature]),
    );

    // SIG-30: label mismatch between Signature-Input and Signature.
    let mut s = Spec::get(u);
    s.signature_label = Some("other".to_owned());
    r.record(
        "SIG-30",
        "MUST",
        "Signature label differs from Signature-Input → 401",
        t.get(&ed, s)
            .await?
            .expect_401(&[C::InvalidSignature, C::InvalidRequest]),
    );
    // SIG-30: a label is unique in the message; the same line twice repeats it.
    for field in ["signature-input", "signature"] {
        let mut s = raw::sign(&ed, &Spec::get(u))?;
        if let Some(line) = s.headers.get(field).cloned()
            && let Ok(name) = http::HeaderName::from_bytes(field.as_bytes())
        {
            s.headers.append(name, line);
        }
        r.record(
            "SIG-30",
            "MUST",
            &format!("the {field} line sent twice (label repeated) → 401"),
            send(&t.http, &s)
                .await?
                .expect_401(&[C::InvalidSignature, C::InvalidRequest]),
        );
    }
    // SIG-34: ES256 signature DER-encoded.
    let mut s = Spec::get(u);
    s.der = true;
    r.record(
        "SIG-34",
        "MUST",
        "ES256 signature in DER (not r‖s) → invalid_signature",
        t.get(&es, s).await?.expect_401(&[C::InvalidSignature]),
    );

    // Malformed fields (AMB-06 mapping).
    for (case, field, value, codes) in [
        (
            "Signature-Input not a Dictionary",
            "signature-input",
            "sig=(\"@method\"",
            &[C::InvalidSignature, C::InvalidRequest][..],
        ),
        (
            "Signature member not a Byte Sequence",
            "signature",
            "sig=\"AAAA\"",
            &[C::InvalidSignature, C::InvalidRequest][..],
        ),
        (
            "Signature as base64url (not sf-binary)",
            "signature",
            "sig=:AAAA-_AA:",
            &[C::InvalidSignature, C::InvalidRequest][..],
        ),
        (
            "Signature-Key not a Dictionary",
            "signature-key",
            "sig=hwk;kty=",
            &[C::InvalidRequest, C::InvalidKey][..],
        ),
        (
            "created not an Integer",
            "signature-input",
            "",
            &[C::InvalidSignature, C::InvalidRequest][..],
        ),
    ] {
        let mut s = raw::sign(&ed, &Spec::get(u))?;
        if value.is_empty() {
            let si = s.get("signature-input");
            let bad = match si.find(";created=") {
                Some(at) => format!("{};created=\"{}\"", &si[..at], now()),
                None => si,
            };
            s.set(field, &bad);
        } else {
            s.set(field, value);
        }
        let id = if field == "signature-key" {
            "SK-01"
        } else {
            "SIG-26"
        };
        r.record(
            id,
            "MUST",
            &format!("malformed: {case}"),
            send(&t.http, &s).await?.expect_401(codes),
        );
    }
    let mut s = Spec::get(u);
    s.components.insert(0, "@method".to_owned());
    r.record(
        "SIG-33",
        "MUST",
        "a component listed twice → 401",
        t.get(&ed, s)
            .await?
            .expect_401(&[C::InvalidSignature, C::InvalidInput]),
    );

    Ok(())
}

/// SIG-19 (MAY): a state-changing request replayed verbatim within the window is refused by
/// a resource that keeps a replay cache; a fresh signature over the same request is not.
async fn replay(t: &Target, r: &mut Report) -> Result<(), String> {
    const CASE: &str =
        "identical POST replayed in the window → 401; a fresh signature is not a replay";
    let key = fresh_key(Algorithm::Ed25519)?;
    let post = || {
        let mut s = Spec::get(&t.url);
        s.method = Method::POST;
        s
    };
    let signed = raw::sign(&key, &post())?;
    let first = send(&t.http, &signed).await?;
    let replayed = send(&t.http, &signed).await?;
    if let Err(e) = first.expect_accepted() {
        r.record("SIG-19", "MAY", CASE, Err(format!("the first POST: {e}")));
    } else if replayed.status != StatusCode::UNAUTHORIZED {
        r.skip(
            "SIG-19",
            "MAY",
            CASE,
            format!(
                "no replay cache at {} (first {}, replay {})",
                t.url,
                first.status.as_u16(),
                replayed.status.as_u16()
            ),
        );
    } else {
        // Ed25519 is deterministic: within the same second only a nonce makes the
        // legitimate second request differ from the replay.
        let mut fresh = post();
        fresh.params.push("nonce=\"sig19-second\"".to_owned());
        let again = t.get(&key, fresh).await?;
        r.record(
            "SIG-19",
            "MAY",
            CASE,
            replayed.sig_error().and_then(|e| {
                again
                    .expect_accepted()
                    .map(|_| {
                        format!(
                            "replay refused ({}), re-signed POST accepted",
                            e.code.as_str()
                        )
                    })
                    .map_err(|err| format!("a freshly signed POST was refused too: {err}"))
            }),
        );
    }
    Ok(())
}

/// Flips one bit of the first signature byte, keeping the field well-formed.
fn flip_signature(field: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let Some(start) = field.find(":") else {
        return field.to_owned();
    };
    let Some(end) = field.rfind(':').filter(|e| *e > start) else {
        return field.to_owned();
    };
    match STANDARD.decode(&field[start + 1..end]) {
        Ok(mut bytes) if !bytes.is_empty() => {
            bytes[0] ^= 0x01;
            format!("{}:{}:", &field[..start], STANDARD.encode(bytes))
        }
        _ => field.to_owned(),
    }
}

/// Signature-Key schemes and conveyed keys (SK, SIG-03…06, SIG-23…25).
async fn keys(t: &Target, r: &mut Report) -> Result<(), String> {
    let ed = fixed_key(Algorithm::Ed25519)?;
    let u = &t.url;
    let pubjwk = ed.public_jwk();
    let with = |f: &dyn Fn(&mut Jwk)| {
        let mut j = pubjwk.clone();
        j.alg = Some("Ed25519".to_owned());
        f(&mut j);
        j
    };

    // SIG-23 / SK-04 / SK-19 / ERR-11 / SK-28: unknown and unimplemented schemes.
    for member in [
        "foo;bar=\"1\"",
        "cached;cid=\"x\"",
        "x509;x5u=\"https://a.example/c.pem\";x5t=:AAAA:",
        "zz9",
    ] {
        let mut s = Spec::get(u);
        s.member = Some(member.to_owned());
        let reply = t.get(&ed, s).await?;
        let scheme = member.split(';').next().unwrap_or(member);
        let id = if scheme == "cached" { "SK-19" } else { "SK-04" };
        r.record(
            id,
            "MUST",
            &format!("scheme {scheme} → unsupported_scheme"),
            reply.expect_401(&[C::UnsupportedScheme]),
        );
        if scheme == "foo" {
            r.record(
                "SK-28",
                "SHOULD",
                "unsupported_scheme carries Accept-Signature-Scheme",
                match reply.header("accept-signature-scheme") {
                    Some(v) => aauth_wire::signature_error::parse_accept_signature_scheme(v)
                        .map(|l| l.join(", "))
                        .map_err(|e| format!("{v}: {e}")),
                    None => Err("absent".to_owned()),
                },
            );
        }
    }
    // SK-02: label without its Signature-Key member.
    let mut s = Spec::get(u);
    s.signature_key_field = Some(format!("other={}", hwk_member(&with(&|_| {}), true)));
    r.record(
        "SK-02",
        "MUST",
        "no Signature-Key member for the label → 401",
        t.get(&ed, s)
            .await?
            .expect_401(&[C::InvalidRequest, C::InvalidSignature, C::InvalidKey]),
    );
    // SK-03 / SK-05 / SIG-31: an extra member with an unknown scheme is ignored.
    let mut s = Spec::get(u);
    s.signature_key_field = Some(format!(
        "sig={}, x=foo;bar=\"1\"",
        hwk_member(&with(&|_| {}), true)
    ));
    r.record(
        "SK-05",
        "MUST NOT",
        "extra member with an unknown scheme is ignored",
        t.get(&ed, s).await?.expect_accepted(),
    );

    // Conveyed-key rules. Each member is signed over, so only the key rule can fail.
    let cases: Vec<(&str, &str, &str, String, &[C])> = vec![
        (
            "SK-11",
            "MUST",
            "hwk without alg → unsupported_algorithm",
            hwk_member(&with(&|_| {}), false),
            &[C::UnsupportedAlgorithm],
        ),
        (
            "SK-11",
            "MUST NOT",
            "hwk with kid → invalid_key",
            format!("{};kid=\"k1\"", hwk_member(&with(&|_| {}), true)),
            &[C::InvalidKey],
        ),
        (
            "SIG-04",
            "MUST NOT",
            "alg EdDSA → unsupported_algorithm",
            hwk_member(&with(&|j| j.alg = Some("EdDSA".to_owned())), true),
            &[C::UnsupportedAlgorithm],
        ),
        (
            "SIG-06",
            "MUST",
            "OKP Ed25519 key with alg ES256 → invalid_key",
            hwk_member(&with(&|j| j.alg = Some("ES256".to_owned())), true),
            &[C::InvalidKey],
        ),
        (
            "SIG-25",
            "MUST",
            "alg Ed448 (not implemented) → unsupported_algorithm",
            format!(
                "hwk;kty=\"OKP\";crv=\"Ed448\";x=\"{}\";alg=\"Ed448\"",
                "A".repeat(76)
            ),
            &[C::UnsupportedAlgorithm],
        ),
        (
            "SIG-05",
            "MUST NOT",
            "symmetric key (kty oct, HS256) is refused",
            "hwk;kty=\"oct\";k=\"c2VjcmV0\";alg=\"HS256\"".to_owned(),
            &[C::UnsupportedAlgorithm, C::InvalidKey],
        ),
        (
            "SK-08",
            "MUST",
            "RSA key with alg RSA → unsupported_algorithm",
            "hwk;kty=\"RSA\";n=\"sXch\";e=\"AQAB\";alg=\"RSA\"".to_owned(),
            &[C::UnsupportedAlgorithm],
        ),
        (
            "SK-09",
            "MUST",
            "kty AKP (ML-DSA-44) → unsupported_algorithm",
            "hwk;kty=\"AKP\";pub=\"AAAA\";alg=\"ML-DSA-44\"".to_owned(),
            &[C::UnsupportedAlgorithm],
        ),
        (
            "SK-12",
            "MUST",
            "Ed25519 x of 31 bytes → invalid_key",
            hwk_member(
                &with(&|j| {
                    j.x = Some("A".repeat(42));
                }),
                true,
            ),
            &[C::InvalidKey],
        ),
        (
            "SK-12",
            "MUST",
            "EC point not on P-256 → invalid_key",
            format!(
                "hwk;kty=\"EC\";crv=\"P-256\";x=\"{}\";y=\"{}\";alg=\"ES256\"",
                "AQ".repeat(21) + "A",
                "Ag".repeat(21) + "A"
            ),
            &[C::InvalidKey],
        ),
        (
            "SIG-06",
            "MUST",
            "EC P-384 key with alg ES256 → invalid_key",
            format!(
                "hwk;kty=\"EC\";crv=\"P-384\";x=\"{}\";y=\"{}\";alg=\"ES256\"",
                "A".repeat(64),
                "A".repeat(64)
            ),
            &[C::InvalidKey],
        ),
    ];
    for (id, level, case, member, codes) in cases {
        let mut s = Spec::get(u);
        s.member = Some(member);
        let reply = t.get(&ed, s).await?;
        r.record(id, level, case, reply.expect_401(codes));
        if case.starts_with("alg Ed448") {
            r.record(
                "SK-27",
                "MUST",
                "Accept-Signature-Alg: registered JOSE names, no none/symmetric",
                match reply.header("accept-signature-alg") {
                    Some(v) => match aauth_wire::signature_error::parse_accept_signature_alg(v) {
                        Ok(l)
                            if !l.is_empty()
                                && l.iter().all(|a| {
                                    !a.eq_ignore_ascii_case("none") && !a.starts_with("HS")
                                })
                                && l.iter().any(|a| a == "Ed25519") =>
                        {
                            Ok(l.join(", "))
                        }
                        Ok(l) => Err(format!("list {l:?}")),
                        Err(e) => Err(format!("{v}: {e}")),
                    },
                    None => {
                        Err("no Accept-Signature-Alg with unsupported_algorithm (SK-28)".into())
                    }
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that cannot fail is a defect: against a server that answers 200 to anything,
    /// every negative check must fail.
    #[tokio::test]
    async fn the_suite_fails_a_resource_that_accepts_everything() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|| async { "ok" });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let report = run(Options {
            url: Some(format!("http://{addr}/data")),
            person_cmd: None,
            person_open_cmd: None,
            pending_ttl: None,
            window: 60,
            max_code_attempts: 5,
        })
        .await
        .unwrap();
        server.abort();
        let failed = |id: &str| {
            report
                .checks
                .iter()
                .filter(|c| c.id == id && c.result == Outcome::Fail)
                .count()
        };
        assert_eq!(failed("RM-02"), 4);
        assert_eq!(failed("SIG-20"), 3);
        assert_eq!(failed("SIG-26"), 10);
        assert_eq!(
            failed("SIG-30"),
            3,
            "label mismatch and both repeated lines"
        );
        assert!(failed("SK-12") == 2 && failed("SK-04") == 3 && failed("SIG-18") == 2);
        assert!(report.fatal() >= 40, "{}", report.fatal());
        eprintln!(
            "fatal rows against an accept-everything server: {}",
            report.fatal()
        );
        // Needs-a-person checks (and the expiry checks, whose lifetime is not given) are
        // skipped, never passed, against a foreign URL.
        for id in ["IC-08", "IC-10", "IC-11", "ERR-22", "POLL-06"] {
            let rows: Vec<_> = report.checks.iter().filter(|c| c.id == id).collect();
            assert!(
                !rows.is_empty() && rows.iter().all(|c| c.result == Outcome::Skip),
                "{id}: {rows:?}"
            );
        }
    }
}
