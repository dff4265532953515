//! A throw-away `redis-server` for the Redis memory rows, and the few RESP commands the bench
//! reads from it (`PING`, `INFO memory`, `DBSIZE`) over a plain TCP connection.
//!
//! The server listens on a free loopback port, keeps its files in a temporary directory and
//! never persists (`--save '' --appendonly no`). [`RedisServer`] is a guard: dropping it — also
//! on an error path or while a panic unwinds — kills the server and removes the directory.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why no server could be started.
#[derive(Debug)]
pub enum StartError {
    /// `redis-server` is not installed (or does not run): the rows are skipped.
    Missing(String),
    /// It is installed but did not come up: the part fails.
    Failed(String),
}

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
    /// `redis-server --version`, e.g. `7.0.15 (jemalloc-5.3.0)`.
    pub version: String,
}

impl RedisServer {
    pub fn start() -> Result<RedisServer, StartError> {
        let out = Command::new("redis-server")
            .arg("--version")
            .output()
            .map_err(|e| {
                StartError::Missing(if e.kind() == std::io::ErrorKind::NotFound {
                    "redis-server not found on PATH".to_owned()
                } else {
                    format!("redis-server not runnable: {e}")
                })
            })?;
        if !out.status.success() {
            return Err(StartError::Missing(format!(
                "redis-server --version failed ({})",
                out.status
            )));
        }
        let version = version_of(&String::from_utf8_lossy(&out.stdout));
        let mut last = String::new();
        // The free port is found by binding and releasing it; another process may take it in
        // between, so a few attempts.
        for attempt in 0..5 {
            let port = free_port().map_err(|e| StartError::Failed(format!("no free port: {e}")))?;
            let dir = std::env::temp_dir().join(format!(
                "aauth-bench-redis-{}-{port}-{attempt}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|e| StartError::Failed(format!("{}: {e}", dir.display())))?;
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--protected-mode", "yes", "--databases", "1"])
                .args(["--loglevel", "warning", "--logfile"])
                .arg(dir.join("redis.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(StartError::Failed(format!("starting redis-server: {e}")));
                }
            };
            // From here on the guard owns the process and the directory.
            let mut server = RedisServer {
                child,
                dir,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                version: version.clone(),
            };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(StartError::Failed(format!(
            "redis-server did not come up: {last}"
        )))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(3).collect();
                return Err(format!("exited ({status}): {}", tail.join(" | ")));
            }
            if let Ok(mut c) = Resp::connect(self.addr)
                && matches!(c.cmd(&["PING"]), Ok(Reply::Str(s)) if s == "PONG")
            {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!("no PONG on {} within {limit:?}", self.addr));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `Redis server v=7.0.15 sha=… malloc=jemalloc-5.3.0 …` → `7.0.15 (jemalloc-5.3.0)`.
fn version_of(s: &str) -> String {
    let field = |k: &str| {
        s.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or("?")
            .to_owned()
    };
    format!("{} ({})", field("v="), field("malloc="))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// A reply the bench understands (no arrays: it sends no command that returns one).
#[derive(Debug, PartialEq)]
pub enum Reply {
    Str(String),
    Int(i64),
    Nil,
}

/// One synchronous RESP connection.
pub struct Resp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Resp {
    pub fn connect(addr: SocketAddr) -> Result<Resp, String> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("{addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let writer = s.try_clone().map_err(|e| e.to_string())?;
        Ok(Resp {
            reader: BufReader::new(s),
            writer,
        })
    }

    pub fn cmd(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.writer
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at_checked(1).ok_or("empty reply")?;
        match kind {
            "+" => Ok(Reply::Str(rest.to_owned())),
            "-" => Err(format!("redis: {rest}")),
            ":" => rest.parse().map(Reply::Int).map_err(|e| e.to_string()),
            "$" => {
                let len: i64 = rest
                    .parse()
                    .map_err(|_| format!("bad bulk length {rest}"))?;
                let Ok(len) = usize::try_from(len) else {
                    return Ok(Reply::Nil);
                };
                let mut buf = vec![0u8; len + 2];
                self.reader
                    .read_exact(&mut buf)
                    .map_err(|e| e.to_string())?;
                buf.truncate(len);
                String::from_utf8(buf)
                    .map(Reply::Str)
                    .map_err(|_| "reply is not UTF-8".to_owned())
            }
            other => Err(format!("unexpected reply type {other:?}")),
        }
    }
}

/// What the memory rows read from the server.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct RedisMemory {
    /// `INFO memory` `used_memory`: bytes the allocator handed out.
    pub used: u64,
    /// `INFO memory` `used_memory_rss`: the server's resident set, as the OS sees it.
    pub rss: u64,
    /// `DBSIZE`.
    pub keys: u64,
}

pub fn memory(addr: SocketAddr) -> Result<RedisMemory, String> {
    let mut c = Resp::connect(addr)?;
    let Reply::Str(info) = c.cmd(&["INFO", "memory"])? else {
        return Err("INFO memory: unexpected reply".into());
    };
    let field = |name: &str| -> Result<u64, String> {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("INFO memory has no {name}"))
    };
    let Reply::Int(keys) = c.cmd(&["DBSIZE"])? else {
        return Err("DBSIZE: unexpected reply".into());
    };
    Ok(RedisMemory {
        used: field("used_memory")?,
        rss: field("used_memory_rss")?,
        keys: u64::try_from(keys).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        assert_eq!(
            version_of("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64"),
            "7.0.15 (jemalloc-5.3.0)"
        );
    }

    /// The guard stops the server and removes its directory, also while a panic unwinds.
    #[test]
    fn stopped_on_drop_and_on_panic() {
        let server = match RedisServer::start() {
            Ok(s) => s,
            Err(StartError::Missing(why)) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
            Err(StartError::Failed(e)) => panic!("{e}"),
        };
        let m = memory(server.addr).expect("INFO memory");
        assert!(m.used > 0 && m.rss > 0, "{m:?}");
        assert_eq!(m.keys, 0);
        let (addr, dir) = (server.addr, server.dir.clone());
        drop(server);
        assert!(Resp::connect(addr).is_err(), "still listening after drop");
        assert!(!dir.exists());

        let started = std::panic::catch_unwind(|| {
            let server = RedisServer::start().map_err(|_| ()).expect("second start");
            let at = (server.addr, server.dir.clone());
            std::panic::panic_any(at);
        });
        let at = started.expect_err("panicked");
        let (addr, dir) = at
            .downcast_ref::<(SocketAddr, PathBuf)>()
            .expect("payload")
            .clone();
        assert!(Resp::connect(addr).is_err(), "still listening after panic");
        assert!(!dir.exists());
    }
}
