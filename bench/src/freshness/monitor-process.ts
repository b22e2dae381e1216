import { freeTcpPort, spawnProcess, waitFor } from '@zonewright/testkit';
import type { SpawnedProcess } from '@zonewright/testkit';
import { monitorImageArgs, repoRoot } from '../common/paths.js';
import { adaptArgs, containerArgs, envFile } from './shipped.js';

export const DOMAIN = 'example.com';
export const VM_ORIGIN = `vm.${DOMAIN}`;

export interface ShippedMonitor {
  readonly child: SpawnedProcess;
  readonly metricsUrl: string;
}

/**
 * `zonewright monitor` with the args of deploy/monitor/base (only --zones-dir and --listen changed, plus the
 * kubeconfig the cluster would mount) and its settings.env, DOMAIN=example.com; resolves once /readyz is 200.
 */
export async function startShippedMonitor(
  kubeconfig: string,
  zonesDir: string,
  timeoutMs: number,
): Promise<ShippedMonitor> {
  const port = await freeTcpPort();
  const args = adaptArgs(
    containerArgs('deploy/monitor/base/deployment.yaml', 'monitor'),
    {},
    {
      '--zones-dir': zonesDir,
      '--listen': `127.0.0.1:${port}`,
      '--kubeconfig': kubeconfig,
    },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...envFile('deploy/monitor/base/settings.env'),
    DOMAIN,
    POD_IP: '127.0.0.1',
  };
  delete env.NODE_OPTIONS;
  const child = await spawnProcess(process.execPath, [...monitorImageArgs(), ...args], {
    cwd: repoRoot,
    env,
    maxOutputBytes: 256 * 1024,
  });
  await waitFor(
    async () => {
      if (child.exitStatus() !== undefined) throw new Error(`the monitor exited:\n${child.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      await response?.arrayBuffer();
      return response?.status === 200 ? true : undefined;
    },
    { timeoutMs, intervalMs: 50, description: 'the monitor /readyz' },
  );
  return { child, metricsUrl: `http://127.0.0.1:${port}/metrics` };
}
