/**
 * KubeVirt VirtualMachineInstance → DNS records (pure).
 *
 * {@link summarizeVmi} turns a raw VMI object (from the API or a file) into the few fields the builder needs,
 * so a source can drop the full object at once; {@link buildVmiRecords} turns a summary into records named
 * relative to the zone origin: `<iface>.<vmi>.<namespace>` and `<vmi>.<namespace>`.
 */
import { isJsonObject, joinOwnerName, toAddress, toLabel } from '@zonewright/zone';
import type { ClaimedRecord, SkippedRecord } from '@zonewright/zone';

/** Annotation on a VMI that keeps it out of the zone when its value is `"true"`. */
export const EXCLUDE_ANNOTATION = 'zonewright.io/exclude';

/** One secondary interface of a VMI as reported in `status.interfaces`. */
export interface VmiInterfaceSummary {
  /** `status.interfaces[].name`: the name of the network in `spec.networks`. */
  readonly name: string;
  /** `ipAddresses`, or `[ipAddress]` when only that is set; unvalidated text. */
  readonly addresses: readonly string[];
}

/** The part of a VMI the record builder needs; everything else is dropped. */
export interface VmiSummary {
  readonly namespace: string;
  readonly name: string;
  /** `metadata.uid`; empty when the object has none (files written by hand). */
  readonly uid: string;
  readonly resourceVersion: string;
  /** The VMI carries `zonewright.io/exclude: "true"`. */
  readonly excluded: boolean;
  /** Interfaces on secondary networks only (not `pod: {}`, not a Multus default network), in status order. */
  readonly interfaces: readonly VmiInterfaceSummary[];
}

export interface VmiRecordOptions {
  /** Keep link-local, loopback and other non-routable addresses (default false). */
  readonly allowNonRoutable?: boolean;
  /** Zone origin, used only to check the full length of each name (default '', i.e. relative only). */
  readonly origin?: string;
}

export interface VmiRecords {
  readonly records: ClaimedRecord[];
  readonly skipped: SkippedRecord[];
}

/** A VMI object that cannot be summarized (no metadata.name, wrong field types…). */
export class InvalidVmiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidVmiError';
  }
}

/** The key a source uses for a VMI: its uid, or `namespace/name` when it has no uid. */
export function vmiKey(vmi: Pick<VmiSummary, 'namespace' | 'name' | 'uid'>): string {
  return vmi.uid !== '' ? vmi.uid : `${vmi.namespace}/${vmi.name}`;
}

/** `namespace/name` for messages. */
export function vmiDisplayName(vmi: Pick<VmiSummary, 'namespace' | 'name'>): string {
  return `${vmi.namespace}/${vmi.name}`;
}

function optionalString(value: unknown, field: string): string | Error {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') return new InvalidVmiError(`${field} must be a string`);
  return value;
}

/**
 * Keep only what {@link buildVmiRecords} needs from a raw VMI object. Returns an error (never throws) naming the
 * field that is wrong. The namespace defaults to `default` when `metadata.namespace` is missing, as kubectl does.
 */
export function summarizeVmi(obj: unknown): VmiSummary | InvalidVmiError {
  if (!isJsonObject(obj)) return new InvalidVmiError('a VirtualMachineInstance must be an object');
  if (obj['kind'] !== undefined && obj['kind'] !== 'VirtualMachineInstance') {
    return new InvalidVmiError(`kind is ${JSON.stringify(obj['kind'])}, expected "VirtualMachineInstance"`);
  }
  const metadata = obj['metadata'];
  if (!isJsonObject(metadata)) return new InvalidVmiError('metadata is missing');
  const name = optionalString(metadata['name'], 'metadata.name');
  if (name instanceof Error) return name;
  if (name === '') return new InvalidVmiError('metadata.name is missing');
  const namespaceValue = optionalString(metadata['namespace'], 'metadata.namespace');
  if (namespaceValue instanceof Error) return namespaceValue;
  const namespace = namespaceValue === '' ? 'default' : namespaceValue;
  const where = `VirtualMachineInstance ${namespace}/${name}`;
  const uid = optionalString(metadata['uid'], 'metadata.uid');
  if (uid instanceof Error) return new InvalidVmiError(`${where}: ${uid.message}`);
  const resourceVersion = optionalString(metadata['resourceVersion'], 'metadata.resourceVersion');
  if (resourceVersion instanceof Error) return new InvalidVmiError(`${where}: ${resourceVersion.message}`);
  const annotations = metadata['annotations'];
  if (annotations !== undefined && annotations !== null && !isJsonObject(annotations)) {
    return new InvalidVmiError(`${where}: metadata.annotations must be an object`);
  }
  const excluded = isJsonObject(annotations) && annotations[EXCLUDE_ANNOTATION] === 'true';

  // Networks that are NOT secondary: the pod network and a Multus network marked as the default.
  const primary = new Set<string>();
  const known = new Set<string>();
  const spec = obj['spec'];
  const networks = isJsonObject(spec) ? spec['networks'] : undefined;
  if (networks !== undefined && networks !== null) {
    if (!Array.isArray(networks)) return new InvalidVmiError(`${where}: spec.networks must be a list`);
    for (const [index, network] of networks.entries()) {
      if (!isJsonObject(network) || typeof network['name'] !== 'string') {
        return new InvalidVmiError(`${where}: spec.networks[${index}].name must be a string`);
      }
      known.add(network['name']);
      const multus = network['multus'];
      if (network['pod'] !== undefined || (isJsonObject(multus) && multus['default'] === true)) {
        primary.add(network['name']);
      }
    }
  }

  const interfaces: VmiInterfaceSummary[] = [];
  const status = obj['status'];
  const statusInterfaces = isJsonObject(status) ? status['interfaces'] : undefined;
  if (statusInterfaces !== undefined && statusInterfaces !== null) {
    if (!Array.isArray(statusInterfaces)) {
      return new InvalidVmiError(`${where}: status.interfaces must be a list`);
    }
    for (const [index, entry] of statusInterfaces.entries()) {
      if (!isJsonObject(entry))
        return new InvalidVmiError(`${where}: status.interfaces[${index}] must be an object`);
      const ifaceName = entry['name'];
      // Interfaces the guest agent reports without a matching network have no name: not ours.
      if (typeof ifaceName !== 'string' || ifaceName === '') continue;
      if (!known.has(ifaceName) || primary.has(ifaceName)) continue;
      const addresses: string[] = [];
      const list = entry['ipAddresses'];
      if (Array.isArray(list) && list.length > 0) {
        for (const address of list) if (typeof address === 'string') addresses.push(address);
      } else if (typeof entry['ipAddress'] === 'string' && entry['ipAddress'] !== '') {
        addresses.push(entry['ipAddress']);
      }
      interfaces.push({ name: ifaceName, addresses });
    }
  }
  return { namespace, name, uid, resourceVersion, excluded, interfaces };
}

