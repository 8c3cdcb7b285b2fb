import { request as httpRequest } from 'node:http';

/** A response as the tests see it. */
export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `url` with raw headers given as a flat list (`['authorization', 'Bearer a', ...]`), so a
 * test can send the same header twice, which `fetch` cannot.
 */
export function get(url: string, headers: string[] = []): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const raw = ['host', new URL(url).host, ...headers]; // a raw list gets no automatic Host header
    const req = httpRequest(url, { method: 'GET', headers: raw, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET with `Authorization: Bearer <token>`. */
export function getWithToken(url: string, token: string): Promise<TestResponse> {
  return get(url, ['authorization', `Bearer ${token}`]);
}
