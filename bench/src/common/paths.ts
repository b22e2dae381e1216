import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot, monitorImageCommand } from '@zonewright/testkit';

/** bench/dist: where the compiled suites and their child scripts live. */
export const distDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = findRepoRoot(distDir);
/** The built CLI as `npx zonewright` runs it (tsc output, Node's defaults). */
export const cliScript = join(repoRoot, 'packages/cli/bin/zonewright.js');
/**
 * The CLI as the monitor image runs it (Dockerfile.monitor's ENTRYPOINT: the bundle, no node flags), as
 * arguments for `node`: what the Deployment starts, so the monitor's start-up and memory are measured on it.
 */
export function monitorImageArgs(): string[] {
  const image = monitorImageCommand(repoRoot);
  return [...image.nodeFlags, image.script];
}

/** A compiled script of this project, e.g. `distScript('zone/render-child.js')`. */
export function distScript(relative: string): string {
  return join(distDir, relative);
}
