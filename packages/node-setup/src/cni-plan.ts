/** The bridge + host-local + portmap conflist as data, with its address plan validated. No I/O. */
import { InvalidOptionError } from './errors.js';
import { cidrContains, formatAddress, parseAddress, parseCidr } from './ip.js';
import type { ParsedCidr } from './ip.js';

export interface CniPlanOptions {
  readonly networkName: string;
  readonly bridge: string;
  /** Pod IPv4 subnet, e.g. 172.38.0.0/16. */
  readonly subnet: string;
  /** Bridge address inside the subnet, e.g. 172.38.0.1. */
  readonly gateway: string;
  /** Optional pod IPv6 range (CIDR); '' or undefined for IPv4 only. */
  readonly ipv6Range?: string;
}

export interface CniPlan {
  /** The conflist as parsed JSON. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The exact bytes to write: stable key order, two-space indent, final newline. */
  readonly content: string;
}

function checkCidr(option: string, text: string, family: 4 | 6, minHosts: bigint): ParsedCidr {
  const cidr = parseCidr(text);
  if (cidr === undefined) {
    throw new InvalidOptionError(
      option,
      text,
      `not a CIDR (expected e.g. ${family === 4 ? '172.38.0.0/16' : 'fd00:38::/64'})`,
    );
  }
  if (cidr.family !== family)
    throw new InvalidOptionError(option, text, `expected an IPv${String(family)} range`);
  if (cidr.hostBitsSet) {
    throw new InvalidOptionError(
      option,
      text,
      `host bits are set; the network is ${formatAddress(cidr.family, cidr.network)}/${String(cidr.prefix)}`,
    );
  }
  if (cidr.last - cidr.network + 1n < minHosts) {
    throw new InvalidOptionError(option, text, 'the range is too small for a gateway and pods');
  }
  return cidr;
}

/** The conflist, or an InvalidOptionError naming the flag and what is wrong with it. */
export function planCniConfig(options: CniPlanOptions): CniPlan {
  const subnet = checkCidr('--cni-subnet', options.subnet, 4, 4n);
  const gateway = parseAddress(options.gateway);
  if (gateway?.family !== 4)
    throw new InvalidOptionError('--cni-gateway', options.gateway, 'expected an IPv4 address');
  if (!cidrContains(subnet, gateway)) {
    throw new InvalidOptionError(
      '--cni-gateway',
      options.gateway,
      `not inside --cni-subnet ${options.subnet}`,
    );
  }
  if (gateway.value === subnet.network) {
    throw new InvalidOptionError(
      '--cni-gateway',
      options.gateway,
      `is the network address of ${options.subnet}`,
    );
  }
  if (gateway.value === subnet.last) {
    throw new InvalidOptionError(
      '--cni-gateway',
      options.gateway,
      `is the broadcast address of ${options.subnet}`,
    );
  }
  const ranges: Record<string, string>[][] = [[{ subnet: options.subnet, gateway: options.gateway }]];
  const routes: Record<string, string>[] = [{ dst: '0.0.0.0/0' }];
  const ipv6Range = options.ipv6Range ?? '';
  if (ipv6Range !== '') {
    checkCidr('--cni-ipv6-range', ipv6Range, 6, 4n);
    ranges.push([{ subnet: ipv6Range }]);
    routes.push({ dst: '::/0' });
  }
  const config = {
    cniVersion: '1.0.0',
    name: options.networkName,
    plugins: [
      {
        type: 'bridge',
        bridge: options.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges, routes },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  return { config, content: `${JSON.stringify(config, null, 2)}\n` };
}
