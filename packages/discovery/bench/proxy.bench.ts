import { fileURLToPath } from 'node:url';
import { type BenchCase, defineBench, requestsPerSecond, startServerProcess } from '@ballast/bench';

// proxy: req/s through a one-route proxy to one local upstream (each server in a process of its
// own, autocannon in the bench process): `bare` is the client straight to the upstream. The
// Ballast variants route through discovery (a static registry), the discovery dispatcher (with its
// retry on another instance) and a circuit breaker on the route.

const serverFile = fileURLToPath(new URL('./proxy-server.ts', import.meta.url));
const WARM_UP_MS = 1_500;
const DURATION_MS = 4_000;
const PATH = '/api/orders/7';

const variants = [
  'bare',
  'ballast-fastify',
  'fastify-http-proxy',
  'ballast-express',
  'http-proxy-middleware',
] as const;

function proxyCase(variant: (typeof variants)[number]): BenchCase {
  return {
    group: 'proxy',
    name: variant,
    unit: 'req/s',
    lowerIsBetter: false,
    run: async () => {
      const upstream = await startServerProcess(serverFile, ['upstream']);
      const port = new URL(upstream.url).port;
      const proxy =
        variant === 'bare' ? undefined : await startServerProcess(serverFile, [variant, port]);
      try {
        const url = variant === 'bare' ? `${upstream.url}/7` : `${proxy!.url}${PATH}`;
        const probe = await fetch(url);
        const text = await probe.text();
        if (probe.status !== 200 || !text.includes('"paid"')) {
          throw new Error(`${variant} answered ${probe.status}: ${text.slice(0, 200)}`);
        }
        await requestsPerSecond({ url, durationMs: WARM_UP_MS });
        return await requestsPerSecond({ url, durationMs: DURATION_MS });
      } finally {
        await proxy?.stop();
        await upstream.stop();
      }
    },
  };
}

export default defineBench(variants.map(proxyCase));
