/**
 * `npm run shop`: starts the whole shop (see stack.ts), prints the URLs, and on Ctrl-C or SIGTERM
 * stops every process gracefully (SIGTERM, up to 10 s, then SIGKILL) and Redis last.
 */
import { totpUri } from '@ballast/auth';
import { startDashboard } from '../dashboard/server.ts';
import { startControlApi } from './control.ts';
import { portInUse } from './ports.ts';
import { RedisMissingError } from './redis.ts';
import { startStack } from './stack.ts';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
console.log(bold('shop: starting the stack…'));

// Ctrl-C or SIGTERM while starting stops whatever was started
const starting = new AbortController();
const abortStart = (signal: string) => {
  console.log(`\nshop: ${signal} while starting: stopping what was started…`);
  starting.abort();
};
process.once('SIGINT', abortStart);
process.once('SIGTERM', abortStart);

let stack: Awaited<ReturnType<typeof startStack>>;
try {
  stack = await startStack({
    say: (m) => console.log(`shop: ${m}`),
    color: process.stdout.isTTY,
    signal: starting.signal,
  });
  process.off('SIGINT', abortStart);
  process.off('SIGTERM', abortStart);
} catch (error) {
  if (starting.signal.aborted) {
    console.log('shop: stopped, nothing left running.');
    process.exit(130);
  }
  if (error instanceof RedisMissingError) {
    console.error(`shop: ${error.message}`);
    process.exit(1);
  }
  console.error(`shop: could not start: ${(error as Error).message}`);
  process.exit(1);
}

const wanted = Number(process.env.SHOP_CONTROL_PORT ?? 8079);
const control = await startControlApi(stack, (await portInUse(wanted)) ? 0 : wanted);
const dashPort = Number(process.env.SHOP_DASHBOARD_PORT ?? 8078);
const dashboard = await startDashboard({
  controlUrl: control.url,
  port: (await portInUse(dashPort)) ? 0 : dashPort,
  credentials: {
    ...stack.secrets,
    opsClientId: stack.opsClient.clientId,
    opsClientSecret: stack.opsClient.clientSecret,
  },
});

console.log(`
${bold(`shop: ready in ${stack.readyS.toFixed(1)} s, ${stack.supervisor.running().length} service processes, memory ${stack.stackPssMb()} MB (PSS; RSS sum ${stack.stackRssMb()} MB)`)}
  gateway        ${stack.gatewayUrl}   (try: curl ${stack.gatewayUrl}/api/products)
  issuer (auth)  ${stack.issuerUrl}/.well-known/openid-configuration
  traces (OTLP)  ${stack.otlpUrl}/traces
  control API    ${control.url}/processes
  dashboard      ${stack.gatewayUrl}/dashboard   (also ${dashboard.url})
  redis          ${stack.redisUrl}
  shopper login  any user name, password "${stack.secrets.shopperPassword}" (grant_type=password at ${stack.issuerUrl}/token)
  admin login    admin / ${stack.secrets.adminPassword} + TOTP: ${totpUri({ secret: stack.secrets.adminTotpSecret, issuer: 'Ballast shop', account: 'admin' })}
Ctrl-C stops everything.
`);

let shuttingDown = false;
const shutdown = async (signal: string) => {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`\nshop: ${signal}: stopping every process (SIGTERM, then SIGKILL after 10 s)…`);
  await dashboard.close();
  await control.close();
  await stack.stop();
  console.log('shop: stopped, nothing left running.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
