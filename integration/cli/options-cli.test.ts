import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  COMMAND_OPTIONS,
  envNameOfFlag,
  envNamesOf,
  flagOf,
  GLOBAL_OPTIONS,
  type AnyOption,
  type OptionTable,
} from '@zonewright/cli';
import { assertZoneValid, secondaryNicVmi } from '@zonewright/testkit';
import { parseZone } from '@zonewright/zone';
import { inPool, loggedConfig, root, runCli } from './lib/cli-runs.js';

// Every option of every command through the built CLI: bad values (flag and env), good values of each type,
// precedence, and --help against the one option table.

/** Arguments a command needs besides the option under test (a positional, a required flag). */
const BASE_ARGS: Readonly<Record<string, readonly string[]>> = {
  monitor: [],
  render: ['--vmis', 'nonexistent.json'],
  'cri-watch': [],
  'node-setup': ['check'],
  inspect: ['/nonexistent'],
  check: ['/nonexistent'],
};

/** Candidates for a bad value by kind; a text or list option is tested when its own check refuses one. */
const BAD_CANDIDATES: Readonly<Record<AnyOption['kind'], readonly string[]>> = {
  integer: ['12x', '-1'],
  boolean: ['maybe'],
  duration: ['5', '99h'],
  choice: ['bogus'],
  list: ['127.0.0.1', 'not-an-address'],
  string: ['not-an-address:x:y'],
};

function badValue(spec: AnyOption): string | undefined {
  return BAD_CANDIDATES[spec.kind].find((candidate) => !spec.parse(candidate).ok);
}

interface BadCase {
  readonly command: string;
  readonly key: string;
  readonly flag: string;
  readonly value: string;
  readonly env?: string;
}

function badCases(): BadCase[] {
  const cases: BadCase[] = [];
  const add = (command: string, table: OptionTable) => {
    for (const [key, spec] of Object.entries(table)) {
      const value = badValue(spec);
      if (value === undefined) continue;
      const flag = flagOf(key, spec);
      cases.push({ command, key, flag, value });
      for (const env of envNamesOf(key, spec).slice(0, 2)) cases.push({ command, key, flag, value, env });
    }
  };
  add('monitor', GLOBAL_OPTIONS);
  for (const [command, table] of Object.entries(COMMAND_OPTIONS)) add(command, table);
  return cases;
}

const ONE_LINE_ERROR = /^zonewright: invalid [^\n]+\n$/;

