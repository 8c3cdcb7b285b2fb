// Run under valgrind by the `instructions-*` groups: `node count-verify.ts <verifier> <file>
// <count>` verifies the file's warm-up tokens, then its first <count> distinct tokens, and exits.
// Two runs that differ only in <count> give the instructions one verification costs.
import { readFileSync } from 'node:fs';
import { type Fixture, verifyAll } from './support.ts';
import { type VerifierName, withVerifier } from './verifiers.ts';

const [name, file, count] = process.argv.slice(2);
const f = JSON.parse(readFileSync(file!, 'utf8')) as Fixture;
await withVerifier(name as VerifierName, f, async (verify) => {
  await verifyAll(verify, f.warm);
  await verifyAll(verify, f.distinct.slice(0, Number(count)));
});
