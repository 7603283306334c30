// Probe of bench/collector-overload.mjs, run as its own process so that its
// answer times do not include the load generator's own event loop: sends one
// OTLP/HTTP request of BODY_BYTES (not a valid request: when admitted it is
// answered 400 after decoding) every INTERVAL_MS on a new connection until
// SIGTERM, then prints the time to the answer's headers by status as JSON.
//
//   node bench/overload-probe.mjs URL BODY_BYTES INTERVAL_MS
import { Buffer } from 'node:buffer';
import console from 'node:console';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const [url, bytes, interval] = process.argv.slice(2);
const body = Buffer.alloc(Number(bytes), 0xff);
const answers = [];
let stop = false;
process.once('SIGTERM', () => (stop = true));

const once = () =>
  new Promise((resolve) => {
    const t = performance.now();
    const req = http.request(`${url}/v1/traces`, { method: 'POST', agent: false, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      answers.push({ status: res.statusCode, millis: performance.now() - t });
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('error', (e) => {
      answers.push({ status: `error ${e.code}`, millis: performance.now() - t });
      resolve();
    });
    req.end(body);
  });

while (!stop) {
  await once();
  await sleep(Number(interval));
}
const by = {};
for (const a of answers) (by[a.status] ??= []).push(a.millis);
const q = (s, p) => +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
const out = {};
for (const [status, ms] of Object.entries(by)) {
  ms.sort((a, b) => a - b);
  out[status] = { n: ms.length, p50Millis: q(ms, 0.5), p99Millis: q(ms, 0.99), maxMillis: q(ms, 1) };
}
console.log(JSON.stringify(out));
