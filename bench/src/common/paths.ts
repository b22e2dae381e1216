import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '@zonewright/testkit';

/** bench/dist: where the compiled suites and their child scripts live. */
export const distDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = findRepoRoot(distDir);
/** The built CLI as `npx zonewright` runs it (tsc output, Node's defaults). */
export const cliScript = join(repoRoot, 'packages/cli/bin/zonewright.js');

/** A compiled script of this project, e.g. `distScript('zone/render-child.js')`. */
export function distScript(relative: string): string {
  return join(distDir, relative);
}
