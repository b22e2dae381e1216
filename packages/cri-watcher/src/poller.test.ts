import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '@zonewright/testkit';
import type { ClaimedRecord, Logger, SourceHandle } from '@zonewright/zone';
import type { ContainerEventWatch, SandboxRuntime } from './cri-client.js';
import type { ContainerEvent, PodSandboxDetails, PodSandboxSummary } from './cri-messages.js';
import {
  CriCallError,
  CriNotFoundError,
  CriUnavailableError,
  CriUnimplementedError,
  type CriError,
} from './errors.js';
import { CriWatcher, type CriWatcherOptions, type PollResult } from './poller.js';

/** The runtime side, held in memory: the behaviour under test is the watcher's scheduling and caching. */
class InMemoryRuntime implements SandboxRuntime {
  readonly endpoint = 'unix:///test/cri.sock';
  readonly sandboxes = new Map<string, PodSandboxDetails>();
  listCalls = 0;
  statusCalls: string[] = [];
  reconnects = 0;
  down = false;
  events: 'unimplemented' | 'supported' = 'unimplemented';
  eventWatches = 0;
  private eventListener: ((event: ContainerEvent) => void) | undefined;
  notFoundOnStatus = new Set<string>();

  add(id: string, details: Partial<PodSandboxDetails> = {}): void {
    this.sandboxes.set(id, {
      id,
      metadata: { name: `pod-${id}`, namespace: 'default', uid: `uid-${id}`, attempt: 0 },
      state: 'ready',
      createdAtMs: 0,
      ip: `10.0.0.${this.sandboxes.size + 1}`,
      additionalIps: [],
      networkMode: 'pod',
      hostname: `host-${id}`,
      ...details,
    });
  }

  listPodSandboxes(): Promise<PodSandboxSummary[]> {
    this.listCalls += 1;
    if (this.down) return Promise.reject(new CriUnavailableError('connect ENOENT', 'ListPodSandbox', 14));
    return Promise.resolve(
      [...this.sandboxes.values()].map(({ id, metadata, state, createdAtMs }) => ({
        id,
        metadata,
        state,
        createdAtMs,
      })),
    );
  }

  podSandboxStatus(id: string): Promise<PodSandboxDetails> {
    this.statusCalls.push(id);
    if (this.down) return Promise.reject(new CriUnavailableError('connect ENOENT', 'PodSandboxStatus', 14));
    const details = this.sandboxes.get(id);
    if (details === undefined || this.notFoundOnStatus.has(id)) {
      return Promise.reject(new CriNotFoundError(`sandbox ${id} not found`, 'PodSandboxStatus'));
    }
    return Promise.resolve(details);
  }

  watchContainerEvents(
    onEvent: (event: ContainerEvent) => void,
    onEnd: (error: CriError | undefined) => void,
  ): ContainerEventWatch {
    this.eventWatches += 1;
    if (this.events === 'unimplemented') {
      setImmediate(() => {
        onEnd(new CriUnimplementedError('method GetContainerEvents not implemented', 'GetContainerEvents'));
      });
      return { cancel: () => undefined };
    }
    this.eventListener = onEvent;
    return {
      cancel: () => {
        this.eventListener = undefined;
      },
    };
  }

  emit(containerId: string): void {
    this.eventListener?.({ containerId, type: 'started', createdAtMs: 0, podSandboxId: containerId });
  }

  reconnect(): void {
    this.reconnects += 1;
  }

  close(): void {
    // nothing to release
  }
}

