// Interop harness for @hellocoop/httpsig (pinned in package.json). Driven by `cargo xtask
// interop`: reads one JSON job on stdin, writes one JSON result on stdout. Our code only:
// it calls the package's public API (fetch, verify). For `scheme: "jwt"` the job brings the
// agent token (minted by the xtask's test agent provider, `cnf.jwk` = this case's key).
import { createRequire } from 'node:module';

const require = createRequire(process.env.AAUTH_INTEROP_NODE_MODULES + '/');
const httpsig = require('@hellocoop/httpsig');

async function sign(job) {
  const out = [];
  for (const c of job.cases) {
    for (let i = 0; i < job.samples; i++) {
      const signatureKey = c.scheme === 'jwt'
        ? { type: 'jwt', jwt: c.jwt }
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
