/**
 * A loopback Kubernetes API server for KubeVirt VirtualMachineInstances that speaks the real list/watch protocol:
 * lists with `resourceVersion`, `limit`/`continue` (consistent snapshots, 410 when a token expires), chunked
 * newline-delimited watch streams (ADDED/MODIFIED/DELETED/BOOKMARK, an ERROR event with a 410 Status when the
 * requested resourceVersion was compacted away), `timeoutSeconds`, plus controls to inject trouble: dropped
 * streams, 5xx, refused or reset connections, slow responses.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';

const GROUP_VERSION = 'kubevirt.io/v1';
const KIND = 'VirtualMachineInstance';
const PLURAL = 'virtualmachineinstances';

export interface FakeApiServerOptions {
  /** Delay before every response starts (ms, default 0). */
  readonly latencyMs?: number;
  /** Send a BOOKMARK to watches that asked for them every this many ms (default: only on `bookmark()`). */
  readonly bookmarkIntervalMs?: number;
}

/** A VMI as the tests hand it in: at least metadata.name; namespace defaults to `default`. */
export interface FakeObject {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

export type StoredObject = Record<string, unknown> & {
  metadata: Record<string, unknown> & {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
  };
};

export interface FakeApiServerCounters {
  /** List requests (each page counts). */
  lists: number;
  /** Watch requests. */
  watches: number;
  /** Watch streams open now. */
  activeWatches: number;
  /** Requests answered with an injected failure (`failNext`). */
  injectedFailures: number;
  /** Connections refused or reset while down. */
  rejectedConnections: number;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: StoredObject;
}

interface Watcher {
  readonly namespace: string | undefined;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
  readonly timer: NodeJS.Timeout | undefined;
  /** Reset the connection once this many more events were written (see `breakWatches`). */
  breakAfter?: number;
}

interface Snapshot {
  readonly rv: number;
  readonly items: readonly StoredObject[];
}

export interface FakeApiServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Set by {@link FakeApiServer.writeKubeconfig}. */
  readonly kubeconfigPath: string | undefined;
  readonly counters: Readonly<FakeApiServerCounters>;
  /** Path and query of every request, oldest first (bounded to the last 1000). */
  readonly requests: readonly string[];
  /** Write a kubeconfig for this server into `dir` and return its path. */
  writeKubeconfig(dir: string): Promise<string>;
  /** The current resourceVersion. */
  resourceVersion(): string;
  /** Create a VMI (uid and resourceVersion assigned) and return the stored object. Throws if it exists. */
  add(object: FakeObject): StoredObject;
  /** Replace an existing VMI (matched by namespace/name); returns the stored object. */
  modify(object: FakeObject): StoredObject;
  /** Create or replace. */
  apply(object: FakeObject): StoredObject;
  /** Delete a VMI by namespace/name; returns false when it did not exist. */
  remove(object: FakeObject | { namespace?: string; name: string }): boolean;
  /** Every stored VMI. */
  objects(): StoredObject[];
  /** Expire every resourceVersion and continue token older than now (as etcd compaction does). */
  compact(): void;
  /** Close every open watch stream (the client sees the stream end). */
  dropWatches(): void;
  /**
   * Reset the connection of every open watch stream (TCP RST, the client sees an error, not an end) once it has
   * written `afterEvents` more events (0: now). The events before the reset reach the client complete.
   */
  breakWatches(afterEvents?: number): void;
  /** Send a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): void;
  /** Answer the next `count` list/watch requests with `status` (default 500) and a Status body with `message`. */
  failNext(count: number, status?: number, message?: string): void;
  /** Take the server down (`refuse`: nothing listens; `reset`: connections are accepted and reset) or up. */
  setDown(down: boolean, mode?: 'refuse' | 'reset'): Promise<void>;
  /** Add `ms` of delay before every response starts (0 to stop). */
  slow(ms: number): void;
  /**
   * Add `ms` of delay before every list page after the first (requests with a continue token; 0 to stop): a
   * long paged list, like 10k VMIs from an API server without watch cache, while watches answer at once.
   */
  slowPages(ms: number): void;
  stop(): Promise<void>;
}

