import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from './dns-tools.js';

/** How an image starts the CLI, as a command for this checkout. */
export interface NodeImageCommand {
  /** Node's flags from the ENTRYPOINT (e.g. `--lite-mode`), in order. */
  readonly nodeFlags: readonly string[];
  /** The ENTRYPOINT's script in packages/cli/bundle (the image's WORKDIR holds that directory). */
  readonly script: string;
}

/**
 * The node image's ENTRYPOINT (Dockerfile.cri) mapped onto this checkout, so tests and the bench run the CLI as
 * the DaemonSet does: the bundle from `node scripts/bundle.mjs` (run by `npm test` and `npm run bench` after the
 * build) with the same node flags. integration/deploy checks that the image's WORKDIR gets exactly that bundle.
 */
export function nodeImageCommand(repoRoot = findRepoRoot()): NodeImageCommand {
  return imageCommand('Dockerfile.cri', repoRoot);
}

/** The monitor image's ENTRYPOINT (Dockerfile.monitor) mapped onto this checkout, as the Deployment runs it. */
export function monitorImageCommand(repoRoot = findRepoRoot()): NodeImageCommand {
  return imageCommand('Dockerfile.monitor', repoRoot);
}

/** The ENTRYPOINT of an image that ships the bundle, mapped onto this checkout (see nodeImageCommand). */
function imageCommand(name: string, repoRoot: string): NodeImageCommand {
  const dockerfile = join(repoRoot, name);
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .filter((text) => text.startsWith('ENTRYPOINT '))
    .at(-1);
  if (line === undefined) throw new Error(`${dockerfile} has no ENTRYPOINT`);
  const form: unknown = JSON.parse(line.slice('ENTRYPOINT '.length));
  if (!Array.isArray(form) || !form.every((part) => typeof part === 'string') || form.length < 2) {
    throw new Error(`${dockerfile}: ENTRYPOINT is not an exec form ["node", ..., "script.js"]: ${line}`);
  }
  const [node, ...rest] = form;
  const scriptName = rest.at(-1) ?? '';
  const nodeFlags = rest.slice(0, -1);
  if (node !== 'node' || !scriptName.endsWith('.js') || !nodeFlags.every((flag) => flag.startsWith('--'))) {
    throw new Error(`${dockerfile}: ENTRYPOINT is not ["node", --flags..., "script.js"]: ${line}`);
  }
  const script = join(repoRoot, 'packages/cli/bundle', scriptName);
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: run \`npm run build && node scripts/bundle.mjs\` first`);
  }
  return { nodeFlags, script };
}
