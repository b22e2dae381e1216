/** One entry point for the CLI: plan everything (validating all options first), then apply or check each part. */
import * as nodeFs from 'node:fs/promises';
import { join } from 'node:path';

import { detectIptablesBackend, syncBridge, syncCniConfig, syncDnsRedirect, syncResolver } from './apply.js';
import type {
  BackendDetection,
  CommandRunner,
  NodeSetupAction,
  NodeSetupFs,
  StepContext,
  StepReport,
} from './apply.js';
import { planCniConfig } from './cni-plan.js';
import { planDnsRedirect } from './dns-redirect-plan.js';
import { effectiveLocalDnsAddress, resolveNodeSetupOptions } from './options.js';
import type { NodeSetupOptions } from './options.js';
import { planResolver } from './resolver-plan.js';
import { systemClock, type Clock, type Logger } from '@zonewright/zone';

export interface NodeSetupRequest {
  readonly action: NodeSetupAction;
  /** Print what would change, change nothing (the resolver is a dry run anyway unless resolverApply). */
  readonly dryRun?: boolean;
  readonly options?: Partial<NodeSetupOptions>;
  readonly runner: CommandRunner;
  readonly fs?: NodeSetupFs;
  readonly logger?: Logger;
  readonly clock?: Pick<Clock, 'now'>;
}

export interface NodeSetupReport {
  readonly action: NodeSetupAction;
  readonly dryRun: boolean;
  readonly options: NodeSetupOptions;
  /** Which iptables backend was used and why (absent when the redirect step is off). */
  readonly iptablesBackend?: BackendDetection;
  readonly steps: readonly StepReport[];
  /** Something on the node was changed (never true on a dry run or check). */
  readonly changed: boolean;
  /** No problems: for check, the node matches the plan; for install/remove, nothing was refused. */
  readonly ok: boolean;
}

const quietLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export async function runNodeSetup(request: NodeSetupRequest): Promise<NodeSetupReport> {
  const options = resolveNodeSetupOptions(request.options);
  const logger = request.logger ?? quietLogger;
  const dryRun = request.dryRun ?? false;
  const action = request.action;
  // Every plan first: a bad flag fails before anything on the node is touched.
  const redirectPlan = options.dnsRedirect
    ? planDnsRedirect({
        clusterDns: options.clusterDns,
        localDnsAddress: effectiveLocalDnsAddress(options),
        localDnsPort: options.localDnsPort,
        allowRouteLocalnet: options.allowRouteLocalnet,
      })
    : undefined;
  const cniPlan = options.cni
    ? planCniConfig({
        networkName: options.cniNetworkName,
        bridge: options.cniBridge,
        subnet: options.cniSubnet,
        gateway: options.cniGateway,
        ipv6Range: options.cniIpv6Range,
      })
    : undefined;
  const resolverPlan = options.resolver
    ? planResolver({ dnsAddress: options.clusterDns, clusterDomain: options.clusterDomain })
    : undefined;

  const context: StepContext = {
    runner: request.runner,
    fs: request.fs ?? nodeFs,
    logger,
    clock: request.clock ?? systemClock,
    dryRun,
  };
  const steps: StepReport[] = [];
  let iptablesBackend: BackendDetection | undefined;

  if (redirectPlan !== undefined) {
    iptablesBackend = await detectIptablesBackend(request.runner, options.iptablesBackend);
    logger.info(`iptables backend: ${iptablesBackend.backend} (${iptablesBackend.reason})`);
    if (options.allowRouteLocalnet && /^127\./.test(effectiveLocalDnsAddress(options))) {
      logger.warn(
        'loopback DNS target allowed by --allow-route-localnet: pod queries reach it only with route_localnet=1 on the bridge, which node-setup does not set',
      );
    }
    steps.push(await syncDnsRedirect(context, iptablesBackend.backend, action, redirectPlan));
  }
  if (cniPlan !== undefined) {
    steps.push(
      await syncCniConfig(context, action, {
        path: join(options.cniConfDir, options.cniConfName),
        content: cniPlan.content,
        force: options.force,
      }),
    );
  }
  if (options.cni && options.cniBridgeSetup && cniPlan !== undefined) {
    const prefix = options.cniSubnet.split('/')[1] ?? '';
    steps.push(
      await syncBridge(context, action, {
        name: options.cniBridge,
        addresses: [`${options.cniGateway}/${prefix}`],
      }),
    );
  }
  if (resolverPlan !== undefined) {
    steps.push(
      await syncResolver(context, action, {
        path: join(options.hostRoot, resolverPlan.path),
        content: resolverPlan.content,
        revert: options.resolverRevert,
        dryRun: dryRun || !options.resolverApply,
      }),
    );
  }
  for (const step of steps) {
    const verb = step.status === 'would-change' ? 'would change' : step.status;
    logger.info(`node-setup ${action} ${step.step}: ${verb}`, {
      changes: step.changes,
      problems: step.problems,
      notes: step.notes,
    });
  }
  return {
    action,
    dryRun,
    options,
    ...(iptablesBackend === undefined ? {} : { iptablesBackend }),
    steps,
    changed: steps.some((step) => step.status === 'changed'),
    ok: steps.every((step) => step.problems.length === 0),
  };
}

/** The report as text for a terminal: one block per step, every change and problem on its own line. */
export function formatNodeSetupReport(report: NodeSetupReport): string {
  const lines: string[] = [];
  if (report.iptablesBackend !== undefined) {
    lines.push(`iptables backend: ${report.iptablesBackend.backend} (${report.iptablesBackend.reason})`);
  }
  for (const step of report.steps) {
    const status = step.status === 'would-change' ? 'would change (dry run)' : step.status;
    lines.push(`${step.step}: ${status}`);
    for (const change of step.changes)
      lines.push(`  ${report.dryRun || step.status === 'would-change' ? 'would ' : ''}${change}`);
    for (const problem of step.problems) lines.push(`  problem: ${problem}`);
    for (const note of step.notes) lines.push(`  note: ${note}`);
  }
  return `${lines.join('\n')}\n`;
}
