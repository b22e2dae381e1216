// Runs one suite in this (fresh) process and prints its outcome as the LAST stdout line; progress goes to
// stderr. Started by run.js with --expose-gc. Usage: node --expose-gc suite-main.js SUITE full|quick
import { errorMessage } from './common/log.js';
import type { BenchSize } from './common/settings.js';
import { SUITES, isSuiteName } from './suites.js';

async function main(): Promise<void> {
  const [name, sizeText = 'full'] = process.argv.slice(2);
  if (name === undefined || !isSuiteName(name)) throw new Error(`unknown suite ${name ?? '(none)'}`);
  if (sizeText !== 'full' && sizeText !== 'quick')
    throw new Error(`size must be full or quick, got ${sizeText}`);
  const size: BenchSize = sizeText;
  const outcome = await SUITES[name]({ size });
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : errorMessage(error)}\n`);
  process.exitCode = 1;
}
