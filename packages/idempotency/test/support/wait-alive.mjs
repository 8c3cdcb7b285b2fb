// Run as a child process: the only pending work is an awaited wait for a lock another worker holds
// (waitForInFlightMs). The process must stay alive until the call has run, then exit by itself.
const { idempotent } = await import(new URL('../../dist/index.js', import.meta.url).href);
let claims = 0;
// Another worker holds the lock for the first three claims, then it is free.
const store = {
  claim: async () => (++claims <= 3 ? { state: 'locked' } : { state: 'claimed' }),
  extend: async () => true,
  complete: async () => true,
  release: async () => true,
};
const fn = idempotent(async () => 'ran', {
  store,
  key: () => 'k',
  waitForInFlightMs: 5_000,
  pollIntervalMs: 100,
});
process.stdout.write(`${await fn()}\n`);
