/**
 * The operations kit of deploy/monitoring (issue 13): the alerting rules pass promtool and their unit tests fire
 * and resolve every alert; the PrometheusRule holds exactly the rules file; every metric a rule or a dashboard
 * panel uses is on the /metrics page of the real watchers (the built CLI: `monitor` on the example VMIs,
 * `cri-watch` polling a real containerd and one whose runtime is unreachable) or of the real CoreDNS running the
 * shipped Corefile (testkit's startCoreDns); the dashboard imports as Grafana JSON; the component builds with
 * `kubectl kustomize` and validates like the other manifests.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  buildPauseImage,
  cleanUp,
  createNetns,
  findRepoRoot,
  freeTcpPort,
  killProcessTree,
  runCommand,
  spawnProcess,
  startContainerd,
  startCoreDns,
  waitFor,
  type ContainerdHarness,
  type CoreDnsServer,
  type Netns,
  type SpawnedProcess,
} from '@zonewright/testkit';
import { ensureCliBuilt, flagValue } from '../deploy/lib/cli.js';
import type { KubernetesObject } from '../deploy/lib/kustomize.js';
import { workloads, type Container, type Workload } from '../deploy/lib/pod.js';
import { validateObject } from '../deploy/lib/schema.js';
import { buildOverlay } from './lib/overlay.js';
import { exposedMetricNames, metricNames, withoutGrafanaVariables } from './lib/promql.js';

const root = findRepoRoot();
const cli = path.join(root, 'packages/cli/bin/zonewright.js');
const monitoringDir = path.join(root, 'deploy/monitoring');
const rulesFile = path.join(monitoringDir, 'prometheus/zonewright.rules.yml');
const rulesTestFile = path.join(monitoringDir, 'prometheus/zonewright.rules.test.yml');
const scrapeFile = path.join(monitoringDir, 'prometheus/scrape-configs.yml');
const dashboardFile = path.join(monitoringDir, 'grafana/zonewright.json');
const runbookFile = path.join(root, 'docs/runbook.md');
const JOBS = ['zonewright-monitor', 'zonewright-cri', 'zonewright-coredns'];
/** Metrics that come from elsewhere: Prometheus itself, and kube-state-metrics (cannot run here). */
const EXTERNAL_METRICS = new Set(['up', 'kube_pod_container_status_ready']);

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}
interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts?: readonly unknown[];
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly { readonly expr: string; readonly datasource?: { readonly uid?: string } }[];
}
interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly {
      readonly name: string;
      readonly type: string;
      readonly query: unknown;
      readonly datasource?: { readonly uid?: string };
    }[];
  };
}

const readYaml = async <T>(file: string): Promise<T> => parse(await fs.readFile(file, 'utf8')) as T;
const groups = async (): Promise<RuleGroup[]> => (await readYaml<{ groups: RuleGroup[] }>(rulesFile)).groups;
const rulesOf = (all: readonly RuleGroup[]): Rule[] => all.flatMap((group) => group.rules);
const dashboard = async (): Promise<Dashboard> =>
  JSON.parse(await fs.readFile(dashboardFile, 'utf8')) as Dashboard;
const panelExpressions = (board: Dashboard): string[] =>
  board.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
