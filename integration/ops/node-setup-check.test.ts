/**
 * The drift check of deploy/monitoring/node-setup-check, run as the kubelet would run its readiness probe: the
 * probe's exact command (the built CLI in place of the image's zonewright.js) with exactly the container's
 * environment from the built manifests, in a network namespace the test creates as the "node". It must pass
 * on a node set up by `node-setup install` with the init container's arguments and fail once a rule is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  cleanUp,
  createNetns,
  findRepoRoot,
  runCommand,
  type Netns,
  type RunResult,
} from '@zonewright/testkit';
import { ensureCliBuilt } from '../deploy/lib/cli.js';
import { containerEnvironment, workloads, type Container } from '../deploy/lib/pod.js';
import { buildOverlay } from './lib/overlay.js';

const root = findRepoRoot();
const cli = path.join(root, 'packages/cli/bin/zonewright.js');

let scratch: string;
let netns: Netns | undefined;
let probe: string[];
let probeEnv: NodeJS.ProcessEnv;
let installArgs: string[];

/** The manifest's `$(VAR)` references expanded from the container's environment, as the kubelet does. */
const expand = (arg: string, env: Map<string, string | undefined>): string =>
  arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_match, name: string) => env.get(name) ?? '');

async function inNode(command: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  if (netns === undefined) throw new Error('no netns');
  const [program = '', ...args] = command;
  return runCommand('nsenter', netns.nsenterArgs(program, args), { env, timeoutMs: 60_000 });
}

beforeAll(async () => {
  await ensureCliBuilt(root);
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), `zw-ops-check-${randomBytes(3).toString('hex')}-`));
  const cniDir = path.join(scratch, 'cni');
  await fs.mkdir(cniDir);
  const objects = await buildOverlay(root, scratch, 'node', {
    resources: ['deploy/node/overlays/containerd'],
    components: ['deploy/monitoring/node-setup-check'],
  });
  const spec = workloads(objects).find((workload) => workload.kind === 'DaemonSet')?.spec.template.spec;
  const init = spec?.initContainers?.find((item) => item.name === 'node-setup');
  const check = spec?.containers.find((item) => item.name === 'node-setup-check');
  if (init === undefined || check === undefined)
    throw new Error('no node-setup or node-setup-check container');
  const exec = (check.readinessProbe as { exec?: { command?: string[] } } | undefined)?.exec?.command;
  if (exec === undefined) throw new Error('node-setup-check has no exec readiness probe');
  // The image runs `node … zonewright.js` from /app; here the built CLI. The host path of the CNI conf dir
  // becomes the test's directory; everything else is the manifests' own.
  probe = exec.map((arg) => (arg === 'zonewright.js' ? cli : arg));
  const environment = (container: Container): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    for (const [name, value] of containerEnvironment(container, objects))
      if (value !== undefined) env[name] = value;
    return env;
  };
  probeEnv = { ...environment(check), ZONEWRIGHT_CNI_CONF_DIR: cniDir };
  const initEnv = containerEnvironment(init, objects);
  installArgs = (init.args ?? []).map((arg) =>
    arg.startsWith('--cni-conf-dir=') ? `--cni-conf-dir=${cniDir}` : expand(arg, initEnv),
  );
  expect(installArgs.slice(0, 2)).toEqual(['node-setup', 'install']);
  netns = await createNetns();
});

afterAll(async () => {
  await cleanUp('node-setup-check test', [
    () => netns?.delete(),
    () => (scratch === undefined ? undefined : fs.rm(scratch, { recursive: true, force: true })),
  ]);
});

describe('node-setup-check readiness probe', () => {
  it('fails before install, passes after it, fails again when a redirect rule is deleted', async () => {
    const before = await inNode(probe, probeEnv);
    expect(before.code).toBe(1);

    const install = await inNode([process.execPath, cli, ...installArgs], probeEnv);
    expect(`${install.stdout}${install.stderr}`).not.toMatch(/"level":"error"/);
    expect(install.code).toBe(0);

    const ready = await inNode(probe, probeEnv);
    expect(ready.code).toBe(0);

    // Drift: someone flushes our NAT rules (a firewall reload), leaving the chains.
    const saved = (await inNode(['iptables-save', '-t', 'nat'], probeEnv)).stdout;
    const chain = /^:(\S*ZONEWRIGHT\S*)/im.exec(saved)?.[1];
    expect(chain).toBeDefined();
    const flushed = await inNode(['iptables', '-t', 'nat', '-F', chain ?? ''], probeEnv);
    expect(flushed.code).toBe(0);
    const drifted = await inNode(probe, probeEnv);
    expect(drifted.code).toBe(1);
    expect(`${drifted.stdout}${drifted.stderr}`).toMatch(/dns-redirect/);
  });
});
