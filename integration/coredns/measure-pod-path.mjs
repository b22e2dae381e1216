// New pod sandbox ready → answer at a real CoreDNS, for several (cri-watch --interval, CoreDNS reload) pairs
// side by side, and each cri-watch's CPU and memory (not a test; numbers for the Corefile comments and docs).
//
//   npm run build && node integration/coredns/measure-pod-path.mjs [samples=40] [pairs=2s/2s,1s/250ms,1s/500ms] [idle=20]
//
// One real containerd in a netns (testkit), `idle` sandboxes already running. Per pair: the real
// `zonewright cri-watch` CLI (its own zones directory) and a real CoreDNS running the shipped Corefile.node
// (testkit startCoreDns, inside the netns; only `reload` differs between pairs). Each sample starts one sandbox
// after a random pause (random phases of every poll and reload tick) and asks every CoreDNS (UDP, every 10 ms)
// until it answers the new hostname; time from RunPodSandbox returning. Then each cri-watch's CPU (% of one
// core) and RSS over 60 s with nothing changing.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildPauseImage,
  createNetns,
  findRepoRoot,
  killProcessTree,
  nodeImageCommand,
  runCommand,
  startContainerd,
  startCoreDns,
} from '../../packages/testkit/dist/index.js';

/** Querier mode (run inside the netns): names on stdin; prints when each CoreDNS first answers each name. */
async function runQuerier(ports) {
  const socket = createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const pending = new Map(); // id -> { name, server }
  const open = new Map(); // name -> Set of servers not yet answered
  socket.on('message', (message) => {
    const job = pending.get(message.readUInt16BE(0));
    if (job === undefined) return;
    pending.delete(message.readUInt16BE(0));
    const rcode = message[3] & 15;
    if (rcode === 0 && message.readUInt16BE(6) > 0 && open.get(job.name)?.delete(job.server)) {
      process.stdout.write(`${JSON.stringify({ name: job.name, server: job.server, at: Date.now() })}\n`);
    }
  });
  let nextId = 1;
  const timer = setInterval(() => {
    for (const [name, servers] of open) {
      if (servers.size === 0) open.delete(name);
      for (const server of servers) {
        const packet = query(name);
        nextId = (nextId + 1) & 0xffff;
        packet.writeUInt16BE(nextId, 0);
        pending.set(nextId, { name, server });
        socket.send(packet, ports[server], '127.0.0.1');
      }
    }
  }, 10);
  let buffer = '';
  process.stdin.on('data', (chunk) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const name of lines) open.set(name, new Set(ports.map((_, index) => index)));
  });
  await new Promise((resolve) => process.stdin.on('end', resolve));
  clearInterval(timer);
  socket.close();
}

if (process.argv[2] === '--querier') {
  await runQuerier(JSON.parse(process.argv[3]));
  process.exit(0);
}

const [samplesArg = '40', pairsArg = '2s/2s,1s/250ms,1s/500ms', idleArg = '20'] = process.argv.slice(2);
const samples = Number(samplesArg);
const pairs = pairsArg.split(',').map((pair) => {
  const [interval, reload] = pair.split('/');
  return { interval, reload, label: pair };
});
const repo = findRepoRoot();
// ZW_NODE_IMAGE=1: run cri-watch as the node image does (testkit nodeImageCommand: the Dockerfile.cri
// ENTRYPOINT on the `npm run bundle` output) instead of the tsc output with Node's defaults.
const image = process.env.ZW_NODE_IMAGE === '1' ? nodeImageCommand(repo) : undefined;
const cli = image ? [...image.nodeFlags, image.script] : [join(repo, 'packages/cli/bin/zonewright.js')];
const domain = 'cluster.local';