const minutes = (duration: string): number => {
  const match = /^(\d+)([smh])$/.exec(duration);
  if (match === null) throw new Error(`unexpected duration ${duration}`);
  return Number(match[1]) * { s: 1 / 60, m: 1, h: 60 }[match[2] as 's' | 'm' | 'h'];
};
/** GitHub's anchor of a Markdown heading. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

let scratch: string;
beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), `zw-ops-${randomBytes(3).toString('hex')}-`));
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

describe('metric names', () => {
  it('finds the selectors of an expression and nothing else', () => {
    expect(
      metricNames(
        'sum by (namespace, le) (rate(a_bucket{job="x", rcode="SERVFAIL"}[5m])) / on (pod) group_left ' +
          'b:rate5m offset 1h > 0.05 and time() - c_total{origin=~"$origin"}[$__rate_interval] > bool 1e3',
      ),
    ).toEqual(['a_bucket', 'b:rate5m', 'c_total']);
    expect(withoutGrafanaVariables('x{a=~"$namespace"}[$__rate_interval]')).toBe('x{a=~".*"}[5m]');
    const exposed = exposedMetricNames(
      '# HELP h x\n# TYPE h histogram\n# TYPE c counter\nc{a="1"} 2\nplain 1\n',
    );
    expect([...exposed].sort()).toEqual(['c', 'h', 'h_bucket', 'h_count', 'h_sum', 'plain']);
  });
});

describe('alerting rules', () => {
  it('pass promtool check rules, as the plain file and as the PrometheusRule', async () => {
    const plain = await runCommand('promtool', ['check', 'rules', rulesFile], { timeoutMs: 60_000 });
    expect(`${plain.stdout}${plain.stderr}`).toMatch(/SUCCESS: \d+ rules found/);
    expect(plain.code).toBe(0);
    // The PrometheusRule's spec is a rules file too: promtool checks it as one.
    const prometheusRule = await readYaml<{ spec: unknown }>(path.join(monitoringDir, 'prometheusrule.yaml'));
    const specFile = path.join(scratch, 'prometheusrule-spec.yml');
    await fs.writeFile(specFile, JSON.stringify(prometheusRule.spec));
    const spec = await runCommand('promtool', ['check', 'rules', specFile], { timeoutMs: 60_000 });
    expect(spec.code).toBe(0);
  });

  it('the PrometheusRule holds exactly the groups of the rules file (scripts/monitoring-rules.mjs)', async () => {
    const prometheusRule = await readYaml<{ apiVersion: string; kind: string; spec: { groups: unknown } }>(
      path.join(monitoringDir, 'prometheusrule.yaml'),
    );
    expect(prometheusRule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(prometheusRule.kind).toBe('PrometheusRule');
    expect(prometheusRule.spec.groups).toEqual(await groups());
    const check = await runCommand(process.execPath, ['scripts/monitoring-rules.mjs', '--check'], {
      cwd: root,
      timeoutMs: 60_000,
    });
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.code).toBe(0);
  });

  it('pass their promtool unit tests, which fire and later resolve every alert', async () => {
    const result = await runCommand('promtool', ['test', 'rules', path.basename(rulesTestFile)], {
      cwd: path.dirname(rulesTestFile),
      timeoutMs: 120_000,
    });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.code).toBe(0);

    const tests = (await readYaml<{ tests: { alert_rule_test?: AlertTest[] }[] }>(rulesTestFile)).tests;
    const checks = tests.flatMap((test) => test.alert_rule_test ?? []);
    const alerts = rulesOf(await groups()).flatMap((rule) => (rule.alert === undefined ? [] : [rule.alert]));
    expect(alerts.length).toBeGreaterThanOrEqual(15);
    const missing: string[] = [];
    for (const alert of alerts) {
      const own = checks.filter((check) => check.alertname === alert);
      const fired = own
        .filter((check) => (check.exp_alerts ?? []).length > 0)
        .map((c) => minutes(c.eval_time));
      const quiet = own
        .filter((check) => (check.exp_alerts ?? []).length === 0)
        .map((c) => minutes(c.eval_time));
      if (fired.length === 0) missing.push(`${alert} never fires`);
      else if (!quiet.some((time) => time > Math.min(...fired))) missing.push(`${alert} never resolves`);
      if (!quiet.some((time) => time < Math.max(...fired))) missing.push(`${alert} has no quiet check first`);
    }
    expect(missing).toEqual([]);
  });

  it('each alert has a severity that pages or warns, a summary and a runbook section', async () => {
    const runbook = await fs.readFile(runbookFile, 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? '')),
    );
    const problems: string[] = [];
    for (const rule of rulesOf(await groups())) {
      if (rule.alert === undefined) continue;
      if (!['critical', 'warning'].includes(rule.labels?.['severity'] ?? ''))
        problems.push(`${rule.alert}: severity`);
      if ((rule.annotations?.['summary'] ?? '') === '') problems.push(`${rule.alert}: summary`);
      const url = rule.annotations?.['runbook_url'] ?? '';
      const anchor = /\/docs\/runbook\.md#([a-z0-9-]+)$/.exec(url)?.[1];
      if (anchor === undefined) problems.push(`${rule.alert}: runbook_url ${url}`);
      else if (!anchors.has(anchor))
        problems.push(`${rule.alert}: docs/runbook.md has no section #${anchor}`);
      else if (anchor !== rule.alert.toLowerCase()) problems.push(`${rule.alert}: links to #${anchor}`);
    }
    expect(problems).toEqual([]);
    // docs/deploy.md says which alerts page: the same list as the rules.
    const deployDoc = await fs.readFile(path.join(root, 'docs/deploy.md'), 'utf8');
    for (const rule of rulesOf(await groups()))
      if (rule.alert !== undefined) expect(deployDoc).toContain(rule.alert);
  });
});

describe('dashboard', () => {
  it('is Grafana dashboard JSON with built-in panels only and the data source as a variable', async () => {
    const board = await dashboard();
    expect(board.uid).toBe('zonewright');
    const datasource = board.templating.list.find((variable) => variable.type === 'datasource');
    expect(datasource).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const builtIn = new Set([
      'row',
      'timeseries',
      'stat',
      'gauge',
      'bargauge',
      'table',
      'state-timeline',
      'text',
    ]);
    const ids = new Set<number>();
    for (const panel of board.panels) {
      expect(builtIn.has(panel.type)).toBe(true);
      expect(ids.has(panel.id)).toBe(false);
      ids.add(panel.id);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.description).toBeTruthy();
      expect(panel.datasource?.uid).toBe('${datasource}');
      expect((panel.targets ?? []).length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe('${datasource}');
    }
    // The questions of issue 13, each answered by a panel.
    const text = JSON.stringify(board.panels.map((panel) => [panel.title, panel.targets]));
    for (const metric of [
      'zonewright_zone_records',
      'zonewright_zone_serial',
      'zonewright_zone_writes_total',
      'zonewright_zone_write_duration_seconds_bucket',
      'zonewright_event_to_zone_seconds_bucket',
      'zonewright_name_conflicts_total',
      'zonewright_records_skipped_total',
      'zonewright_source_up',
      'zonewright_watch_restarts_total',
      'coredns_dns_requests_total',
      'coredns_dns_responses_total',
      'coredns_dns_request_duration_seconds_bucket',
    ])
      expect(text).toContain(metric);
  });

  it('every panel query is valid PromQL (promtool checks them as recording rules)', async () => {
    const board = await dashboard();
    const expressions = panelExpressions(board);
    const file = path.join(scratch, 'panels.rules.yml');
    await fs.writeFile(
      file,
      JSON.stringify({
        groups: [
          {
            name: 'panels',
            rules: expressions.map((expr, index) => ({
              record: `panel:query_${index}`,
              expr: withoutGrafanaVariables(expr),
            })),
          },
        ],
      }),
    );
    const result = await runCommand('promtool', ['check', 'rules', file], { timeoutMs: 60_000 });
    expect(`${result.stdout}${result.stderr}`).toContain(`SUCCESS: ${expressions.length} rules found`);
  });
});

describe('every metric in the rules and the dashboard exists', () => {
  const processes: SpawnedProcess[] = [];
  const exposed = new Set<string>();
  const pages: Record<string, string> = {};
  let zonesDir: string;
  let coreDns: CoreDnsServer | undefined;
  let netns: Netns | undefined;
  let containerd: ContainerdHarness | undefined;

  const scrape = async (port: number): Promise<string | undefined> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      return response.ok ? await response.text() : undefined;
    } catch {
      return undefined;
    }
  };
  const start = async (name: string, command: string, args: string[], port: number): Promise<void> => {
    const process_ = await spawnProcess(command, args);
    processes.push(process_);
    pages[name] = await waitFor(() => scrape(port), {
      timeoutMs: 30_000,
      description: `${name} /metrics on 127.0.0.1:${port}\n${process_.output()}`,
    });
  };

  beforeAll(async () => {
    await ensureCliBuilt(root);
    zonesDir = path.join(scratch, 'zones');
    await fs.mkdir(zonesDir);
    const [monitorPort, criPort, liveCriPort] = await Promise.all([
      freeTcpPort(),
      freeTcpPort(),
      freeTcpPort(),
    ]);
    // The monitor as in the demo: the example VMIs → zone vm.example.com in zonesDir.
    await start(
      'monitor',
      process.execPath,
      [
        cli,
        'monitor',
        '--source=directory',
        `--vmi-dir=${path.join(root, 'examples/vmis')}`,
        `--zones-dir=${zonesDir}`,
        '--domain=example.com',
        `--listen=127.0.0.1:${monitorPort}`,
        '--log-format=json',
      ],
      monitorPort ?? 0,
    );
    // cri-watch whose runtime socket does not exist: the runtime-unreachable case of the alerts.
    await start(
      'cri-watch',
      process.execPath,
      [
        cli,
        'cri-watch',
        `--runtime-endpoint=unix://${path.join(scratch, 'no-runtime.sock')}`,
        `--zones-dir=${path.join(scratch, 'cri-zones')}`,
        `--listen=127.0.0.1:${criPort}`,
        '--log-format=json',
      ],
      criPort ?? 0,
    );
    // cri-watch against a real containerd (in a netns the test makes): the polling case.
    const node = await createNetns();
    netns = node;
    const runtime = await startContainerd({
      netns: node,
      pauseImage: await buildPauseImage({ dir: path.join(scratch, 'pause') }),
    });
    containerd = runtime;
    await start(
      'cri-watch (containerd)',
      process.execPath,
      [
        cli,
        'cri-watch',
        `--runtime-endpoint=${runtime.endpoint}`,
        `--zones-dir=${path.join(scratch, 'live-cri-zones')}`,
        `--listen=127.0.0.1:${liveCriPort}`,
        '--interval=500ms',
        '--log-format=json',
      ],
      liveCriPort ?? 0,
    );
    pages['cri-watch (containerd)'] = await waitFor(
      async () => {
        const page = await scrape(liveCriPort ?? 0);
        return page !== undefined && /^zonewright_cri_polls_total\{[^}]*\} [1-9]/m.test(page)
          ? page
          : undefined;
      },
      { timeoutMs: 20_000, description: 'cri-watch to poll containerd' },
    );
    // CoreDNS with the shipped monitor Corefile (testkit moves it to loopback ports and the test's zones).
    const server = await startCoreDns({ corefile: 'monitor', zonesDirectory: zonesDir });
    coreDns = server;
    await server.waitForSerial('vm.example.com', 1);
    // Answers of every kind, so the labelled series exist: NOERROR, NXDOMAIN, SERVFAIL (outside the zone).
    expect((await server.query('none.vm.example.com', 'A')).status).toBe('NXDOMAIN');
    expect((await server.query('example.org', 'A')).status).toBe('SERVFAIL');
    pages['coredns'] = await waitFor(
      async () => {
        const { status, body } = await server.httpGet('metrics', '/metrics');
        return status === 200 && body.includes('rcode="SERVFAIL"') ? body : undefined;
      },
      { timeoutMs: 10_000, description: 'CoreDNS to count the SERVFAIL' },
    );
    pages['monitor'] = await waitFor(
      async () => {
        const page = await scrape(monitorPort ?? 0);
        return page?.includes('zonewright_zone_records{') === true ? page : undefined;
      },
      { timeoutMs: 10_000, description: 'the monitor to report its zone' },
    );
    pages['cri-watch'] = await waitFor(
      async () => {
        const page = await scrape(criPort ?? 0);
        return page !== undefined && /^zonewright_cri_runtime_errors_total [1-9]/m.test(page)
          ? page
          : undefined;
      },
      { timeoutMs: 20_000, description: 'cri-watch to count a failed poll' },
    );
    for (const page of Object.values(pages)) for (const name of exposedMetricNames(page)) exposed.add(name);
  });

  afterAll(async () => {
    await cleanUp('ops metrics processes', [
      ...processes.map((process_) => () => killProcessTree(process_.pid)),
      () => coreDns?.stop(),
      () => containerd?.cleanup(),
      () => netns?.delete(),
    ]);
  });

  it('the watchers and CoreDNS expose what the alerts key on', () => {
    expect(pages['monitor']).toMatch(/^zonewright_zone_records\{origin="vm\.example\.com"\} [1-9]/m);
    expect(pages['coredns']).toMatch(/^coredns_dns_responses_total\{[^}]*rcode="SERVFAIL"/m);
    expect(pages['coredns']).toMatch(/^coredns_dns_requests_total\{/m);
    expect(pages['cri-watch']).toMatch(/^zonewright_source_errors_total\{source="cri"\} [1-9]/m);
    expect(pages['cri-watch (containerd)']).toMatch(/^zonewright_cri_sandboxes\{state="ready"\} 0$/m);
    expect(pages['cri-watch (containerd)']).toMatch(/^zonewright_cri_runtime_errors_total 0$/m);
  });

  it('every metric of the rules is exposed (or recorded by the rules themselves)', async () => {
    const rules = rulesOf(await groups());
    const recorded = new Set(rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])));
    const used = new Set(rules.flatMap((rule) => metricNames(rule.expr)));
    expect(used).toContain('coredns_dns_responses_total');
    expect(used).toContain('zonewright_zone_behind_seconds');
    const unknown = [...used].filter(
      (name) => !exposed.has(name) && !recorded.has(name) && !EXTERNAL_METRICS.has(name),
    );
    expect(unknown).toEqual([]);
  });

  it('every metric of the dashboard is exposed', async () => {
    const board = await dashboard();
    const used = new Set(panelExpressions(board).flatMap((expr) => metricNames(expr)));
    for (const variable of board.templating.list) {
      if (variable.type !== 'query') continue;
      const query = JSON.stringify(variable.query);
      const metric = /label_values\(([A-Za-z_:][A-Za-z0-9_:]*)/.exec(query)?.[1];
      expect(metric).toBeDefined();
      used.add(metric ?? '');
    }
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !exposed.has(name) && !EXTERNAL_METRICS.has(name))).toEqual([]);
  });
});

describe('kustomize component', () => {
  let monitor: KubernetesObject[];
  let node: KubernetesObject[];

  const find = (objects: readonly KubernetesObject[], kind: string): KubernetesObject => {
    const found = objects.filter((object) => object.kind === kind);
    expect(found).toHaveLength(1);
    return found[0] as KubernetesObject;
  };
  const pods = (): Workload[] => [...workloads(monitor), ...workloads(node)];
  const containersWithPort = (port: string): Container[] =>
    pods().flatMap((pod) =>
      pod.spec.template.spec.containers.filter((item) => (item.ports ?? []).some((p) => p.name === port)),
    );

  beforeAll(async () => {
    monitor = await buildOverlay(root, scratch, 'monitor', {
      resources: ['deploy/monitor/base'],
      components: ['deploy/monitoring'],
    });
    node = await buildOverlay(root, scratch, 'node', {
      resources: ['deploy/node/overlays/containerd'],
      components: ['deploy/monitoring', 'deploy/monitoring/node-setup-check'],
    });
  });

  it('builds; the Kubernetes objects validate and the operator objects land in the including namespace', async () => {
    for (const [objects, namespace] of [
      [monitor, 'zonewright-monitor'],
      [node, 'zonewright-node'],
    ] as const) {
      const problems: string[] = [];
      for (const object of objects) {
        if (object.apiVersion.startsWith('monitoring.coreos.com/')) continue;
        for (const problem of await validateObject(object))
          problems.push(`${object.kind}/${object.metadata.name}: ${problem}`);
      }
      expect(problems).toEqual([]);
      for (const kind of ['PodMonitor', 'PrometheusRule'])
        expect(find(objects, kind).metadata.namespace).toBe(namespace);
      const dashboardMap = objects.find((object) => object.metadata.name === 'zonewright-dashboard');
      expect(dashboardMap?.metadata.namespace).toBe(namespace);
      expect(dashboardMap?.metadata['labels']).toMatchObject({ grafana_dashboard: '1' });
      expect((dashboardMap as { data?: Record<string, string> } | undefined)?.data?.['zonewright.json']).toBe(
        await fs.readFile(dashboardFile, 'utf8'),
      );
      expect(
        (find(objects, 'PrometheusRule') as unknown as { spec: { groups: unknown } }).spec.groups,
      ).toEqual(await groups());
    }
  });

  it('the PodMonitor scrapes named ports that exist, on the pods it selects, as the jobs the rules use', () => {
    const podMonitor = find(monitor, 'PodMonitor') as unknown as {
      spec: {
        namespaceSelector: { matchNames: string[] };
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: { port: string; relabelings: { targetLabel: string; replacement: string }[] }[];
      };
    };
    expect(podMonitor.spec.namespaceSelector.matchNames.sort()).toEqual([
      'zonewright-monitor',
      'zonewright-node',
    ]);
    for (const pod of pods()) {
      expect(pod.spec.template.metadata?.labels).toMatchObject(podMonitor.spec.selector.matchLabels);
      expect(podMonitor.spec.namespaceSelector.matchNames).toContain(pod.metadata.namespace);
    }
    const jobs: string[] = [];
    for (const endpoint of podMonitor.spec.podMetricsEndpoints) {
      const owners = containersWithPort(endpoint.port);
      expect(owners.length).toBeGreaterThan(0);
      const job = endpoint.relabelings.find((relabel) => relabel.targetLabel === 'job')?.replacement ?? '';
      jobs.push(job);
      // The watchers serve /metrics on their --listen port: the named port must be that one.
      for (const owner of owners.filter((item) => item.image.includes('zonewright'))) {
        const listen = flagValue(owner.args ?? [], 'listen') ?? '';
        const port = owner.ports?.find((candidate) => candidate.name === endpoint.port)?.containerPort;
        expect(listen).toBe(`:${port}`);
      }
    }
    expect(jobs.sort()).toEqual([...JOBS].sort());
    expect(containersWithPort('http-monitor').map((item) => item.name)).toEqual(['monitor']);
    expect(containersWithPort('http-cri').map((item) => item.name)).toEqual(['cri-watcher']);
    expect(containersWithPort('metrics').map((item) => item.name)).toEqual(['coredns', 'coredns']);
  });

  it('node-setup-check runs `node-setup check` with the init container’s image and settings', () => {
    const daemonSet = workloads(node).find((workload) => workload.kind === 'DaemonSet');
    const spec = daemonSet?.spec.template.spec;
    const init = spec?.initContainers?.find((item) => item.name === 'node-setup');
    const check = spec?.containers.find((item) => item.name === 'node-setup-check');
    const probe = check?.readinessProbe as { exec?: { command: string[] } } | undefined;
    expect(check).toBeDefined();
    expect(check?.image).toBe(init?.image);
    expect(check?.image).toMatch(/zonewright-cri:/);
    expect(probe?.exec?.command.slice(-3, -1)).toEqual(['node-setup', 'check']);
    expect(check?.envFrom).toEqual(init?.envFrom);
    // The init container's flags that are not settings, as environment (node-setup reads ZONEWRIGHT_*).
    const initArgs = init?.args ?? [];
    const env = new Map((check?.env ?? []).map((variable) => [variable.name, variable.value]));
    expect(env.get('ZONEWRIGHT_CNI_CONF_DIR')).toBe(flagValue(initArgs, 'cni-conf-dir'));
    expect(env.get('ZONEWRIGHT_IPTABLES_BACKEND')).toBe(flagValue(initArgs, 'iptables-backend'));
    expect(check?.securityContext?.capabilities?.add).toEqual(init?.securityContext?.capabilities?.add);
    expect(check?.volumeMounts?.find((mount) => mount.name === 'cni-conf')?.readOnly).toBe(true);
  });
});

describe('plain Prometheus scrape configs', () => {
  it('define the same jobs and ports as the PodMonitor and pass promtool check config', async () => {
    const scrape = await readYaml<{
      scrape_configs: {
        job_name: string;
        kubernetes_sd_configs: unknown;
        relabel_configs: { source_labels?: string[]; regex?: string; action?: string }[];
      }[];
    }>(scrapeFile);
    const podMonitor = await readYaml<{ spec: { podMetricsEndpoints: { port: string }[] } }>(
      path.join(monitoringDir, 'podmonitor.yaml'),
    );
    expect(scrape.scrape_configs.map((job) => job.job_name).sort()).toEqual([...JOBS].sort());
    const ports = scrape.scrape_configs.map(
      (job) =>
        job.relabel_configs.find((relabel) =>
          relabel.source_labels?.includes('__meta_kubernetes_pod_container_port_name'),
        )?.regex,
    );
    expect(ports.sort()).toEqual(podMonitor.spec.podMetricsEndpoints.map((endpoint) => endpoint.port).sort());
    // Debian's Prometheus is built without Kubernetes discovery: check everything else, with static targets.
    const config = {
      global: { scrape_interval: '30s' },
      rule_files: [rulesFile],
      scrape_configs: scrape.scrape_configs.map(({ kubernetes_sd_configs: _discovery, ...job }) => ({
        ...job,
        static_configs: [{ targets: ['127.0.0.1:9'] }],
      })),
    };
    const file = path.join(scratch, 'prometheus.yml');
    await fs.writeFile(file, JSON.stringify(config));
    const result = await runCommand('promtool', ['check', 'config', file], { timeoutMs: 60_000 });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });
});
