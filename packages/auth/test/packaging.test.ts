import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startHttpServer } from '@ballast/test-utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const noOtel = fileURLToPath(new URL('./fixtures/no-otel.mjs', import.meta.url));
const SUBPATHS = [
  '',
  '/express',
  '/fastify',
  '/koa',
  '/node-http',
  '/fetch',
  '/undici',
  '/testing',
];

/** Runs `code` in a fresh Node process (ESM, or CJS) from the package folder. */
async function node(code: string, options: { cjs?: boolean; args?: string[] } = {}) {
  const args = [
    ...(options.args ?? []),
    options.cjs ? '--input-type=commonjs' : '--input-type=module',
  ];
  try {
    const { stdout, stderr } = await run(process.execPath, [...args, '-e', code], {
      cwd: root,
      timeout: 10_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('without @opentelemetry/api installed (issue 10 item 1)', () => {
  it('every subpath loads, in ESM and in CJS', async () => {
    const esm = SUBPATHS.map((p) => `await import('@ballast/auth${p}');`).join('\n');
    const cjs = SUBPATHS.map((p) => `require('@ballast/auth${p}');`).join('\n');
    const checks = [
      node(`${esm}\nconsole.log('ok')`, { args: ['--import', noOtel] }),
      node(`${cjs}\nconsole.log('ok')`, { cjs: true, args: ['--import', noOtel] }),
    ];
    for (const result of await Promise.all(checks)) {
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('ok');
    }
  });

  it('verifies tokens and gets client-credentials tokens, recording nothing', async () => {
    const code = `
      import { SignJWT } from 'jose';
      import { clientCredentials, createVerifier } from '@ballast/auth';
      import { createTestIssuer } from '@ballast/auth/testing';
      const secret = 'a-shared-secret-of-at-least-32-characters';
      const verifier = createVerifier({ issuer: 'https://i.test/', audience: 'api', algorithms: ['HS256'], secret });
      const token = await new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'HS256' })
        .setIssuer('https://i.test/').setAudience('api').setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret));
      const ok = await verifier.verify(token);
      const issuer = await createTestIssuer({ algorithms: ['ES256'], clients: [{ clientId: 'c', clientSecret: 's' }] });
      const tokens = clientCredentials({ tokenEndpoint: issuer.tokenEndpoint, clientId: 'c', clientSecret: 's' });
      const fetched = await tokens.getToken();
      await tokens.close(); await issuer.close(); await verifier.close();
      console.log(ok.subject, typeof fetched);`;
    const result = await node(code, { args: ['--import', noOtel] });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('u string');
  });

  it('no built file imports @opentelemetry/api at run time (only the kernel may load it)', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dist = `${root}dist`;
    const files = (await readdir(dist, { recursive: true })).filter((f) => /\.(c?js)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const text = await readFile(`${dist}/${file}`, 'utf8');
      expect(text, file).not.toMatch(/(from|require\()\s*["']@opentelemetry\/api["']/);
    }
  });
});

describe('the test issuer is not on the production path (issue 11)', () => {
  it('the main entry and the adapters load none of the test issuer', async () => {
    const code = `
      const before = new Set(Object.keys(require.cache));
      require('@ballast/auth'); require('@ballast/auth/express'); require('@ballast/auth/undici');
      const loaded = Object.keys(require.cache).filter((f) => !before.has(f) && f.includes('/auth/dist/'));
      const text = loaded.map((f) => require('node:fs').readFileSync(f, 'utf8')).join('');
      console.log(loaded.length > 0, text.includes('createTestIssuer'), text.includes('the test issuer was told to be down'));`;
    const result = await node(code, { cjs: true });
    expect(result.stdout.trim()).toBe('true false false');
  });
});

describe('an awaited retry keeps the process alive (issue 10 item 3)', () => {
  it('a script awaiting clientCredentials().getToken() gets its token after a 503 and a back-off', async () => {
    let requests = 0;
    const server = await startHttpServer(
      createServer((_req, res) => {
        requests++;
        if (requests === 1) {
          res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
          res.end('{"error":"temporarily_unavailable"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
        res.end('{"access_token":"t0k3n","token_type":"Bearer","expires_in":60}');
      }),
    );
    try {
      // Top-level await: if nothing keeps the event loop alive during the back-off, Node exits
      // with code 13 ("unsettled top-level await") before the second attempt.
      const code = `
        import { clientCredentials } from '@ballast/auth';
        const tokens = clientCredentials({
          tokenEndpoint: '${server.url}/token', clientId: 'c', clientSecret: 's',
          retry: { attempts: 3, baseDelayMs: 400, maxDelayMs: 400 }, random: () => 1,
        });
        console.log(await tokens.getToken());`;
      const result = await node(code);
      expect(result).toMatchObject({ code: 0, stdout: 't0k3n\n' });
      expect(requests).toBe(2);
    } finally {
      await server.close();
    }
  });
});
