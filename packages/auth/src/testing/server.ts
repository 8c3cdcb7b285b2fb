import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultBoard } from './faults.ts';
import { sendJson } from './http.ts';
import type { TestIssuerEndpoint } from './types.ts';

/** Where the issuer is reachable, once it listens. @internal */
export interface Addresses {
  readonly port: number;
  readonly origin: string;
  readonly issuerUrl: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly metadataUrl: string;
}

/** Where the server listens and what it advertises. @internal */
export interface ServerPlace {
  readonly host: string;
  readonly port: number;
  readonly publicUrl?: string | undefined;
  /** The issuer's path below the origin, `''` or like `/realms/test`. */
  readonly path: string;
}

/** The issuer's HTTP server: its addresses, its request counts and how to stop it. @internal */
export interface IssuerServer {
  readonly at: Addresses;
  readonly counts: Record<TestIssuerEndpoint, number>;
  close(): Promise<void>;
}

/**
 * Starts the HTTP server of a test issuer: routes the metadata, JWKS and token paths to
 * `answer`, counts every request per endpoint and applies the fault set for it first. An
 * unexpected error answers 500 (or drops the connection if the headers went out). @internal
 */
export async function startIssuerServer(
  place: ServerPlace,
  faults: FaultBoard,
  answer: (endpoint: TestIssuerEndpoint, req: IncomingMessage, res: ServerResponse) => unknown,
): Promise<IssuerServer> {
  const { path } = place;
  const routes = new Map<string, TestIssuerEndpoint>([
    [`${path}/.well-known/openid-configuration`, 'metadata'],
    [`/.well-known/oauth-authorization-server${path}`, 'metadata'],
    [`${path}/.well-known/oauth-authorization-server`, 'metadata'],
    [`${path}/jwks`, 'jwks'],
    [`${path}/token`, 'token'],
  ]);
  const counts: Record<TestIssuerEndpoint, number> = { metadata: 0, jwks: 0, token: 0 };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requested = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = routes.get(requested);
    if (!endpoint) {
      sendJson(res, 404, { error: 'not_found', error_description: `no endpoint at ${requested}` });
      return;
    }
    counts[endpoint]++;
    const fault = faults.take(endpoint);
    if (fault !== undefined && (await faults.apply(fault, res))) return;
    await answer(endpoint, req, res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: 'server_error', error_description: String(error) });
      else res.destroy();
    });
  });
  const at = await listen(server, place);
  return {
    at,
    counts,
    async close() {
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts `server` and works out the URLs it answers on (or advertises, behind a proxy). */
async function listen(server: Server, place: ServerPlace): Promise<Addresses> {
  const { host, path, publicUrl } = place;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(place.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const listenHost = host.includes(':') ? `[${host}]` : host;
  const origin = publicUrl
    ? new URL(publicUrl).origin
    : `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${bound}`;
  const issuerUrl = `${origin}${path}`;
  return {
    port: bound,
    origin,
    issuerUrl,
    jwksUri: `${issuerUrl}/jwks`,
    tokenEndpoint: `${issuerUrl}/token`,
    metadataUrl: `${origin}/.well-known/oauth-authorization-server${path}`,
  };
}
