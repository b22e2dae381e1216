import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClaimedRecord, Logger, SourceHandle } from '@zonewright/zone';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_RETRY,
  KubernetesApiError,
  KubernetesSource,
  loadKubeConfig,
  planRetry,
  STARTUP_FORBIDDEN_COUNT,
  STARTUP_FORBIDDEN_WINDOW_MS,
} from './kubernetes-source.js';
import type { KubernetesTransport } from './kubernetes-source.js';
import type { WatchAnswer, WatchHandlers } from './watch-request.js';

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

describe('planRetry', () => {
  const forbidden = (forbiddenInARow: number, answeringForMs: number) =>
    planRetry({ statusCode: 403, transient: false, forbiddenInARow, answeringForMs });

  it('retries an unreachable or failing API fast, at warn', () => {
    for (const statusCode of [undefined, 500, 503, 429]) {
      expect(planRetry({ statusCode, transient: true, forbiddenInARow: 0, answeringForMs: 0 })).toEqual({
        backoff: 'fast',
        level: 'warn',
        startingUp: false,
      });
    }
  });

  it('treats the first 403s right after the API answers again as a starting API server', () => {
    expect(forbidden(1, 0)).toEqual({ backoff: 'fast', level: 'warn', startingUp: true });
    expect(forbidden(STARTUP_FORBIDDEN_COUNT, STARTUP_FORBIDDEN_WINDOW_MS)).toEqual({
      backoff: 'fast',
      level: 'warn',
      startingUp: true,
    });
  });

  it('makes a 403 an error, retried slowly, once there were too many or they lasted too long', () => {
    const error = { backoff: 'slow', level: 'error', startingUp: false };
    expect(forbidden(STARTUP_FORBIDDEN_COUNT + 1, 100)).toEqual(error);
    expect(forbidden(1, STARTUP_FORBIDDEN_WINDOW_MS + 1)).toEqual(error);
    expect(planRetry({ statusCode: 404, transient: false, forbiddenInARow: 0, answeringForMs: 0 })).toEqual(
      error,
    );
  });
});

/** A watch request the test answers and drives by hand. */
interface ScriptedWatch {
  readonly query: Readonly<Record<string, string | number | boolean>>;
  readonly handlers: WatchHandlers;
  answer(answer: WatchAnswer): void;
  refuse(error: Error): void;
}

/** A list page answer, or an error to reject with. */
type ListScript = { readonly resourceVersion: string; readonly items: unknown[] } | Error;

/** A transport that answers lists from a queue (pending while empty) and hands every watch to the test. */
class ScriptedTransport implements KubernetesTransport {
  readonly lists: ListScript[] = [];
  listCalls = 0;
  readonly watches: ScriptedWatch[] = [];
  private waiters: (() => void)[] = [];

  listPage(_scope: string | undefined, _token: string | undefined, _limit: number, signal: AbortSignal) {
    this.listCalls++;
    this.wake();
    const next = this.lists.shift();
    if (next === undefined)
      return new Promise<never>((_resolve, reject) => signal.addEventListener('abort', reject));
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve({ metadata: { resourceVersion: next.resourceVersion }, items: next.items });
  }

  watch(
    _scope: string | undefined,
    query: Readonly<Record<string, string | number | boolean>>,
    handlers: WatchHandlers,
  ): Promise<WatchAnswer> {
    return new Promise((resolve, reject) => {
      this.watches.push({ query, handlers, answer: resolve, refuse: reject });
      this.wake();
    });
  }

