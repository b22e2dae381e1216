import { joinOwnerName, toAddress, toLabel } from '@zonewright/zone';
import type { ClaimedRecord, SkippedRecord } from '@zonewright/zone';
import type { PodSandboxDetails } from './cri-messages.js';

/** The parts of a sandbox status the record builder reads. */
export type SandboxObservation = Pick<
  PodSandboxDetails,
  'id' | 'metadata' | 'state' | 'ip' | 'additionalIps' | 'networkMode' | 'hostname'
>;

export interface SandboxRecordOptions {
  /** The zone origin: the cluster domain, normalized (e.g. `cluster.local`). Used for the 253-character check. */
  readonly clusterDomain: string;
  /** The node's addresses (`--node-ip`), served for hostNetwork sandboxes instead of the runtime's view. */
  readonly nodeIps?: readonly string[];
}

export interface SandboxRecordsResult {
  readonly records: readonly ClaimedRecord[];
  readonly skipped: readonly SkippedRecord[];
}

export interface SandboxZoneEntries {
  /** Records per sandbox id; sandboxes without records are left out. */
  readonly entries: ReadonlyMap<string, readonly ClaimedRecord[]>;
  readonly skipped: readonly SkippedRecord[];
}

/** `namespace/name` of a sandbox, for skip reports and logs. */
export function sandboxObjectName(sandbox: Pick<SandboxObservation, 'id' | 'metadata'>): string {
  const { namespace, name } = sandbox.metadata;
  return namespace === '' && name === '' ? sandbox.id : `${namespace}/${name}`;
}

/**
 * Records of one sandbox (pure). A ready sandbox with hostname `h` (from the runtime's verbose status, else the
 * pod name) in namespace `ns` gets, relative to the cluster domain:
 * - `h.ns.svc` — claimed exclusively (unique per pod);
 * - `h.svc` and `h` — shared: every pod on this node with hostname `h` contributes its addresses.
 * Addresses are `network.ip` plus `additional_ips` (A and AAAA); a hostNetwork sandbox (network namespace
 * mode NODE) gets the node's addresses instead, never a loopback address. Not-ready sandboxes get nothing.
 */
export function sandboxRecords(
  sandbox: SandboxObservation,
  options: SandboxRecordOptions,
): SandboxRecordsResult {
  if (sandbox.state !== 'ready') return { records: [], skipped: [] };
  const object = sandboxObjectName(sandbox);
  const skipped: SkippedRecord[] = [];
  const skip = (reason: SkippedRecord['reason'], detail: string): void => {
    skipped.push({ reason, detail, object });
  };

  const hostNetwork = sandbox.networkMode === 'node';
  const rawHostname =
    sandbox.hostname !== undefined && sandbox.hostname !== '' ? sandbox.hostname : sandbox.metadata.name;
  const hostname = toLabel(rawHostname);
  if (!hostname.ok) {
    skip(hostname.reason, `hostname ${JSON.stringify(rawHostname)}: ${hostname.detail}`);
    return { records: [], skipped };
  }

  const inputs = hostNetwork ? [...(options.nodeIps ?? [])] : [sandbox.ip, ...sandbox.additionalIps];
  const addresses: { type: 'A' | 'AAAA'; address: string }[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    if (input === '') continue;
    const address = toAddress(input);
    if (!address.ok) {
      skip(address.reason, `${hostNetwork ? 'node IP' : 'sandbox IP'} ${address.detail}`);
      continue;
    }
    const key = `${address.type} ${address.address}`;
    if (seen.has(key)) continue;
    seen.add(key);
    addresses.push({ type: address.type, address: address.address });
  }
  if (addresses.length === 0) {
    if (skipped.length === 0) {
      skip(
        'invalid-address',
        hostNetwork
          ? 'hostNetwork sandbox and no node IP configured (--node-ip): not served rather than 127.0.0.1'
          : 'the runtime reports no IP address for this sandbox',
      );
    }
    return { records: [], skipped };
  }

  const names: { labels: string[]; claim: ClaimedRecord['claim'] }[] = [];
  const namespace = toLabel(sandbox.metadata.namespace);
  if (namespace.ok) names.push({ labels: [hostname.label, namespace.label, 'svc'], claim: 'exclusive' });
  else skip(namespace.reason, `namespace ${JSON.stringify(sandbox.metadata.namespace)}: ${namespace.detail}`);
  names.push({ labels: [hostname.label, 'svc'], claim: 'shared' });
  names.push({ labels: [hostname.label], claim: 'shared' });

  const records: ClaimedRecord[] = [];
  for (const { labels, claim } of names) {
    const owner = joinOwnerName(labels, options.clusterDomain);
    if (!owner.ok) {
      skip(owner.reason, owner.detail);
      continue;
    }
    for (const { type, address } of addresses) records.push({ name: owner.name, type, address, claim });
  }
  return { records, skipped };
}

/** Records of every sandbox, keyed by sandbox id (pure); see {@link sandboxRecords}. */
export function buildSandboxRecords(
  sandboxes: readonly SandboxObservation[],
  options: SandboxRecordOptions,
): SandboxZoneEntries {
  const entries = new Map<string, readonly ClaimedRecord[]>();
  const skipped: SkippedRecord[] = [];
  for (const sandbox of sandboxes) {
    const result = sandboxRecords(sandbox, options);
    if (result.records.length > 0) entries.set(sandbox.id, result.records);
    skipped.push(...result.skipped);
  }
  return { entries, skipped };
}
