import { describe, expect, it } from 'vitest';
import {
  completeOrder,
  type Order,
  runCheckout,
  type SagaPorts,
  StepError,
} from '../services/orders/saga.ts';

type Fail = Partial<
  Record<'price' | 'reserve' | 'release' | 'commit' | 'charge' | 'refund' | 'ship', StepError>
>;

/** In-memory ports that record every call, with a failure to inject per step. */
function fakePorts(fail: Fail = {}, breakerOpen = false) {
  const calls: string[] = [];
  const saved: Order[] = [];
  let charges = 0;
  const step = async (name: keyof Fail, call: string) => {
    calls.push(call);
    const error = fail[name];
    if (error) throw error;
  };
  const ports: SagaPorts = {
    async price(items) {
      await step('price', 'price');
      return { items: items.map((item) => ({ ...item, price: 500 })), currency: 'EUR' };
    },
    reserve: (id) => step('reserve', `reserve ${id}`),
    release: (id) => step('release', `release ${id}`),
    commit: (id) => step('commit', `commit ${id}`),
    async charge(key, order) {
      await step('charge', `charge ${key} ${order.total}`);
      return { chargeId: `ch_${++charges}` };
    },
    async refund(chargeId) {
      await step('refund', `refund ${chargeId}`);
      return { refundId: `re_${chargeId}` };
    },
    publishShipment: (order) => step('ship', `ship ${order.orderId}`),
    async save(order) {
      saved.push(structuredClone(order));
    },
    paymentsUnavailable: () => (breakerOpen ? { retryAfterS: 5 } : undefined),
    now: () => 1000,
  };
  return { ports, calls, saved };
}

const input = { orderId: 'ord_1', user: 'alice', items: [{ sku: 'mug', qty: 2 }] };

describe('checkout saga', () => {
  it('reserves, charges, commits and ships, in that order', async () => {
    const { ports, calls, saved } = fakePorts();
    const outcome = await runCheckout(input, ports);
    expect(outcome.ok).toBe(true);
    expect(calls).toEqual([
      'price',
      'reserve ord_1.1',
      'charge charge-ord_1.1 1000',
      'commit ord_1.1',
      'ship ord_1',
    ]);
    expect(saved.at(-1)).toMatchObject({
      status: 'confirmed',
      total: 1000,
      chargeId: 'ch_1',
      attempt: 1,
    });
  });

  it('a declined card releases the stock and charges nothing', async () => {
    const { ports, calls, saved } = fakePorts({ charge: new StepError('declined', 'declined') });
    const outcome = await runCheckout(input, ports);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.kind).toBe('declined');
    expect(calls.filter((c) => c.startsWith('refund'))).toEqual([]);
    expect(calls.at(-1)).toBe('release ord_1.1');
    expect(saved.at(-1)).toMatchObject({ status: 'failed', error: 'declined' });
  });

  it('fails fast while the payments breaker is open: nothing reserved, 503 with its retry time', async () => {
    const { ports, calls } = fakePorts({}, true);
    const outcome = await runCheckout(input, ports);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error).toMatchObject({ kind: 'unavailable', retryAfterS: 5 });
    expect(calls).toEqual([]);
  });

  it('payments down mid-saga: the reservation is released, no charge is kept', async () => {
    const { ports, calls } = fakePorts({
      charge: new StepError('unavailable', 'HTTP 503', { retryAfterS: 1 }),
    });
    const outcome = await runCheckout(input, ports);
    expect(outcome.ok).toBe(false);
    expect(calls.slice(-2)).toEqual(['charge charge-ord_1.1 1000', 'release ord_1.1']);
  });

  it('a reservation that expired before the commit is refunded, not released again', async () => {
    const { ports, calls, saved } = fakePorts({ commit: new StepError('conflict', 'released') });
    const outcome = await runCheckout(input, ports);
    expect(outcome.ok).toBe(false);
    expect(calls.slice(-2)).toEqual(['commit ord_1.1', 'refund ch_1']);
    expect(saved.at(-1)).toMatchObject({ status: 'failed', refundId: 're_ch_1' });
  });

  it('a failure after the charge undoes both: refund, then release (reverse order)', async () => {
    const { ports, calls } = fakePorts({ ship: new StepError('unavailable', 'redis down') });
    await runCheckout(input, ports);
    expect(calls.slice(-2)).toEqual(['refund ch_1', 'release ord_1.1']);
  });

  it('out of stock reserves nothing and releases nothing', async () => {
    const { ports, calls } = fakePorts({ reserve: new StepError('out-of-stock', 'no mugs') });
    const outcome = await runCheckout(input, ports);
    if (!outcome.ok) expect(outcome.error.kind).toBe('out-of-stock');
    expect(calls).toEqual(['price', 'reserve ord_1.1']);
  });

  it('a reservation whose outcome is unknown (timeout) is released, since release is idempotent', async () => {
    const { ports, calls } = fakePorts({ reserve: new StepError('unavailable', 'TIMEOUT') });
    await runCheckout(input, ports);
    expect(calls).toEqual(['price', 'reserve ord_1.1', 'release ord_1.1']);
  });

  it('a confirmed order is answered as it is: no step runs again', async () => {
    const first = fakePorts();
    const done = await runCheckout(input, first.ports);
    const again = fakePorts();
    const outcome = await runCheckout(
      { ...input, existing: done.ok ? done.order : undefined },
      again.ports,
    );
    expect(outcome).toMatchObject({ ok: true, replayed: true });
    expect(again.calls).toEqual([]);
  });

  it('a checkout retried after a failure runs a new attempt with new step ids', async () => {
    const first = fakePorts({ charge: new StepError('unavailable', 'down') });
    const failed = await runCheckout(input, first.ports);
    const second = fakePorts();
    const outcome = await runCheckout({ ...input, existing: failed.order }, second.ports);
    expect(outcome.ok).toBe(true);
    expect(second.calls).toContain('reserve ord_1.2');
    expect(second.calls).toContain('charge charge-ord_1.2 1000');
  });

  it('a pay-later order stops at reserved; paying it later completes it', async () => {
    const { ports, calls } = fakePorts();
    const outcome = await runCheckout({ ...input, payLater: true }, ports);
    expect(outcome.ok && outcome.order.status).toBe('reserved');
    expect(calls).toEqual(['price', 'reserve ord_1.1']);
    const paid = await completeOrder(outcome.order as Order, ports, undefined);
    expect(paid.ok && paid.order.status).toBe('confirmed');
  });
});
