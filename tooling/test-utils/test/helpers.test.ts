import { describe, expect, it } from 'vitest';
import { ManualClock, rawRequest, startHttpServer } from '../src/index.ts';

describe('ManualClock', () => {
  it('runs due callbacks in time order and only when advanced', () => {
    const clock = new ManualClock(1_000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    const cancelled = clock.setTimeout(() => seen.push('never'), 15);
    clock.clearTimeout(cancelled);
    clock.advance(9);
    expect(seen).toEqual([]);
    clock.advance(11);
    expect(seen).toEqual(['a@1010', 'b@1020']);
    expect(clock.now()).toBe(1_020);
    expect(clock.pending).toBe(0);
  });
});

describe('startHttpServer', () => {
  it('serves on 127.0.0.1 and closes even with a keep-alive connection open', async () => {
    const http = await startHttpServer((_req, res) => res.end('hi'));
    expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(http.url, { headers: { connection: 'keep-alive' } });
    expect(await response.text()).toBe('hi');
    await http.close();
    await expect(fetch(http.url)).rejects.toThrow();
  });
});

describe('rawRequest', () => {
  it('sends a repeated header as given and reads status, headers and body', async () => {
    const http = await startHttpServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, raw: req.rawHeaders }));
    });
    try {
      const got = await rawRequest(http.url, {
        method: 'POST',
        headers: ['x-twice', 'a', 'x-twice', 'b'],
        body: 'hello',
      });
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toBe('application/json');
      const seen = got.json() as { method: string; raw: string[] };
      expect(seen.method).toBe('POST');
      expect(seen.raw.filter((_, i) => seen.raw[i - 1] === 'x-twice')).toEqual(['a', 'b']);
      expect(seen.raw[0]?.toLowerCase()).toBe('host');
      expect(got.text()).toBe(got.body.toString());
    } finally {
      await http.close();
    }
  });
});
