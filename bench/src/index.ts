export { type BenchCase, defineBench } from './define.ts';
export {
  type LoadOptions,
  requestsPerSecond,
  type ServerProcess,
  startServerProcess,
} from './http-load.ts';
export { countInstructions, netInstructions } from './instructions.ts';
export { collectGarbage, median, nsPerOp, retainedHeapBytes } from './measure.ts';
export { type CountingProxy, countingProxy, parseCommands } from './redis-count.ts';
