import { packageBuild } from '../../tsup.base.ts';

export default packageBuild({
  index: 'src/index.ts',
  undici: 'src/undici.ts',
  lease: 'src/lease/index.ts',
  lifecycle: 'src/lifecycle/index.ts',
  router: 'src/router/index.ts',
  'adapters/express': 'src/adapters/express.ts',
  'adapters/fastify': 'src/adapters/fastify.ts',
  'adapters/koa': 'src/adapters/koa.ts',
  'adapters/node-http': 'src/adapters/node-http.ts',
  'adapters/fetch': 'src/adapters/fetch.ts',
});
