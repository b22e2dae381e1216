/**
 * `zonewright monitor` (the built CLI) against a real kube-apiserver v1.20.2 with etcd, RBAC on, the monitor's
 * RBAC from deploy/monitor/base and a TokenRequest token of its ServiceAccount: list, watch, modify, delete,
 * namespace filters, two API server restarts 30 s apart, and a ServiceAccount without the binding.
 * Every zone is read with the zone package's parser and checked by named-checkzone and miekg/dns.
 */
import { afterAll, afterEach, beforeAll, expect, it, jest } from '@jest/globals';
import { join } from 'node:path';
import { assertZoneValid, sleep, waitFor } from '@zonewright/testkit';
import {
  MONITOR_NAMESPACE,
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

describeWithKubeApiServer('zonewright monitor against a real kube-apiserver', () => {
  let cluster: TestCluster;
  const monitors: MonitorProcess[] = [];
  const run = async (...args: Parameters<typeof startMonitor>): Promise<MonitorProcess> => {
    const monitor = await startMonitor(...args);
    monitors.push(monitor);
    return monitor;
  };

  beforeAll(async () => {
    cluster = await startTestCluster();
    for (const namespace of ['apps', 'team-a', 'team-b', 'team-c'])
      await createNamespace(cluster.api, namespace);
  }, 120_000);
  afterEach(async () => {
    if (process.env['ZW_DEBUG']) for (const monitor of monitors) console.log(monitor.process.output());
    await Promise.all(monitors.splice(0).map((monitor) => monitor.stop()));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('lists, then follows creates, modifies and deletes through its own RBAC and a TokenRequest token', async () => {
    const { api } = cluster;
    await createVmi(api, 'web', 'apps', ['192.0.2.10', '2001:db8::10']);
    await createVmi(api, 'db', 'apps', ['192.0.2.20']);
    const monitor = await run(cluster.monitorKubeconfig);
    await monitor.waitForAddresses(
      [
        ...vmiRecords('web', 'apps', '192.0.2.10'),
        ...vmiRecords('web', 'apps', '2001:db8::10'),
        ...vmiRecords('db', 'apps', '192.0.2.20'),
      ],
      'the initial list',
    );
    await assertZoneValid(ORIGIN, monitor.zoneFile);
    await waitFor(async () => ((await monitor.status('/readyz')) === 200 ? true : undefined), {
      timeoutMs: 10_000,
      description: 'the monitor to be ready',
    });

    const latencies: number[] = [];
    const timed = async (change: () => Promise<void>, expected: string[], what: string): Promise<void> => {
      const started = Date.now();
      await change();
      latencies.push((await monitor.waitForAddresses(expected, what)) - started);
    };
    await timed(
      () => createVmi(api, 'cache', 'apps', ['192.0.2.30']),
      [
        ...vmiRecords('web', 'apps', '192.0.2.10'),
        ...vmiRecords('web', 'apps', '2001:db8::10'),
        ...vmiRecords('db', 'apps', '192.0.2.20'),
        ...vmiRecords('cache', 'apps', '192.0.2.30'),
      ],
      'a created VMI',
    );
    await timed(
      () => setVmiAddresses(api, 'web', 'apps', ['192.0.2.11']),
      [
        ...vmiRecords('web', 'apps', '192.0.2.11'),
        ...vmiRecords('db', 'apps', '192.0.2.20'),
        ...vmiRecords('cache', 'apps', '192.0.2.30'),
      ],
      'a modified VMI',
    );
    await timed(
      () => deleteVmi(api, 'db', 'apps'),
      [...vmiRecords('web', 'apps', '192.0.2.11'), ...vmiRecords('cache', 'apps', '192.0.2.30')],
      'a deleted VMI',
    );
    await assertZoneValid(ORIGIN, monitor.zoneFile);
    console.log(
      `real kube-apiserver: change -> zone file ${latencies.join(', ')} ms (create, modify, delete)`,
    );
    // The monitor writes 50 ms after the last event (--debounce 50ms); anything near a second means it missed
    // the watch event and caught up some other way.
    for (const latency of latencies) expect(latency).toBeLessThan(1000);
    const metrics = await monitor.metrics();
    expect(metrics).toMatch(/zonewright_zone_writes_total\{origin="vm\.example\.com"\} [1-9]/);
    await deleteVmi(api, 'web', 'apps');
    await deleteVmi(api, 'cache', 'apps');
  });

  it('with --namespaces sees only those namespaces, from the list and from the watch', async () => {
    const { api } = cluster;
    await createVmi(api, 'a1', 'team-a', ['192.0.2.101']);
    await createVmi(api, 'c1', 'team-c', ['192.0.2.103']);
    const monitor = await run(cluster.monitorKubeconfig, ['--namespaces', 'team-a,team-b']);
    await monitor.waitForAddresses(
      vmiRecords('a1', 'team-a', '192.0.2.101'),
      'the initial list of team-a and team-b',
    );
    await createVmi(api, 'b1', 'team-b', ['192.0.2.102']);
    await createVmi(api, 'c2', 'team-c', ['192.0.2.104']);
    await setVmiAddresses(api, 'c1', 'team-c', ['192.0.2.105']);
    await deleteVmi(api, 'a1', 'team-a');
    await monitor.waitForAddresses(
      vmiRecords('b1', 'team-b', '192.0.2.102'),
      'team-b created, team-a deleted',
    );
    // Changes in team-c came before the last ones above: had they been seen, they would be in the zone by now.
    await sleep(500);
    expect((await monitor.addresses()).filter((line) => line.includes('team-c'))).toEqual([]);
    await assertZoneValid(ORIGIN, monitor.zoneFile);
    for (const [name, namespace] of [
      ['b1', 'team-b'],
      ['c1', 'team-c'],
      ['c2', 'team-c'],
    ] as const) {
      await deleteVmi(api, name, namespace);
    }
  });

  it('serves a change made right after each of two API server restarts 30 s apart within 2 s', async () => {
    const { api } = cluster;
    await createVmi(api, 'r1', 'apps', ['192.0.2.51']);
    const monitor = await run(cluster.monitorKubeconfig);
    await monitor.waitForAddresses(vmiRecords('r1', 'apps', '192.0.2.51'), 'the initial list');

    const afterRestart: number[] = [];
    const firstRestartAt = Date.now();
    for (const [round, address] of [
      [1, '192.0.2.52'],
      [2, '192.0.2.53'],
    ] as const) {
      if (round === 2) await sleep(Math.max(0, firstRestartAt + 30_000 - Date.now()));
      const restart = await api.restart({ graceMs: 2000 });
      // "Once the API answers": restart() resolved when /readyz was 200 and RBAC allowed requests.
      const answeredAt = Date.now();
      await setVmiAddresses(api, 'r1', 'apps', [address]);
      const seenAt = await monitor.waitForAddresses(
        vmiRecords('r1', 'apps', address),
        `the change after restart ${round}`,
        30_000,
      );
      afterRestart.push(seenAt - answeredAt);
      console.log(
        `restart ${round}: stop ${restart.stopMs} ms, first answer ${restart.answeredMs} ms and ready ` +
          `${restart.readyMs} ms after the start; change -> zone ${seenAt - answeredAt} ms`,
      );
    }
    await assertZoneValid(ORIGIN, monitor.zoneFile);
    // Issue 10's target: a change made once the API answers is in the zone at most 2 s later.
    for (const latency of afterRestart) expect(latency).toBeLessThanOrEqual(2000);
    await deleteVmi(api, 'r1', 'apps');
  }, 150_000);

  it('a ServiceAccount without the binding gets a 403 the monitor names, and no zone is written', async () => {
    const { api } = cluster;
    await createVmi(api, 'secret', 'apps', ['192.0.2.77']);
    const name = `zw-unbound-${Math.random().toString(36).slice(2, 8)}`;
    await api.call('POST', `/api/v1/namespaces/${MONITOR_NAMESPACE}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name },
    });
    const token = await api.serviceAccountToken(MONITOR_NAMESPACE, name);
    const kubeconfig = await api.writeKubeconfig(join(cluster.directory, `${name}.kubeconfig`), token);
    const monitor = await run(kubeconfig);
    const user = `system:serviceaccount:${MONITOR_NAMESPACE}:${name}`;
    await waitFor(() => (monitor.process.output().includes(user) ? true : undefined), {
      timeoutMs: 20_000,
      description: `the monitor to log the server's 403 message for ${user}\n${monitor.process.output()}`,
    });
    const output = monitor.process.output();
    expect(output).toMatch(/403/);
    expect(output).toMatch(
      /cannot (list|watch) resource \\?"virtualmachineinstances\\?" in API group \\?"kubevirt\.io\\?"/,
    );
    expect(await monitor.status('/readyz')).not.toBe(200);
    expect(await monitor.addresses()).toEqual([]);
    await deleteVmi(api, 'secret', 'apps');
  });
});
