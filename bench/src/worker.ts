import { pathToFileURL } from 'node:url';
import type { BenchCase } from './define.ts';

// Runs one case of one bench file and prints its value as the last stdout line.
const [file, group, name] = process.argv.slice(2);
const cases = (await import(pathToFileURL(file!).href)).default as BenchCase[];
if (group === '--list') {
  console.log(
    JSON.stringify(
      cases.map(({ group, name, unit, lowerIsBetter, reference, rounds }) => ({
        group,
        name,
        unit,
        lowerIsBetter,
        reference,
        rounds,
      })),
    ),
  );
} else {
  const found = cases.find((c) => c.group === group && c.name === name);
  if (!found) throw new Error(`no case ${group}/${name} in ${file}`);
  const value = await found.run();
  console.log(JSON.stringify({ value }));
}
process.exit(0);
