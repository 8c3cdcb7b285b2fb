import { createRequire } from 'node:module';
import { ManualClock } from '@ballast/test-utils';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  AbortedError,
  AuthError,
  ClosedError,
  clientCredentials,
  createGuard,
  createVerifier,
  type DiscoveryError,
  InvalidOptionsError,
  InvalidTokenError,
  isAuthError,
  type JwksUnavailableError,
  type TokenRequestError,
  TotpError,
  type Verifier,
} from '../src/index.ts';
import { createTestIssuer, type TestIssuer } from '../src/testing/index.ts';
import { hangingEndpoint } from './hanging-endpoint.ts';

describe('errors on the kernel (issue 11)', () => {
  it('the guard narrows every code to its class, without a cast', () => {
    const error: unknown = new InvalidTokenError('expired', 'expired');
    if (isAuthError(error, 'INVALID_TOKEN')) {
      expectTypeOf(error).toEqualTypeOf<InvalidTokenError>();
      expect(error.reason).toBe('expired');
    }
    if (isAuthError(error, 'INVALID_OPTIONS'))
      expectTypeOf(error).toEqualTypeOf<InvalidOptionsError>();
    if (isAuthError(error, 'JWKS_UNAVAILABLE'))
      expectTypeOf(error).toEqualTypeOf<JwksUnavailableError>();
    if (isAuthError(error, 'DISCOVERY_FAILED')) expectTypeOf(error).toEqualTypeOf<DiscoveryError>();
    if (isAuthError(error, 'TOKEN_REQUEST_FAILED'))
      expectTypeOf(error).toEqualTypeOf<TokenRequestError>();
    if (isAuthError(error, 'TOTP_INVALID')) expectTypeOf(error).toEqualTypeOf<TotpError>();
    if (isAuthError(error, 'ABORTED')) expectTypeOf(error).toEqualTypeOf<AbortedError>();
    if (isAuthError(error, 'CLOSED')) expectTypeOf(error).toEqualTypeOf<ClosedError>();
    expect(isAuthError(error, 'CLOSED')).toBe(false);
    expect(isAuthError(error)).toBe(true);
    expect(error).toBeInstanceOf(AuthError);
    expect(error instanceof TotpError).toBe(false);
  });

  it('bad options throw InvalidOptionsError with the option and the value received', () => {
    let error: unknown;
    try {
      createVerifier({
        issuer: 'https://i.test/',
        audience: 'api',
        algorithms: ['RS256'],
        jwksUri: 'https://i.test/jwks',
        jwks: { timeoutMs: 0 },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toMatchObject({ code: 'INVALID_OPTIONS', option: 'jwks.timeoutMs', received: 0 });
    expect((error as Error).message).toMatch(
      /^createVerifier\(\): option "jwks.timeoutMs" must be an integer >= 1 .*\(got 0\)\. See /,
    );
  });

  it('never puts a secret into an INVALID_OPTIONS message', () => {
    const secret = 'too-short-but-secret';
    const error = (() => {
      try {
        createVerifier({ issuer: 'https://i.test/', audience: 'a', algorithms: ['HS256'], secret });
      } catch (e) {
        return e as InvalidOptionsError;
      }
    })();
    expect(error?.option).toBe('secret');
    expect(error?.message).not.toContain(secret);
    expect(error?.received).not.toBe(secret);
  });

  it('instanceof and the guard hold across the ESM and CJS builds (two copies in one process)', async () => {
    const esm = await import('../dist/index.js');
    const cjs = createRequire(import.meta.url)('../dist/index.cjs') as typeof esm;
    expect(esm.InvalidTokenError).not.toBe(cjs.InvalidTokenError);
    const fromEsm = new esm.InvalidTokenError('signature', 'bad');
    expect(fromEsm instanceof cjs.InvalidTokenError).toBe(true);
    expect(fromEsm instanceof cjs.AuthError).toBe(true);
    expect(fromEsm instanceof cjs.TotpError).toBe(false);
    expect(cjs.isAuthError(fromEsm, 'INVALID_TOKEN')).toBe(true);
    expect(esm.isAuthError(new cjs.ClosedError('closed'), 'CLOSED')).toBe(true);
  });
});

describe('the verifier speaks the dialect', () => {
  let issuer: TestIssuer;
  let verifier: Verifier;
  const clock = new ManualClock(Date.UTC(2030, 0, 1));

  beforeEach(async () => {
    issuer = await createTestIssuer({ clock, algorithms: ['ES256'] });
    verifier = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      jwksUri: issuer.jwksUri,
      algorithms: ['ES256'],
      clock,
    });
  });
  afterEach(async () => {
    await verifier.close();
    await issuer.close();
  });

  it('verify() after close() is refused with ClosedError (issue 10 item 8)', async () => {
    const token = await issuer.sign({ sub: 'u' });
    expect((await verifier.verify(token)).subject).toBe('u');
    await verifier.close();
    await verifier.close(); // idempotent
    const error = await verifier.verify(token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect(isAuthError(error, 'CLOSED')).toBe(true);
    await expect(verifier.refreshKeys()).rejects.toBeInstanceOf(ClosedError);
  });

  it('a verification waiting for keys when the verifier closes gets ClosedError', async () => {
    await using hanging = await hangingEndpoint('/jwks');
    const waiting = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      jwksUri: hanging.url,
      algorithms: ['ES256'],
      clock,
    });
    const pending = waiting.verify(await issuer.sign({})).catch((e: unknown) => e);
    await hanging.arrived();
    await waiting[Symbol.asyncDispose]();
    expect(isAuthError(await pending, 'CLOSED')).toBe(true);
  });

  it('refreshKeys takes { signal }, and refuses a bare AbortSignal instead of ignoring it', async () => {
    await verifier.refreshKeys({ signal: AbortSignal.timeout(5_000) });
    expect(verifier.status().jwks.state).toBe('fresh');
    await expect(verifier.refreshKeys(AbortSignal.abort() as never)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      option: '(options)',
    });
    await using hanging = await hangingEndpoint('/jwks');
    const slow = createVerifier({
      issuer: issuer.url,
      audience: issuer.audience,
      jwksUri: hanging.url,
      algorithms: ['ES256'],
      clock,
    });
    const controller = new AbortController();
    const pending = slow.refreshKeys({ signal: controller.signal }).catch((e: unknown) => e);
    await hanging.arrived();
    controller.abort(new Error('gave up'));
    const error = await pending;
    expect(error).toBeInstanceOf(AbortedError);
    await slow.close();
  });

  it('a JWKS listener that throws stops neither the others nor verification; its error is rethrown', async () => {
    const rethrown: unknown[] = [];
    const original = globalThis.queueMicrotask;
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) =>
      original(() => {
        try {
          fn();
        } catch (error) {
          rethrown.push(error);
        }
      }),
    );
    try {
      const seen: string[] = [];
      verifier.onJwksEvent(() => {
        throw new Error('listener bug');
      });
      verifier.onJwksEvent((event) => seen.push(event.type));
      const token = await issuer.sign({ sub: 'u' });
      expect((await verifier.verify(token)).subject).toBe('u');
      expect(seen).toEqual(['refreshed']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(rethrown).toEqual([new Error('listener bug')]);
    } finally {
      spy.mockRestore();
    }
  });

  it('createGuard().authenticate refuses a bare AbortSignal where { signal } is expected (issue 10 item 9)', async () => {
    const guard = createGuard(verifier);
    const input = { authorization: [`Bearer ${await issuer.sign({})}`], query: '' };
    await expect(guard.authenticate(input, AbortSignal.abort() as never)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
    expect((await guard.authenticate(input, { signal: new AbortController().signal })).ok).toBe(
      true,
    );
  });
});

