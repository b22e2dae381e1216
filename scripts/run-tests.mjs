// Runs the unit tests, then the integration tests (one at a time: they start
// real processes and need root for network namespaces, iptables and
// containerd), and ends with one summary line for both:
//
//   tests: N passed, N failed[, N skipped]
//
// Exits non-zero when either run failed or when no test ran at all.
// Arguments are passed to both jest runs as test path patterns, e.g.
//   node scripts/run-tests.mjs 'testkit/src|integration/dns-peers'
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');
const patterns = process.argv.slice(2);
const outDir = mkdtempSync(join(tmpdir(), 'zw-test-results-'));

/** @typedef {{ name: string, passed: number, failed: number, skipped: number, brokenSuites: number, ok: boolean, note?: string }} RunSummary */

/**
 * @param {string} name jest project name
 * @param {string[]} extraArgs
 * @returns {RunSummary}
 */
function runProject(name, extraArgs) {
  const outputFile = join(outDir, `${name}.json`);
  const args = [
    '--experimental-vm-modules',
    jest,
    '--selectProjects',
    name,
    ...extraArgs,
    '--json',
    '--outputFile',
    outputFile,
    ...patterns,
  ];
  console.log(`\n=== ${name} tests: node ${args.slice(1).join(' ')}\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const summary = { name, passed: 0, failed: 0, skipped: 0, brokenSuites: 0, ok: false };
  if (result.error) {
    return { ...summary, note: `could not start jest: ${result.error.message}` };
  }
  if (!existsSync(outputFile)) {
    return { ...summary, note: `jest exited with ${result.status ?? result.signal} and wrote no results` };
  }
  const report = JSON.parse(readFileSync(outputFile, 'utf8'));
  const passed = report.numPassedTests ?? 0;
  const failed = report.numFailedTests ?? 0;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const brokenSuites = report.numRuntimeErrorTestSuites ?? 0;
  const ok = result.status === 0 && report.success === true;
  console.log(
    `=== ${name} tests: ${passed} passed, ${failed} failed, ${skipped} skipped` +
      (brokenSuites > 0 ? `, ${brokenSuites} suites failed to run` : '') +
      ` in ${seconds} s (jest exit ${result.status ?? result.signal})`,
  );
  return { name, passed, failed, skipped, brokenSuites, ok };
}

/** @type {RunSummary[]} */
const runs = [runProject('unit', [])];

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot) {
  runs.push(runProject('integration', ['--runInBand']));
} else {
  runs.push({
    name: 'integration',
    passed: 0,
    failed: 0,
    skipped: 0,
    brokenSuites: 0,
    ok: false,
    note:
      'the integration tests need root (network namespaces, iptables, containerd): ' +
      'run as root, e.g. in the CI container (.ci/run)',
  });
}
rmSync(outDir, { recursive: true, force: true });

console.log('');
for (const run of runs) {
  if (run.note) console.log(`${run.name} tests did not run properly: ${run.note}`);
  if (run.brokenSuites > 0) {
    console.log(
      `${run.name}: ${run.brokenSuites} test suites failed to run; each is counted as one failed test`,
    );
  }
}
const passed = runs.reduce((sum, run) => sum + run.passed, 0);
const failed = runs.reduce((sum, run) => sum + run.failed + run.brokenSuites, 0);
const skipped = runs.reduce((sum, run) => sum + run.skipped, 0);
if (passed + failed === 0) console.log('no test ran');
console.log(`tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);

const ok = runs.every((run) => run.ok) && passed + failed > 0;
process.exitCode = ok ? 0 : 1;
