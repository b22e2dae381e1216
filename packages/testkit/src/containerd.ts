import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriTestClient } from './cri-sandboxes.js';
import type { Netns } from './netns.js';
import { importImage, type PauseImage } from './pause-image.js';
import {
  isProcessAlive,
  killProcessTree,
  runCommand,
  spawnProcess,
  waitFor,
  type SpawnedProcess,
} from './processes.js';

export class ContainerdHarnessError extends Error {
  override readonly name = 'ContainerdHarnessError';
}

export interface ContainerdOptions {
  /** The namespace containerd (and so the CNI bridge and every pod) lives in. */
  readonly netns: Netns;
  /** The pause image (from buildPauseImage), imported at the first start and used as `sandbox_image`. */
  readonly pauseImage: PauseImage;
  /** IPv4 pod subnet (default a random 10.2xx.y.0/24; it exists only inside the netns). */
  readonly subnet?: string;
  /** IPv6 pod subnet, or false for IPv4 only (default a random fd7a:77xx:…::/64). */
  readonly ipv6Subnet?: string | false;
  /** Milliseconds to wait for the socket to answer (default 30 s). */
  readonly startTimeoutMs?: number;
}

export interface SandboxSpec {
  readonly name: string;
  readonly namespace: string;
  readonly hostname?: string;
  readonly hostNetwork?: boolean;
}

export interface RunningSandbox {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  /** Addresses the runtime reports (primary first); empty for hostNetwork. */
  readonly ips: readonly string[];
  /** RunPodSandbox duration. */
  readonly startMs: number;
  /** Wall-clock time RunPodSandbox returned (the sandbox is ready from then on). */
  readonly readyAtMs: number;
}

export interface ContainerdHarness {
  readonly dir: string;
  readonly socketPath: string;
  /** `unix://…` */
  readonly endpoint: string;
  readonly subnet: string;
  readonly ipv6Subnet: string | undefined;
  /** A CRI client for the harness's own calls (the code under test should make its own). */
  readonly client: CriTestClient;
  /** Duration of the last start (spawn until Version answered), ms. */
  lastStartMs(): number;
  pid(): number | undefined;
  isRunning(): boolean;
  /** containerd's output (most recent part). */
  output(): string;
  /** SIGTERM containerd only; shims and pause processes keep running (as in a real runtime restart). */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  runSandbox(spec: SandboxSpec): Promise<RunningSandbox>;
  /** StopPodSandbox + RemovePodSandbox. */
  removeSandbox(id: string): Promise<void>;
  /** Removes every sandbox, stops containerd, kills leftover shims, unmounts and deletes the temp dir. */
  cleanup(): Promise<void>;
}

function randomSubnets(): { v4: string; v6: string } {
  const second = 200 + randomInt(50);
  const third = randomInt(256);
  const hex = randomBytes(2).toString('hex');
  return { v4: `10.${second}.${third}.0/24`, v6: `fd7a:${hex}:77::/64` };
}

function containerdConfig(dir: string, socketPath: string, sandboxImage: string, cniConfDir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"

[grpc]
  address = "${socketPath}"

[ttrpc]
  address = "${socketPath}.ttrpc"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[${cri}]
  sandbox_image = "${sandboxImage}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false

  [${cri}.containerd]
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false

  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir}"
    max_conf_num = 1