function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'AlreadyExists',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function parsePath(pathname: string): { namespace: string | undefined } | undefined {
  const all = `/apis/${GROUP_VERSION}/${PLURAL}`;
  if (pathname === all) return { namespace: undefined };
  const match =
    /^\/apis\/kubevirt\.io\/v1\/namespaces\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/virtualmachineinstances$/.exec(
      pathname,
    );
  if (match?.[1] !== undefined) return { namespace: match[1] };
  return undefined;
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Start the server on 127.0.0.1 with an ephemeral port. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new Map<string, StoredObject>();
  const history: WatchEvent[] = [];
  const snapshots = new Map<string, Snapshot>();
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const counters: FakeApiServerCounters = {
    lists: 0,
    watches: 0,
    activeWatches: 0,
    injectedFailures: 0,
    rejectedConnections: 0,
  };
  let rv = 1000;
  let compactedRv = 0;
  let failures: { count: number; status: number; message: string } = {
    count: 0,
    status: 500,
    message: 'injected failure',
  };
  let extraDelayMs = 0;
  let pageDelayMs = 0;
  let down: false | 'refuse' | 'reset' = false;
  let kubeconfigPath: string | undefined;
  let nextSnapshot = 0;
  const latencyMs = options.latencyMs ?? 0;
  const pendingDelays = new Map<NodeJS.Timeout, () => void>();
  // Stored objects are never mutated, so their JSON is computed once (as the real API server's watch cache does).
  const jsonCache = new WeakMap<object, string>();
  function toJson(object: object): string {
    let json = jsonCache.get(object);
    if (json === undefined) {
      json = JSON.stringify(object);
      jsonCache.set(object, json);
    }
    return json;
  }

  /** A response delay that `stop()` can cut short. */
  function delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pendingDelays.delete(timer);
        resolve();
      }, ms);
      pendingDelays.set(timer, resolve);
    });
  }

  function sendError(response: ServerResponse, code: number, message: string): void {
    const body = statusBody(code, REASONS[code] ?? 'InternalError', message);
    response.writeHead(code, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  }

  function handleList(response: ServerResponse, namespace: string | undefined, query: URLSearchParams): void {
    counters.lists++;
    const limitText = query.get('limit');
    const limit = limitText === null || limitText === '' ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) {
      sendError(response, 400, `invalid limit: ${JSON.stringify(limitText)}`);
      return;
    }
    const token = query.get('continue');
    let snapshot: Snapshot;
    let start = 0;
    let snapshotId: string;
    if (token !== null && token !== '') {
      let decoded: { id?: unknown; start?: unknown };
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
          id?: unknown;
          start?: unknown;
        };
      } catch {
        sendError(response, 400, 'continue key is not valid');
        return;
      }
      const found = typeof decoded.id === 'string' ? snapshots.get(decoded.id) : undefined;
      if (found === undefined || found.rv < compactedRv || typeof decoded.start !== 'number') {
        sendError(
          response,
          410,
          'The provided continue parameter is too old to display a consistent list result. ' +
            'You can start a new list without the continue parameter.',
        );
        return;
      }
      snapshot = found;
      start = decoded.start;
      snapshotId = decoded.id as string;
    } else {
      const items = [...store.values()]
        .filter((object) => namespace === undefined || object.metadata.namespace === namespace)
        .sort((a, b) => {
          const left = objectKey(a.metadata.namespace, a.metadata.name);
          const right = objectKey(b.metadata.namespace, b.metadata.name);
          return left < right ? -1 : left > right ? 1 : 0;
        });
      snapshot = { rv, items };
      snapshotId = String(nextSnapshot++);
    }
    const end = limit > 0 ? Math.min(snapshot.items.length, start + limit) : snapshot.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      snapshots.set(snapshotId, snapshot);
      metadata['continue'] = Buffer.from(JSON.stringify({ id: snapshotId, start: end })).toString(
        'base64url',
      );
      metadata['remainingItemCount'] = snapshot.items.length - end;
    } else {
      snapshots.delete(snapshotId);
    }
    // Stream the items so a 100k list does not need one giant string.
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write(
      `{"apiVersion":"${GROUP_VERSION}","kind":"${KIND}List","metadata":${JSON.stringify(metadata)},"items":[`,
    );
    let chunk = '';
    for (let index = start; index < end; index++) {
      const item = snapshot.items[index];
      if (item !== undefined) chunk += (index > start ? ',' : '') + toJson(item);
      if (chunk.length > 65536) {
        response.write(chunk);
        chunk = '';
      }
    }
    response.end(`${chunk}]}`);
  }

  function writeEvent(watcher: Watcher, type: string, object: unknown): void {
    if (watcher.breakAfter === 0) return; // reset pending: nothing more reaches this client
    watcher.response.write(`{"type":${JSON.stringify(type)},"object":${toJson(object as object)}}\n`);
    if (watcher.breakAfter !== undefined && --watcher.breakAfter === 0) breakWatcher(watcher);
  }

  /** Resets the watcher's connection once what was written has had time to reach the client. */
  function breakWatcher(watcher: Watcher): void {
    watcher.breakAfter = 0;
    const socket = watcher.response.socket;
    watcher.response.write('', () => {
      setTimeout(() => {
        closeWatcherQuietly(watcher);
        socket?.resetAndDestroy();
      }, 50);
    });
  }

  function closeWatcherQuietly(watcher: Watcher): void {
    if (!watchers.delete(watcher)) return;
    counters.activeWatches--;
    if (watcher.timer !== undefined) clearTimeout(watcher.timer);
  }

  function closeWatcher(watcher: Watcher): void {
    if (!watchers.delete(watcher)) return;
    counters.activeWatches--;
    if (watcher.timer !== undefined) clearTimeout(watcher.timer);
    watcher.response.end();
  }

  function handleWatch(
    request: IncomingMessage,
    response: ServerResponse,
    namespace: string | undefined,
    query: URLSearchParams,
  ): void {
    counters.watches++;
    const rvText = query.get('resourceVersion') ?? '';
    const fromRv = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (fromRv !== undefined && !Number.isInteger(fromRv)) {
      sendError(response, 400, `invalid resourceVersion: ${JSON.stringify(rvText)}`);
      return;
    }
    const timeoutText = query.get('timeoutSeconds');
    const timeoutSeconds = timeoutText === null ? 0 : Number(timeoutText);
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    response.flushHeaders();
    const timer =
      timeoutSeconds > 0
        ? setTimeout(() => {
            closeWatcher(watcher);
          }, timeoutSeconds * 1000)
        : undefined;
    const watcher: Watcher = {
      namespace,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      response,
      timer,
    };
    watchers.add(watcher);
    counters.activeWatches++;
    request.on('close', () => {
      closeWatcher(watcher);
    });
    if (fromRv !== undefined && fromRv < compactedRv) {
      writeEvent(watcher, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${fromRv} (${compactedRv})`,
        reason: 'Expired',
        code: 410,
      });
      closeWatcher(watcher);
      return;
    }
    if (fromRv === undefined) {
      for (const object of store.values()) {
        if (namespace === undefined || object.metadata.namespace === namespace)
          writeEvent(watcher, 'ADDED', object);
      }
    } else {
      for (const event of history) {
        if (event.rv <= fromRv) continue;
        if (namespace === undefined || event.object.metadata.namespace === namespace) {
          writeEvent(watcher, event.type, event.object);
        }
      }
    }
  }

  function emit(type: WatchEvent['type'], object: StoredObject): void {
    history.push({ rv, type, object });
    for (const watcher of watchers) {
      if (watcher.namespace === undefined || watcher.namespace === object.metadata.namespace) {
        writeEvent(watcher, type, object);
      }
    }
  }

  function store_(object: FakeObject, mustExist: boolean | undefined): StoredObject {
    const name = object.metadata?.name;
    if (typeof name !== 'string' || name === '')
      throw new Error('fake API server: metadata.name is required');
    const namespace = object.metadata?.namespace ?? 'default';
    const key = objectKey(namespace, name);
    const previous = store.get(key);
    if (mustExist === true && previous === undefined)
      throw new Error(`fake API server: ${key} does not exist`);
    if (mustExist === false && previous !== undefined)
      throw new Error(`fake API server: ${key} already exists`);
    rv++;
    const copy = structuredClone(object) as Record<string, unknown>;
    const stored = {
      apiVersion: GROUP_VERSION,
      kind: KIND,
      ...copy,
      metadata: {
        ...(copy['metadata'] as Record<string, unknown>),
        name,
        namespace,
        uid:
          previous?.metadata.uid ??
          (typeof object.metadata?.['uid'] === 'string' ? object.metadata['uid'] : randomUUID()),
        resourceVersion: String(rv),
        creationTimestamp: previous?.metadata['creationTimestamp'] ?? new Date().toISOString(),
      },
    } as StoredObject;
    store.set(key, stored);
    emit(previous === undefined ? 'ADDED' : 'MODIFIED', stored);
    return stored;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push(`${url.pathname}${url.search}`);
    if (requests.length > 1000) requests.splice(0, requests.length - 1000);
    await delay(latencyMs + extraDelayMs);
    if (pageDelayMs > 0 && (url.searchParams.get('continue') ?? '') !== '') await delay(pageDelayMs);
    if (response.destroyed) return;
    const route = parsePath(url.pathname);
    if (request.method !== 'GET') {
      sendError(response, 405, `method ${request.method ?? ''} is not supported`);
      return;
    }
    if (route === undefined) {
      sendError(response, 404, `the server could not find the requested resource (${url.pathname})`);
      return;
    }
    if (failures.count > 0) {
      failures.count--;
      counters.injectedFailures++;
      if (url.searchParams.get('watch') === 'true') counters.watches++;
      else counters.lists++;
      sendError(response, failures.status, failures.message);
      return;
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      handleWatch(request, response, route.namespace, url.searchParams);
    } else {
      handleList(response, route.namespace, url.searchParams);
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, String(error));
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    if (down === 'reset') {
      counters.rejectedConnections++;
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake API server: no TCP address');
  const port = address.port;
  const url = `http://127.0.0.1:${port}`;

  let bookmarkTimer: NodeJS.Timeout | undefined;
  function bookmark(): void {
    for (const watcher of watchers) {
      if (watcher.bookmarks) {
        writeEvent(watcher, 'BOOKMARK', {
          kind: KIND,
          apiVersion: GROUP_VERSION,
          metadata: { resourceVersion: String(rv), annotations: { 'k8s.io/initial-events-end': 'true' } },
        });
      }
    }
  }
  if (options.bookmarkIntervalMs !== undefined && options.bookmarkIntervalMs > 0) {
    bookmarkTimer = setInterval(bookmark, options.bookmarkIntervalMs);
    bookmarkTimer.unref();
  }

  function destroyAll(): void {
    for (const watcher of [...watchers]) closeWatcher(watcher);
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  }

  return {
    url,
    port,
    get kubeconfigPath() {
      return kubeconfigPath;
    },
    counters,
    requests,
    async writeKubeconfig(dir: string): Promise<string> {
      await mkdir(dir, { recursive: true });
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
        'current-context': 'fake',
      };
      const path = join(dir, 'kubeconfig');
      await writeFile(path, JSON.stringify(config, null, 2));
      kubeconfigPath = path;
      return path;
    },
    resourceVersion: () => String(rv),
    add: (object) => store_(object, false),
    modify: (object) => store_(object, true),
    apply: (object) => store_(object, undefined),
    remove(object): boolean {
      const metadata =
        'metadata' in object ? object.metadata : (object as { namespace?: string; name: string });
      const name = metadata?.name;
      const namespace = metadata?.namespace ?? 'default';
      if (typeof name !== 'string') throw new Error('fake API server: name is required');
      const key = objectKey(namespace, name);
      const previous = store.get(key);
      if (previous === undefined) return false;
      store.delete(key);
      rv++;
      emit('DELETED', { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } });
      return true;
    },
    objects: () => [...store.values()],
    compact(): void {
      compactedRv = rv;
      history.length = 0;
      for (const [id, snapshot] of snapshots) if (snapshot.rv < compactedRv) snapshots.delete(id);
    },
    dropWatches(): void {
      for (const watcher of [...watchers]) closeWatcher(watcher);
    },
    breakWatches(afterEvents = 0): void {
      for (const watcher of watchers) {
        if (afterEvents <= 0) breakWatcher(watcher);
        else watcher.breakAfter = afterEvents;
      }
    },
    bookmark,
    failNext(count: number, status = 500, message = 'injected failure'): void {
      failures = { count, status, message };
    },
    async setDown(value: boolean, mode: 'refuse' | 'reset' = 'refuse'): Promise<void> {
      if (value) {
        if (down !== false) return;
        down = mode;
        if (mode === 'refuse') {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          destroyAll();
          await closed;
        } else {
          destroyAll();
        }
      } else {
        if (down === false) return;
        const was = down;
        down = false;
        if (was === 'refuse') await listen(port);
      }
    },
    slow(ms: number): void {
      extraDelayMs = ms;
    },
    slowPages(ms: number): void {
      pageDelayMs = ms;
    },
    async stop(): Promise<void> {
      if (bookmarkTimer !== undefined) clearInterval(bookmarkTimer);
      for (const [timer, resolve] of pendingDelays) {
        clearTimeout(timer);
        resolve();
      }
      pendingDelays.clear();
      destroyAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A VMI as KubeVirt reports a running VM with two NICs: `default` on the pod network and `nic1` on a Multus
 * network (`br1`) with the given addresses. `metadata` is merged into the object's metadata (annotations, uid).
 */
export function secondaryNicVmi(
  name: string,
  namespace = 'default',
  addresses: readonly string[] = ['10.0.0.1'],
  metadata: Record<string, unknown> = {},
): FakeObject {
  return {
    metadata: { name, namespace, ...metadata },
    spec: {
      networks: [
        { name: 'default', pod: {} },
        { name: 'nic1', multus: { networkName: 'br1' } },
      ],
    },
    status: {
      interfaces: [
        {
          name: 'default',
          ipAddresses: ['10.244.0.9'],
          interfaceName: 'eth0',
          infoSource: 'domain, guest-agent',
        },
        {
          name: 'nic1',
          ipAddresses: [...addresses],
          interfaceName: 'eth1',
          infoSource: 'domain, guest-agent, multus-status',
        },
      ],
    },
  };
}
