// The @ballast/discovery/express subpath: one barrel per framework, shared by the package's features,
// each exporting the same names from every framework's barrel (health probes: probes(); the
// router: proxy()).
export * from './express-probes.ts';
export * from './express-proxy.ts';
