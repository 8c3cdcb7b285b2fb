/**
 * The checkout saga, free of HTTP and Redis so it can be tested alone: price → reserve stock →
 * charge → commit the reservation → publish the shipment. On a failure after a step, the finished
 * steps are undone in reverse order (refund, release). Every step is idempotent by an id derived
 * from the order and its attempt, so a saga re-run after a crash repeats nothing.
 */

export interface Item {
  sku: string;
  qty: number;
}

export interface PricedItem extends Item {
  price: number;
}

export type OrderStatus = 'pending' | 'reserved' | 'paid' | 'confirmed' | 'failed' | 'expired';

export interface Step {
  step: string;
  outcome: 'ok' | 'failed' | 'skipped';
  at: number;
  detail?: string | undefined;
}

export interface Order {
  orderId: string;
  user: string;
  status: OrderStatus;
  items: PricedItem[];
  total: number;
  currency: string;
  /** Saga attempt: a retried checkout after a failure runs a new attempt with fresh step ids. */
  attempt: number;
  createdAt: number;
  updatedAt: number;
  chargeId?: string | undefined;
  refundId?: string | undefined;
  /** A pay-later order waits in `reserved` until paid or expired by the leader's job. */
  payLater?: boolean | undefined;
  error?: string | undefined;
  steps: Step[];
}

/** Why a step failed, as the saga reports it to the client. */
export type FailureKind = 'out-of-stock' | 'declined' | 'unavailable' | 'conflict' | 'bad-request';

export class StepError extends Error {
  readonly kind: FailureKind;
  readonly retryAfterS: number | undefined;
  readonly detail: Record<string, unknown>;
  constructor(
    kind: FailureKind,
    message: string,
    options: { retryAfterS?: number | undefined; detail?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.kind = kind;
    this.retryAfterS = options.retryAfterS;
    this.detail = options.detail ?? {};
  }
}

/** What the saga needs from the world; each call must be idempotent by the ids it is given. */
export interface SagaPorts {
  price(items: Item[]): Promise<{ items: PricedItem[]; currency: string }>;
  reserve(reservationId: string, items: Item[]): Promise<void>;
  release(reservationId: string): Promise<void>;
  /** Rejects with kind `conflict` when the reservation was released meanwhile (expired). */
  commit(reservationId: string): Promise<void>;
  charge(chargeKey: string, order: Order, card: string | undefined): Promise<{ chargeId: string }>;
  refund(chargeId: string): Promise<{ refundId: string }>;
  publishShipment(order: Order): Promise<void>;
  save(order: Order): Promise<void>;
  /** True while the payments breaker is open: fail fast before reserving anything. */
  paymentsUnavailable(): { retryAfterS: number } | undefined;
  now(): number;
}

export interface CheckoutInput {
  orderId: string;
  user: string;
  items: Item[];
  card?: string | undefined;
  payLater?: boolean | undefined;
  /** The stored order with this id, when there is one (a retried checkout). */
  existing?: Order | undefined;
}

export type CheckoutOutcome =
  | { ok: true; order: Order; replayed: boolean }
  | { ok: false; order: Order | undefined; error: StepError };

export const reservationIdOf = (order: Pick<Order, 'orderId' | 'attempt'>) =>
  `${order.orderId}.${order.attempt}`;
export const chargeKeyOf = (order: Pick<Order, 'orderId' | 'attempt'>) =>
  `charge-${order.orderId}.${order.attempt}`;

function record(
  order: Order,
  ports: SagaPorts,
  step: string,
  outcome: Step['outcome'],
  detail?: string,
) {
  order.steps.push({ step, outcome, at: ports.now(), ...(detail ? { detail } : {}) });
  order.updatedAt = ports.now();
}

function asStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  return new StepError('unavailable', (error as Error)?.message ?? String(error), {
    retryAfterS: 1,
  });
}

