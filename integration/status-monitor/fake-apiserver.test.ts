/**
 * The fake Kubernetes API server, checked against the protocol with plain HTTP and with client-node itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { startFakeApiServer } from '@zonewright/testkit';
import type { FakeApiServer } from '@zonewright/testkit';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(20_000);

const ALL = '/apis/kubevirt.io/v1/virtualmachineinstances';

function vmi(name: string, namespace = 'default', address = '10.0.0.1'): Record<string, unknown> {
  return {
    metadata: { name, namespace },
    spec: { networks: [{ name: 'nic1', multus: { networkName: 'br1' } }] },
    status: {
      interfaces: [{ name: 'nic1', ipAddresses: [address], interfaceName: 'eth1', infoSource: 'domain' }],
    },
  };
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(server: FakeApiServer, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: a pooled keep-alive socket would hide a refused connection.
    const req = request(`${server.url}${path}`, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a watch and collects its newline-delimited events until `count` arrived or the stream ends. */
function watchLines(
  server: FakeApiServer,
  path: string,
  count: number,
): {
  events: Promise<{ type: string; object: Record<string, unknown> }[]>;
  close: () => void;
  ended: Promise<void>;
} {
  const events: { type: string; object: Record<string, unknown> }[] = [];
  let close = (): void => undefined;
  let endedResolve = (): void => undefined;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  const result = new Promise<typeof events>((resolve, reject) => {
    const req = request(`${server.url}${path}`, (response) => {
      expect(response.headers['transfer-encoding']).toBe('chunked');
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, newline)) as (typeof events)[number]);
          buffer = buffer.slice(newline + 1);
          if (events.length === count) resolve(events);
        }
      });
      response.on('end', () => {
        endedResolve();
        resolve(events);
      });
      response.on('close', () => {
        endedResolve();
        resolve(events);
      });
    });
    req.on('error', reject);
    req.end();
    close = () => req.destroy();
  });
  return { events: result, close: () => close(), ended };
}

