// The @ballast/discovery/fastify subpath: one barrel per framework, shared by the package's features,
// each exporting the same names from every framework's barrel (health probes: probes(); the
// router: proxy()).
export * from './fastify-probes.ts';
export * from './fastify-proxy.ts';