describe('bad option values, through the built CLI', () => {
  const cases = badCases();

  it('covers every kind and every command', () => {
    expect(new Set(cases.map((item) => item.command))).toEqual(new Set(Object.keys(COMMAND_OPTIONS)));
    expect(cases.length).toBeGreaterThan(60);
  });

  it('exit 2 with one line naming the flag or variable, the value and what is allowed', async () => {
    const results = await inPool(cases, 4, async (item) => {
      const args = [item.command, ...(BASE_ARGS[item.command] ?? [])];
      const run =
        item.env === undefined
          ? await runCli([
              ...args,
              item.value === 'maybe' ? `--${item.flag}=maybe` : `--${item.flag}`,
              ...(item.value === 'maybe' ? [] : [item.value]),
            ])
          : await runCli(args, { [item.env]: item.value });
      return { item, run };
    });
    const problems: string[] = [];
    for (const { item, run } of results) {
      const where = item.env === undefined ? `--${item.flag}` : `${item.env} (--${item.flag})`;
      const label = `${item.command} ${where}=${item.value}`;
      if (run.code !== 2) problems.push(`${label}: exit ${String(run.code)}\n${run.stderr}`);
      else if (!ONE_LINE_ERROR.test(run.stderr)) problems.push(`${label}: not one line:\n${run.stderr}`);
      else if (
        !run.stderr.startsWith(`zonewright: invalid ${where} ${JSON.stringify(item.value)}: expected `)
      )
        problems.push(`${label}: ${run.stderr}`);
    }
    expect(problems).toEqual([]);
  }, 300_000);

  it('the known bugs: cri-watch --timeout-ms 0 and --timeout 0 are one line, no RangeError', async () => {
    for (const args of [
      ['--timeout-ms', '0'],
      ['--timeout', '0'],
    ]) {
      const run = await runCli(['cri-watch', '--once', ...args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(ONE_LINE_ERROR);
      expect(run.stderr).not.toMatch(/RangeError|\n\s+at /);
    }
  });

  it('a missing required option names the flag and the variable', async () => {
    const run = await runCli(['render']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "zonewright: missing --vmis: give the flag or set ZONEWRIGHT_VMIS (a file, or '-' for standard input)\n",
    );
  });
});

describe('good values, env rules and precedence, through the built CLI', () => {
  let dir = '';
  let vmis = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'zw-options-cli-'));
    vmis = path.join(dir, 'vmis.json');
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        secondaryNicVmi('web', 'default', ['192.0.2.10']),
        secondaryNicVmi('db', 'skipped', ['192.0.2.11']),
        secondaryNicVmi('local', 'default', ['169.254.0.9']),
      ],
    };
    await writeFile(vmis, JSON.stringify(list));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `render` to stdout, parsed: origin, serial, TTLs, glue and the address names. */
  async function render(args: readonly string[], env: Readonly<Record<string, string>> = {}) {
    const run = await runCli(['render', '--vmis', vmis, '--log-format', 'json', ...args], env);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    const config = loggedConfig(run.stderr);
    const origin = /\$ORIGIN (\S+)/.exec(run.stdout)?.[1] ?? '';
    const zone = parseZone(run.stdout, { origin });
    const soa = zone.records.find((record) => record.type === 'SOA');
    const glue = zone.records.find((record) => record.type === 'A' && record.name.startsWith('ns.'));
    const names = zone.records
      .filter((record) => record.type === 'A' && !record.name.startsWith('ns.'))
      .map((record) => `${record.name.replace(/\.$/, '')} ${String(record.ttl)}`)
      .sort();
    return { config, origin, serial: soa?.rdata[2], glue: glue?.rdata[0], names };
  }

  it('takes good values of every type from flags: text, integer, boolean words, lists', async () => {
    const zone = await render([
      '--domain',
      'example.com',
      '--ttl',
      '60',
      '--serial',
      '7',
      '--name-server-ip',
      '192.0.2.53',
      '--exclude-namespaces',
      'skipped,other',
      '--allow-non-routable=yes',
    ]);
    expect(zone.origin).toBe('vm.example.com.');
    expect(zone.serial).toBe('7');
    expect(zone.glue).toBe('192.0.2.53');
    expect(zone.names).toEqual([
      'local.default.vm.example.com 60',
      'nic1.local.default.vm.example.com 60',
      'nic1.web.default.vm.example.com 60',
      'web.default.vm.example.com 60',
    ]);
    expect(zone.config.from).toMatchObject({ ttl: '--ttl', allowNonRoutable: '--allow-non-routable' });
  });

  it('reads the same options from the environment: ZONEWRIGHT_<FLAG> and the compatibility names', async () => {
    const zone = await render([], {
      DOMAIN: 'env.example',
      POD_IP: '192.0.2.54',
      ZONEWRIGHT_TTL: '61',
      ZONEWRIGHT_SERIAL: '8',
      ZONEWRIGHT_EXCLUDE_NAMESPACES: 'skipped',
      ZONEWRIGHT_ALLOW_NON_ROUTABLE: 'OFF',
    });
    expect(zone.origin).toBe('vm.env.example.');
    expect(zone.serial).toBe('8');
    expect(zone.glue).toBe('192.0.2.54');
    expect(zone.names).toEqual(['nic1.web.default.vm.env.example 61', 'web.default.vm.env.example 61']);
    expect(zone.config.from).toMatchObject({
      domain: 'DOMAIN',
      nameServerIp: 'POD_IP',
      ttl: 'ZONEWRIGHT_TTL',
    });
  });

  it('flag over env over default, and ZONEWRIGHT_<FLAG> over the compatibility names, for every kind', async () => {
    const zone = await render(['--ttl', '62', '--domain', 'flag.example', '--allow-non-routable=0'], {
      ZONEWRIGHT_TTL: '61',
      ZONEWRIGHT_DOMAIN: 'env.example',
      DOMAIN: 'compat.example',
      ZONEWRIGHT_NAME_SERVER_IP: '192.0.2.1',
      NAME_SERVER_IP: '192.0.2.2',
      POD_IP: '192.0.2.3',
      ZONEWRIGHT_ALLOW_NON_ROUTABLE: 'yes',
    });
    expect(zone.origin).toBe('vm.flag.example.');
    expect(zone.glue).toBe('192.0.2.1');
    expect(zone.names).toEqual([
      'db.skipped.vm.flag.example 62',
      'nic1.db.skipped.vm.flag.example 62',
      'nic1.web.default.vm.flag.example 62',
      'web.default.vm.flag.example 62',
    ]);
    const compat = await render([], {
      DOMAIN: 'compat.example',
      NAME_SERVER_IP: '192.0.2.2',
      POD_IP: '192.0.2.3',
    });
    expect(compat.origin).toBe('vm.compat.example.');
    expect(compat.glue).toBe('192.0.2.2');
    const defaults = await render([]);
    expect(defaults.origin).toBe('vm.');
    expect(defaults.glue).toBe('127.0.0.1');
    expect(defaults.names.every((name) => name.endsWith(' 30'))).toBe(true);
    // An empty variable counts as unset.
    const empty = await render([], { ZONEWRIGHT_DOMAIN: '', DOMAIN: 'compat.example', ZONEWRIGHT_TTL: '' });
    expect(empty.origin).toBe('vm.compat.example.');
  });

  it('durations everywhere, the old *-ms flags as deprecated aliases, booleans by one rule; the zone is valid', async () => {
    const zonesDir = path.join(dir, 'zones-durations');
    const run = await runCli(
      [
        'monitor',
        '--once',
        '--source=directory',
        '--vmi-dir',
        path.join(root, 'examples/vmis'),
        '--zones-dir',
        zonesDir,
        '--debounce-ms',
        '0',
        '--max-delay',
        '1.5s',
        '--log-format',
        'json',
      ],
      { ZONEWRIGHT_UNHEALTHY_AFTER: '2m', ZONEWRIGHT_ALLOW_NON_ROUTABLE: 'no' },
    );
    expect({ code: run.code }).toEqual({ code: 0 });
    const { config, from } = loggedConfig(run.stderr);
    expect(config).toMatchObject({ debounceMs: 0, maxDelayMs: 1500, unhealthyAfterMs: 120_000, once: true });
    expect(from).toMatchObject({
      debounceMs: '--debounce-ms',
      unhealthyAfterMs: 'ZONEWRIGHT_UNHEALTHY_AFTER',
    });
    expect(run.stderr).toContain('--debounce-ms is deprecated: use --debounce 0ms');
    await assertZoneValid('vm', path.join(zonesDir, 'db.vm'));
    expect(await readFile(path.join(zonesDir, 'db.vm'), 'utf8')).toContain('web-frontend.default');
  });

  it('ZONEWRIGHT_DNS_REDIRECT=1 and =yes mean on (the bug: they turned the redirect off)', async () => {
    // A conflist name node-setup refuses ends the run after the configuration is logged, before the node is touched.
    for (const value of ['1', 'yes', 'On']) {
      const run = await runCli(['node-setup', 'check', '--log-format', 'json', '--cni-conf-name', 'x.conf'], {
        ZONEWRIGHT_DNS_REDIRECT: value,
      });
      expect(loggedConfig(run.stderr).config.dnsRedirect).toBe(true);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/\nzonewright: invalid --cni-conf-name "x.conf": [^\n]+\n$/);
    }
    const off = await runCli(['node-setup', 'check', '--log-format', 'json', '--cni-conf-name', 'x.conf'], {
      ZONEWRIGHT_DNS_REDIRECT: 'off',
    });
    expect(loggedConfig(off.stderr).config.dnsRedirect).toBe(false);
    const env = await runCli(['node-setup', 'check', '--log-format', 'json'], {
      ZONEWRIGHT_CNI_CONF_NAME: 'x.conf',
    });
    expect(env.stderr).toMatch(/zonewright: invalid ZONEWRIGHT_CNI_CONF_NAME \(--cni-conf-name\) "x.conf": /);
  });
});

describe('--help and the README agree with the one option table', () => {
  const helpFlags = (help: string): Set<string> =>
    new Set([...help.matchAll(/^\s+(?:-\w, )?--([a-z0-9-]+)/gm)].map((match) => match[1] ?? ''));

  it.each(Object.keys(COMMAND_OPTIONS))(
    'zonewright %s --help lists every flag and env name, and no other',
    async (command) => {
      const run = await runCli([command, '--help']);
      expect(run.code).toBe(0);
      const table = { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS[command] } as OptionTable;
      const expected = new Set(['help', 'version']);
      for (const [key, spec] of Object.entries(table)) {
        expected.add(flagOf(key, spec));
        for (const old of spec.deprecated ?? []) expected.add(old.flag);
        for (const name of envNamesOf(key, spec)) expect(run.stdout).toContain(name);
        for (const old of spec.deprecated ?? []) expect(run.stdout).toContain(envNameOfFlag(old.flag));
      }
      expect(helpFlags(run.stdout)).toEqual(expected);
    },
  );

  it('the README documents every command (see option-docs.test.ts for the cells)', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    for (const name of ['global', 'monitor', 'render', 'inspect', 'check'])
      expect(readme).toContain(`<!-- options: ${name} -->`);
  });
});
