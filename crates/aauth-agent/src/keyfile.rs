//! Private keys on disk: a private JWK (what `aauth keygen` writes) or a PKCS#8 PEM
//! `PRIVATE KEY` (what `openssl genpkey` writes), readable only by their owner.
use std::fs;
use std::io::Write;
use std::path::Path;

use aauth_sig::{Algorithm, Jwk, SigningKey};

/// Why a key file could not be read or written. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} already exists (use --force to replace it)")]
    Exists { path: String },
    #[error("{path} is not a private Ed25519 or ES256 key (JWK or PKCS#8 PEM): {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path} is readable by other users; run `chmod 600 {path}`")]
    TooOpen { path: String },
}

/// Largest key file read: a JWK or PEM of these key types is well under 1 KiB.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Parses key text: a JSON private JWK, or a PEM `PRIVATE KEY` (Ed25519 tried first, then
/// P-256, since PKCS#8 PEM does not say which at the text level).
pub fn parse(text: &str) -> Result<SigningKey, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let jwk: Jwk = serde_json::from_str(trimmed).map_err(|e| e.to_string())?;
        return SigningKey::from_jwk(&jwk).map_err(|e| e.to_string());
    }
    if trimmed.starts_with("-----BEGIN") {
        return SigningKey::from_pkcs8_pem(Algorithm::Ed25519, trimmed)
            .or_else(|_| SigningKey::from_pkcs8_pem(Algorithm::Es256, trimmed))
            .map_err(|e| e.to_string());
    }
    Err("neither a JSON JWK nor a PEM block".into())
}

/// Reads a key file. On Unix a file that group or others can read is refused, as ssh does:
/// a signing key is the agent's identity.
pub fn load(path: &Path) -> Result<SigningKey, KeyFileError> {
    let p = path.display().to_string();
    let read_err = |source| KeyFileError::Read {
        path: p.clone(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: p });
        }
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyFileError::Invalid {
            path: p,
            reason: "file too large".into(),
        });
    }
    let text = fs::read_to_string(path).map_err(read_err)?;
    parse(&text).map_err(|reason| KeyFileError::Invalid { path: p, reason })
}

/// Writes `key` as a private JWK with mode 0600 (created with that mode, never widened).
pub fn save(path: &Path, key: &SigningKey, force: bool) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    if path.exists() && !force {
        return Err(KeyFileError::Exists { path: p });
    }
    // A `.pem` path gets PKCS#8 PEM (for tools that want it); anything else a private JWK.
    let pem = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pem"));
    let json = if pem {
        key.to_pkcs8_pem().trim_end().to_owned()
    } else {
        serde_json::to_string_pretty(&key.to_private_jwk()).map_err(|e| KeyFileError::Invalid {
            path: p.clone(),
            reason: e.to_string(),
        })?
    };
    let write = |p: &Path| -> std::io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(p)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(json.as_bytes())?;
        f.write_all(b"\n")
    };
    write(path).map_err(|source| KeyFileError::Write { path: p, source })
}

/// Generates a key of `alg` and saves it with [`save`].
pub fn generate(path: &Path, alg: Algorithm, force: bool) -> Result<SigningKey, KeyFileError> {
    let key = SigningKey::generate(alg).map_err(|e| KeyFileError::Invalid {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    save(path, &key, force)?;
    Ok(key)
}
