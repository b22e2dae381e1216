/**
 * The node DaemonSet's zonewright containers, run with the args and environment of the built manifest
 * (`$(VAR)` expanded from the settings ConfigMap as the kubelet does), so an arg the CLI rejects or reads
 * differently fails here:
 * - `node-setup install|remove --dry-run` inside a network namespace this test creates (it changes nothing;
 *   the CNI directory points at a temp dir) must plan the redirect to LOCAL_DNS_ADDRESS:LOCAL_DNS_PORT;
 * - `cri-watch --once` with the socket directory pointing at an empty temp dir must fail on the missing socket
 *   (exit 1), not on usage (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI_ENTRYPOINT, ensureCliBuilt } from './lib/cli.js';
import { buildKustomization } from './lib/kustomize.js';
import type { KubernetesObject } from './lib/kustomize.js';
import { containerEnvironment, workloads } from './lib/pod.js';
import type { Container } from './lib/pod.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const netns = `zw-deploy-${randomBytes(3).toString('hex')}`;

interface Outcome {
  readonly code: number;
  readonly output: string;
}

async function outcome(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(file, [...args], { cwd: REPO, env, timeout: 30_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
    };
  }
}

/** Args with `$(VAR)` expanded from env and `--name=value` overrides applied. */
function argsFor(
  item: Container,
  env: ReadonlyMap<string, string | undefined>,
  overrides: Record<string, string>,
): string[] {
  const expanded = (item.args ?? []).map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env.get(name) ?? whole),
  );
  const names = Object.keys(overrides);
  return [
    ...expanded.filter((arg) => !names.some((name) => arg.startsWith(`--${name}=`))),
    ...names.map((name) => `--${name}=${overrides[name] ?? ''}`),
  ];
}

function processEnv(env: ReadonlyMap<string, string | undefined>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [name, value] of env) if (value !== undefined) result[name] = value;
  return result;
}

describe('node DaemonSet args against the real CLI', () => {
  let objects: KubernetesObject[] = [];
  let scratch = '';
  let nodeSetup: Container;
  let watcher: Container;

  beforeAll(async () => {
    await ensureCliBuilt(REPO);
    objects = await buildKustomization(REPO, 'deploy/node/overlays/containerd');
    const pod = workloads(objects)[0]?.spec.template.spec;
    const setup = pod?.initContainers?.find((item) => item.name === 'node-setup');
    const cri = pod?.containers.find((item) => item.name === 'cri-watcher');
    if (setup === undefined || cri === undefined)
      throw new Error('node DaemonSet lacks node-setup or cri-watcher');
    nodeSetup = setup;
    watcher = cri;
    scratch = mkdtempSync(join(tmpdir(), 'zw-deploy-args-'));
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  });

  afterAll(async () => {
    await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it.each(['install', 'remove'])(
    'node-setup %s --dry-run accepts the manifest args and plans the redirect',
    async (verb) => {
      const env = containerEnvironment(nodeSetup, objects);
      const args = argsFor(nodeSetup, env, { 'cni-conf-dir': scratch, 'log-format': 'text' });
      expect(args.slice(0, 2)).toEqual(['node-setup', 'install']);
      args[1] = verb;
      const result = await outcome(
        'nsenter',
        [`--net=/var/run/netns/${netns}`, process.execPath, CLI_ENTRYPOINT, ...args, '--dry-run'],
        processEnv(env),
      );
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
        code: 0,
        output: '',
      });
      if (verb === 'install') {
        const target = `${String(env.get('LOCAL_DNS_ADDRESS'))}:${String(env.get('LOCAL_DNS_PORT'))}`;
        expect(result.output).toMatch(
          new RegExp(`-d ${String(env.get('CLUSTER_DNS'))}/32 -p udp .*--to-destination ${target}`),
        );
        expect(result.output).toMatch(
          new RegExp(`-d ${String(env.get('CLUSTER_DNS'))}/32 -p tcp .*--to-destination ${target}`),
        );
        expect(result.output).toContain(`${scratch}/`);
      }
    },
  );

  it('cri-watch accepts the manifest args and fails only on the missing runtime socket', async () => {
    const env = new Map(containerEnvironment(watcher, objects));
    env.set('CRI_DIR', `unix://${scratch}`);
    env.set('NODE_IP', '192.0.2.1');
    const args = [
      ...argsFor(watcher, env, { 'zones-dir': scratch, listen: '', 'log-format': 'text' }),
      '--once',
    ];
    const result = await outcome(process.execPath, [CLI_ENTRYPOINT, ...args], processEnv(env));
    expect(result.code).toBe(1);
    expect(result.output).toContain(join(scratch, String(env.get('CRI_FILE'))));
  });
});
