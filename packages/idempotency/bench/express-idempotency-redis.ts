// express-idempotency ships an in-memory adapter (and a Mongo one); its README says to implement
// IIdempotencyDataAdapter for other stores. This is the plain Redis version of that interface,
// one command per method, as a user would write it.
import type { IdempotencyResource, IIdempotencyDataAdapter } from 'express-idempotency';
import type { Redis } from 'ioredis';

const TTL_SECONDS = 86_400;

export class RedisDataAdapter implements IIdempotencyDataAdapter {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async findByIdempotencyKey(idempotencyKey: string): Promise<IdempotencyResource | null> {
    const value = await this.#client.get(this.#prefix + idempotencyKey);
    return value ? (JSON.parse(value) as IdempotencyResource) : null;
  }

  async create(resource: IdempotencyResource): Promise<void> {
    await this.#client.set(
      this.#prefix + resource.idempotencyKey,
      JSON.stringify(resource),
      'EX',
      TTL_SECONDS,
    );
  }

  async update(resource: IdempotencyResource): Promise<void> {
    await this.create(resource);
  }

  async delete(idempotencyKey: string): Promise<void> {
    await this.#client.del(this.#prefix + idempotencyKey);
  }
}
