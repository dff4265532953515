// Throughput harness for @hellocoop/httpsig (the version `cargo xtask bench` installs, pinned).
// Our code only: it calls the package's public verify() on requests our signer produced.
// Protocol: the first stdin line is the job (requests, slice_ms); the harness answers one JSON
// line with a correctness check, then one JSON line per "rep" line; "quit" ends it. Rates are
// per second of this process's CPU time (process.cpuUsage), so time spent descheduled on a
// shared machine does not count; a slice lasts slice_ms of wall-clock time.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import readline from 'node:readline';
import fs from 'node:fs';

const require = createRequire(process.env.AAUTH_BENCH_NODE_MODULES + '/');
const httpsig = require('@hellocoop/httpsig');
const version = JSON.parse(fs.readFileSync(
  process.env.AAUTH_BENCH_NODE_MODULES + '/@hellocoop/httpsig/package.json', 'utf8')).version;

const opts = { maxClockSkew: 3600 };
const toReq = (r) => ({
  method: r.method, authority: r.authority, path: r.path,
  query: r.query === null ? undefined : r.query, headers: r.headers,
});

const cpuSeconds = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

async function timed(sliceMs, reqs) {
  let n = 0;
  let bad = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const limit = BigInt(sliceMs) * 1000000n;
  for (;;) {
    for (let i = 0; i < 8; i++) {
      const res = await httpsig.verify(reqs[n % reqs.length], opts);
      if (res.verified !== true) bad++;
      n++;
    }
    const el = process.hrtime.bigint() - start;
    if (el >= limit) return { per_s: n / cpuSeconds(cpu), bad };
  }
}

function timedRaw(sliceMs, raws) {
  let n = 0;
  let bad = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const limit = BigInt(sliceMs) * 1000000n;
  for (;;) {
    for (let i = 0; i < 8; i++) {
      const r = raws[n % raws.length];
      if (!crypto.verify(null, r.base, r.key, r.sig)) bad++;
      n++;
    }
    const el = process.hrtime.bigint() - start;
    if (el >= limit) return { per_s: n / cpuSeconds(cpu), bad };
  }
}

const rl = readline.createInterface({ input: process.stdin });
let job = null;
let reqs = null;
let raws = null;
for await (const line of rl) {
  if (job === null) {
    job = JSON.parse(line);
    reqs = job.requests.map(toReq);
    raws = job.requests.map((r) => ({
      base: Buffer.from(r.base, 'utf8'),
      sig: Buffer.from(r.sig_b64, 'base64'),
      key: crypto.createPublicKey({ key: r.jwk, format: 'jwk' }),
    }));
    let ok = 0;
    let error = null;
    for (const r of reqs) {
      try {
        const res = await httpsig.verify(r, opts);
        if (res.verified === true) ok++; else error = error || res.error || 'not verified';
      } catch (e) {
        error = error || String(e && e.message || e);
      }
    }
    process.stdout.write(JSON.stringify({ version, ok, n: reqs.length, error }) + '\n');
  } else if (line === 'rep') {
    const full = await timed(job.slice_ms, reqs);
    const raw = timedRaw(job.slice_ms, raws);
    process.stdout.write(JSON.stringify({ verify_per_s: full.per_s, raw_per_s: raw.per_s,
      bad: full.bad + raw.bad }) + '\n');
  } else {
    break;
  }
}
process.exit(0);
