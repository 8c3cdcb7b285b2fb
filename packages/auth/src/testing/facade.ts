import { optionError, parseAuthOptions } from '../parse-options.ts';
import type { FaultBoard } from './faults.ts';
import type { KeyRing } from './key-ring.ts';
import { issuerMetadata } from './metadata.ts';
import { clientSchema, faultSchema } from './options.ts';
import type { IssuerServer } from './server.ts';
import type { TokenEndpoint } from './token-endpoint.ts';
import type { TestIssuer, TestIssuerAlgorithm, TestIssuerFault } from './types.ts';

/** The parts of a running test issuer that its public object delegates to. @internal */
export interface IssuerParts {
  readonly server: IssuerServer;
  readonly keys: KeyRing;
  readonly tokens: TokenEndpoint;
  readonly faults: FaultBoard;
  readonly algorithms: readonly TestIssuerAlgorithm[];
  readonly audience: string;
}

/**
 * The `TestIssuer` object: its addresses, and members that only check their arguments and
 * delegate to the key ring, the token endpoint, the fault board and the server. @internal
 */
export function testIssuerObject(parts: IssuerParts): TestIssuer {
  const { server, keys, tokens, faults, algorithms } = parts;
  const { at, counts } = server;
  const close = async (): Promise<void> => {
    faults.clear();
    await server.close();
  };
  const issuer: TestIssuer = {
    url: at.issuerUrl,
    origin: at.origin,
    port: at.port,
    discoveryUrl: `${at.issuerUrl}/.well-known/openid-configuration`,
    metadataUrl: at.metadataUrl,
    jwksUri: at.jwksUri,
    tokenEndpoint: at.tokenEndpoint,
    audience: parts.audience,
    get metadata() {
      return issuerMetadata(at, algorithms, tokens.scopes());
    },
    get requests() {
      return { ...counts };
    },
    get tokenRequests() {
      return tokens.requests;
    },
    sign: (claims, signOptions) => keys.sign(claims, signOptions),
    keys: () => keys.list(),
    jwks: () => keys.jwks(),
    exportKeys: () => keys.exportPublished(),
    rotateKeys: (rotate = {}) =>
      keys.rotate(rotate.algorithms ?? algorithms, rotate.keepOld !== false),
    removeKey: (kid) => keys.unpublish(kid),
    registerClient(client) {
      tokens.register(parseAuthOptions(clientSchema, client, 'TestIssuer.registerClient()'));
    },
    setFault(endpoint, fault, faultOptions = {}) {
      faults.set(
        checkedEndpoint(endpoint),
        fault === null
          ? null
          : (parseAuthOptions(faultSchema, fault, 'TestIssuer.setFault()') as TestIssuerFault),
        faultOptions.times ?? Number.POSITIVE_INFINITY,
      );
    },
    setJwksFault(fault, faultOptions) {
      issuer.setFault('jwks', fault, faultOptions);
    },
    resetRequestCounts() {
      counts.metadata = 0;
      counts.jwks = 0;
      counts.token = 0;
      tokens.resetRequests();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return issuer;
}

function checkedEndpoint<E>(endpoint: E): E {
  if (['metadata', 'jwks', 'token'].includes(endpoint as string)) return endpoint;
  throw optionError(
    'TestIssuer.setFault()',
    'endpoint',
    endpoint,
    'must be one of "metadata", "jwks", "token"',
  );
}
