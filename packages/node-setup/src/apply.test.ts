import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { detectIptablesBackend } from './apply.js';
import type { CommandRunner, CommandResult } from './apply.js';
import { planCniConfig } from './cni-plan.js';
import { runNodeSetup, formatNodeSetupReport } from './run.js';

interface Call {
  readonly command: string;
  readonly args: readonly string[];
}

/** Records commands; answers from a table (command name → result), else exit 0. */
function recordingRunner(answers: Record<string, CommandResult> = {}): {
  runner: CommandRunner;
  calls: Call[];
} {
  const calls: Call[] = [];
  const runner: CommandRunner = (command, args) => {
    calls.push({ command, args });
    const answer = answers[command];
    if (answer === undefined && command.startsWith('iptables'))
      return Promise.reject(new Error(`${command}: not found`));
    return Promise.resolve(answer ?? { exitCode: 0, stdout: '', stderr: '' });
  };
  return { runner, calls };
}

let dir: string;
let now = Date.UTC(2026, 10, 25, 22, 0, 0);
const clock = { now: (): number => now };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zw-node-setup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The bridge step runs `ip` against the real node; it has its own tests in a network namespace.
const cniOnly = (extra: object = {}) => ({
  dnsRedirect: false,
  cniBridgeSetup: false,
  cniConfDir: join(dir, 'net.d'),
  ...extra,
});
const resolverOnly = (extra: object = {}) => ({
  dnsRedirect: false,
  cni: false,
  resolver: true,
  hostRoot: dir,
  ...extra,
});
const dropIn = (): string => join(dir, 'etc/systemd/resolved.conf.d/zonewright.conf');

describe('CNI conflist', () => {
  const expected = planCniConfig({
    networkName: 'zonewright',
    bridge: 'cni0',
    subnet: '172.38.0.0/16',
    gateway: '172.38.0.1',
  }).content;
  const path = (): string => join(dir, 'net.d', '10-zonewright.conflist');

  it('writes the file once, then leaves it alone; dry run writes nothing', async () => {
    const { runner } = recordingRunner();
    const dry = await runNodeSetup({ action: 'install', dryRun: true, options: cniOnly(), runner, clock });
    expect(dry.steps[0]).toMatchObject({ step: 'cni', status: 'would-change', changes: [`write ${path()}`] });
    await expect(readFile(path())).rejects.toThrow(/ENOENT/);

    const first = await runNodeSetup({ action: 'install', options: cniOnly(), runner, clock });
    expect(first.changed).toBe(true);
    expect(await readFile(path(), 'utf8')).toBe(expected);
    const second = await runNodeSetup({ action: 'install', options: cniOnly(), runner, clock });
    expect(second.steps[0]?.status).toBe('unchanged');
    expect(await readdir(join(dir, 'net.d'))).toEqual(['10-zonewright.conflist']);
    expect((await runNodeSetup({ action: 'check', options: cniOnly(), runner, clock })).ok).toBe(true);
  });

  it('never overwrites a different file without --force, backs it up when forced', async () => {
    const { runner } = recordingRunner();
    await mkdir(join(dir, 'net.d'));
    await writeFile(path(), '{"theirs":true}\n');
    const refused = await runNodeSetup({ action: 'install', options: cniOnly(), runner, clock });
    expect(refused.ok).toBe(false);
    expect(refused.steps[0]?.problems[0]).toMatch(
      /exists with different content; not overwriting it without --force/,
    );
    expect(await readFile(path(), 'utf8')).toBe('{"theirs":true}\n');
    const check = await runNodeSetup({ action: 'check', options: cniOnly(), runner, clock });
    expect(check.steps[0]?.problems).toEqual([`differs from the planned config: ${path()}`]);

    const forced = await runNodeSetup({
      action: 'install',
      options: cniOnly({ force: true }),
      runner,
      clock,
    });
    expect(forced.changed).toBe(true);
    expect(await readFile(path(), 'utf8')).toBe(expected);
    const backup = `${path()}.zonewright-backup-20261125T220000000Z`;
    expect(await readFile(backup, 'utf8')).toBe('{"theirs":true}\n');
  });

  it('remove deletes our file, refuses a foreign one, and warns about configs that sort first', async () => {
    const { runner } = recordingRunner();
    await runNodeSetup({ action: 'install', options: cniOnly(), runner, clock });
    await writeFile(join(dir, 'net.d', '05-other.conflist'), '{}');
    const check = await runNodeSetup({ action: 'check', options: cniOnly(), runner, clock });
    expect(check.steps[0]?.notes[0]).toMatch(/05-other\.conflist sort\(s\) before 10-zonewright\.conflist/);
    const removed = await runNodeSetup({ action: 'remove', options: cniOnly(), runner, clock });
    expect(removed.steps[0]?.changes).toEqual([`delete ${path()}`]);
    expect(await readdir(join(dir, 'net.d'))).toEqual(['05-other.conflist']);
    expect(
      (await runNodeSetup({ action: 'check', options: cniOnly(), runner, clock })).steps[0]?.problems,
    ).toEqual([`missing: ${path()}`]);
    await writeFile(path(), 'edited');
    const refused = await runNodeSetup({ action: 'remove', options: cniOnly(), runner, clock });
    expect(refused.ok).toBe(false);
    expect(await readFile(path(), 'utf8')).toBe('edited');
  });
});

