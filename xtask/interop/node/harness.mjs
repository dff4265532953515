// Interop harness for @hellocoop/httpsig (pinned in package.json). Driven by `cargo xtask
// interop`: reads one JSON job on stdin, writes one JSON result on stdout. Our code only:
// it calls the package's public API (fetch, verify) and builds a test agent token.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';

const require = createRequire(process.env.AAUTH_INTEROP_NODE_MODULES + '/');
const httpsig = require('@hellocoop/httpsig');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A test agent token (typ aa-agent+jwt) binding `publicJwk` via cnf.jwk, signed by a
// throwaway issuer key. Only the peer's jwt Signature-Key path is under test here.
function agentToken(publicJwk) {
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const header = { alg: 'Ed25519', typ: 'aa-agent+jwt', kid: 'interop-1' };
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: 'https://agent.example', dwk: 'aauth-agent.json',
    sub: 'aauth:interop@agent.example', iat: now, exp: now + 300,
    cnf: { jwk: publicJwk },
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.sign(null, Buffer.from(input), privateKey);
  return `${input}.${b64url(sig)}`;
}

function publicOf(jwk) {
  const { d, ...pub } = jwk;
  return pub;
}

async function sign(job) {
  const out = [];
  for (const c of job.cases) {
    for (let i = 0; i < job.samples; i++) {
      const signatureKey = c.scheme === 'jwt'
        ? { type: 'jwt', jwt: agentToken(publicOf(c.jwk)) }
        : { type: 'hwk' };
      const opts = { method: c.method, signingKey: c.jwk, signatureKey, returnSent: true };
      if (c.body !== null && c.body !== undefined) {
        opts.body = c.body;
        opts.headers = { 'content-type': 'application/json' };
      }
      if (c.components) opts.components = c.components;
      try {
        const { response, sent } = await httpsig.fetch(c.url, opts);
        const headers = {};
        sent.headers.forEach((v, k) => { headers[k] = v; });
        out.push({
          cell: c.cell, status: response.status,
          signature_error: response.headers.get('signature-error'),
          sent: headers, body: await response.text(),
        });
      } catch (e) {
        out.push({ cell: c.cell, status: 0, error: String(e && e.message || e) });
      }
    }
  }
  return out;
}

async function verify(job) {
  const out = [];
  for (const r of job.requests) {
    try {
      const res = await httpsig.verify({
        method: r.method, authority: r.authority, path: r.path,
        query: r.query === null ? undefined : r.query, headers: r.headers,
        body: r.body === null ? undefined : r.body,
      });
      out.push({ cell: r.cell, verified: res.verified === true, error: res.error || null,
        thumbprint: res.thumbprint || null });
    } catch (e) {
      out.push({ cell: r.cell, verified: false, error: String(e && e.message || e) });
    }
  }
  return out;
}

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const result = job.op === 'sign' ? await sign(job) : await verify(job);
process.stdout.write(JSON.stringify(result));
