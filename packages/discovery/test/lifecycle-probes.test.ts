import type { TestHttpServer } from '@ballast/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealth, type Health, type HealthIndicator } from '../src/lifecycle/index.ts';
import { probeApps } from './support/probe-apps.ts';

/** An indicator whose answer the test sets. */
function switchable(name: string, critical: boolean) {
  const state = { status: 'UP' as 'UP' | 'DOWN' };
  const indicator: HealthIndicator = {
    name,
    critical,
    check: () => ({ status: state.status, details: { version: '7.2' } }),
  };
  return { indicator, state };
}

async function get(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

describe.each(Object.entries(probeApps))('probes() on %s', (_name, start) => {
  let app: TestHttpServer | undefined;
  let health: Health | undefined;
  afterEach(async () => {
    await app?.close();
    await health?.close();
  });

  async function setup() {
    const redis = switchable('redis', true);
    const mail = switchable('mail', false);
    health = createHealth({ indicators: [redis.indicator, mail.indicator] });
    app = await start(health);
    return { redis, mail, health, url: app.url };
  }

  it('answers /livez, /readyz and /health with 200 UP, as uncached JSON, and leaves other routes alone', async () => {
    const { url } = await setup();
    for (const path of ['/livez', '/readyz', '/health']) {
      const res = await get(url + path);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'UP' });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect((await get(`${url}/work`)).text).toBe('ok');
    expect((await get(`${url}/livez?verbose=1`)).json()).toEqual({ status: 'UP' });
  });

  it('shows components only when showDetails allows it', async () => {
    const { url } = await setup();
    const hidden = (await get(`${url}/health`)).json();
    expect(hidden).toEqual({ status: 'UP' });
    const shown = (await get(`${url}/health`, { headers: { 'x-admin': '1' } })).json();
    expect(shown.status).toBe('UP');
    expect(Object.keys(shown.components).sort()).toEqual([
      'eventLoop',
      'mail',
      'readiness',
      'redis',
    ]);
    expect(shown.components.redis).toMatchObject({
      status: 'UP',
      critical: true,
      details: { version: '7.2' },
    });
  });

  it('a critical dependency DOWN turns /readyz and /health 503, /livez stays 200', async () => {
    const { url, redis } = await setup();
    redis.state.status = 'DOWN';
    expect((await get(`${url}/readyz`)).status).toBe(503);
    expect((await get(`${url}/readyz`)).json()).toEqual({ status: 'DOWN' });
    expect((await get(`${url}/health`)).status).toBe(503);
    expect((await get(`${url}/livez`)).status).toBe(200);
  });

  it('a non-critical dependency DOWN leaves /readyz 200 and makes /health DEGRADED (200)', async () => {
    const { url, mail } = await setup();
    mail.state.status = 'DOWN';
    expect((await get(`${url}/readyz`)).json()).toEqual({ status: 'UP' });
    const res = await get(`${url}/health`, { headers: { 'x-admin': '1' } });
    expect(res.status).toBe(200);
    expect(res.json().status).toBe('DEGRADED');
    expect(res.json().components.mail.status).toBe('DOWN');
  });

  it('readiness off: /readyz 503 OUT_OF_SERVICE at once, /livez 200', async () => {
    const { url, health } = await setup();
    health.setReady(false);
    const ready = await get(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json()).toEqual({ status: 'OUT_OF_SERVICE' });
    expect((await get(`${url}/livez`)).status).toBe(200);
    expect((await get(`${url}/health`)).status).toBe(503);
  });

  it('HEAD answers the status without a body; other methods are not probes', async () => {
    const { url, health } = await setup();
    health.setReady(false);
    const head = await get(`${url}/readyz`, { method: 'HEAD' });
    expect(head.status).toBe(503);
    expect(head.text).toBe('');
    const post = await get(`${url}/livez`, { method: 'POST' });
    expect(post.text).not.toContain('"status"');
  });

  it('a hanging critical indicator is cut at its timeout: /readyz answers 503 in time and says why', async () => {
    health = createHealth({
      indicators: [
        { name: 'db', critical: true, timeoutMs: 50, check: () => new Promise(() => {}) },
      ],
    });
    app = await start(health);
    const started = performance.now();
    const res = await get(`${app.url}/readyz`, { headers: { 'x-admin': '1' } });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(res.status).toBe(503);
    expect(res.json().components.db).toMatchObject({ status: 'DOWN', timedOut: true });
    expect((await get(`${app.url}/livez`)).status).toBe(200);
  });
});
