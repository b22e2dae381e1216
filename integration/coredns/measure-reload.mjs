// Zone change → answer at a real CoreDNS, for several `reload` intervals side by side (not a test; numbers for
// the Corefile comments, docs/deploy.md and the ADR on freshness settings).
//
//   npm run build && node integration/coredns/measure-reload.mjs [samples=100] [vmis=10000] [reloads=2s,1s,500ms,250ms]
//
// One CoreDNS per reload value, each running the shipped Corefile.monitor (testkit startCoreDns; only `reload`
// differs between them), each with its own zones directory holding the same zone of 2 A records per VMI.
// Each sample waits a random time (so changes land at random phases of every reload tick), renames a zone
// with a changed address and the next serial into every directory at the same moment, then asks every CoreDNS
// (UDP, every 5 ms) until it answers the new address. Afterwards: each CoreDNS's CPU over 30 s with no change.
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startCoreDns } from '../../packages/testkit/dist/index.js';

const [samplesArg = '100', vmisArg = '10000', reloadsArg = '2s,1s,500ms,250ms'] = process.argv.slice(2);
const samples = Number(samplesArg);
const vmis = Number(vmisArg);
const reloads = reloadsArg.split(',');
const origin = 'vm.measure.test';

function address(index, generation) {
  return `10.${(generation + (index >> 16)) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

function zoneText(serial, generations) {
  const lines = [
    '$TTL 30',
    `$ORIGIN ${origin}.`,
    `@ IN SOA ns.${origin}. hostmaster.${origin}. ${serial} 3600 600 86400 30`,
    '@ IN NS ns',
    'ns IN A 192.0.2.53',
  ];
  for (let index = 0; index < vmis; index++) {
    const ip = address(index, generations.get(index) ?? 0);
    lines.push(
      `vm-${index}.tenant-${index % 50} IN A ${ip}`,
      `nic1.vm-${index}.tenant-${index % 50} IN A ${ip}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function query(name) {
  const labels = name.split('.').filter(Boolean);
  const parts = [Buffer.from([Math.random() * 256, Math.random() * 256, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of labels) parts.push(Buffer.from([label.length]), Buffer.from(label));
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

/** The first answer's A address, or undefined. */
function firstAddress(packet, questionLength) {
  if (packet.length < 12 || packet.readUInt16BE(6) === 0) return undefined;
  let offset = 12 + questionLength;
  // The answer's owner name: labels (CoreDNS does not compress it) or a pointer.
  while (offset < packet.length && packet[offset] !== 0 && packet[offset] < 0xc0)
    offset += packet[offset] + 1;
  offset += packet[offset] >= 0xc0 ? 2 : 1;
  const rdata = offset + 10;
  if (packet.length < rdata + 4) return undefined;
  return [...packet.subarray(rdata, rdata + 4)].join('.');
}

function ask(socket, port, packet) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.removeAllListeners('message');
      resolve(undefined);
    }, 500);
    socket.once('message', (message) => {
      clearTimeout(timer);
      resolve(firstAddress(message, packet.length - 12));
    });
    socket.send(packet, port, '127.0.0.1');
  });
}

function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks (100/s)
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const root = mkdtempSync(join(tmpdir(), 'zw-measure-reload-'));
const servers = [];
try {
  const generations = new Map();
  let serial = 1000;
  const dirs = reloads.map((reload) => {
    const dir = join(root, reload);
    mkdirSync(dir);
    return dir;
  });
  const write = () => {
    const text = zoneText(serial, generations);
    for (const dir of dirs) {
      writeFileSync(join(dir, 'next.tmp'), text);
      renameSync(join(dir, 'next.tmp'), join(dir, `db.${origin}`));
    }
  };
  write();
  for (const [index, reload] of reloads.entries()) {
    const server = await startCoreDns({
      corefile: 'monitor',
      zonesDirectory: dirs[index],
      reload,
      timeoutMs: 60_000,
    });
    servers.push(server);
    await server.waitForSerial(origin, serial);
  }
  const sockets = servers.map(() => createSocket('udp4'));
  const results = reloads.map(() => []);
  const cpuPerChange = reloads.map(() => 0);
  for (let sample = 0; sample < samples; sample++) {
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 2200));
    const index = Math.floor(Math.random() * vmis);
    generations.set(index, (generations.get(index) ?? 0) + 1);
    const expected = address(index, generations.get(index));
    const name = `nic1.vm-${index}.tenant-${index % 50}.${origin}`;
    serial += 1;
    const cpuBefore = servers.map((server) => cpuTicks(server.pid));
    write();
    const written = performance.now();
    const packet = query(name);
    await Promise.all(
      servers.map(async (server, which) => {
        for (;;) {
          const got = await ask(sockets[which], server.ports.dns, packet);
          if (got === expected) break;
          if (performance.now() - written > 20_000)
            throw new Error(`reload ${reloads[which]}: no answer in 20 s`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        results[which].push(performance.now() - written);
      }),
    );
    servers.forEach((server, which) => (cpuPerChange[which] += cpuTicks(server.pid) - cpuBefore[which]));
  }
  for (const socket of sockets) socket.close();
  console.log(`zone: ${vmis} VMIs (${2 * vmis + 2} A records), ${samples} samples, all CoreDNS side by side`);
  console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  console.log(
    'reload   p50 ms   p95 ms   p99 ms   max ms   CoreDNS CPU ms per change (incl. the polling queries)',
  );
  for (const [which, reload] of reloads.entries()) {
    const sorted = [...results[which]].sort((a, b) => a - b);
    const row = [50, 95, 99, 100].map((p) => percentile(sorted, p).toFixed(0).padStart(8));
    console.log(
      `${reload.padEnd(7)}${row.join(' ')} ${((cpuPerChange[which] * 10) / samples).toFixed(0).padStart(8)}`,
    );
  }
  const before = servers.map((server) => cpuTicks(server.pid));
  const idleSeconds = 30;
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const after = servers.map((server) => cpuTicks(server.pid));
  console.log(`idle CPU over ${idleSeconds} s (no change, no query), % of one core:`);
  for (const [which, reload] of reloads.entries())
    console.log(
      `${reload.padEnd(7)}${(((after[which] - before[which]) / 100 / idleSeconds) * 100).toFixed(2).padStart(8)} %`,
    );
} finally {
  for (const server of servers) await server.stop();
  rmSync(root, { recursive: true, force: true });
}
