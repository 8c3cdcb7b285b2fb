import { BallastError, errorGuard, invalidOptionsError } from '@ballast/kernel';

/** Stable codes of every error `@ballast/config` throws. */
export type ConfigErrorCode =
  | 'INVALID_OPTIONS'
  | 'CONFIG_INVALID'
  | 'CONFIG_SOURCE_FAILED'
  | 'CONFIG_NOT_LOADED';

/**
 * Base class of every error thrown by `@ballast/config`. Carries a stable `code`; `instanceof` and
 * {@link isConfigError} work even when two copies of the package are installed.
 */
export class ConfigError<C extends ConfigErrorCode = ConfigErrorCode> extends BallastError<C> {
  static override readonly brand: symbol = Symbol.for('@ballast/config.error');
}

/** A factory (`createConfig()`, `file()`, `env()`, …) was given an option it cannot use. */
export class InvalidOptionsError extends invalidOptionsError(ConfigError) {}

/** One reason a merged configuration failed the schema. */
export interface ConfigIssue {
  /** Dotted path of the value, e.g. `db.poolMax` (`''` for the root). */
  readonly path: string;
  /** What is wrong, from the schema. */
  readonly message: string;
  /**
   * Where the value came from, precise enough to fix it: `env SHOP_DB__POOL_MAX`,
   * `file config/production.yaml`, `consul shop/config/db/poolMax`; `(not set)` when no source set it.
   */
  readonly source: string;
  /** The value as the source gave it; `'[redacted]'` for secrets and values from secret sources. */
  readonly value: unknown;
}

function listIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => {
      const shown =
        i.value === undefined ? '' : ` (got ${JSON.stringify(i.value) ?? String(i.value)})`;
      return `  - ${i.path || '(root)'}: ${i.message}${shown} — from ${i.source}`;
    })
    .join('\n');
}

/**
 * The merged configuration does not satisfy the schema. `issues` lists every problem at once, each
 * with the source to fix; thrown by `load()`, and carried by `rejected` events after a bad change.
 */
export class ConfigInvalidError extends ConfigError<'CONFIG_INVALID'> {
  static override readonly code = 'CONFIG_INVALID';
  /** Every issue, with path, message, source and (redacted) value. */
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(
      'CONFIG_INVALID',
      `Configuration is invalid (${issues.length} issue${issues.length === 1 ? '' : 's'}); fix these values at their source:\n${listIssues(issues)}`,
    );
    this.issues = issues;
  }
}

/** One source that could not be read. */
export interface SourceFailure {
  /** The source's name, e.g. `file config/production.yaml` or `redis shop:config`. */
  readonly source: string;
  /** Why, from the source. */
  readonly message: string;
  /** The underlying error. */
  readonly cause: unknown;
}

/**
 * A required source could not be read at start-up (`load()`), listing every failed source at once.
 * Mark a source `optional: true` if the service may start without it.
 */
export class ConfigSourceFailedError extends ConfigError<'CONFIG_SOURCE_FAILED'> {
  static override readonly code = 'CONFIG_SOURCE_FAILED';
  /** Every source that failed. */
  readonly failures: readonly SourceFailure[];
  constructor(failures: readonly SourceFailure[]) {
    super(
      'CONFIG_SOURCE_FAILED',
      `${failures.length === 1 ? 'A required configuration source' : `${failures.length} required configuration sources`} could not be read; fix it or mark the source optional: true:\n${failures
        .map((f) => `  - ${f.source}: ${f.message}`)
        .join('\n')}`,
      { cause: failures[0]?.cause },
    );
    this.failures = failures;
  }
}

/** `get()` or `describe()` before `load()` resolved, or any call after `close()`. */
export class ConfigNotLoadedError extends ConfigError<'CONFIG_NOT_LOADED'> {
  static override readonly code = 'CONFIG_NOT_LOADED';
  constructor(message: string) {
    super('CONFIG_NOT_LOADED', message);
  }
}

/**
 * True when `error` was thrown by any copy of `@ballast/config`; narrows to the code's class when a
 * code is given: `isConfigError(e, 'CONFIG_INVALID') && e.issues`.
 */
export const isConfigError = errorGuard<{
  INVALID_OPTIONS: InvalidOptionsError;
  CONFIG_INVALID: ConfigInvalidError;
  CONFIG_SOURCE_FAILED: ConfigSourceFailedError;
  CONFIG_NOT_LOADED: ConfigNotLoadedError;
}>(ConfigError);
