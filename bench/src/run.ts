// zonewright benchmarks. `npm run bench` builds, runs every suite and writes bench/report/.
// Usage: node bench/dist/run.js [--quick] [--out DIR] [SUITE...]
//   SUITE: zone, monitor, cri, freshness, reverse (default: all, in that order); each runs in its own fresh process.
//   --quick: reduced sizes, only to check that the suites still run end to end; its report goes to
//            bench/out/quick/ (gitignored) unless --out says otherwise. ZW_BENCH_* variables override sizes.
// Suites measure side by side in one run (ratios), because this machine is shared and noisy.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { distScript, repoRoot } from './common/paths.js';
import type { BenchSize } from './common/settings.js';
import type { SuiteOutcome } from './common/suite.js';
import type { BenchResults } from './report.js';
import { renderReport } from './report.js';
import { SUITES, isSuiteName } from './suites.js';
import type { SuiteName } from './suites.js';

interface RunArguments {
  readonly size: BenchSize;
  readonly outDir: string;
  readonly suites: readonly SuiteName[];
}

/** Bad command-line arguments: a one-line message, exit 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseArguments(argv: readonly string[]): RunArguments {
  let size: BenchSize = 'full';
  let outDir: string | undefined;
  const suites: SuiteName[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? '';
    if (argument === '--quick') size = 'quick';
    else if (argument === '--out') {
      outDir = argv[index + 1];
      index += 1;
      if (outDir === undefined || outDir === '') throw new UsageError('--out needs a directory');
    } else if (isSuiteName(argument)) suites.push(argument);
    else
      throw new UsageError(
        `unknown argument ${argument}: expected --quick, --out DIR or a suite (${Object.keys(SUITES).join(', ')})`,
      );
  }
  return {
    size,
    outDir: path.resolve(
      outDir ?? path.join(repoRoot, size === 'quick' ? 'bench/out/quick' : 'bench/report'),
    ),
    suites: suites.length > 0 ? suites : (Object.keys(SUITES) as SuiteName[]),
  };
}

function runSuite(name: SuiteName, size: BenchSize): SuiteOutcome<unknown> {
  const child = spawnSync(process.execPath, ['--expose-gc', distScript('suite-main.js'), name, size], {
    encoding: 'utf8',
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 << 20,
  });
  if (child.status !== 0)
    throw new Error(`bench suite ${name} failed (exit ${String(child.status ?? child.signal)})`);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as SuiteOutcome<unknown>;
}

function readResults(file: string): BenchResults {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResults) : {};
}

function main(): void {
  const args = parseArguments(process.argv.slice(2));
  mkdirSync(args.outDir, { recursive: true });
  const resultsFile = path.join(args.outDir, 'results.json');
  const results = readResults(resultsFile);
  for (const name of args.suites) {
    const outcome = runSuite(name, args.size);
    results[name] = outcome.section;
    for (const [file, svg] of Object.entries(outcome.charts))
      writeFileSync(path.join(args.outDir, file), svg);
    // Written after every suite, so a later failure keeps what was measured.
    writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`${name}: done`);
  }
  writeFileSync(path.join(args.outDir, 'README.md'), renderReport(results));
  console.log(`report written to ${path.relative(process.cwd(), path.join(args.outDir, 'README.md'))}`);
}

try {
  main();
} catch (error) {
  console.error(error instanceof UsageError ? `bench: ${error.message}` : error);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
