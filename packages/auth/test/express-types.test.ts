import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as express from '../src/adapters/express.ts';
import * as fastify from '../src/adapters/fastify.ts';
import * as fetchAdapter from '../src/adapters/fetch.ts';
import * as koa from '../src/adapters/koa.ts';
import * as nodeHttp from '../src/adapters/node-http.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Type-checks `code` as a user's strict project would, library declarations included. */
async function typeErrors(code: string): Promise<string[]> {
  const dir = await mkdtemp(join(root, '.types-'));
  try {
    const file = join(dir, 'app.ts');
    await writeFile(file, code);
    const program = ts.createProgram([file], {
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: false, // TS2717 is reported inside the declaration files
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2023,
      types: ['node'],
    });
    return ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.category === ts.DiagnosticCategory.Error)
      .map((d) => `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
      .filter((text) => !/node_modules\/(?!@ballast)/.test(text));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('@ballast/auth/express next to express-oauth2-jwt-bearer (issue 10 item 9)', () => {
  it('compiles in one project: no global req.auth declaration to clash with (TS2717)', async () => {
    const errors = await typeErrors(`
      import express from 'express';
      import { auth } from 'express-oauth2-jwt-bearer';
      import { createVerifier } from '@ballast/auth';
      import { authOf, requireAuth } from '@ballast/auth/express';
      const verifier = createVerifier({ issuer: 'https://i.test/', audience: 'api', algorithms: ['RS256'], discovery: true });
      const app = express();
      app.get('/old', auth({ issuerBaseURL: 'https://i.test/', audience: 'api' }), (req, res) => {
        res.json({ sub: req.auth?.payload.sub });          // the old middleware's shape
      });
      app.get('/new', requireAuth(verifier), (req, res) => {
        const token = authOf(req);                          // ours, typed
        res.json({ sub: token?.subject, scopes: token?.scopes });
      });
    `);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('every adapter exports the same names', () => {
  it('requireAuth, requireScopes, requireClaims and authOf', () => {
    for (const adapter of [express, fastify, koa, nodeHttp, fetchAdapter]) {
      for (const name of ['requireAuth', 'requireScopes', 'requireClaims', 'authOf']) {
        expect(typeof (adapter as Record<string, unknown>)[name], name).toBe('function');
      }
    }
  });
});