describe('resolver drop-in', () => {
  const restart = {
    command: 'nsenter',
    args: ['-t', '1', '-m', '--', 'systemctl', 'restart', 'systemd-resolved'],
  };

  it('is a dry run unless --resolver-apply: nothing written, nothing restarted', async () => {
    const { runner, calls } = recordingRunner();
    const report = await runNodeSetup({ action: 'install', options: resolverOnly(), runner, clock });
    expect(report.steps[0]?.status).toBe('would-change');
    expect(formatNodeSetupReport(report)).toMatch(/would write .*zonewright\.conf/);
    expect(calls).toEqual([]);
    await expect(readdir(dir)).resolves.toEqual([]);
  });

  it('backs up, writes, restarts once; is idempotent; --revert restores byte for byte', async () => {
    const { runner, calls } = recordingRunner();
    const original = Buffer.from([
      0x5b, 0x52, 0x65, 0x73, 0x6f, 0x6c, 0x76, 0x65, 0x5d, 0x0a, 0xff, 0xfe, 0x00, 0x0a,
    ]);
    await mkdir(join(dir, 'etc/systemd/resolved.conf.d'), { recursive: true });
    await writeFile(dropIn(), original);
    const installed = await runNodeSetup({
      action: 'install',
      options: resolverOnly({ resolverApply: true }),
      runner,
      clock,
    });
    expect(installed.changed).toBe(true);
    expect(await readFile(dropIn(), 'utf8')).toMatch(
      /^\[Resolve\]\nDNS=169\.254\.0\.2\nDomains=~cluster\.local\n$/m,
    );
    expect(await readFile(`${dropIn()}.zonewright-backup-20261125T220000000Z`)).toEqual(original);
    expect(calls).toEqual([restart]);

    now += 1000;
    const again = await runNodeSetup({
      action: 'install',
      options: resolverOnly({ resolverApply: true }),
      runner,
      clock,
    });
    expect(again.steps[0]?.status).toBe('unchanged');
    expect(calls).toHaveLength(1);
    expect(await readdir(join(dir, 'etc/systemd/resolved.conf.d'))).toHaveLength(2);
    expect((await runNodeSetup({ action: 'check', options: resolverOnly(), runner, clock })).ok).toBe(true);

    const reverted = await runNodeSetup({
      action: 'install',
      options: resolverOnly({ resolverApply: true, resolverRevert: true }),
      runner,
      clock,
    });
    expect(reverted.changed).toBe(true);
    expect(await readFile(dropIn())).toEqual(original);
    expect(await readdir(join(dir, 'etc/systemd/resolved.conf.d'))).toEqual(['zonewright.conf']);
    expect(calls).toEqual([restart, restart]);
  });

  it('remove after an install on a node without the file deletes it again', async () => {
    const { runner, calls } = recordingRunner();
    await runNodeSetup({ action: 'install', options: resolverOnly({ resolverApply: true }), runner, clock });
    const dryRemove = await runNodeSetup({ action: 'remove', options: resolverOnly(), runner, clock });
    expect(dryRemove.steps[0]?.status).toBe('would-change');
    expect(await readFile(dropIn(), 'utf8')).toContain('Domains=~cluster.local');
    await runNodeSetup({ action: 'remove', options: resolverOnly({ resolverApply: true }), runner, clock });
    expect(await readdir(join(dir, 'etc/systemd/resolved.conf.d'))).toEqual([]);
    expect(calls).toHaveLength(2);
    const nothing = await runNodeSetup({
      action: 'remove',
      options: resolverOnly({ resolverApply: true }),
      runner,
      clock,
    });
    expect(nothing.steps[0]?.status).toBe('unchanged');
    expect(calls).toHaveLength(2);
  });
});