describe('fake API server over plain HTTP', () => {
  let server: FakeApiServer;
  beforeAll(async () => {
    server = await startFakeApiServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('lists with a resourceVersion and pages with limit/continue as one consistent snapshot', async () => {
    for (let index = 0; index < 5; index++) server.add(vmi(`vm-${index}`, index < 3 ? 'a' : 'b'));
    const first = await get(server, `${ALL}?limit=2`);
    expect(first.status).toBe(200);
    const page1 = JSON.parse(first.body) as {
      kind: string;
      metadata: { resourceVersion: string; continue: string };
      items: { metadata: { name: string; uid: string; resourceVersion: string } }[];
    };
    expect(page1.kind).toBe('VirtualMachineInstanceList');
    expect(page1.items.map((item) => item.metadata.name)).toEqual(['vm-0', 'vm-1']);
    expect(page1.items[0]?.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(page1.metadata.resourceVersion).toBe(server.resourceVersion());
    // A change after the first page must not show up in the continued pages.
    server.add(vmi('vm-9', 'a'));
    const second = JSON.parse(
      (await get(server, `${ALL}?limit=2&continue=${page1.metadata.continue}`)).body,
    ) as typeof page1;
    expect(second.items.map((item) => item.metadata.name)).toEqual(['vm-2', 'vm-3']);
    expect(second.metadata.resourceVersion).toBe(page1.metadata.resourceVersion);
    const third = JSON.parse(
      (await get(server, `${ALL}?limit=2&continue=${second.metadata.continue}`)).body,
    ) as typeof page1;
    expect(third.items.map((item) => item.metadata.name)).toEqual(['vm-4']);
    expect(third.metadata.continue).toBeUndefined();
    const namespaced = JSON.parse(
      (await get(server, '/apis/kubevirt.io/v1/namespaces/a/virtualmachineinstances')).body,
    ) as typeof page1;
    expect(namespaced.items.map((item) => item.metadata.name)).toEqual(['vm-0', 'vm-1', 'vm-2', 'vm-9']);
  });

  it('answers 410 Gone for a continue token older than a compaction', async () => {
    const page = JSON.parse((await get(server, `${ALL}?limit=1`)).body) as { metadata: { continue: string } };
    server.modify(vmi('vm-0', 'a', '10.0.0.2'));
    server.compact();
    const expired = await get(server, `${ALL}?limit=1&continue=${page.metadata.continue}`);
    expect(expired.status).toBe(410);
    expect(JSON.parse(expired.body)).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('streams ADDED/MODIFIED/DELETED/BOOKMARK events after the requested resourceVersion', async () => {
    const from = server.resourceVersion();
    const watch = watchLines(server, `${ALL}?watch=true&resourceVersion=${from}&allowWatchBookmarks=true`, 4);
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.add(vmi('w1', 'c'));
    server.modify(vmi('w1', 'c', '10.0.0.7'));
    server.remove({ namespace: 'c', name: 'w1' });
    server.bookmark();
    const events = await watch.events;
    watch.close();
    expect(events.map((event) => event.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK']);
    const versions = events.map((event) =>
      Number((event.object['metadata'] as { resourceVersion: string }).resourceVersion),
    );
    expect(versions[0]).toBeGreaterThan(Number(from));
    expect(versions[1]).toBeGreaterThan(versions[0] ?? Infinity);
    expect(versions[2]).toBeGreaterThan(versions[1] ?? Infinity);
    expect(versions[3]).toBe(versions[2]);
  });

  it('replays history to a watch that starts from an older resourceVersion, filtered by namespace', async () => {
    const from = server.resourceVersion();
    server.add(vmi('h1', 'd'));
    server.add(vmi('h2', 'e'));
    const watch = watchLines(
      server,
      `/apis/kubevirt.io/v1/namespaces/d/virtualmachineinstances?watch=1&resourceVersion=${from}`,
      1,
    );
    const events = await watch.events;
    watch.close();
    expect(events.map((event) => [(event.object['metadata'] as { name: string }).name, event.type])).toEqual([
      ['h1', 'ADDED'],
    ]);
  });

  it('sends an ERROR event with a 410 Status to a watch from a compacted resourceVersion and closes it', async () => {
    const old = Number(server.resourceVersion()) - 1;
    server.add(vmi('c1'));
    server.compact();
    const watch = watchLines(server, `${ALL}?watch=true&resourceVersion=${old}`, 2);
    const events = await watch.events;
    await watch.ended;
    expect(events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410 }) },
    ]);
  });

  it('drops open watches and counts requests', async () => {
    const before = { ...server.counters };
    const watch = watchLines(server, `${ALL}?watch=true&resourceVersion=${server.resourceVersion()}`, 100);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.counters.activeWatches).toBe(before.activeWatches + 1);
    server.dropWatches();
    await watch.ended;
    expect(server.counters.activeWatches).toBe(before.activeWatches);
    expect(server.counters.watches).toBe(before.watches + 1);
    await get(server, ALL);
    expect(server.counters.lists).toBe(before.lists + 1);
  });

  it('closes a watch after timeoutSeconds', async () => {
    const started = Date.now();
    const watch = watchLines(
      server,
      `${ALL}?watch=true&resourceVersion=${server.resourceVersion()}&timeoutSeconds=1`,
      100,
    );
    await watch.ended;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('injects failures, slowness, refused and reset connections', async () => {
    server.failNext(2, 503);
    expect((await get(server, ALL)).status).toBe(503);
    expect(JSON.parse((await get(server, `${ALL}?watch=true`)).body)).toMatchObject({
      code: 503,
      reason: 'ServiceUnavailable',
    });
    expect((await get(server, ALL)).status).toBe(200);

    server.slow(300);
    let started = Date.now();
    await get(server, ALL);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    server.slow(0);

    try {
      await server.setDown(true);
      await expect(get(server, ALL)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await server.setDown(false);
      expect((await get(server, ALL)).status).toBe(200);

      await server.setDown(true, 'reset');
      await expect(get(server, ALL)).rejects.toMatchObject({
        code: expect.stringMatching(/ECONNRESET|EPIPE/),
      });
      expect(server.counters.rejectedConnections).toBeGreaterThan(0);
    } finally {
      await server.setDown(false);
    }
    started = Date.now();
    expect((await get(server, ALL)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers 404 with a Status for other resources', async () => {
    const result = await get(server, '/api/v1/pods');
    expect(result.status).toBe(404);
    expect(JSON.parse(result.body)).toMatchObject({ kind: 'Status', code: 404 });
  });
});

describe('fake API server with client-node', () => {
  let server: FakeApiServer;
  let dir: string;
  let config: KubeConfig;
  beforeAll(async () => {
    server = await startFakeApiServer();
    dir = await mkdtemp(join(tmpdir(), 'zw-fakeapi-'));
    const path = await server.writeKubeconfig(dir);
    expect(server.kubeconfigPath).toBe(path);
    expect(await readFile(path, 'utf8')).toContain('insecure-skip-tls-verify');
    config = new KubeConfig();
    config.loadFromFile(path);
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const controllers: AbortController[] = [];
  afterEach(() => {
    for (const controller of controllers.splice(0)) controller.abort();
  });

  it('is listed by CustomObjectsApi with pages and reports 410 as an ApiException code', async () => {
    server.add(vmi('a1', 'x'));
    server.add(vmi('a2', 'y'));
    server.add(vmi('a3', 'x'));
    const api = config.makeApiClient(CustomObjectsApi);
    const page = (await api.listClusterCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachineinstances',
      limit: 2,
    })) as {
      items: { metadata: { name: string } }[];
      metadata: { continue?: string };
    };
    expect(page.items.map((item) => item.metadata.name)).toEqual(['a1', 'a3']);
    expect(page.metadata.continue).toBeDefined();
    const namespaced = (await api.listNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachineinstances',
      namespace: 'y',
    })) as { items: { metadata: { name: string } }[] };
    expect(namespaced.items.map((item) => item.metadata.name)).toEqual(['a2']);
    // Compaction past the token's revision (as in etcd, the compacted revision itself stays readable).
    server.add(vmi('a4', 'x'));
    server.compact();
    await expect(
      api.listClusterCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        plural: 'virtualmachineinstances',
        limit: 2,
        _continue: page.metadata.continue,
      }),
    ).rejects.toMatchObject({ code: 410 });
  });

  it('is watched by client-node Watch, which sees events and the server closing the stream', async () => {
    const watch = new Watch(config);
    const seen: string[] = [];
    let doneWith: unknown = 'not called';
    const done = new Promise<void>((resolve) => {
      void watch
        .watch(
          '/apis/kubevirt.io/v1/virtualmachineinstances',
          { resourceVersion: server.resourceVersion(), allowWatchBookmarks: true },
          (type, object: { metadata: { name: string } }) => {
            seen.push(`${type} ${object.metadata.name ?? ''}`);
          },
          (error: unknown) => {
            doneWith = error;
            resolve();
          },
        )
        .then((controller) => controllers.push(controller));
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.add(vmi('b1'));
    server.remove({ name: 'b1' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.dropWatches();
    await done;
    expect(seen).toEqual(['ADDED b1', 'DELETED b1']);
    expect(doneWith).toBeNull();
  });

  it('gives client-node Watch a 410 ERROR event for a compacted resourceVersion', async () => {
    const old = server.resourceVersion();
    server.add(vmi('b2'));
    server.compact();
    const watch = new Watch(config);
    const events: { type: string; code: unknown }[] = [];
    await new Promise<void>((resolve) => {
      void watch.watch(
        '/apis/kubevirt.io/v1/virtualmachineinstances',
        { resourceVersion: String(Number(old) - 1) },
        (type, object: { code?: unknown }) => events.push({ type, code: object.code }),
        () => resolve(),
      );
    });
    expect(events).toEqual([{ type: 'ERROR', code: 410 }]);
  });

  it('makes client-node Watch fail with the status code of an injected error', async () => {
    server.failNext(1, 500);
    const watch = new Watch(config);
    const error = await new Promise<unknown>((resolve) => {
      void watch.watch('/apis/kubevirt.io/v1/virtualmachineinstances', {}, () => undefined, resolve);
    });
    expect(error).toMatchObject({ statusCode: 500 });
  });
});
