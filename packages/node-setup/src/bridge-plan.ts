/**
 * Pure plan for the CNI bridge pre-creation step (applied by syncBridge in apply.ts).
 * Input: parsed `ip -j link show` / `ip -j addr show`; output: `ip` argv lists to run in order.
 */

/** What `ip -j` says about the bridge (undefined link = the bridge does not exist). */
export interface BridgeCurrent {
  readonly link?: { readonly kind: string | undefined; readonly up: boolean };
  /** Addresses on the bridge as `address/prefix`. */
  readonly addresses: readonly string[];
  /** Names of links whose master is the bridge (pod veths). */
  readonly ports: readonly string[];
}

export interface BridgeDesired {
  readonly name: string;
  /** Gateway addresses as `address/prefix` (IPv4, and IPv6 when an IPv6 range is configured). */
  readonly addresses: readonly string[];
}

export class BridgeConflictError extends Error {
  override readonly name = 'BridgeConflictError';
}

export function planBridge(current: BridgeCurrent, desired: BridgeDesired): string[][] {
  const commands: string[][] = [];
  if (current.link !== undefined && current.link.kind !== 'bridge') {
    throw new BridgeConflictError(
      `link ${desired.name} exists but is of kind ${current.link.kind ?? 'unknown'}, not bridge; the bridge CNI plugin would reject it`,
    );
  }
  if (current.link === undefined) commands.push(['link', 'add', desired.name, 'type', 'bridge']);
  for (const address of desired.addresses) {
    if (!current.addresses.includes(address)) commands.push(['addr', 'add', address, 'dev', desired.name]);
  }
  if (current.link?.up !== true) commands.push(['link', 'set', desired.name, 'up']);
  return commands;
}

interface IpLinkJson {
  ifname?: unknown;
  flags?: unknown;
  master?: unknown;
  linkinfo?: { info_kind?: unknown };
  addr_info?: { local?: unknown; prefixlen?: unknown }[];
}

/** Parse `ip -j -d link show` and `ip -j addr show` output (both JSON arrays) into BridgeCurrent. */
export function parseBridgeState(name: string, linkJson: string, addrJson: string): BridgeCurrent {
  const links = JSON.parse(linkJson) as IpLinkJson[];
  const addrs = JSON.parse(addrJson) as IpLinkJson[];
  if (!Array.isArray(links) || !Array.isArray(addrs)) throw new Error('ip -j output is not a JSON array');
  const self = links.find((l) => l.ifname === name);
  const addrEntry = addrs.find((l) => l.ifname === name);
  const addresses = (addrEntry?.addr_info ?? [])
    .filter((a) => typeof a.local === 'string' && typeof a.prefixlen === 'number')
    .map((a) => `${String(a.local)}/${String(a.prefixlen)}`);
  const ports = links
    .filter((l) => l.master === name && typeof l.ifname === 'string')
    .map((l) => String(l.ifname));
  if (self === undefined) return { addresses, ports };
  const kind = typeof self.linkinfo?.info_kind === 'string' ? self.linkinfo.info_kind : undefined;
  const up = Array.isArray(self.flags) && self.flags.includes('UP');
  return { link: { kind, up }, addresses, ports };
}

/** Removal: delete only when it is a bridge, has no ports, and carries our address. Returns argv or a reason. */
export function planBridgeRemoval(
  current: BridgeCurrent,
  desired: BridgeDesired,
): { readonly commands: string[][]; readonly reason?: string } {
  if (current.link === undefined) return { commands: [] };
  if (current.link.kind !== 'bridge')
    return { commands: [], reason: `${desired.name} is not a bridge; left alone` };
  if (current.ports.length > 0)
    return {
      commands: [],
      reason: `${desired.name} still has ports (${current.ports.join(', ')}); left in place`,
    };
  if (!desired.addresses.some((a) => current.addresses.includes(a)))
    return { commands: [], reason: `${desired.name} does not carry our gateway address; left alone` };
  return { commands: [['link', 'del', desired.name]] };
}
