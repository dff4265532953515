//! The seam between the client and whatever holds the private key.
use aauth_sig::{Algorithm, RequestTarget, SignError, SignOptions, Signer, Thumbprint};
use http::HeaderMap;

/// Signs requests for the client. Implemented for [`aauth_sig::Signer`] (a key in memory); a
/// key in an HSM or an agent process implements it by building the base with
/// [`aauth_sig::signature_base`] and signing the bytes remotely. The client never needs the
/// private key itself, only these operations.
pub trait RequestSigner: Send + Sync + 'static {
    /// RFC 7638 thumbprint of the public key: the agent's pseudonymous identity. For a signer
    /// with a key per origin (SK-25, [`crate::PerOriginSigner`]) this is the master key's,
    /// which no resource sees; [`RequestSigner::thumbprint_for`] is what a resource sees.
    fn thumbprint(&self) -> Thumbprint;
    /// The thumbprint the resource at `origin` (`scheme://host[:port]`, as
    /// [`crate::origin_of`] gives it) sees, and the key half of the session-cache key. The
    /// default, one key everywhere, is [`RequestSigner::thumbprint`]; a signer that chooses
    /// its key by the request's origin (SK-25) overrides it to agree with
    /// [`RequestSigner::sign`].
    fn thumbprint_for(&self, origin: &str) -> Thumbprint {
        let _ = origin;
        self.thumbprint()
    }
    /// The signing algorithm (checked against a resource's `accept_signature_algs`).
    fn algorithm(&self) -> Algorithm;
    /// Writes `Signature-Key`, `Signature-Input` and `Signature` into `headers`.
    fn sign(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<(), SignError>;
    /// The signature base that [`RequestSigner::sign`] would sign (for `-v` output and
    /// debugging); writes `Signature-Key` into `headers` as signing would.
    fn signature_base(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<String, SignError>;
}

impl RequestSigner for Signer {
    fn thumbprint(&self) -> Thumbprint {
        Signer::thumbprint(self)
    }

    fn algorithm(&self) -> Algorithm {
        self.key().algorithm()
    }

    fn sign(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<(), SignError> {
        Signer::sign(self, target, headers, opts)
    }

    fn signature_base(
        &self,
        target: &RequestTarget<'_>,
        headers: &mut HeaderMap,
        opts: &SignOptions,
    ) -> Result<String, SignError> {
        Signer::signature_base(self, target, headers, opts)
    }
}
