import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  adaptCorefile,
  CoreDnsError,
  corefilePlaceholders,
  findCoreDns,
  shippedCorefilePath,
} from './coredns.js';
import type { CorefileAdaptation } from './coredns.js';

const adaptation: CorefileAdaptation = {
  zonesDirectory: '/tmp/zw-zones-test',
  address: '127.0.0.1',
  ports: { dns: 25353, health: 28080, ready: 28181, metrics: 29153 },
};

const shipped = (name: 'monitor' | 'node'): string => readFileSync(shippedCorefilePath(name), 'utf8');

/**
 * The shipped text with exactly the recorded changes applied, line by line: equal to the adapted text only
 * if the changes list is the whole difference.
 */
function applyChanges(text: string, changes: ReturnType<typeof adaptCorefile>['changes']): string {
  return text
    .split('\n')
    .flatMap((line, index) => {
      const here = changes.filter((change) => change.line === index + 1);
      const replaced = here.find((change) => change.kind === 'replaced');
      if (replaced) expect(replaced.before).toBe(line);
      const kept = here.some((change) => change.kind === 'removed') ? [] : [replaced ? replaced.after : line];
      return [...kept, ...here.filter((change) => change.kind === 'inserted').map((change) => change.after)];
    })
    .join('\n');
}

describe('adaptCorefile', () => {
  it('changes Corefile.monitor only in its port, bind address, listeners and zones directory', () => {
    const text = shipped('monitor');
    const adapted = adaptCorefile(text, adaptation);
    expect(adapted.changes.map(({ kind, after }) => `${kind}: ${after.trim()}`)).toEqual([
      'replaced: .:25353 {',
      'replaced: health 127.0.0.1:28080',
      'replaced: ready 127.0.0.1:28181',
      'replaced: prometheus 127.0.0.1:29153',
      'replaced: directory /tmp/zw-zones-test ^db\\.(.*)$ {1}',
      'removed: ',
      'inserted: bind 127.0.0.1',
    ]);
    // The opt-in transfer snippet is not read from this machine unless a test gives its directory.
    expect(adapted.changes.find((change) => change.kind === 'removed')?.before.trim()).toBe(
      'import /etc/coredns-transfer/*.conf',
    );
    expect(adapted.env).toEqual({});
    // Every other line, comments and `reload` included, is the shipped one.
    expect(adapted.text).toBe(applyChanges(text, adapted.changes));
    expect(adapted.text.split('\n')).toHaveLength(text.split('\n').length);
    expect(adapted.text).toMatch(/^\s+reload \S+$/m);
    expect(adapted.text.match(/^\s+reload \S+$/m)?.[0]).toBe(text.match(/^\s+reload \S+$/m)?.[0]);
  });

  it('keeps Corefile.node placeholders, gives them values, and removes forward without an upstream', () => {
    const text = shipped('node');
    const adapted = adaptCorefile(text, { ...adaptation, address: '172.38.7.1' });
    expect(adapted.env).toEqual({ LOCAL_DNS_PORT: '25353', LOCAL_DNS_ADDRESS: '172.38.7.1' });
    expect(
      adapted.changes
        .filter((change) => change.kind !== 'env')
        .map(({ kind, after }) => `${kind}: ${after.trim()}`),
    ).toEqual([
      'replaced: health 172.38.7.1:28080',
      'replaced: ready 172.38.7.1:28181',
      'replaced: prometheus 172.38.7.1:29153',
      'replaced: directory /tmp/zw-zones-test ^db\\.(.*)$ {1}',
      'removed: ',
      'replaced: prometheus 172.38.7.1:29153',
      'removed: ',
    ]);
    for (const removed of adapted.changes.filter((change) => change.kind === 'removed')) {
      expect(removed.before.trim()).toMatch(/^forward \. /);
    }
    expect(adapted.text).not.toMatch(/^\s*forward /m);
    expect(adapted.text).toBe(applyChanges(text, adapted.changes));
    // The server keys and bind lines are the shipped ones: CoreDNS expands them from the environment.
    expect(adapted.text).toContain(
      '{$CLUSTER_DOMAIN}:{$LOCAL_DNS_PORT} in-addr.arpa:{$LOCAL_DNS_PORT} ip6.arpa:{$LOCAL_DNS_PORT} {',
    );
    expect(adapted.text).toContain('bind {$LOCAL_DNS_ADDRESS}');
    expect(corefilePlaceholders(adapted.text)).toEqual([
      'CLUSTER_DOMAIN',
      'LOCAL_DNS_ADDRESS',
      'LOCAL_DNS_PORT',
    ]);
  });

  it('points forward at the test upstream when one is given', () => {
    const adapted = adaptCorefile(shipped('node'), { ...adaptation, upstream: '127.0.0.1:20053' });
    expect(adapted.text).toMatch(/^\s+forward \. 127\.0\.0\.1:20053$/m);
    expect(adapted.changes.some((change) => change.kind === 'removed')).toBe(false);
  });

  it('reads the import files from the directory a test gives', () => {
    const adapted = adaptCorefile(shipped('monitor'), { ...adaptation, importDirectory: '/tmp/zw-snippets' });
    expect(adapted.text).toMatch(/^\s+import \/tmp\/zw-snippets\/\*\.conf$/m);
    expect(adapted.text).not.toMatch(/^\s+import \/etc/m);
  });

  it('changes reload only when asked to (measurements)', () => {
    const adapted = adaptCorefile(shipped('monitor'), { ...adaptation, reload: '1234ms' });
    expect(adapted.text).toMatch(/^\s+reload 1234ms$/m);
    expect(adapted.changes.filter((change) => change.after.trim() === 'reload 1234ms')).toHaveLength(1);
  });

  it('refuses what it cannot keep on the test address', () => {
    const base = '.:53 {\n    auto\n';
    expect(() => adaptCorefile(`${base}    pprof :6060\n}\n`, adaptation)).toThrow(CoreDnsError);
    expect(() =>
      adaptCorefile(`${base}    forward . 8.8.8.8 {\n      max_fails 1\n    }\n}\n`, adaptation),
    ).toThrow(/forward/);
    expect(() => adaptCorefile(`${base}    transfer {\n      to 192.0.2.1\n    }\n}\n`, adaptation)).toThrow(
      /192\.0\.2\.1/,
    );
    expect(() => adaptCorefile(base, adaptation)).toThrow(/not closed/);
    expect(() => adaptCorefile(`${base}}\n`, { ...adaptation, address: 'localhost' })).toThrow(/not an IP/);
    expect(() => adaptCorefile(`${base}}\n`, { ...adaptation, zonesDirectory: 'zones' })).toThrow(/absolute/);
  });

  it('gives a port to a server key without one and keeps `transfer { to * }`', () => {
    const adapted = adaptCorefile(
      'example.test {\n    auto\n    transfer {\n        to *\n    }\n}\n',
      adaptation,
    );
    expect(adapted.text).toBe(
      'example.test:25353 {\n    bind 127.0.0.1\n    auto\n    transfer {\n        to *\n    }\n}\n',
    );
  });
});

describe('findCoreDns', () => {
  it('names the missing path and how to point ZONEWRIGHT_COREDNS at a binary', () => {
    expect(() => findCoreDns({ ZONEWRIGHT_COREDNS: '/nonexistent/zw-coredns' })).toThrow(
      /no CoreDNS binary at \/nonexistent\/zw-coredns .*ZONEWRIGHT_COREDNS at an official CoreDNS >= 1\.11\.4/,
    );
  });

  it('refuses a binary that is not CoreDNS', () => {
    expect(() => findCoreDns({ ZONEWRIGHT_COREDNS: '/bin/true' })).toThrow(/printed no CoreDNS version/);
  });
});
