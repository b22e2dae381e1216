/**
 * A compacted history against a real kube-apiserver: with `--watch-cache=false` a watch reads etcd, so after
 * `etcdctl compact` and an API server restart the monitor's re-watch from its old resourceVersion gets
 * 410 Gone and must relist; a change made once the API answers again must reach the zone at most 2 s later.
 */
import { afterAll, afterEach, beforeAll, expect, it, jest } from '@jest/globals';
import { assertZoneValid } from '@zonewright/testkit';
import {
  ORIGIN,
  createNamespace,
  createVmi,
  deleteVmi,
  describeWithKubeApiServer,
  setVmiAddresses,
  startMonitor,
  startTestCluster,
  vmiRecords,
  type MonitorProcess,
  type TestCluster,
} from './cluster.js';

jest.setTimeout(120_000);

describeWithKubeApiServer(
  'zonewright monitor and a compacted history (real kube-apiserver, no watch cache)',
  () => {
    let cluster: TestCluster;
    let monitor: MonitorProcess | undefined;

    beforeAll(async () => {
      cluster = await startTestCluster({ watchCache: false });
      await createNamespace(cluster.api, 'apps');
    }, 120_000);
    afterEach(async () => {
      if (process.env['ZW_DEBUG'] && monitor) console.log(monitor.process.output());
      await monitor?.stop();
      monitor = undefined;
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('gets 410 after compaction and a restart, relists, and serves a change made right after within 2 s', async () => {
      const { api } = cluster;
      await createVmi(api, 'old', 'apps', ['192.0.2.1']);
      await createVmi(api, 'stay', 'apps', ['192.0.2.2']);
      monitor = await startMonitor(cluster.monitorKubeconfig);
      await monitor.waitForAddresses(
        [...vmiRecords('old', 'apps', '192.0.2.1'), ...vmiRecords('stay', 'apps', '192.0.2.2')],
        'the initial list',
      );
      // Writes the monitor sees (its watch position moves with them), then writes it does not watch, so the
      // history after its position is not empty, then compaction past all of them.
      for (let index = 3; index <= 6; index++)
        await setVmiAddresses(api, 'stay', 'apps', [`192.0.2.${index}`]);
      await monitor.waitForAddresses(
        [...vmiRecords('old', 'apps', '192.0.2.1'), ...vmiRecords('stay', 'apps', '192.0.2.6')],
        'the watched writes',
      );
      for (let index = 0; index < 5; index++) {
        await api.call('POST', '/api/v1/namespaces/apps/configmaps', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `filler-${index}` },
          data: { index: String(index) },
        });
      }
      const compactedAt = await api.compact();
      expect(compactedAt).toBeGreaterThan(0);

      const restart = await api.restart({ graceMs: 2000 });
      const answeredAt = Date.now();
      await deleteVmi(api, 'old', 'apps');
      await setVmiAddresses(api, 'stay', 'apps', ['192.0.2.9']);
      const seenAt = await monitor.waitForAddresses(
        vmiRecords('stay', 'apps', '192.0.2.9'),
        'the changes after the 410',
        30_000,
      );
      console.log(
        `compacted at revision ${compactedAt}; API down ${restart.downMs} ms (ready ${restart.readyMs} ms after the start); change -> zone ${seenAt - answeredAt} ms`,
      );
      await assertZoneValid(ORIGIN, monitor.zoneFile);

      const metrics = await monitor.metrics();
      // The re-watch from the compacted position was answered 410 and the monitor relisted.
      expect(metrics).toMatch(/zonewright_watch_restarts_total\{reason="expired"\} [1-9]/);
      // The first list and at least the relist, timed.
      expect(metrics).toMatch(/\nzonewright_api_list_duration_seconds_count [2-9]\n/);
      expect(api.output()).not.toMatch(/panic/);
      // Issue 10's target: a change made once the API answers is in the zone at most 2 s later.
      expect(seenAt - answeredAt).toBeLessThanOrEqual(2000);
      await deleteVmi(api, 'stay', 'apps');
    });
  },
);
