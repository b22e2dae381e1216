import { freeTcpPort, spawnProcess, waitFor } from '@zonewright/testkit';
import type { SpawnedProcess } from '@zonewright/testkit';
import { cliScript, distScript } from '../common/paths.js';

/** How the CLI is started: node flags + script (the node image's ENTRYPOINT, or the tsc output). */
export interface CliVariant {
  readonly nodeFlags: readonly string[];
  readonly script: string;
}

export const TSC_OUTPUT: CliVariant = { nodeFlags: [], script: cliScript };

export interface WatcherProcess {
  readonly label: string;
  readonly proc: SpawnedProcess;
  readonly port: number;
  readonly zonesDir: string;
}

/** The environment without NODE_OPTIONS (Node rejects --lite-mode there, and jest's flags must not leak in). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/** `zonewright cri-watch --interval 2s` on `endpoint`, until its /readyz answers 200. */
export async function startCriWatch(
  label: string,
  endpoint: string,
  zonesDir: string,
  variant: CliVariant,
  extraArgs: readonly string[] = [],
): Promise<WatcherProcess> {
  const port = await freeTcpPort();
  const args = [
    ...variant.nodeFlags,
    variant.script,
    'cri-watch',
    '--runtime-endpoint',
    endpoint,
    '--zones-dir',
    zonesDir,
    '--node-ip',
    '192.0.2.10',
    '--interval',
    '2s',
    '--listen',
    `127.0.0.1:${port}`,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...extraArgs,
  ];
  const proc = await spawnProcess(process.execPath, args, { env: cleanEnv() });
  await waitFor(
    async () => {
      if (proc.exitStatus() !== undefined) throw new Error(`${label} CLI exited: ${proc.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      await response?.arrayBuffer();
      return response?.status === 200 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, description: `${label} CLI /readyz` },
  );
  return { label, proc, port, zonesDir };
}

/** The status-every-interval comparison process (status-child.js), on the tsc output with Node's defaults. */
export async function startStatusChild(
  endpoint: string,
  zonesDir: string,
  intervalMs: number,
): Promise<SpawnedProcess> {
  return spawnProcess(process.execPath, [distScript('cri/status-child.js')], {
    env: cleanEnv({ ZW_ENDPOINT: endpoint, ZW_ZONE_DIR: zonesDir, ZW_INTERVAL_MS: String(intervalMs) }),
  });
}