function query(name) {
  const parts = [Buffer.from([Math.random() * 256, Math.random() * 256, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.')) parts.push(Buffer.from([label.length]), Buffer.from(label));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

function procStat(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { ticks: Number(fields[11]) + Number(fields[12]), rssMiB: (Number(fields[21]) * 4096) / 1048576 };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const work = mkdtempSync(join(tmpdir(), 'zw-measure-pods-'));
const netns = await createNetns();
const processes = [];
const servers = [];
let containerd;
try {
  const image = await buildPauseImage({ dir: join(work, 'pause') });
  containerd = await startContainerd({ netns, pauseImage: image, ipv6Subnet: false });
  for (let index = 0; index < Number(idleArg); index++)
    await containerd.runSandbox({ name: `idle-${index}`, namespace: 'default', hostname: `idle-${index}` });
  for (const [index, pair] of pairs.entries()) {
    const zones = join(work, `zones-${index}`);
    mkdirSync(zones);
    const child = spawn(
      process.execPath,
      [
        ...cli,
        'cri-watch',
        `--runtime-endpoint=${containerd.endpoint}`,
        `--zones-dir=${zones}`,
        `--interval=${pair.interval}`,
        `--cluster-domain=${domain}`,
        '--node-ip=10.250.0.2',
        '--listen=',
        '--log-format=json',
        '--log-level=warn',
      ],
      { stdio: 'ignore', detached: true },
    );
    processes.push(child);
    // CoreDNS inside the netns, on loopback there; queried through nsenter-free UDP is impossible from the
    // host, so the querier below runs in the netns too.
    const server = await startCoreDns({
      corefile: 'node',
      zonesDirectory: zones,
      netns,
      address: '127.0.0.1',
      reload: pair.reload,
      env: { CLUSTER_DOMAIN: domain },
      timeoutMs: 60_000,
    });
    servers.push(server);
    await server.waitReady();
  }
  // The querier: a small node process inside the netns that prints the time each name was first answered.
  const querier = spawn(
    'nsenter',
    [
      `--net=${netns.path}`,
      '--',
      process.execPath,
      fileURLToPath(import.meta.url),
      '--querier',
      JSON.stringify(servers.map((server) => server.ports.dns)),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  processes.push(querier);
  const waiting = new Map();
  let buffer = '';
  querier.stdout.on('data', (chunk) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const line of lines) {
      const { name, server, at } = JSON.parse(line);
      waiting.get(name)?.(server, at);
    }
  });
  const results = pairs.map(() => []);
  for (let sample = 0; sample < samples; sample++) {
    await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 2500));
    const host = `pod-${sample}-${Math.floor(Math.random() * 1e6)}`;
    const fqdn = `${host}.${domain}`;
    const done = new Promise((resolve) => {
      const seen = new Map();
      waiting.set(fqdn, (server, at) => {
        seen.set(server, at);
        if (seen.size === pairs.length) resolve(seen);
      });
    });
    querier.stdin.write(`${fqdn}\n`);
    const sandbox = await containerd.runSandbox({ name: host, namespace: 'default', hostname: host });
    const seen = await done;
    for (const [server, at] of seen) results[server].push(Math.max(0, at - sandbox.readyAtMs));
    waiting.delete(fqdn);
  }
  console.log(
    `pod path: ${samples} samples, ${idleArg} other sandboxes, all pairs side by side (interval/reload)`,
  );
  console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log('pair          p50 ms   p95 ms   max ms');
  for (const [which, pair] of pairs.entries()) {
    const sorted = [...results[which]].sort((a, b) => a - b);
    console.log(
      `${pair.label.padEnd(12)}${[50, 95, 100].map((p) => percentile(sorted, p).toFixed(0).padStart(8)).join(' ')}`,
    );
  }
  querier.stdin.end();
  const before = processes.slice(0, pairs.length).map((child) => procStat(child.pid));
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  const after = processes.slice(0, pairs.length).map((child) => procStat(child.pid));
  console.log('cri-watch over 60 s, nothing changing: % of one core, RSS MiB');
  for (const [which, pair] of pairs.entries())
    console.log(
      `${pair.label.padEnd(12)}${(((after[which].ticks - before[which].ticks) / 100 / 60) * 100).toFixed(2).padStart(8)} % ${after[which].rssMiB.toFixed(1).padStart(8)}`,
    );
} finally {
  for (const child of processes)
    if (child.pid !== undefined) await killProcessTree(child.pid).catch(() => undefined);
  for (const server of servers) await server.stop();
  await containerd?.cleanup();
  await netns.delete();
  await runCommand('rm', ['-rf', work], { timeoutMs: 30_000 });
}
