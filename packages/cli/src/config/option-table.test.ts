import { describe, expect, it } from '@jest/globals';
import { CRI_WATCH_OPTIONS, GLOBAL_OPTIONS, MONITOR_OPTIONS, NODE_SETUP_OPTIONS } from './command-options.js';
import {
  boolean,
  duration,
  formatDurationMs,
  InvalidOptionValueError,
  normalizeBooleanFlags,
  parseBoolean,
  parseDurationMs,
  resolveOptions,
  text,
} from './option-table.js';

describe('one syntax per type', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['On', true],
    ['false', false],
    ['0', false],
    ['No', false],
    ['off', false],
  ])('boolean %j is %j', (input, expected) => {
    expect(parseBoolean(input)).toEqual({ ok: true, value: expected });
  });

  it.each(['', 'maybe', '2', 'y', 'enabled', 'truee'])('boolean %j is refused', (input) => {
    expect(parseBoolean(input).ok).toBe(false);
  });

  it.each([
    ['200ms', 200],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['0', 0],
    [' 3s ', 3000],
  ])('duration %j is %d ms', (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each(['200', '2 s', '-1s', '1d', 's', '', '1e3ms', '0x10s'])('duration %j is refused', (input) => {
    expect(parseDurationMs(input)).toBeUndefined();
  });

  it.each([
    [200, '200ms'],
    [2000, '2s'],
    [60_000, '1m'],
    [1500, '1500ms'],
    [0, '0'],
  ])('formats %d ms as %s', (ms, expected) => {
    expect(formatDurationMs(ms)).toBe(expected);
  });
});

