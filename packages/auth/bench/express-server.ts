// One Express server per bench process: `node express-server.ts <variant>` with JWKS_URL, ISSUER
// and AUDIENCE in the environment; prints `listening <url>` for startServerProcess.
import type { AddressInfo } from 'node:net';
import { createVerifier } from '@ballast/auth';
import { requireAuth } from '@ballast/auth/express';
import express, { type RequestHandler } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';

const variant = process.argv[2];
const { JWKS_URL = '', ISSUER = '', AUDIENCE = '' } = process.env;

function middleware(): RequestHandler[] {
  switch (variant) {
    case 'bare':
      return [];
    case 'ballast':
      return [
        requireAuth(
          createVerifier({
            issuer: ISSUER,
            audience: AUDIENCE,
            jwksUri: JWKS_URL,
            algorithms: ['RS256'],
          }),
        ),
      ];
    case 'express-oauth2-jwt-bearer':
      return [
        auth({ issuer: ISSUER, audience: AUDIENCE, jwksUri: JWKS_URL, tokenSigningAlg: 'RS256' }),
      ];
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

const app = express();
app.get('/orders', ...middleware(), (_req, res) => {
  res.json({ orders: [] });
});
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening http://127.0.0.1:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