class RecordingSource implements SourceHandle {
  readonly calls: string[] = [];
  lastEntries: ReadonlyMap<string, readonly ClaimedRecord[]> | undefined;
  errors: Error[] = [];
  upsert(key: string): void {
    this.calls.push(`upsert ${key}`);
  }
  remove(key: string): void {
    this.calls.push(`remove ${key}`);
  }
  replaceAll(entries: ReadonlyMap<string, readonly ClaimedRecord[]>): void {
    this.calls.push(`replaceAll ${[...entries.keys()].sort().join(',')}`);
    this.lastEntries = entries;
  }
  markSynced(): void {
    this.calls.push('markSynced');
  }
  reportError(error: Error): void {
    this.errors.push(error);
    this.calls.push('reportError');
  }
  reportHealthy(): void {
    this.calls.push('reportHealthy');
  }
  names(): string[] {
    return [...(this.lastEntries?.values() ?? [])].flat().map((record) => `${record.name} ${record.address}`);
  }
}

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function setup(overrides: Partial<CriWatcherOptions> = {}) {
  const clock = new ManualClock(1_000_000);
  const runtime = new InMemoryRuntime();
  const source = new RecordingSource();
  const polls: PollResult[] = [];
  const reconnects: { downtimeMs: number; trigger: string }[] = [];
  const runtimeErrors: Error[] = [];
  let socketAppeared: (() => void) | undefined;
  const watcher = new CriWatcher({
    runtime,
    source,
    clock,
    logger: silent,
    clusterDomain: 'cluster.local',
    intervalMs: 2000,
    maxBackoffMs: 10_000,
    socketPath: '/test/cri.sock',
    watchSocket: (_path, onAppear) => {
      socketAppeared = onAppear;
      return Promise.resolve({ close: () => Promise.resolve() });
    },
    observer: {
      onPoll: (result) => polls.push(result),
      onReconnect: (info) => reconnects.push(info),
      onRuntimeError: (error) => runtimeErrors.push(error),
    },
    ...overrides,
  });
  return {
    clock,
    runtime,
    source,
    watcher,
    polls,
    reconnects,
    runtimeErrors,
    appear: () => {
      socketAppeared?.();
    },
  };
}

