import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from './dns-tools.js';
import {
  KUBE_APISERVER_TARBALL_SHA256,
  KubeApiServerError,
  KubeApiServerMissingError,
  cachedKubeApiServerPath,
  etcdArgs,
  kubeApiServerArgs,
  kubeApiServerAvailability,
  kubeconfigText,
  tokenFileText,
} from './kube-apiserver.js';

const files = {
  caFile: '/d/ca.crt',
  certFile: '/d/apiserver.crt',
  keyFile: '/d/apiserver.key',
  serviceAccountKeyFile: '/d/sa.key',
  serviceAccountPublicKeyFile: '/d/sa.pub',
  tokenFile: '/d/tokens.csv',
};

function flag(args: readonly string[], name: string): string | undefined {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

describe('kube-apiserver harness (pure parts)', () => {
  it('keys the cache path by the same tarball hash the build script verifies', () => {
    const script = readFileSync(join(findRepoRoot(), 'scripts', 'build-kube-apiserver.sh'), 'utf8');
    expect(script).toContain(`tarball_sha256=${KUBE_APISERVER_TARBALL_SHA256}`);
    expect(cachedKubeApiServerPath({})).toBe(
      `/var/cache/zonewright/kube-apiserver-${KUBE_APISERVER_TARBALL_SHA256}/kube-apiserver`,
    );
    expect(cachedKubeApiServerPath({ ZONEWRIGHT_CACHE_DIR: '/c' })).toBe(
      `/c/kube-apiserver-${KUBE_APISERVER_TARBALL_SHA256}/kube-apiserver`,
    );
  });

  it('prefers ZONEWRIGHT_KUBE_APISERVER, falls back to the cache, and says how to build when both are missing', () => {
    const present = new Set(['/opt/kas', cachedKubeApiServerPath({})]);
    const exists = (path: string): boolean => present.has(path);
    expect(kubeApiServerAvailability({ ZONEWRIGHT_KUBE_APISERVER: '/opt/kas' }, exists)).toEqual({
      available: true,
      binary: '/opt/kas',
    });
    expect(kubeApiServerAvailability({}, exists)).toEqual({
      available: true,
      binary: cachedKubeApiServerPath({}),
    });
    const configuredMissing = kubeApiServerAvailability({ ZONEWRIGHT_KUBE_APISERVER: '/nope' }, exists);
    expect(configuredMissing.available).toBe(false);
    expect(!configuredMissing.available && configuredMissing.reason).toMatch(
      /ZONEWRIGHT_KUBE_APISERVER=\/nope is not an executable file: build it with scripts\/build-kube-apiserver\.sh/,
    );
    const none = kubeApiServerAvailability({}, () => false);
    expect(!none.available && none.reason).toMatch(
      /^no kube-apiserver at \/var\/cache\/zonewright\/kube-apiserver-/,
    );
  });

  it('throws in CI instead of skipping', () => {
    expect(() => kubeApiServerAvailability({ CI: 'true' }, () => false)).toThrow(KubeApiServerMissingError);
    expect(() => kubeApiServerAvailability({ CI: 'true' }, () => true)).not.toThrow();
  });

  it('runs kube-apiserver on loopback only, without the insecure port, with RBAC, tokens and SA keys', () => {
    const args = kubeApiServerArgs({
      port: 34567,
      etcdUrl: 'http://127.0.0.1:23456',
      files,
      certDirectory: '/d/gen',
      watchCache: false,
      extraArgs: ['--v=4'],
    });
    expect(flag(args, 'bind-address')).toBe('127.0.0.1');
    expect(flag(args, 'secure-port')).toBe('34567');
    expect(flag(args, 'insecure-port')).toBe('0');
    expect(flag(args, 'etcd-servers')).toBe('http://127.0.0.1:23456');
    expect(flag(args, 'authorization-mode')).toBe('RBAC');
    expect(flag(args, 'token-auth-file')).toBe('/d/tokens.csv');
    expect(flag(args, 'service-account-key-file')).toBe('/d/sa.pub');
    expect(flag(args, 'service-account-signing-key-file')).toBe('/d/sa.key');
    expect(flag(args, 'service-account-issuer')).toMatch(/^https:\/\//);
    expect(flag(args, 'watch-cache')).toBe('false');
    expect(args[args.length - 1]).toBe('--v=4');
    expect(
      flag(
        kubeApiServerArgs({ port: 1, etcdUrl: 'x', files, certDirectory: '/g', watchCache: true }),
        'watch-cache',
      ),
    ).toBe('true');
  });

  it('runs etcd as one loopback member', () => {
    const args = etcdArgs({ name: 'zw-1', dataDirectory: '/d/etcd', clientPort: 2001, peerPort: 2002 });
    expect(flag(args, 'listen-client-urls')).toBe('http://127.0.0.1:2001');
    expect(flag(args, 'listen-peer-urls')).toBe('http://127.0.0.1:2002');
    expect(flag(args, 'initial-cluster')).toBe('zw-1=http://127.0.0.1:2002');
    expect(flag(args, 'data-dir')).toBe('/d/etcd');
  });

  it('writes the token file as token,user,uid,"groups" and refuses fields CSV would need to quote', () => {
    expect(
      tokenFileText([
        { token: 'abc', user: 'zw-admin', uid: 'u1', groups: ['system:masters'] },
        { token: 'def', user: 'probe', uid: 'u2', groups: [] },
      ]),
    ).toBe('abc,zw-admin,u1,"system:masters"\ndef,probe,u2,""\n');
    expect(() => tokenFileText([{ token: 'a,b', user: 'x', uid: 'y', groups: [] }])).toThrow(
      KubeApiServerError,
    );
    expect(() => tokenFileText([{ token: 'a', user: 'x"', uid: 'y', groups: [] }])).toThrow(/"x\\""/);
  });

  it('writes a kubeconfig with only the server, its CA inline and the token', () => {
    const parsed = JSON.parse(kubeconfigText('https://127.0.0.1:1', 'PEM', 'tok')) as {
      clusters: { cluster: Record<string, unknown> }[];
      users: { user: Record<string, unknown> }[];
      'current-context': string;
    };
    expect(parsed.clusters[0]?.cluster).toEqual({
      server: 'https://127.0.0.1:1',
      'certificate-authority-data': Buffer.from('PEM').toString('base64'),
    });
    expect(parsed.users[0]?.user).toEqual({ token: 'tok' });
    expect(parsed['current-context']).toBe('zw-kube-apiserver');
  });
});
