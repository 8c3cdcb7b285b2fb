// The @ballast/discovery/fetch subpath: one barrel per framework, shared by the package's features,
// each exporting the same names from every framework's barrel (health probes: probes(); the
// router: proxy()).
export * from './fetch-probes.ts';
export * from './fetch-proxy.ts';
