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
  readonly signal: AbortSignal;
  answer(answer: WatchAnswer): void;
  refuse(error: Error): void;
}

/** A list page answer, or an error to reject with. */
type ListScript =
  { readonly resourceVersion: string; readonly items: unknown[]; readonly continue?: string } | Error;

/** A transport that answers lists from a queue (pending while empty) and hands every watch to the test. */
class ScriptedTransport implements KubernetesTransport {
  readonly lists: ListScript[] = [];
  listCalls = 0;
  readonly watches: ScriptedWatch[] = [];
  private waiters: (() => void)[] = [];

  async listPage(
    _scope: string | undefined,
    _token: string | undefined,
    _limit: number,
    signal: AbortSignal,
  ) {
    this.listCalls++;
    this.wake();
    // An empty queue: the request is pending until the test pushes its answer (or it is aborted).
    while (this.lists.length === 0) {
      if (signal.aborted) throw new Error('list request aborted');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const next = this.lists.shift() as ListScript;
    if (next instanceof Error) throw next;
    return Promise.resolve({
      metadata: { resourceVersion: next.resourceVersion, continue: next.continue },
      items: next.items,
    });
  }

  watch(
    _scope: string | undefined,
    query: Readonly<Record<string, string | number | boolean>>,
    handlers: WatchHandlers,
    signal: AbortSignal,
  ): Promise<WatchAnswer> {
    return new Promise((resolve, reject) => {
      this.watches.push({ query, handlers, signal, answer: resolve, refuse: reject });
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
  readonly versions: string[] = [];
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
  reportVersion(version: string): void {
    this.versions.push(version);
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

/** The addresses the handle holds per VMI key (uid-<name>), for short assertions. */
function addresses(handle: CountingHandle): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [key, records] of [...handle.keys].sort(([a], [b]) => a.localeCompare(b))) {
    result[key] = [...new Set(records.map((record) => record.address))];
  }
  return result;
}

describe('KubernetesSource relist with the watch open (a change during a long list is not held back)', () => {
  /** Lists page 1 of a relist after a 410, and returns the watch opened from page 1's resourceVersion. */
  async function relistUpToSecondPage(setupResult: ReturnType<typeof setup>) {
    const { transport, source } = setupResult;
    transport.lists.push({ resourceVersion: '100', items: [vmi('a', '90'), vmi('b', '91')] });
    source.start();
    const first = await transport.watchNumber(0);
    first.answer({ ok: true });
    // Only page 1 of the relist is answered: page 2 stays pending until the test pushes it.
    transport.lists.push({
      resourceVersion: '300',
      items: [vmi('a', '250'), vmi('x', '251')],
      continue: 'page-2',
    });
    first.handlers.onEvent('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
    const during = await transport.watchNumber(1);
    return { first, during };
  }

  it('applies watch events at once while the pages come in, and the snapshot does not undo them', async () => {
    const context = setup();
    const { transport, handle, source, logs } = context;
    try {
      const { during } = await relistUpToSecondPage(context);
      // The watch starts from page 1's resourceVersion while page 2 is still outstanding.
      expect(during.query['resourceVersion']).toBe('300');
      expect(transport.listCalls).toBe(3);
      during.answer({ ok: true });
      const callsBefore = handle.calls.length;
      // a was on page 1 (older), b and y come on page 2 (older than these events), c only exists in the watch.
      during.handlers.onEvent('MODIFIED', vmi('a', '301', '192.0.2.11'));
      during.handlers.onEvent('DELETED', vmi('b', '302'));
      during.handlers.onEvent('ADDED', vmi('c', '303', '192.0.2.13'));
      during.handlers.onEvent('MODIFIED', vmi('y', '304', '192.0.2.14'));
      // In the handle at once, before the list is complete.
      expect(handle.calls.slice(callsBefore)).toEqual([
        'upsert uid-a',
        'remove uid-b',
        'upsert uid-c',
        'upsert uid-y',
      ]);
      expect(addresses(handle)['uid-a']).toEqual(['192.0.2.11']);
      // Not current yet, and no source version for content that still holds the pre-410 state.
      expect(handle.versions).toEqual(['100']);
      expect(logs.some((line) => line.includes('answers again'))).toBe(false);
      transport.lists.push({
        resourceVersion: '300',
        items: [vmi('b', '252'), vmi('y', '253', '192.0.2.4'), vmi('z', '254')],
      });
      await transport.until(() => handle.versions.length === 2, 'the snapshot');
      // The snapshot (at 300) kept every newer change: a's new address, b deleted, c and y from the watch.
      expect(addresses(handle)).toEqual({
        'uid-a': ['192.0.2.11'],
        'uid-c': ['192.0.2.13'],
        'uid-x': ['192.0.2.1'],
        'uid-y': ['192.0.2.14'],
        'uid-z': ['192.0.2.1'],
      });
      // The zone reflects the newest event, not the list's older version.
      expect(handle.versions).toEqual(['100', '304']);
      expect(logs).toContainEqual(
        expect.stringMatching(/listed 5 VMIs in 2 pages .*4 VMIs changed by the watch/),
      );
      // The same watch goes on: an event after the snapshot goes straight to the handle and moves the version.
      during.handlers.onEvent('DELETED', vmi('z', '305'));
      expect(handle.keys.has('uid-z')).toBe(false);
      expect(handle.versions.at(-1)).toBe('305');
      // When it breaks, the next watch resumes from its last event, and nothing is listed again.
      during.handlers.onEnd(new Error('read ECONNRESET'));
      const next = await transport.watchNumber(2);
      expect(next.query['resourceVersion']).toBe('305');
      expect(transport.listCalls).toBe(3);
    } finally {
      await source.stop();
    }
  });

  it("asks for the next page before it processes a page's items, so the API server prepares it meanwhile", async () => {
    const { transport, source, logs, handle } = setup();
    const listPage = transport.listPage.bind(transport);
    transport.listPage = (...args: Parameters<ScriptedTransport['listPage']>) => {
      logs.push(`request page ${args[1] ?? 'first'}`);
      return listPage(...args);
    };
    transport.lists.push(
      { resourceVersion: '100', items: [{ kind: 'not a VMI' }, vmi('a', '90')], continue: 'p2' },
      { resourceVersion: '100', items: [{ kind: 'not a VMI either' }] },
    );
    source.start();
    try {
      await transport.until(() => handle.calls.includes('markSynced'), 'the list');
      const order = logs.filter((line) => line.startsWith('request') || line.includes('ignoring'));
      expect(order).toEqual([
        'request page first',
        'request page p2',
        expect.stringMatching(/^warn ignoring an object from the API/),
        expect.stringMatching(/^warn ignoring an object from the API/),
      ]);
    } finally {
      await source.stop();
    }
  });

  it('reports the source current only once the snapshot is delivered', async () => {
    const context = setup();
    const { transport, handle, source, logs } = context;
    transport.lists.push(refused());
    try {
      // The first list fails once, so the scope is failing until a list or watch makes it current.
      transport.lists.push({ resourceVersion: '100', items: [vmi('a', '90')], continue: 'p2' });
      source.start();
      const during = await transport.watchNumber(0);
      during.answer({ ok: true });
      during.handlers.onEvent('BOOKMARK', { metadata: { resourceVersion: '120' } });
      during.handlers.onEvent('ADDED', vmi('b', '121'));
      expect(handle.calls).not.toContain('reportHealthy');
      expect(handle.calls).not.toContain('markSynced');
      transport.lists.push({ resourceVersion: '100', items: [vmi('c', '95')] });
      await transport.until(() => handle.calls.includes('reportHealthy'), 'reportHealthy');
      expect(handle.calls.slice(-3)).toEqual(['replaceAll 3', 'markSynced', 'reportHealthy']);
      expect(logs).toContainEqual(
        expect.stringMatching(/answers again; VMIs are current \(relisted 2 VMIs\)/),
      );
      expect(handle.versions).toEqual(['121']);
    } finally {
      await source.stop();
    }
  });

  it('stops the watch when a later page fails, and lists again from the start', async () => {
    const context = setup();
    const { transport, handle, source, delays } = context;
    try {
      const { during } = await relistUpToSecondPage(context);
      during.answer({ ok: true });
      during.handlers.onEvent('ADDED', vmi('c', '301'));
      transport.lists.push(httpError(500, 'etcdserver: request timed out'));
      await transport.until(() => during.signal.aborted, 'the watch to be stopped');
      // The change the watch delivered stays in the handle (nothing is removed while the API fails).
      expect(handle.keys.has('uid-c')).toBe(true);
      // The retry lists from the first page again (not a watch from the dead watch's position).
      transport.lists.push({ resourceVersion: '400', items: [vmi('a', '399')] });
      const again = await transport.watchNumber(2);
      expect(again.query['resourceVersion']).toBe('400');
      // The first list, the relist's two pages, the retry's one page.
      expect(transport.listCalls).toBe(4);
      expect(delays).toEqual([188]);
      expect(addresses(handle)).toEqual({ 'uid-a': ['192.0.2.1'] });
    } finally {
      await source.stop();
    }
  });

  it('relists after the list when the watch expired while the pages came in', async () => {
    const context = setup();
    const { transport, handle, source } = context;
    try {
      const { during } = await relistUpToSecondPage(context);
      during.answer({ ok: true });
      during.handlers.onEvent('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
      expect(transport.watches).toHaveLength(2);
      transport.lists.push(
        { resourceVersion: '300', items: [vmi('b', '252')] },
        { resourceVersion: '500', items: [vmi('d', '499')] },
      );
      const after = await transport.watchNumber(2);
      expect(after.query['resourceVersion']).toBe('500');
      // The first list, the relist's two pages, then one more list for the watch that expired.
      expect(transport.listCalls).toBe(4);
      expect(addresses(handle)).toEqual({ 'uid-d': ['192.0.2.1'] });
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