interface LabelledInterface {
  readonly label: string;
  readonly iface: VmiInterfaceSummary;
}

/**
 * Records of one VMI: for every secondary interface `<iface>.<vmi>.<namespace>` with each of its valid
 * addresses, and `<vmi>.<namespace>` with the addresses of the first secondary interface in label order (none
 * when that interface has no valid address yet). Names are relative to the origin; every claim is exclusive. Two interfaces whose names give the same
 * label: the first by interface name wins, the other is skipped with reason `conflict`. An excluded VMI has no
 * records and no skips.
 */
export function buildVmiRecords(vmi: VmiSummary, options: VmiRecordOptions = {}): VmiRecords {
  const records: ClaimedRecord[] = [];
  const skipped: SkippedRecord[] = [];
  if (vmi.excluded) return { records, skipped };
  const object = vmiDisplayName(vmi);
  if (vmi.interfaces.length === 0) return { records, skipped };

  const vmiLabel = toLabel(vmi.name);
  const namespaceLabel = toLabel(vmi.namespace);
  if (!vmiLabel.ok || !namespaceLabel.ok) {
    const bad = !vmiLabel.ok ? vmiLabel : namespaceLabel;
    if (!bad.ok) skipped.push({ reason: bad.reason, detail: bad.detail, object });
    return { records, skipped };
  }

  const sorted = [...vmi.interfaces].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byLabel = new Map<string, LabelledInterface>();
  for (const iface of sorted) {
    const label = toLabel(iface.name);
    if (!label.ok) {
      skipped.push({ reason: label.reason, detail: `interface ${iface.name}: ${label.detail}`, object });
      continue;
    }
    const first = byLabel.get(label.label);
    if (first !== undefined) {
      skipped.push({
        reason: 'conflict',
        detail: `interface ${iface.name} maps to the same name "${label.label}" as interface ${first.iface.name}`,
        object,
      });
      continue;
    }
    byLabel.set(label.label, { label: label.label, iface });
  }

  const ordered = [...byLabel.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  const origin = options.origin ?? '';
  let vmiNameAddresses: { type: 'A' | 'AAAA'; address: string }[] | undefined;
  for (const [index, { label, iface }] of ordered.entries()) {
    const owner = joinOwnerName([label, vmiLabel.label, namespaceLabel.label], origin);
    if (!owner.ok) {
      skipped.push({ reason: owner.reason, detail: `interface ${iface.name}: ${owner.detail}`, object });
      continue;
    }
    const valid: { type: 'A' | 'AAAA'; address: string }[] = [];
    const seen = new Set<string>();
    for (const text of iface.addresses) {
      const address = toAddress(text, { allowNonRoutable: options.allowNonRoutable ?? false });
      if (!address.ok) {
        skipped.push({
          reason: address.reason,
          detail: `interface ${iface.name}: ${address.detail}`,
          object,
        });
        continue;
      }
      if (seen.has(address.address)) continue;
      seen.add(address.address);
      valid.push({ type: address.type, address: address.address });
    }
    for (const { type, address } of valid)
      records.push({ name: owner.name, type, address, claim: 'exclusive' });
    if (index === 0) vmiNameAddresses = valid;
  }
  if (vmiNameAddresses !== undefined && vmiNameAddresses.length > 0) {
    const owner = joinOwnerName([vmiLabel.label, namespaceLabel.label], origin);
    if (owner.ok) {
      for (const { type, address } of vmiNameAddresses) {
        records.push({ name: owner.name, type, address, claim: 'exclusive' });
      }
    } else {
      skipped.push({ reason: owner.reason, detail: owner.detail, object });
    }
  }
  return { records, skipped };
}
