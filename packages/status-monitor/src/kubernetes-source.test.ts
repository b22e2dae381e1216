import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backoffDelay, KubernetesApiError, loadKubeConfig } from './kubernetes-source.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with half of it random', () => {
    const low = (attempt: number): number =>
      backoffDelay(attempt, () => 0, { initialMs: 500, maxMs: 30_000 });
    const high = (attempt: number): number =>
      backoffDelay(attempt, () => 0.999999, { initialMs: 500, maxMs: 30_000 });
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map(low)).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000,
    ]);
    expect([0, 1, 2, 6, 50].map(high)).toEqual([500, 1000, 2000, 30000, 30000]);
  });

  it('uses 500 ms and 30 s by default', () => {
    expect(backoffDelay(0, () => 0.5)).toBe(375);
    expect(backoffDelay(100, () => 0.5)).toBe(22500);
  });
});

describe('KubernetesApiError', () => {
  it.each([
    [undefined, true],
    [500, true],
    [503, true],
    [429, true],
    [408, true],
    [403, false],
    [404, false],
  ])('status %p is transient: %p', (code, transient) => {
    expect(new KubernetesApiError('x', code).transient).toBe(transient);
  });
});

describe('loadKubeConfig', () => {
  it('names a kubeconfig without a current cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zw-kubeconfig-'));
    try {
      const path = join(dir, 'config');
      writeFileSync(
        path,
        JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], contexts: [], users: [] }),
      );
      expect(() => loadKubeConfig(path)).toThrow(
        new KubernetesApiError(`kubeconfig ${path} has no current cluster`, undefined),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the server of the current context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zw-kubeconfig-'));
    try {
      const path = join(dir, 'config');
      writeFileSync(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443' } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      expect(loadKubeConfig(path).getCurrentCluster()?.server).toBe('https://10.0.0.1:6443');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