`;
}

function cniConflist(
  name: string,
  bridge: string,
  ipamDir: string,
  v4: string,
  v6: string | undefined,
): string {
  const ranges: object[][] = [[{ subnet: v4 }]];
  const routes: object[] = [{ dst: '0.0.0.0/0' }];
  if (v6 !== undefined) {
    ranges.push([{ subnet: v6 }]);
    routes.push({ dst: '::/0' });
  }
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', dataDir: ipamDir, ranges, routes },
        },
        { type: 'loopback' },
      ],
    },
    null,
    2,
  );
}

/** Shim processes serving this containerd (found by their `-address` argument). */
function shimPids(socketPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!(args[0] ?? '').includes('containerd-shim')) continue;
    const index = args.indexOf('-address');
    if (index >= 0 && args[index + 1] === socketPath) pids.push(Number(entry));
  }
  return pids;
}

function mountsUnder(dir: string): string[] {
  const mounts: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && (mountPoint === dir || mountPoint.startsWith(`${dir}/`)))
      mounts.push(mountPoint);
  }
  // Deepest first.
  return mounts.sort((a, b) => b.length - a.length);
}

/**
 * Starts a private containerd (Debian's 1.6) inside `netns` with its own root, state, socket and CNI config in
 * a temp dir, imports the pause image and waits until CRI answers. Call cleanup() in afterAll.
 */
export async function startContainerd(options: ContainerdOptions): Promise<ContainerdHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'zw-containerd-'));
  const socketPath = join(dir, 'containerd.sock');
  const cniConfDir = join(dir, 'cni');
  const ipamDir = join(dir, 'ipam');
  const configPath = join(dir, 'config.toml');
  const subnets = randomSubnets();
  const subnet = options.subnet ?? subnets.v4;
  const ipv6Subnet = options.ipv6Subnet === false ? undefined : (options.ipv6Subnet ?? subnets.v6);
  const bridge = `zwbr${randomBytes(3).toString('hex')}`;
  await mkdir(cniConfDir, { recursive: true });
  await mkdir(ipamDir, { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeFile(configPath, containerdConfig(dir, socketPath, options.pauseImage.reference, cniConfDir));
  await writeFile(
    join(cniConfDir, '10-zonewright-test.conflist'),
    cniConflist(`zw-test-${bridge}`, bridge, ipamDir, subnet, ipv6Subnet),
  );

  const client = new CriTestClient({ endpoint: `unix://${socketPath}`, timeoutMs: 20_000 });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let processHandle: SpawnedProcess | undefined;
  let startMs = 0;
  let imported = false;
  let cleanedUp = false;

  const isRunning = (): boolean => processHandle !== undefined && processHandle.exitStatus() === undefined;

  const start = async (): Promise<void> => {
    if (isRunning()) return;
    const began = Date.now();
    const spawned = await spawnProcess(
      'nsenter',
      options.netns.nsenterArgs('containerd', ['--config', configPath]),
    );
    processHandle = spawned;
    client.reconnect();
    try {
      await waitFor(
        async () => {
          if (spawned.exitStatus() !== undefined) {
            throw new ContainerdHarnessError(`containerd exited during start-up:\n${spawned.output()}`);
          }
          if (!existsSync(socketPath)) return undefined;
          try {
            await client.version();
            return true;
          } catch {
            return undefined;
          }
        },
        { timeoutMs, intervalMs: 25, description: `containerd CRI on ${socketPath}` },
      );
    } catch (error) {
      await killProcessTree(spawned.pid, { graceMs: 1000 });
      throw error;
    }
    startMs = Date.now() - began;
    if (!imported) {
      await importImage(options.pauseImage.archivePath, socketPath);
      imported = true;
    }
  };

  const stop = async (): Promise<void> => {
    const running = processHandle;
    if (running === undefined || running.exitStatus() !== undefined) return;
    try {
      process.kill(running.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      running.exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => {
          resolve(false);
        }, 10_000);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) {
      process.kill(running.pid, 'SIGKILL');
      await running.exited;
    }
  };

  const removeSandbox = async (id: string): Promise<void> => {
    await client.stopPodSandbox(id);
    await client.removePodSandbox(id);
  };

  const runSandbox = async (spec: SandboxSpec): Promise<RunningSandbox> => {
    const began = Date.now();
    const id = await client.runPodSandbox({
      name: spec.name,
      namespace: spec.namespace,
      uid: randomBytes(8).toString('hex'),
      ...(spec.hostname === undefined ? {} : { hostname: spec.hostname }),
      hostNetwork: spec.hostNetwork ?? false,
      logDirectory: join(dir, 'logs', `${spec.namespace}_${spec.name}`),
    });
    const readyAtMs = Date.now();
    const status = await client.podSandboxStatus(id, false);
    const ips = [status.ip, ...status.additionalIps].filter((ip) => ip !== '');
    return { id, name: spec.name, namespace: spec.namespace, ips, startMs: readyAtMs - began, readyAtMs };
  };

  const cleanup = async (): Promise<void> => {
    if (cleanedUp) return;
    cleanedUp = true;
    const problems: string[] = [];
    try {
      if (!isRunning()) await start();
      for (const sandbox of await client.listPodSandboxes()) {
        await removeSandbox(sandbox.id).catch((error: unknown) => {
          problems.push(`remove sandbox ${sandbox.id}: ${String(error)}`);
        });
      }
    } catch (error) {
      problems.push(`listing sandboxes: ${String(error)}`);
    }
    await stop().catch((error: unknown) => problems.push(`stop: ${String(error)}`));
    client.close();
    for (const pid of shimPids(socketPath)) {
      if (isProcessAlive(pid)) await killProcessTree(pid, { graceMs: 500 }).catch(() => undefined);
    }
    for (const mountPoint of mountsUnder(dir)) {
      await runCommand('umount', ['-l', mountPoint], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true }).catch((error: unknown) =>
      problems.push(`rm: ${String(error)}`),
    );
    if (problems.length > 0) throw new ContainerdHarnessError(`containerd cleanup: ${problems.join('; ')}`);
  };

  const harness: ContainerdHarness = {
    dir,
    socketPath,
    endpoint: `unix://${socketPath}`,
    subnet,
    ipv6Subnet,
    client,
    lastStartMs: () => startMs,
    pid: () => (isRunning() ? processHandle?.pid : undefined),
    isRunning,
    output: () => processHandle?.output() ?? '',
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    runSandbox,
    removeSandbox,
    cleanup,
  };
  try {
    await start();
  } catch (error) {
    cleanedUp = true;
    client.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return harness;
}
