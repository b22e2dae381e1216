import { describe, expect, it } from '@jest/globals';
import { KnotError, knotConfig } from './knot.js';
import type { KnotConfigInput } from './knot.js';

const input: KnotConfigInput = {
  directory: '/tmp/zw-knot-test',
  address: '127.0.0.1',
  port: 25353,
  user: 'root',
  zones: ['vm.example.test.', '77.10.in-addr.arpa'],
  primary: { address: '127.0.0.1', port: 25354 },
  notifyFrom: ['127.0.0.1', '10.244.0.0/16'],
};

// The integration test (integration/dns-peers/knot-secondary.test.ts) runs knotd with this text and has
// `knotc conf-check` judge the documented configuration; here: exactly which text comes out.
describe('knotConfig', () => {
  it('writes one loopback listener, paths only under the directory, and the documented secondary shape', () => {
    expect(knotConfig(input)).toBe(
      [
        '# One test-local knotd (@zonewright/testkit startKnot); nothing outside this directory.',
        'server:',
        '    rundir: "/tmp/zw-knot-test/run"',
        '    user: "root"',
        '    listen: 127.0.0.1@25353',
        '    udp-workers: 1',
        '    tcp-workers: 1',
        '    background-workers: 1',
        '',
        'control:',
        '    listen: "/tmp/zw-knot-test/run/knot.sock"',
        '',
        'log:',
        '  - target: stderr',
        '    any: info',
        '',
        'database:',
        '    storage: "/tmp/zw-knot-test/storage"',
        '    journal-db: "/tmp/zw-knot-test/journal"',
        '    journal-db-max-size: 64M',
        '    kasp-db-max-size: 16M',
        '    timer-db-max-size: 16M',
        '    catalog-db-max-size: 16M',
        '',
        'remote:',
        '  - id: primary',
        '    address: 127.0.0.1@25354',
        '',
        'acl:',
        '  - id: primary-notify',
        '    address: [ 127.0.0.1, 10.244.0.0/16 ]',
        '    action: notify',
        '',
        'template:',
        '  - id: secondary',
        '    storage: "/tmp/zw-knot-test/zones"',
        '    master: primary',
        '    acl: primary-notify',
        '',
        'zone:',
        '  - domain: "vm.example.test"',
        '    template: secondary',
        '  - domain: "77.10.in-addr.arpa"',
        '    template: secondary',
        '',
      ].join('\n'),
    );
  });

  it('writes IPv6 addresses as Knot does (ADDR@PORT, no brackets)', () => {
    const config = knotConfig({
      ...input,
      address: '::1',
      primary: { address: '::1', port: 53 },
      notifyFrom: ['fd00::/8'],
    });
    expect(config).toContain('\n    listen: ::1@25353\n');
    expect(config).toContain('\n    address: ::1@53\n');
    expect(config).toContain('\n    address: [ fd00::/8 ]\n');
  });

  it('refuses input that would not stay one value in the file, or that Knot would not take', () => {
    expect(() => knotConfig({ ...input, zones: ['bad"zone.test'] })).toThrow(KnotError);
    expect(() => knotConfig({ ...input, directory: '/tmp/a\nserver:' })).toThrow(KnotError);
    expect(() => knotConfig({ ...input, user: '' })).toThrow(KnotError);
    expect(() => knotConfig({ ...input, primary: { address: 'ns.example.test', port: 53 } })).toThrow(
      /not an IP address/,
    );
    expect(() => knotConfig({ ...input, notifyFrom: ['10.0.0.0/8/1'] })).toThrow(/not an address or CIDR/);
    expect(() => knotConfig({ ...input, notifyFrom: ['10.0.0.0/33'] })).toThrow(/not an address or CIDR/);
    expect(knotConfig({ ...input, notifyFrom: ['fd00::/128'] })).toContain('[ fd00::/128 ]');
    expect(() => knotConfig({ ...input, notifyFrom: [] })).toThrow(KnotError);
    expect(() => knotConfig({ ...input, zones: [] })).toThrow(KnotError);
    expect(() => knotConfig({ ...input, port: 70000 })).toThrow(/not a port number/);
  });
});
