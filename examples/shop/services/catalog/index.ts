/**
 * catalog — Express 5. The products and their prices: the product list from config/catalog.yaml, the
 * prices from `prices.<sku>` (a live push changes a price on every instance at once).
 */
import { requireAuth } from '@ballast/auth/express';
import express, { type Request, type Response } from 'express';
import { createService } from '../../lib/service.ts';

const svc = await createService({});

function products() {
  const settings = svc.settings();
  return settings.catalog.products
    .filter((product) => settings.prices[product.sku] !== undefined)
    .map((product) => ({ ...product, price: settings.prices[product.sku] as number }));
}

const app = express();
app.disable('x-powered-by');
// Service tokens only (the gateway's, orders'); ops:read for the scenario runner and dashboard.
app.use(
  requireAuth(svc.verifier, {
    scopes: ['catalog:read', 'ops:read'],
    scopeMode: 'any',
    realm: 'catalog',
  }),
);
app.get('/products', (_req: Request, res: Response) => {
  res.json(products());
});
app.get('/products/:sku', (req: Request, res: Response) => {
  const product = products().find((p) => p.sku === req.params.sku);
  if (!product) {
    res.status(404).json({ error: 'NOT_FOUND', message: `no product ${req.params.sku}` });
    return;
  }
  res.json(product);
});
app.use((_req: Request, res: Response) => {
  res.status(404).json({ error: 'NOT_FOUND' });
});

await svc.listen(svc.httpServer(app));
