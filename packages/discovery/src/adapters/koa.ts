// The @ballast/discovery/koa subpath: one barrel per framework, shared by the package's features,
// each exporting the same names from every framework's barrel (health probes: probes(); the
// router: proxy()).
export * from './koa-probes.ts';
export * from './koa-proxy.ts';
