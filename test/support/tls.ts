/** Self-signed certificates and an HTTPS-capable request helper for tests. */
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

/** Writes a self-signed certificate for 127.0.0.1/localhost with `openssl` into `dir`. */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile], {
    stdio: 'ignore',
  });
  return { certFile, keyFile };
}

/** A response: status, headers and body text. */
export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP(S) request; `ca` trusts a self-signed certificate. */
export function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; ca?: Buffer } = {}): Promise<TestResponse> {
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: options.method ?? 'GET', headers: options.headers, ...(options.ca ? { ca: options.ca } : {}), timeout: 20_000 });
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`timeout on ${url}`)));
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.once('error', reject);
    });
    req.end(options.body === undefined ? undefined : Buffer.from(options.body));
  });
}
