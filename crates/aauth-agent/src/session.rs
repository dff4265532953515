//! Where the client keeps session tokens: keyed by (resource origin, key thumbprint), because a
//! token is only good at the origin that issued it (SESS-14) and only under the key it is bound
//! to (AMB-03) — a client that changes keys must not present the old key's tokens.
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aauth_sig::Thumbprint;
use aauth_wire::access::SessionToken;
use serde::{Deserialize, Serialize};

/// A session-token store. Implementations must never log token values.
pub trait SessionCache: Send + Sync + 'static {
    /// The token for `origin` under `key`, if any.
    fn get(&self, origin: &str, key: &Thumbprint) -> Option<SessionToken>;
    /// Stores (or replaces: rolling refresh, SESS-09) the token for `origin` under `key`.
    fn put(&self, origin: &str, key: &Thumbprint, token: SessionToken);
    /// Forgets the token for `origin` under `key`.
    fn remove(&self, origin: &str, key: &Thumbprint);
}

type Map = HashMap<(String, String), SessionToken>;

fn lock(m: &Mutex<Map>) -> std::sync::MutexGuard<'_, Map> {
    // A poisoned lock only means another thread panicked mid-insert; the map is still sound.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn map_key(origin: &str, key: &Thumbprint) -> (String, String) {
    (origin.to_owned(), key.as_str().to_owned())
}

/// In-process cache (the default): sessions end with the process.
#[derive(Default)]
pub struct MemorySessionCache {
    map: Mutex<Map>,
}

impl std::fmt::Debug for MemorySessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionCache")
            .field("entries", &lock(&self.map).len())
            .finish()
    }
}

impl SessionCache for MemorySessionCache {
    fn get(&self, origin: &str, key: &Thumbprint) -> Option<SessionToken> {
        lock(&self.map).get(&map_key(origin, key)).cloned()
    }

    fn put(&self, origin: &str, key: &Thumbprint, token: SessionToken) {
        lock(&self.map).insert(map_key(origin, key), token);
    }

    fn remove(&self, origin: &str, key: &Thumbprint) {
        lock(&self.map).remove(&map_key(origin, key));
    }
}

/// Why a session file could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionCacheError {
    #[error("cannot read session file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("session file {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    /// Group or others may read it: session tokens are bearer credentials of this agent, so
    /// the file must be as private as the key (the cache itself writes it 0600).
    #[error("session file {path} is readable by other users; run `chmod 600 {path}`")]
    TooOpen { path: String },
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    origin: String,
    key: String,
    token: String,
}

#[derive(Serialize, Deserialize, Default)]
struct FileDoc {
    version: u32,
    sessions: Vec<FileEntry>,
}

/// Largest session file read; far above any realistic number of sessions.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// A JSON file (mode 0600, written atomically) so a command-line agent keeps its sessions
/// across runs. Write failures are logged, not returned: losing a cached session only costs a
/// new approval, and must not fail the request that produced it.
pub struct FileSessionCache {
    path: PathBuf,
    map: Mutex<Map>,
}

impl std::fmt::Debug for FileSessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSessionCache")
            .field("path", &self.path)
            .field("entries", &lock(&self.map).len())
            .finish()
    }
}

impl FileSessionCache {
    /// Opens `path`, or starts empty when it does not exist yet.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, SessionCacheError> {
        let path = path.into();
        let p = path.display().to_string();
        let mut map = Map::new();
        match fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SessionCacheError::Read { path: p, source }),
            Ok(meta) => {
                if meta.is_dir() {
                    return Err(SessionCacheError::Invalid {
                        path: p,
                        reason: "a directory, not a file".into(),
                    });
                }
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    if meta.permissions().mode() & 0o077 != 0 {
                        return Err(SessionCacheError::TooOpen { path: p });
                    }
                }
                if meta.len() > MAX_FILE {
                    return Err(SessionCacheError::Invalid {
                        path: p,
                        reason: "larger than 4 MiB".into(),
                    });
                }
                let text = fs::read_to_string(&path).map_err(|source| SessionCacheError::Read {
                    path: p.clone(),
                    source,
                })?;
                let doc: FileDoc =
                    serde_json::from_str(&text).map_err(|e| SessionCacheError::Invalid {
                        path: p.clone(),
                        reason: e.to_string(),
                    })?;
                for e in doc.sessions {
                    // A token that no longer validates is dropped, not fatal.
                    if let Ok(t) = SessionToken::parse(&e.token) {
                        map.insert((e.origin, e.key), t);
                    }
                }
            }
        }
        Ok(FileSessionCache {
            path,
            map: Mutex::new(map),
        })
    }

    /// The file backing this cache.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn persist(&self, map: &Map) {
        let mut sessions: Vec<FileEntry> = map
            .iter()
            .map(|((origin, key), t)| FileEntry {
                origin: origin.clone(),
                key: key.clone(),
                token: t.expose().to_owned(),
            })
            .collect();
        sessions.sort_by(|a, b| (&a.origin, &a.key).cmp(&(&b.origin, &b.key)));
        let doc = FileDoc {
            version: 1,
            sessions,
        };
        if let Err(e) = write_private(&self.path, &doc) {
            tracing::warn!(target: "aauth::agent", path = %self.path.display(), error = %e,
                "could not save the session file");
        }
    }
}

/// Writes JSON to a sibling temp file with mode 0600, then renames it over `path`, so a crash
/// never leaves a half-written file and the token is never world-readable, even briefly.
fn write_private(path: &Path, doc: &FileDoc) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(&json)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
}

impl SessionCache for FileSessionCache {
    fn get(&self, origin: &str, key: &Thumbprint) -> Option<SessionToken> {
        lock(&self.map).get(&map_key(origin, key)).cloned()
    }

    fn put(&self, origin: &str, key: &Thumbprint, token: SessionToken) {
        let mut map = lock(&self.map);
        map.insert(map_key(origin, key), token);
        self.persist(&map);
    }

    fn remove(&self, origin: &str, key: &Thumbprint) {
        let mut map = lock(&self.map);
        if map.remove(&map_key(origin, key)).is_some() {
            self.persist(&map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(s: &str) -> Thumbprint {
        Thumbprint::from_encoded(s)
    }

    #[test]
    fn sess_14_tokens_are_keyed_by_origin_and_key() {
        let c = MemorySessionCache::default();
        let t = SessionToken::parse("abc.def").unwrap();
        c.put("https://a.example", &tp("k1"), t.clone());
        assert_eq!(c.get("https://a.example", &tp("k1")), Some(t));
        assert_eq!(c.get("https://b.example", &tp("k1")), None);
        assert_eq!(c.get("https://a.example", &tp("k2")), None);
        c.remove("https://a.example", &tp("k1"));
        assert_eq!(c.get("https://a.example", &tp("k1")), None);
    }

    #[test]
    fn sess_15_debug_of_caches_never_shows_tokens() {
        let c = MemorySessionCache::default();
        c.put(
            "https://a.example",
            &tp("k"),
            SessionToken::parse("s3cr3t").unwrap(),
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
