"""Throughput harness for PyPI aauth-signing (the version `cargo xtask bench` installs, pinned).

Our code only: it calls the package's public verify_signature() on requests our signer produced.
The package reads the Signature bytes only in the base64url alphabet (interop deviation D1), so
the harness re-encodes that one header value before anything is timed; everything else is the
request as sent. Protocol as in node-verify.mjs; rates are per second of process CPU time.
"""
import base64
import json
import sys
import time
from importlib import metadata

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aauth_signing import verify_signature


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def as_base64url(field):
    label, _, rest = field.partition("=")
    raw = base64.b64decode(rest.strip().strip(":"))
    return f"{label}=:{base64.urlsafe_b64encode(raw).decode().rstrip('=')}:"


def prepare(r):
    h = dict(r["headers"])
    h["signature"] = as_base64url(h["signature"])
    target = f"https://{r['authority']}{r['path']}" + (f"?{r['query']}" if r["query"] else "")
    return (r["method"], target, h)


def verify(p):
    method, target, h = p
    return verify_signature(method, target, h, None, h["signature-input"], h["signature"],
                            h["signature-key"], signature_window=3600)


def timed(slice_s, fn, items):
    n = bad = 0
    cpu = time.process_time()
    start = time.perf_counter()
    while True:
        for _ in range(8):
            try:
                if not fn(items[n % len(items)]):
                    bad += 1
            except Exception:  # counted, not hidden
                bad += 1
            n += 1
        if time.perf_counter() - start >= slice_s:
            return n / max(time.process_time() - cpu, 1e-9), bad


def raw_verify(r):
    r["key"].verify(r["sig"], r["base"])
    return True


def main():
    job = json.loads(sys.stdin.readline())
    reqs = [prepare(r) for r in job["requests"]]
    raws = [{"key": Ed25519PublicKey.from_public_bytes(b64url_decode(r["jwk"]["x"])),
             "sig": base64.b64decode(r["sig_b64"]), "base": r["base"].encode()}
            for r in job["requests"] if r["jwk"].get("crv") == "Ed25519"]
    ok, error = 0, None
    for p in reqs:
        try:
            if verify(p):
                ok += 1
            else:
                error = error or "not verified"
        except Exception as e:
            error = error or repr(e)
    print(json.dumps({"version": metadata.version("aauth-signing"), "ok": ok, "n": len(reqs),
                      "error": error}), flush=True)
    for line in sys.stdin:
        if line.strip() != "rep":
            break
        full, bad = timed(job["slice_ms"] / 1000, verify, reqs)
        raw, bad_raw = timed(job["slice_ms"] / 1000, raw_verify, raws) if raws else (0, 0)
        print(json.dumps({"verify_per_s": full, "raw_per_s": raw, "bad": bad + bad_raw}),
              flush=True)


main()