describe('clientCredentials speaks the dialect', () => {
  it('asks for `scopes` (as requireAuth names them) and names the old `scope` option', () => {
    const base = { tokenEndpoint: 'https://a.test/token', clientId: 'c', clientSecret: 's' };
    expect(() => clientCredentials({ ...base, scopes: ['a', 'b'] })).not.toThrow();
    expect(() => clientCredentials({ ...base, scope: 'a' } as never)).toThrow(
      /option "scope" is not a known option; did you mean "scopes"\?/,
    );
  });

  it('accepts undefined for every optional option (exactOptionalPropertyTypes, issue 10 item 7)', () => {
    const signal: AbortSignal | undefined = undefined;
    const tokens = clientCredentials({
      tokenEndpoint: 'https://a.test/token',
      issuer: undefined,
      clientId: 'c',
      clientSecret: 's',
      scopes: undefined,
      retry: { attempts: undefined },
      clock: undefined,
    });
    expectTypeOf(tokens.getToken).toBeCallableWith({ signal });
    expect(() =>
      createVerifier({
        issuer: 'https://i.test/',
        audience: 'a',
        algorithms: ['RS256'],
        jwksUri: 'https://i.test/jwks',
        discovery: undefined,
        jwks: { timeoutMs: undefined },
        cache: undefined,
        clock: undefined,
      }),
    ).not.toThrow();
  });
});
