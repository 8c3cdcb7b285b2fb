// The @ballast/discovery/node-http subpath: one barrel per framework, shared by the package's features,
// each exporting the same names from every framework's barrel (health probes: probes(); the
// router: proxy()).
export * from './node-http-probes.ts';
export * from './node-http-proxy.ts';