describe('resolveOptions', () => {
  const table = {
    zonesDir: text({ default: '/zones', help: 'zones' }),
    domain: text({ default: '', env: ['DOMAIN'], help: 'domain' }),
    once: boolean({ default: false, help: 'once' }),
    debounceMs: duration({
      flag: 'debounce',
      default: '200ms',
      min: '0',
      max: '10m',
      deprecatedMsFlag: 'debounce-ms',
      help: 'debounce',
    }),
  };

  it('takes the flag over the env over the default, the same for every option', () => {
    const env = {
      ZONEWRIGHT_ZONES_DIR: '/env',
      DOMAIN: 'env.example',
      ZONEWRIGHT_ONCE: 'yes',
      ZONEWRIGHT_DEBOUNCE: '1s',
    };
    expect(resolveOptions(table, {}, {}).values).toEqual({
      zonesDir: '/zones',
      domain: '',
      once: false,
      debounceMs: 200,
    });
    const fromEnv = resolveOptions(table, {}, env);
    expect(fromEnv.values).toEqual({ zonesDir: '/env', domain: 'env.example', once: true, debounceMs: 1000 });
    expect(fromEnv.sources).toEqual({
      zonesDir: 'ZONEWRIGHT_ZONES_DIR',
      domain: 'DOMAIN',
      once: 'ZONEWRIGHT_ONCE',
      debounceMs: 'ZONEWRIGHT_DEBOUNCE',
    });
    const fromFlags = resolveOptions(
      table,
      { 'zones-dir': '/flag', domain: 'flag.example', once: false, debounce: '50ms' },
      env,
    );
    expect(fromFlags.values).toEqual({
      zonesDir: '/flag',
      domain: 'flag.example',
      once: false,
      debounceMs: 50,
    });
    expect(Object.isFrozen(fromFlags.values)).toBe(true);
  });

  it('reads ZONEWRIGHT_<FLAG> before compatibility names, and skips empty variables', () => {
    expect(
      resolveOptions(table, {}, { ZONEWRIGHT_DOMAIN: 'a.example', DOMAIN: 'b.example' }).values.domain,
    ).toBe('a.example');
    expect(resolveOptions(table, {}, { ZONEWRIGHT_DOMAIN: '', DOMAIN: 'b.example' }).values.domain).toBe(
      'b.example',
    );
    expect(resolveOptions(table, { domain: '' }, { DOMAIN: 'b.example' }).values.domain).toBe(''); // a flag is a flag
  });

  it('keeps the deprecated *-ms flag and variable working, with a warning', () => {
    const flag = resolveOptions(table, { 'debounce-ms': '300' }, {});
    expect(flag.values.debounceMs).toBe(300);
    expect(flag.warnings).toEqual(['--debounce-ms is deprecated: use --debounce 300ms']);
    const env = resolveOptions(table, {}, { ZONEWRIGHT_DEBOUNCE_MS: '250' });
    expect(env.values.debounceMs).toBe(250);
    expect(env.warnings).toEqual(['ZONEWRIGHT_DEBOUNCE_MS is deprecated: use ZONEWRIGHT_DEBOUNCE=250ms']);
    // The new name wins over the old one.
    expect(resolveOptions(table, { debounce: '1s', 'debounce-ms': '5' }, {}).values.debounceMs).toBe(1000);
    expect(
      resolveOptions(table, {}, { ZONEWRIGHT_DEBOUNCE: '1s', ZONEWRIGHT_DEBOUNCE_MS: '5' }).values.debounceMs,
    ).toBe(1000);
  });

  it.each([
    [{ once: 'maybe' }, {}, 'invalid --once "maybe": expected true or false (also 1/0, yes/no, on/off)'],
    [
      {},
      { ZONEWRIGHT_ONCE: 'maybe' },
      'invalid ZONEWRIGHT_ONCE (--once) "maybe": expected true or false (also 1/0, yes/no, on/off)',
    ],
    [{ debounce: '200' }, {}, 'invalid --debounce "200": expected a duration 0-10m (e.g. 200ms, 2s, 1m)'],
    [{ debounce: '11m' }, {}, 'invalid --debounce "11m": expected a duration 0-10m (e.g. 200ms, 2s, 1m)'],
    [{ 'debounce-ms': '2s' }, {}, 'invalid --debounce-ms "2s": expected a number of milliseconds 0-600000'],
    [
      {},
      { ZONEWRIGHT_DEBOUNCE_MS: 'x' },
      'invalid ZONEWRIGHT_DEBOUNCE_MS "x": expected a number of milliseconds 0-600000',
    ],
  ])('refuses %j %j in one line naming it', (flags, env, message) => {
    let thrown: unknown;
    try {
      resolveOptions(table, flags, env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionValueError);
    expect((thrown as Error).message).toBe(message);
  });

  it('refuses a missing required option, naming its flag and variables', () => {
    const required = { vmis: text({ required: true, allowed: 'a file', help: 'input' }) };
    expect(() => resolveOptions(required, {}, {})).toThrow(
      'missing --vmis: give the flag or set ZONEWRIGHT_VMIS (a file)',
    );
    expect(resolveOptions(required, {}, { ZONEWRIGHT_VMIS: 'x.json' }).values.vmis).toBe('x.json');
  });

  it('takes the last of a repeated scalar flag and joins a repeated list flag', () => {
    const values = resolveOptions(
      { ...table, namespaces: MONITOR_OPTIONS.namespaces },
      { 'zones-dir': ['/a', '/b'], namespaces: ['a,b', 'c'] },
      {},
    ).values;
    expect(values.zonesDir).toBe('/b');
    expect(values.namespaces).toEqual(['a', 'b', 'c']);
  });
});

describe('the command tables', () => {
  it('fix the known bugs: ZONEWRIGHT_DNS_REDIRECT=1/yes is on, cri-watch --timeout 0 is refused', () => {
    for (const value of ['1', 'yes', 'TRUE', 'on']) {
      expect(
        resolveOptions(NODE_SETUP_OPTIONS, {}, { ZONEWRIGHT_DNS_REDIRECT: value }).values.dnsRedirect,
      ).toBe(true);
    }
    for (const value of ['0', 'no', 'false', 'off']) {
      expect(
        resolveOptions(NODE_SETUP_OPTIONS, {}, { ZONEWRIGHT_DNS_REDIRECT: value }).values.dnsRedirect,
      ).toBe(false);
    }
    expect(() => resolveOptions(CRI_WATCH_OPTIONS, { 'timeout-ms': '0' }, {})).toThrow(
      'invalid --timeout-ms "0": expected a number of milliseconds 100-600000',
    );
    expect(() => resolveOptions(CRI_WATCH_OPTIONS, { timeout: '0' }, {})).toThrow(InvalidOptionValueError);
  });

  it('give node-setup the defaults node-setup declares', () => {
    const values = resolveOptions(NODE_SETUP_OPTIONS, {}, {}).values;
    expect(values.clusterDns).toBe('169.254.0.2');
    expect(values.localDnsPort).toBe(53);
    expect(values.cniConfDir).toBe('/etc/cni/net.d');
  });

  it('check --reverse-zone item by item and as a whole list (overlaps), for monitor and cri-watch', () => {
    expect(
      resolveOptions(MONITOR_OPTIONS, { 'reverse-zone': '10.10.0.0/16,fd00:10::/48' }, {}).values.reverseZone,
    ).toEqual(['10.10.0.0/16', 'fd00:10::/48']);
    expect(() => resolveOptions(CRI_WATCH_OPTIONS, {}, { ZONEWRIGHT_REVERSE_ZONE: '10.0.0.0/12' })).toThrow(
      /^invalid ZONEWRIGHT_REVERSE_ZONE \(--reverse-zone\) "10.0.0.0\/12": .*octet boundary/,
    );
    expect(() => resolveOptions(MONITOR_OPTIONS, { 'reverse-zone': '10.0.0.0/8,10.1.0.0/16' }, {})).toThrow(
      /^invalid --reverse-zone "10.0.0.0\/8,10.1.0.0\/16": .*overlap/,
    );
  });

  it('check addresses, listen addresses and choices', () => {
    expect(() => resolveOptions(MONITOR_OPTIONS, { 'name-server-ip': '10.0.0.300' }, {})).toThrow(
      'invalid --name-server-ip "10.0.0.300": expected an IPv4 or IPv6 address',
    );
    expect(() => resolveOptions(MONITOR_OPTIONS, {}, { POD_IP: 'pod' })).toThrow(
      'invalid POD_IP (--name-server-ip) "pod"',
    );
    expect(() => resolveOptions(MONITOR_OPTIONS, { listen: 'nowhere' }, {})).toThrow(
      'invalid --listen "nowhere"',
    );
    expect(resolveOptions(MONITOR_OPTIONS, { listen: '' }, {}).values.listen).toBe('');
    expect(() => resolveOptions(CRI_WATCH_OPTIONS, {}, { NODE_IP: '10.0.0.1,127.0.0.1' })).toThrow(
      /^invalid NODE_IP \(--node-ip\) "10.0.0.1,127.0.0.1": expected IP addresses, comma-separated; 127\.0\.0\.1 is a loopback address/,
    );
    expect(() => resolveOptions(GLOBAL_OPTIONS, {}, { ZONEWRIGHT_LOG_LEVEL: 'loud' })).toThrow(
      'invalid ZONEWRIGHT_LOG_LEVEL (--log-level) "loud": expected one of error, warn, info, debug',
    );
  });
});

describe('normalizeBooleanFlags', () => {
  const flags = new Set(['once', 'dns-redirect']);
  it('rewrites --flag=value of boolean flags by the one rule and leaves everything else alone', () => {
    expect(
      normalizeBooleanFlags(
        ['monitor', '--once=yes', '--dns-redirect=0', '--ttl=5', '--once', '--', '--once=maybe'],
        flags,
      ),
    ).toEqual(['monitor', '--once', '--no-dns-redirect', '--ttl=5', '--once', '--', '--once=maybe']);
  });

  it('refuses an unknown boolean word, naming the flag', () => {
    expect(() => normalizeBooleanFlags(['--dns-redirect=maybe'], flags)).toThrow(
      'invalid --dns-redirect "maybe": expected true or false (also 1/0, yes/no, on/off)',
    );
  });
});
