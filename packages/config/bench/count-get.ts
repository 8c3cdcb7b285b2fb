// Reads one nested value N times, for instruction counts (see config.bench.ts, get-instructions).
// Usage: node count-get.ts <bare|ballast> <reads>
import { ballastConfig, fixture, type Tree } from './fixture.ts';

const [variant, reads] = process.argv.slice(2);
const n = Number(reads);
const config = (await ballastConfig(fixture().yamlFile)) as unknown as { get(): Tree };
// As in the get group: the bare snapshot sits in a binding assigned twice.
let plain = {} as Tree;
plain = config.get();
let sum = 0;
if (variant === 'bare') for (let i = 0; i < n; i++) sum += plain.s2.g3.k4;
else for (let i = 0; i < n; i++) sum += config.get().s2.g3.k4;
if (Number.isNaN(sum)) console.log(sum);
process.exit(0);