describe('detectIptablesBackend', () => {
  const save = (rules: number): CommandResult => ({
    exitCode: 0,
    stdout: `*nat\n${'-A PREROUTING -j ACCEPT\n'.repeat(rules)}COMMIT\n`,
    stderr: '',
  });

  it('honours an explicit choice without running anything', async () => {
    const { runner, calls } = recordingRunner();
    expect(await detectIptablesBackend(runner, 'legacy')).toEqual({
      backend: 'legacy',
      reason: '--iptables-backend legacy',
    });
    expect(calls).toEqual([]);
  });

  it('picks the backend that holds rules, else what iptables --version says', async () => {
    expect(
      (
        await detectIptablesBackend(
          recordingRunner({ 'iptables-nft-save': save(0), 'iptables-legacy-save': save(3) }).runner,
          'auto',
        )
      ).backend,
    ).toBe('legacy');
    expect(
      (
        await detectIptablesBackend(
          recordingRunner({ 'iptables-nft-save': save(5), 'iptables-legacy-save': save(3) }).runner,
          'auto',
        )
      ).backend,
    ).toBe('nft');
    const tie = recordingRunner({
      'iptables-nft-save': save(0),
      'iptables-legacy-save': save(0),
      iptables: { exitCode: 0, stdout: 'iptables v1.8.9 (legacy)\n', stderr: '' },
    });
    expect(await detectIptablesBackend(tie.runner, 'auto')).toEqual({
      backend: 'legacy',
      reason: 'no rules anywhere; iptables --version says legacy',
    });
    expect(
      (await detectIptablesBackend(recordingRunner({ 'iptables-nft-save': save(0) }).runner, 'auto')).reason,
    ).toBe('only the nft backend is available');
    await expect(detectIptablesBackend(recordingRunner().runner, 'auto')).rejects.toThrow(
      /neither iptables-nft-save nor iptables-legacy-save/,
    );
  });
});

describe('runNodeSetup', () => {
  it('validates every option before touching anything', async () => {
    const { runner, calls } = recordingRunner();
    await expect(
      runNodeSetup({
        action: 'install',
        options: cniOnly({ cniGateway: '172.38.0.0', dnsRedirect: true }),
        runner,
        clock,
      }),
    ).rejects.toThrow(/--cni-gateway "172.38.0.0": is the network address/);
    await expect(
      runNodeSetup({
        action: 'install',
        options: { localDnsAddress: '127.0.0.1', cniConfDir: join(dir, 'x') },
        runner,
        clock,
      }),
    ).rejects.toThrow(/refusing --local-dns-address 127.0.0.1/);
    expect(calls).toEqual([]);
    await expect(readdir(dir)).resolves.toEqual([]);
  });
});
