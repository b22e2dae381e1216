/**
 * The monitor container's probes, checked against the real program: the CLI is started with the args of the
 * built Deployment (only the source, zones directory and listen address changed to run offline on loopback),
 * and the liveness and readiness paths of the manifest must answer 200 once the first zone is written.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@zonewright/testkit';
import { CLI_ENTRYPOINT, ensureCliBuilt } from './lib/cli.js';
import { buildKustomization } from './lib/kustomize.js';
import { workloads } from './lib/pod.js';
import type { Container } from './lib/pod.js';

const REPO = join(import.meta.dirname, '..', '..');

async function statusOf(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.text();
    return response.status;
  } catch {
    return 0;
  }
}

/** Replaces `--name=value` (or adds it) in a copy of args. */
function withFlag(args: readonly string[], name: string, value: string): string[] {
  const kept = args.filter((arg) => !arg.startsWith(`--${name}=`));
  return [...kept, `--${name}=${value}`];
}

describe('monitor probes against the running program', () => {
  let child: ChildProcess | undefined;
  let scratch = '';
  let monitor: Container;
  let output = '';

  beforeAll(async () => {
    await ensureCliBuilt(REPO);
    const objects = await buildKustomization(REPO, 'deploy/monitor/base');
    const found = workloads(objects)[0]?.spec.template.spec.containers.find(
      (item) => item.args?.[0] === 'monitor',
    );
    if (found === undefined) throw new Error('no monitor container in deploy/monitor/base');
    monitor = found;
    scratch = mkdtempSync(join(tmpdir(), 'zw-probes-'));
  });

  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('answers the liveness and readiness probe paths with 200 once the zone is written', async () => {
    const port = await freeTcpPort();
    let args = [...(monitor.args ?? [])];
    args = withFlag(args, 'source', 'directory');
    args = withFlag(args, 'zones-dir', scratch);
    args = withFlag(args, 'listen', `127.0.0.1:${port}`);
    args = withFlag(args, 'domain', 'probe.test');
    args = withFlag(args, 'name-server-ip', '127.0.0.1');
    const spawned = spawn(process.execPath, [CLI_ENTRYPOINT, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = spawned;
    spawned.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const live = `http://127.0.0.1:${port}${monitor.livenessProbe?.httpGet?.path ?? '(no liveness path)'}`;
    const ready = `http://127.0.0.1:${port}${monitor.readinessProbe?.httpGet?.path ?? '(no readiness path)'}`;
    const deadline = Date.now() + 20_000;
    let statuses = [0, 0];
    while (Date.now() < deadline && spawned.exitCode === null) {
      statuses = [await statusOf(live), await statusOf(ready)];
      if (statuses[0] === 200 && statuses[1] === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect({ statuses, exitCode: spawned.exitCode, output: statuses[1] === 200 ? '' : output }).toEqual({
      statuses: [200, 200],
      exitCode: null,
      output: '',
    });
    // Ready means a complete zone is on disk.
    expect(readdirSync(scratch)).toContain('db.vm.probe.test');
    expect(await statusOf(`http://127.0.0.1:${port}/metrics`)).toBe(200);
  });
});
