//! Private keys on disk: a JWK (JSON) file readable only by its owner.
use std::fs;
use std::io::Write;
use std::path::Path;

use aauth_sig::{Algorithm, Jwk, SigningKey};

#[derive(Debug, thiserror::Error)]
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
    #[error("{path} is not a private JWK: {reason}")]
    Invalid { path: String, reason: String },
}

/// Reads a private JWK written by [`save`].
pub fn load(path: &Path) -> Result<SigningKey, KeyFileError> {
    let p = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: p.clone(),
        source,
    })?;
    let jwk: Jwk = serde_json::from_str(&text).map_err(|e| KeyFileError::Invalid {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    SigningKey::from_jwk(&jwk).map_err(|e| KeyFileError::Invalid {
        path: p,
        reason: e.to_string(),
    })
}

/// Generates a key and writes it as a private JWK with mode 0600.
pub fn generate(path: &Path, alg: Algorithm, force: bool) -> Result<SigningKey, KeyFileError> {
    let p = path.display().to_string();
    if path.exists() && !force {
        return Err(KeyFileError::Exists { path: p });
    }
    let key = SigningKey::generate(alg).map_err(|e| KeyFileError::Invalid {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let json =
        serde_json::to_string_pretty(&key.to_private_jwk()).map_err(|e| KeyFileError::Invalid {
            path: p.clone(),
            reason: e.to_string(),
        })?;
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
    write(path).map_err(|source| KeyFileError::Write { path: p, source })?;
    Ok(key)
}
