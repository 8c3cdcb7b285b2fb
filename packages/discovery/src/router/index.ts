/**
 * `@ballast/discovery/router`: a service-aware reverse proxy. `createRouter(routes, options)`
 * builds the routes; `proxy(router)` from `@ballast/discovery/express|fastify|koa|node-http|fetch`
 * mounts them in your framework.
 *
 * @packageDocumentation
 */
export type { ForwardedMode } from './headers.ts';
export type { ProxyProblemCode } from './problems.ts';
export type {
  HeaderRewriteOptions,
  Route,
  RouteHeaders,
  RouteMatch,
  RouteOptions,
  RoutePolicies,
  RouteRewrite,
  Router,
  RouterOptions,
} from './router.ts';
export { createRouter } from './router.ts';
