"""Interop harness for the PyPI packages aauth / aauth-signing (pinned in requirements.txt).

Driven by `cargo xtask interop`: one JSON job on stdin; results as JSON lines on stdout (the
flow job also prints an `interaction` event the xtask answers by playing the person). Our code
only: it calls the packages' public API.
"""
import base64
import json
import time
import sys
from urllib.parse import urljoin

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aauth_signing import sign_request, verify_signature
from aauth.agent import poll_pending_url
from aauth.headers.aauth_header import parse_aauth_header


def emit(obj):
    print(json.dumps(obj), flush=True)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def private_key(jwk):
    d = b64url_decode(jwk["d"])
    if jwk["kty"] == "OKP":
        return Ed25519PrivateKey.from_private_bytes(d)
    return ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())


def to_standard_base64(field):
    """The D1 shim: rewrite the peer's base64url Signature bytes as RFC 8941 sf-binary."""
    label, _, rest = field.partition("=")
    raw = b64url_decode(rest.strip(":"))
    return f"{label}=:{base64.b64encode(raw).decode()}:"


def signed(client, key, method, url, headers=None, body=None, shim=False, jwt=None):
    h = dict(headers or {})
    # `jwt`: an agent token from the xtask's test agent provider (cnf.jwk = this key).
    scheme = {"sig_scheme": "jwt", "jwt": jwt} if jwt else {"sig_scheme": "hwk"}
    h.update(sign_request(method, url, h, body, key, **scheme))
    if shim:
        h["Signature"] = to_standard_base64(h["Signature"])
    return client.request(method, url, headers=h, content=body), h


def op_sign(job):
    with httpx.Client(timeout=30) as client:
        for c in job["cases"]:
            key = private_key(c["jwk"])
            body = c["body"].encode() if c.get("body") is not None else None
            headers = {"Content-Type": "application/json"} if body is not None else {}
            for i in range(job["samples"]):
                if i:
                    # The peer stamps `created` itself in whole seconds: wait so that every
                    # sample carries a different signature (Ed25519 is deterministic).
                    time.sleep(1.05)
                try:
                    r, sent = signed(client, key, c["method"], c["url"], headers, body,
                                     shim=c.get("shim", False), jwt=c.get("jwt"))
                    emit({"cell": c["cell"], "status": r.status_code,
                          "signature_error": r.headers.get("signature-error"),
                          "sent": sent, "body": r.text})
                except Exception as e:  # report, do not hide
                    emit({"cell": c["cell"], "status": 0, "error": repr(e)})


def op_verify(job):
    for r in job["requests"]:
        h = r["headers"]
        target = f"http://{r['authority']}{r['path']}" + (f"?{r['query']}" if r["query"] else "")
        body = r["body"].encode() if r.get("body") is not None else None
        try:
            ok = verify_signature(r["method"], target, h, body, h.get("signature-input", ""),
                                  h.get("signature", ""), h.get("signature-key", ""))
            emit({"cell": r["cell"], "verified": bool(ok), "error": None})
        except Exception as e:
            emit({"cell": r["cell"], "verified": False, "error": repr(e)})


def op_flow(job):
    key = private_key(job["jwk"])
    url, shim = job["url"], job["shim"]
    with httpx.Client(timeout=60) as client:
        first, _ = signed(client, key, "GET", url, shim=shim)
        if first.status_code != 202:
            emit({"event": "done", "ok": False, "why": f"initial request answered {first.status_code}",
                  "signature_error": first.headers.get("signature-error")})
            return
        req = parse_aauth_header(first.headers.get("aauth-requirement", ""))
        emit({"event": "interaction", "url": req.get("url"), "code": req.get("code")})
        pending = urljoin(url, first.headers["location"])
        # No on_interaction callback: the library refuses a non-https interaction url, and this
        # resource runs on loopback http; the person is played by the xtask instead.
        result = poll_pending_url(
            pending, lambda u: signed(client, key, "GET", u, shim=shim)[0],
            max_polls=30, default_wait=1, initial_response=None)
        token = result.response.headers.get("aauth-access") if result.response is not None else None
        if not result.success or not token:
            emit({"event": "done", "ok": False, "why": f"poller: {result.status_code} {result.error}"})
            return
        final, sent = signed(client, key, "GET", url, {"Authorization": f"AAuth {token}"}, shim=shim)
        emit({"event": "done", "ok": final.status_code == 200, "poll_status": result.status_code,
              "final_status": final.status_code, "covered": sent.get("Signature-Input"),
              "why": final.text[:200]})


job = json.load(sys.stdin)
{"sign": op_sign, "verify": op_verify, "flow": op_flow}[job["op"]](job)
