// The API server the VMI path talks to, behind one small interface: the freshness phases do not care which
// server it is. `fakeVmiApi` is testkit's fake API server (loopback, real list/watch protocol); the real
// kube-apiserver (testkit startKubeApiServer, branch `api`) gets the same interface once it is on main.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sleep, startFakeApiServer } from '@zonewright/testkit';
import type { FakeObject } from '@zonewright/testkit';

export interface VmiApi {
  /** For the report: which server this is. */
  readonly label: string;
  /** A kubeconfig the monitor uses. */
  readonly kubeconfig: string;
  create(objects: readonly FakeObject[]): Promise<void>;
  modify(object: FakeObject): Promise<void>;
  /** The API server goes away for about `downMs` and comes back; resolves once it answers again, with how long it was away. */
  restart(downMs: number): Promise<number>;
  /**
   * An error-ended watch, then history compacted so that re-watching from the old resourceVersion answers 410;
   * resolves once the API answers again, with how long it was away.
   */
  expireHistory(downMs: number): Promise<number>;
  stop(): Promise<void>;
}

export async function fakeVmiApi(directory: string): Promise<VmiApi> {
  const server = await startFakeApiServer();
  const kubeconfig = await server.writeKubeconfig(path.join(directory, 'fake-api'));
  return {
    label: 'fake API server (testkit, loopback)',
    kubeconfig,
    create(objects) {
      for (const object of objects) server.add(object);
      return Promise.resolve();
    },
    modify(object) {
      server.modify(object);
      return Promise.resolve();
    },
    async restart(downMs) {
      const goneAt = performance.now();
      await server.setDown(true, 'refuse');
      await sleep(downMs);
      await server.setDown(false);
      return performance.now() - goneAt;
    },
    async expireHistory(downMs) {
      const goneAt = performance.now();
      await server.setDown(true, 'reset');
      server.compact();
      await sleep(downMs);
      await server.setDown(false);
      return performance.now() - goneAt;
    },
    stop: () => server.stop(),
  };
}
