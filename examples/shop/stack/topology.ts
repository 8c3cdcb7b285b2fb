/**
 * Which services the stack runs, how many instances each, and the scopes of each service's client
 * (client credentials at the issuer). The gateway keeps a fixed public port (SHOP_PORT, 8080) and
 * auth a fixed one for the life of the stack (its URL is the token issuer); both listen with
 * reusePort so a replacement can start beside the old process during a rolling restart.
 */
export interface ServiceSpec {
  name: string;
  instances: number;
  /** Entry file, relative to examples/shop. */
  script: string;
  /** Scopes its client may ask the issuer for. */
  scopes: string[];
  /** Fixed port (same for every instance: reusePort). */
  fixedPort?: 'gateway' | 'auth' | undefined;
}

export const SERVICES: ServiceSpec[] = [
  { name: 'auth', instances: 1, script: 'services/auth/index.ts', scopes: [], fixedPort: 'auth' },
  { name: 'catalog', instances: 1, script: 'services/catalog/index.ts', scopes: ['ops:read'] },
  { name: 'inventory', instances: 3, script: 'services/inventory/index.ts', scopes: ['ops:read'] },
  { name: 'payments', instances: 1, script: 'services/payments/index.ts', scopes: ['ops:read'] },
  { name: 'shipping', instances: 1, script: 'services/shipping/index.ts', scopes: ['ops:read'] },
  {
    name: 'notifications',
    instances: 1,
    script: 'services/notifications/index.ts',
    scopes: ['ops:read'],
  },
  {
    name: 'orders',
    instances: 2,
    script: 'services/orders/index.ts',
    scopes: ['catalog:read', 'inventory:read', 'inventory:write', 'payments:charge'],
  },
  {
    name: 'gateway',
    instances: 1,
    script: 'services/gateway/index.ts',
    scopes: ['catalog:read', 'orders:read', 'orders:write', 'ops:read'],
    fixedPort: 'gateway',
  },
];

/** Scopes a shopper's token carries (the gateway checks them). */
export const USER_SCOPES = ['shop:browse', 'shop:cart', 'shop:checkout', 'shop:orders'];

/** The operator client (scenario runner, dashboard, load tool checks). */
export const OPS_CLIENT = { clientId: 'shop-ops', scopes: ['ops:read'] };