describe('CriWatcher', () => {
  it('asks PodSandboxStatus once per new sandbox; the steady state is one ListPodSandbox per interval', async () => {
    const { clock, runtime, source, watcher, polls } = setup();
    runtime.add('a');
    runtime.add('b', { hostname: 'camera' });
    runtime.add('c', { state: 'notready' });
    await watcher.start();
    await clock.advance(0);
    expect(runtime.listCalls).toBe(1);
    expect(runtime.statusCalls.sort()).toEqual(['a', 'b']);
    expect(source.calls).toEqual(['replaceAll a,b', 'markSynced']);
    expect(source.names()).toContain('camera.default.svc 10.0.0.2');
    expect(watcher.isSynced()).toBe(true);

    await clock.advance(2000 * 5);
    expect(runtime.listCalls).toBe(6);
    expect(runtime.statusCalls).toHaveLength(2);
    expect(source.calls).toEqual(['replaceAll a,b', 'markSynced']); // nothing changed: nothing re-sent
    expect(polls.at(-1)).toMatchObject({
      sandboxes: 3,
      ready: 2,
      records: 6,
      statusCalls: 0,
      changed: false,
    });
    await watcher.stop();
  });

  it('adds a new sandbox on the next interval and drops a removed one', async () => {
    const { clock, runtime, source, watcher } = setup();
    runtime.add('a');
    await watcher.start();
    await clock.advance(0);
    runtime.add('b');
    await clock.advance(1999);
    expect(source.calls.at(-1)).toBe('markSynced');
    await clock.advance(1);
    expect(source.calls.at(-1)).toBe('replaceAll a,b');
    expect(runtime.statusCalls).toEqual(['a', 'b']);

    runtime.sandboxes.delete('a');
    await clock.advance(2000);
    expect(source.calls.at(-1)).toBe('replaceAll b');
    // Evicted from the cache: if the id came back it would be asked about again.
    runtime.add('a');
    await clock.advance(2000);
    expect(runtime.statusCalls).toEqual(['a', 'b', 'a']);
    await watcher.stop();
  });

  it('drops a sandbox that turns not-ready without asking for its status again', async () => {
    const { clock, runtime, source, watcher } = setup();
    runtime.add('a');
    runtime.add('b');
    await watcher.start();
    await clock.advance(0);
    const b = runtime.sandboxes.get('b');
    if (b === undefined) throw new Error('setup');
    runtime.sandboxes.set('b', { ...b, state: 'notready' });
    await clock.advance(2000);
    expect(source.calls.at(-1)).toBe('replaceAll a');
    expect(runtime.statusCalls.sort()).toEqual(['a', 'b']);
    await watcher.stop();
  });

  it('asks again for a sandbox whose network is not set up yet', async () => {
    const { clock, runtime, source, watcher } = setup();
    runtime.add('a', { ip: '' });
    await watcher.start();
    await clock.advance(0);
    expect(source.calls).toEqual(['replaceAll ', 'markSynced']);
    const a = runtime.sandboxes.get('a');
    if (a === undefined) throw new Error('setup');
    runtime.sandboxes.set('a', { ...a, ip: '10.9.9.9' });
    await clock.advance(2000);
    expect(runtime.statusCalls).toEqual(['a', 'a']);
    expect(source.names()).toContain('host-a 10.9.9.9');
    await watcher.stop();
  });

  it('ignores a sandbox removed between list and status', async () => {
    const { clock, runtime, source, watcher, runtimeErrors } = setup();
    runtime.add('a');
    runtime.add('gone');
    runtime.notFoundOnStatus.add('gone');
    await watcher.start();
    await clock.advance(0);
    expect(source.calls).toEqual(['replaceAll a', 'markSynced']);
    expect(runtimeErrors).toHaveLength(0);
    await watcher.stop();
  });

  it('keeps the zone while the runtime is down, backs off (capped), and recovers', async () => {
    const { clock, runtime, source, watcher, reconnects, runtimeErrors } = setup();
    runtime.add('a');
    await watcher.start();
    await clock.advance(0);
    runtime.down = true;
    const listTimes: number[] = [];
    const started = clock.now();
    for (let step = 0; step < 60; step += 1) {
      const before = runtime.listCalls;
      await clock.advance(1000);
      if (runtime.listCalls > before) listTimes.push(clock.now() - started);
    }
    // interval, then 2x, 4x, then capped at 10 s
    const gaps = listTimes.map((time, index) => time - (listTimes[index - 1] ?? 0));
    expect(gaps.slice(0, 6)).toEqual([2000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(source.calls.filter((call) => call.startsWith('replaceAll'))).toHaveLength(1); // zone kept
    expect(source.errors.length).toBe(listTimes.length);
    expect(source.errors[0]).toBeInstanceOf(CriUnavailableError);
    expect(runtimeErrors.length).toBe(listTimes.length);
    expect(runtime.reconnects).toBe(listTimes.length); // a fresh channel before each retry

    runtime.down = false;
    await clock.advance(10_000);
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]?.trigger).toBe('retry');
    expect(source.calls.slice(-1)).toEqual(['reportHealthy']);
    expect(watcher.consecutiveFailures()).toBe(0);
    // back to the normal interval
    const before = runtime.listCalls;
    await clock.advance(4000);
    expect(runtime.listCalls).toBe(before + 2);
    await watcher.stop();
  });

  it('reconnects and polls at once when the socket reappears', async () => {
    const { clock, runtime, watcher, reconnects, appear } = setup();
    runtime.add('a');
    await watcher.start();
    await clock.advance(0);
    runtime.down = true;
    await clock.advance(2000 + 2000 + 4000);
    expect(watcher.consecutiveFailures()).toBe(3);
    const listsBefore = runtime.listCalls;
    const reconnectsBefore = runtime.reconnects;
    runtime.down = false;
    appear();
    await clock.advance(0);
    expect(runtime.listCalls).toBe(listsBefore + 1);
    expect(runtime.reconnects).toBe(reconnectsBefore + 1);
    // failed polls at +2 s, +4 s and +8 s; the runtime answers again at +8 s
    expect(reconnects).toEqual([{ downtimeMs: 6000, trigger: 'socket' }]);
    await watcher.stop();
  });

  it('retries quickly while a runtime whose socket just reappeared is still initializing', async () => {
    const { clock, runtime, watcher, reconnects, appear } = setup({
      socketRetryMs: 200,
      socketRetryWindowMs: 5000,
    });
    runtime.add('a');
    await watcher.start();
    await clock.advance(0);
    runtime.down = true;
    await clock.advance(2000 + 2000 + 4000 + 8000);
    expect(watcher.consecutiveFailures()).toBe(4);
    const listsBefore = runtime.listCalls;
    appear(); // the socket is back, but the runtime still fails for a moment
    await clock.advance(0);
    expect(runtime.listCalls).toBe(listsBefore + 1);
    await clock.advance(200);
    expect(runtime.listCalls).toBe(listsBefore + 2);
    runtime.down = false;
    await clock.advance(200);
    expect(runtime.listCalls).toBe(listsBefore + 3);
    expect(reconnects.map((reconnect) => reconnect.trigger)).toEqual(['retry']);
    expect(watcher.consecutiveFailures()).toBe(0);
    await watcher.stop();
  });

  it('polls soon after a runtime event when the runtime has GetContainerEvents', async () => {
    const { clock, runtime, source, watcher } = setup({ eventPollDelayMs: 50 });
    runtime.events = 'supported';
    await watcher.start();
    await clock.advance(0);
    expect(runtime.eventWatches).toBe(1);
    runtime.add('a');
    runtime.emit('a');
    runtime.emit('a'); // a burst is one poll
    await clock.advance(50);
    expect(runtime.listCalls).toBe(2);
    expect(source.calls.at(-1)).toBe('replaceAll a');
    await clock.advance(2000);
    expect(runtime.listCalls).toBe(3);
    expect(runtime.eventWatches).toBe(1);
    await watcher.stop();
  });

  it('does not ask for events again once the runtime says unimplemented', async () => {
    const { clock, runtime, watcher } = setup();
    await watcher.start();
    await clock.advance(0);
    await clock.advance(2000 * 3);
    expect(runtime.eventWatches).toBe(1);
    expect(runtime.listCalls).toBe(4);
    await watcher.stop();
  });

  it('pollOnce feeds the source and throws the runtime error', async () => {
    const { runtime, source, watcher } = setup();
    runtime.add('a');
    const result = await watcher.pollOnce();
    expect(result).toMatchObject({
      trigger: 'once',
      sandboxes: 1,
      records: 3,
      statusCalls: 1,
      changed: true,
    });
    expect(source.calls).toEqual(['replaceAll a', 'markSynced']);
    runtime.down = true;
    await expect(watcher.pollOnce()).rejects.toBeInstanceOf(CriUnavailableError);
  });

  it('a non-transient status error skips that sandbox this time and asks again next time', async () => {
    const { clock, runtime, source, watcher } = setup();
    runtime.add('a');
    runtime.add('b');
    const original = runtime.podSandboxStatus.bind(runtime);
    let failB = true;
    runtime.podSandboxStatus = (id: string) => {
      if (id === 'b' && failB) {
        runtime.statusCalls.push(id);
        return Promise.reject(new CriCallError('bad', 'PodSandboxStatus', 3));
      }
      return original(id);
    };
    await watcher.start();
    await clock.advance(0);
    expect(source.calls).toEqual(['replaceAll a', 'markSynced']);
    failB = false;
    await clock.advance(2000);
    expect(source.calls.at(-1)).toBe('replaceAll a,b');
    await watcher.stop();
  });

  it('stops polling after stop()', async () => {
    const { clock, runtime, watcher } = setup();
    await watcher.start();
    await clock.advance(0);
    await watcher.stop();
    await clock.advance(10_000);
    expect(runtime.listCalls).toBe(1);
    expect(clock.pendingDelays()).toEqual([]);
  });

  it('rejects a non-positive interval', () => {
    expect(() => setup({ intervalMs: 0 })).toThrow(/intervalMs must be a positive number/);
  });
});
