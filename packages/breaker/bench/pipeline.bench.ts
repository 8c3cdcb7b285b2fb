// The `pipeline` group: timeout + retry + circuit breaker around a succeeding async function,
// against cockatiel's wrap(retry, breaker, timeout) as its README composes them.
import { defineBench, nsPerOp } from '@ballast/bench';
import { circuitBreaker, pipeline, retry, timeout } from '@ballast/breaker';
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';

const work = async (): Promise<number> => 1;

export default defineBench([
  {
    group: 'pipeline',
    name: 'bare',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => nsPerOp(() => work()),
  },
  {
    group: 'pipeline',
    name: 'ballast',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => {
      const policy = pipeline(
        timeout({ timeoutMs: 10_000 }),
        retry({ maxAttempts: 3 }),
        circuitBreaker(),
      );
      return nsPerOp(() => policy.execute(work));
    },
  },
  {
    group: 'pipeline',
    name: 'cockatiel',
    unit: 'ns/op',
    lowerIsBetter: true,
    run: () => {
      const policy = wrap(
        cockatielRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
        cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
        cockatielTimeout(10_000, TimeoutStrategy.Cooperative),
      );
      return nsPerOp(() => policy.execute(work));
    },
  },
]);