  /** Resolves once `check` holds (checked after every request and every 5 ms tick of the event loop). */
  async until(check: () => boolean, what: string): Promise<void> {
    for (let round = 0; round < 400 && !check(); round++) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 5);
      });
    }
    if (!check()) throw new Error(`timed out waiting for ${what}`);
  }

  /** The `index`-th watch request (0-based), once it was made. */
  async watchNumber(index: number): Promise<ScriptedWatch> {
    await this.until(() => this.watches.length > index, `watch request ${index + 1}`);
    return this.watches[index] as ScriptedWatch;
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

class CountingHandle implements SourceHandle {
  readonly keys = new Map<string, readonly ClaimedRecord[]>();
  readonly calls: string[] = [];
  upsert(key: string, records: readonly ClaimedRecord[]): void {
    this.keys.set(key, records);
    this.calls.push(`upsert ${key}`);
  }
  remove(key: string): void {
    this.keys.delete(key);
    this.calls.push(`remove ${key}`);
  }
  replaceAll(entries: ReadonlyMap<string, readonly ClaimedRecord[]>): void {
    this.keys.clear();
    for (const [key, records] of entries) this.keys.set(key, records);
    this.calls.push(`replaceAll ${entries.size}`);
  }
  markSynced(): void {
    this.calls.push('markSynced');
  }
  reportError(): void {
    this.calls.push('reportError');
  }
  reportHealthy(): void {
    this.calls.push('reportHealthy');
  }
}

function vmi(name: string, resourceVersion: string, address = '192.0.2.1'): unknown {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion },
    spec: { networks: [{ name: 'nic1', multus: { networkName: 'br1' } }] },
    status: { interfaces: [{ name: 'nic1', ipAddresses: [address] }] },
  };
}

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${statusCode}`), {
    code: statusCode,
    body: JSON.stringify({ kind: 'Status', code: statusCode, message }),
  });
}

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
}

/** A source on a scripted transport with a manual clock, a delay that only records, and logs kept in memory. */
function setup() {
  const transport = new ScriptedTransport();
  const handle = new CountingHandle();
  const delays: number[] = [];
  const logs: string[] = [];
  const clock = { value: 1_000_000, now: () => clock.value };
  const log =
    (level: string) =>
    (message: string): void => {
      logs.push(`${level} ${message}`);
    };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const source = new KubernetesSource({
    handle,
    kubeConfig: new KubeConfig(),
    transport,
    logger,
    clock,
    random: () => 0.5,
    delay: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    watchTimeoutSeconds: 300,
    // The settle timer is a real timer: far away, so that only events and bookmarks count here.
    watchSettleMs: 600_000,
  });
  return { transport, handle, delays, logs, clock, source };
}

describe('KubernetesSource recovery (scripted API, no network, no waiting)', () => {
  it('resumes a watch that broke from the last event or bookmark it delivered, not from the list', async () => {
    const { transport, handle, delays, source } = setup();
    transport.lists.push({ resourceVersion: '100', items: [vmi('a', '90')] });
    source.start();
    try {
      const first = await transport.watchNumber(0);
      expect(first.query['resourceVersion']).toBe('100');
      first.answer({ ok: true });
      first.handlers.onEvent('ADDED', vmi('b', '101'));
      first.handlers.onEvent('MODIFIED', vmi('a', '102', '192.0.2.2'));
      first.handlers.onEnd(new Error('read ECONNRESET'));
      const second = await transport.watchNumber(1);
      expect(second.query['resourceVersion']).toBe('102');
      second.answer({ ok: true });
      second.handlers.onEvent('BOOKMARK', { metadata: { resourceVersion: '150' } });
      second.handlers.onEnd(new Error('read ECONNRESET'));
      const third = await transport.watchNumber(2);
      expect(third.query['resourceVersion']).toBe('150');
      expect(transport.listCalls).toBe(1);
      // Each break waited one short retry, reset by the progress before it.
      expect(delays).toEqual([188, 188]);
      expect(handle.keys.size).toBe(2);
    } finally {
      await source.stop();
    }
  });

  it('relists at once after a 410, also right after a watch that ended in an error', async () => {
    const { transport, delays, source, logs } = setup();
    transport.lists.push({ resourceVersion: '100', items: [] });
    source.start();
    try {
      const first = await transport.watchNumber(0);
      first.answer({ ok: true });
      first.handlers.onEnd(new Error('read ECONNRESET'));
      const second = await transport.watchNumber(1);
      transport.lists.push({ resourceVersion: '300', items: [vmi('a', '250')] });
      second.answer({ ok: true });
      second.handlers.onEvent('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
      const third = await transport.watchNumber(2);
      expect(third.query['resourceVersion']).toBe('300');
      expect(transport.listCalls).toBe(2);
      // One delay for the reset (the watch had not made progress), none for the 410.
      expect(delays).toEqual([188]);
      // A 410 as the HTTP answer, and a 410 on a list continue token: relisted at once as well.
      transport.lists.push(httpError(410, 'continue parameter too old'), {
        resourceVersion: '400',
        items: [],
      });
      third.answer({ ok: false, statusCode: 410, message: 'Expired' });
      const fourth = await transport.watchNumber(3);
      expect(fourth.query['resourceVersion']).toBe('400');
      expect(transport.listCalls).toBe(4);
      // Three 410s without a watch event in between: only the second and third paused, briefly.
      expect(delays.slice(1)).toEqual([150, 300]);
      expect(logs.filter((line) => line.startsWith('error'))).toEqual([]);
    } finally {
      await source.stop();
    }
  });

  it('keeps retries at most 1 s apart while refused, and starts over once the API answers', async () => {
    const { transport, handle, delays, source, logs } = setup();
    for (let index = 0; index < 6; index++) transport.lists.push(refused());
    transport.lists.push({ resourceVersion: '100', items: [vmi('a', '90')] });
    source.start();
    try {
      const first = await transport.watchNumber(0);
      expect(delays).toEqual([188, 375, 750, 750, 750, 750]);
      expect(Math.max(...delays)).toBeLessThanOrEqual(DEFAULT_RETRY.maxMs ?? Infinity);
      expect(handle.calls.filter((call) => call === 'reportError')).toHaveLength(6);
      expect(handle.calls.slice(-3)).toEqual(['replaceAll 1', 'markSynced', 'reportHealthy']);
      expect(logs).toContainEqual(
        expect.stringMatching(/^info Kubernetes API answers again; VMIs are current \(relisted 1 VMIs\)/),
      );
      // A second outage right after: the backoff starts over, it does not continue from the first.
      first.answer({ ok: true });
      first.handlers.onEvent('ADDED', vmi('b', '101'));
      first.handlers.onEnd(new Error('read ECONNRESET'));
      const second = await transport.watchNumber(1);
      second.refuse(refused());
      const third = await transport.watchNumber(2);
      expect(delays.slice(6)).toEqual([188, 375]);
      expect(third.query['resourceVersion']).toBe('101');
    } finally {
      await source.stop();
    }
  });

  it('reports healthy only when a resumed watch delivered, not on its HTTP 200', async () => {
    const { transport, handle, source, logs } = setup();
    transport.lists.push({ resourceVersion: '100', items: [] });
    source.start();
    try {
      const first = await transport.watchNumber(0);
      first.refuse(refused());
      const second = await transport.watchNumber(1);
      second.answer({ ok: true });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(handle.calls.at(-1)).toBe('reportError');
      expect(logs.some((line) => line.includes('answers again'))).toBe(false);
      second.handlers.onEvent('BOOKMARK', { metadata: { resourceVersion: '120' } });
      expect(handle.calls.at(-1)).toBe('reportHealthy');
      expect(logs).toContainEqual(
        expect.stringMatching(
          /^info Kubernetes API answers again; VMIs are current \(watch resumed from resourceVersion 100\)/,
        ),
      );
    } finally {
      await source.stop();
    }
  });

  it("logs the server's message for a 403 on the watch, the start-up 403s at warn with a count, then error", async () => {
    const { transport, source, logs, delays, clock } = setup();
    transport.lists.push({ resourceVersion: '100', items: [] });
    source.start();
    try {
      const message =
        'virtualmachineinstances.kubevirt.io is forbidden: User "system:serviceaccount:x:y" cannot watch';
      for (let index = 0; index < 3; index++) {
        const watch = await transport.watchNumber(index);
        clock.value += 300;
        watch.answer({ ok: false, statusCode: 403, message });
      }
      const fourth = await transport.watchNumber(3);
      // 6 s later: no longer an API server that is starting.
      clock.value += 6000;
      fourth.answer({ ok: false, statusCode: 403, message });
      await transport.watchNumber(4);
      const forbidden = logs.filter((line) => line.includes('forbidden'));
      expect(forbidden).toHaveLength(4);
      expect(forbidden.slice(0, 3).every((line) => line.startsWith('warn '))).toBe(true);
      expect(forbidden[0]).toContain(
        `watch of /apis/kubevirt.io/v1/virtualmachineinstances failed: ${message}`,
      );
      expect(forbidden[2]).toContain('403 number 3 since the API answers again');
      expect(forbidden[3]).toMatch(/^error .*403 number 4 in a row: check the RBAC/);
      // The error is retried slowly (2 s first), the start-up ones fast.
      expect(delays).toEqual([188, 375, 750, 1500]);
    } finally {
      await source.stop();
    }
  });

  it("shows the server's message for a 403 on the list too", async () => {
    const { transport, source, logs } = setup();
    transport.lists.push(httpError(403, 'User "u" cannot list resource "virtualmachineinstances"'));
    source.start();
    try {
      await transport.until(() => transport.listCalls >= 2, 'the second list');
      expect(logs[0]).toMatch(
        /^warn list of \/apis\/kubevirt\.io\/v1\/virtualmachineinstances failed: User "u" cannot list resource "virtualmachineinstances"; retrying in 188 ms \(403 number 1/,
      );
    } finally {
      await source.stop();
    }
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