/** Undoes the finished steps in reverse order; a failed undo is left for the expiry job. */
async function compensate(order: Order, ports: SagaPorts, reserved: boolean): Promise<void> {
  if (order.chargeId && !order.refundId) {
    try {
      order.refundId = (await ports.refund(order.chargeId)).refundId;
      record(order, ports, 'refund', 'ok');
    } catch (error) {
      record(order, ports, 'refund', 'failed', (error as Error).message);
    }
  }
  if (reserved) {
    try {
      await ports.release(reservationIdOf(order));
      record(order, ports, 'release', 'ok');
    } catch (error) {
      record(order, ports, 'release', 'failed', (error as Error).message);
    }
  }
}

/** Pays a reserved order: charge → commit → publish the shipment; compensates on failure. */
export async function completeOrder(
  order: Order,
  ports: SagaPorts,
  card: string | undefined,
): Promise<CheckoutOutcome> {
  try {
    if (!order.chargeId) {
      const open = ports.paymentsUnavailable();
      if (open) {
        throw new StepError('unavailable', 'payments is unavailable (breaker open)', {
          retryAfterS: open.retryAfterS,
        });
      }
      order.chargeId = (await ports.charge(chargeKeyOf(order), order, card)).chargeId;
      record(order, ports, 'charge', 'ok');
    }
    order.status = 'paid';
    await ports.commit(reservationIdOf(order));
    record(order, ports, 'commit', 'ok');
    await ports.publishShipment(order);
    record(order, ports, 'ship', 'ok');
    order.status = 'confirmed';
    await ports.save(order);
    return { ok: true, order, replayed: false };
  } catch (error) {
    const failure = asStepError(error);
    record(
      order,
      ports,
      failure.kind === 'declined' ? 'charge' : 'complete',
      'failed',
      failure.message,
    );
    // A commit refused as `conflict` means the reservation is already released (expired).
    await compensate(order, ports, failure.kind !== 'conflict');
    order.status = 'failed';
    order.error = failure.kind;
    await ports.save(order);
    return { ok: false, order, error: failure };
  }
}

/** Runs (or resumes) one checkout. */
export async function runCheckout(
  input: CheckoutInput,
  ports: SagaPorts,
): Promise<CheckoutOutcome> {
  const existing = input.existing;
  if (
    existing &&
    (existing.status === 'confirmed' || (existing.status === 'reserved' && existing.payLater))
  ) {
    return { ok: true, order: existing, replayed: true };
  }
  const unavailable = ports.paymentsUnavailable();
  if (unavailable && !input.payLater) {
    // Fail fast: reserving stock we cannot pay for only to release it again helps nobody.
    return {
      ok: false,
      order: existing,
      error: new StepError('unavailable', 'payments is unavailable (breaker open)', {
        retryAfterS: unavailable.retryAfterS,
      }),
    };
  }

  let priced: { items: PricedItem[]; currency: string };
  try {
    priced = await ports.price(input.items);
  } catch (error) {
    return { ok: false, order: existing, error: asStepError(error) };
  }
  const now = ports.now();
  const order: Order = {
    orderId: input.orderId,
    user: input.user,
    status: 'pending',
    items: priced.items,
    total: priced.items.reduce((sum, item) => sum + item.price * item.qty, 0),
    currency: priced.currency,
    attempt: (existing?.attempt ?? 0) + 1,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    payLater: input.payLater === true ? true : undefined,
    steps: existing ? [...existing.steps] : [],
  };
  await ports.save(order);

  try {
    await ports.reserve(reservationIdOf(order), order.items);
  } catch (error) {
    const failure = asStepError(error);
    record(order, ports, 'reserve', 'failed', failure.message);
    // An unknown outcome (timeout) may have reserved: release is idempotent and harmless.
    if (failure.kind !== 'out-of-stock') await compensate(order, ports, true);
    order.status = 'failed';
    order.error = failure.kind;
    await ports.save(order);
    return { ok: false, order, error: failure };
  }
  record(order, ports, 'reserve', 'ok');
  order.status = 'reserved';
  await ports.save(order);
  if (order.payLater) return { ok: true, order, replayed: false };
  return completeOrder(order, ports, input.card);
}
