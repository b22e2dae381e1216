/**
 * The cluster DNS redirect as data: the desired iptables nat rules, a parser for `iptables-save -t nat`,
 * and the exact changes between what is there and what should be. No I/O.
 */
import { InvalidOptionError, UnsafeOptionError } from './errors.js';
import { isLoopback, parseAddress } from './ip.js';

export const NAT_TABLE = 'nat';
export const PREROUTING_CHAIN = 'ZONEWRIGHT-DNS-PRE';
export const OUTPUT_CHAIN = 'ZONEWRIGHT-DNS-OUT';
/** Every chain whose name starts with this is ours (also chains left by an older version). */
export const OWN_CHAIN_PREFIX = 'ZONEWRIGHT-DNS-';
/** Every rule whose comment starts with this is ours. */
export const COMMENT_TAG = 'zonewright:';
const JUMP_COMMENT = `${COMMENT_TAG} node-local DNS redirect`;

export interface IptablesRule {
  readonly chain: string;
  /** The rule in iptables-save's canonical order, one argument per element, without `-A <chain>`. */
  readonly spec: readonly string[];
}

/** A nat table, or the part of it that matters. */
export interface IptablesRuleset {
  /** Chains that exist (built-in chains may be listed or not). */
  readonly chains: readonly string[];
  readonly rules: readonly IptablesRule[];
}

export interface DnsRedirectPlanOptions {
  readonly clusterDns: string;
  readonly localDnsAddress: string;
  readonly localDnsPort: number;
  readonly allowRouteLocalnet?: boolean;
}

/** The rules that send clusterDns:53 (UDP and TCP) from pods (PREROUTING) and the node (OUTPUT) to the local DNS. */
export function planDnsRedirect(options: DnsRedirectPlanOptions): IptablesRuleset {
  const clusterDns = parseAddress(options.clusterDns);
  if (clusterDns?.family !== 4) {
    throw new InvalidOptionError(
      '--cluster-dns',
      options.clusterDns,
      'expected an IPv4 address such as 169.254.0.2',
    );
  }
  if (isLoopback(clusterDns)) {
    throw new InvalidOptionError(
      '--cluster-dns',
      options.clusterDns,
      'a loopback address is not reachable from pods',
    );
  }
  const target = parseAddress(options.localDnsAddress);
  if (target?.family !== 4) {
    throw new InvalidOptionError(
      '--local-dns-address',
      options.localDnsAddress,
      'expected an IPv4 address (the node-local DNS, e.g. the CNI bridge gateway)',
    );
  }
  if (!Number.isInteger(options.localDnsPort) || options.localDnsPort < 1 || options.localDnsPort > 65535) {
    throw new InvalidOptionError('--local-dns-port', options.localDnsPort, 'expected a port number 1-65535');
  }
  if (isLoopback(target) && options.allowRouteLocalnet !== true) {
    throw new UnsafeOptionError(
      `refusing --local-dns-address ${options.localDnsAddress}: pod queries DNATed to a loopback address are ` +
        'dropped as martians unless net.ipv4.conf.<bridge>.route_localnet=1, and route_localnet lets anyone ' +
        'who can reach the node talk to services bound to 127.0.0.0/8 (a known security hazard). Use a ' +
        'non-loopback address such as the CNI bridge gateway (the default), or pass --allow-route-localnet ' +
        'and enable route_localnet yourself',
    );
  }
  const destination = `${options.localDnsAddress}:${String(options.localDnsPort)}`;
  const dnat = (chain: string, protocol: 'udp' | 'tcp'): IptablesRule => ({
    chain,
    spec: [
      '-d',
      `${options.clusterDns}/32`,
      '-p',
      protocol,
      '-m',
      protocol,
      '--dport',
      '53',
      '-m',
      'comment',
      '--comment',
      `${COMMENT_TAG} cluster DNS ${protocol}`,
      '-j',
      'DNAT',
      '--to-destination',
      destination,
    ],
  });
  const jump = (from: string, to: string): IptablesRule => ({
    chain: from,
    spec: ['-m', 'comment', '--comment', JUMP_COMMENT, '-j', to],
  });
  return {
    chains: [PREROUTING_CHAIN, OUTPUT_CHAIN],
    rules: [
      dnat(PREROUTING_CHAIN, 'udp'),
      dnat(PREROUTING_CHAIN, 'tcp'),
      dnat(OUTPUT_CHAIN, 'udp'),
      dnat(OUTPUT_CHAIN, 'tcp'),
      jump('PREROUTING', PREROUTING_CHAIN),
      jump('OUTPUT', OUTPUT_CHAIN),
    ],
  };
}

/** Split an iptables-save rule line into arguments (double quotes and backslash escapes, as iptables-save writes). */
export function splitRuleLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inArg = false;
  let quoted = false;
  for (let index = 0; index < line.length; index += 1) {
    const char = line.charAt(index);
    if (char === '\\' && index + 1 < line.length) {
      current += line.charAt(index + 1);
      index += 1;
      inArg = true;
    } else if (char === '"') {
      quoted = !quoted;
      inArg = true;
    } else if (!quoted && (char === ' ' || char === '\t')) {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
    } else {
      current += char;
      inArg = true;
    }
  }
  if (inArg) args.push(current);
  return args;
}

function quoteArg(arg: string): string {
  return /^[A-Za-z0-9_./:,=+@%-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\])/g, '\\$1')}"`;
}

/** The rule as iptables-save / iptables-restore write it, e.g. `-A OUTPUT -m comment --comment "x y" -j Z`. */
export function formatRule(verb: '-A' | '-D' | '-I', rule: IptablesRule, position?: number): string {
  const head = position === undefined ? [verb, rule.chain] : [verb, rule.chain, String(position)];
  return [...head, ...rule.spec].map(quoteArg).join(' ');
}

/** Parse one table out of `iptables-save` output (all tables or `-t <table>`). A missing table is empty. */
export function parseIptablesSave(text: string, table: string = NAT_TABLE): IptablesRuleset {
  const chains: string[] = [];
  const rules: IptablesRule[] = [];
  let inTable = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inTable = line.slice(1) === table;
      continue;
    }
    if (!inTable) continue;
    if (line === 'COMMIT') {
      inTable = false;
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0];
      if (name !== undefined && name !== '') chains.push(name);
    } else if (line.startsWith('-A ')) {
      const [, chain, ...spec] = splitRuleLine(line);
      if (chain !== undefined) rules.push({ chain, spec });
    }
  }
  return { chains, rules };
}

function isOwnChain(chain: string): boolean {
  return chain.startsWith(OWN_CHAIN_PREFIX);
}

/** True for rules node-setup made: in our chains, jumping to them, or carrying our comment tag. */
export function isOwnRule(rule: IptablesRule): boolean {
  if (isOwnChain(rule.chain)) return true;
  for (let index = 0; index < rule.spec.length - 1; index += 1) {
    const flag = rule.spec[index];
    const value = rule.spec[index + 1] ?? '';
    if ((flag === '-j' || flag === '-g') && isOwnChain(value)) return true;
    if (flag === '--comment' && value.startsWith(COMMENT_TAG)) return true;
  }
  return false;
}

/** Only what belongs to node-setup: its chains and its rules. */
export function ownedPart(ruleset: IptablesRuleset): IptablesRuleset {
  return { chains: ruleset.chains.filter(isOwnChain), rules: ruleset.rules.filter(isOwnRule) };
}

export type RulesetChange =
  | { readonly kind: 'create-chain'; readonly chain: string }
  | { readonly kind: 'add-rule'; readonly rule: IptablesRule; readonly position: 'append' | 'first' }
  | { readonly kind: 'delete-rule'; readonly rule: IptablesRule }
  | { readonly kind: 'delete-chain'; readonly chain: string };

const BUILT_IN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

function ruleKey(rule: IptablesRule): string {
  return JSON.stringify([rule.chain, ...rule.spec]);
}

/**
 * The exact changes that turn the owned part of `current` into `desired`: missing chains and rules are added
 * (jumps from built-in chains first in the chain, so nothing earlier can catch the queries), duplicates and
 * rules of ours that are not desired are deleted, chains of ours that are not desired are flushed and deleted.
 * Rules of others are never touched. diffRuleset(x, desired) is empty when x already matches.
 */
export function diffRuleset(current: IptablesRuleset, desired: IptablesRuleset): RulesetChange[] {
  const owned = ownedPart(current);
  const desiredChains = new Set(desired.chains);
  const currentChains = new Set(current.chains);
  const removedChains = owned.chains.filter((chain) => !desiredChains.has(chain));
  const removed = new Set(removedChains);

  const have = new Map<string, IptablesRule[]>();
  for (const rule of owned.rules) {
    if (removed.has(rule.chain)) continue; // goes with its chain
    const key = ruleKey(rule);
    have.set(key, [...(have.get(key) ?? []), rule]);
  }
  const creates: RulesetChange[] = desired.chains
    .filter((chain) => !currentChains.has(chain))
    .map((chain) => ({ kind: 'create-chain', chain }));
  const addsInOwnChains: RulesetChange[] = [];
  const addsInBuiltIns: RulesetChange[] = [];
  for (const rule of desired.rules) {
    const key = ruleKey(rule);
    const existing = have.get(key) ?? [];
    if (existing.length > 0) {
      have.set(key, existing.slice(1));
      continue;
    }
    if (BUILT_IN_CHAINS.has(rule.chain)) addsInBuiltIns.push({ kind: 'add-rule', rule, position: 'first' });
    else addsInOwnChains.push({ kind: 'add-rule', rule, position: 'append' });
  }
  const deletes: RulesetChange[] = [];
  for (const leftovers of have.values())
    for (const rule of leftovers) deletes.push({ kind: 'delete-rule', rule });
  // Jumps from other chains into a chain being deleted must go before the chain can be deleted.
  const jumpDeletes = deletes.filter(
    (change) => change.kind === 'delete-rule' && !isOwnChain(change.rule.chain),
  );
  const innerDeletes = deletes.filter(
    (change) => change.kind === 'delete-rule' && isOwnChain(change.rule.chain),
  );
  return [
    ...creates,
    ...addsInOwnChains,
    ...innerDeletes,
    ...addsInBuiltIns,
    ...jumpDeletes,
    ...removedChains.map((chain): RulesetChange => ({ kind: 'delete-chain', chain })),
  ];
}

/** The nothing-of-ours ruleset: diffRuleset(current, EMPTY_RULESET) removes everything node-setup added. */
export const EMPTY_RULESET: IptablesRuleset = Object.freeze({ chains: [], rules: [] });

/** One change as the equivalent iptables command line (for dry runs, logs and check reports). */
export function describeChange(change: RulesetChange, table: string = NAT_TABLE): string {
  switch (change.kind) {
    case 'create-chain':
      return `iptables -t ${table} -N ${change.chain}`;
    case 'add-rule':
      return `iptables -t ${table} ${change.position === 'first' ? formatRule('-I', change.rule, 1) : formatRule('-A', change.rule)}`;
    case 'delete-rule':
      return `iptables -t ${table} ${formatRule('-D', change.rule)}`;
    case 'delete-chain':
      return `iptables -t ${table} -F ${change.chain} && iptables -t ${table} -X ${change.chain}`;
  }
}

/** The changes as one `iptables-restore --noflush` transaction (all or nothing). */
export function renderRestoreScript(changes: readonly RulesetChange[], table: string = NAT_TABLE): string {
  const lines = [`*${table}`];
  for (const change of changes) {
    if (change.kind === 'create-chain') lines.push(`:${change.chain} - [0:0]`);
  }
  for (const change of changes) {
    if (change.kind === 'add-rule') {
      lines.push(
        change.position === 'first' ? formatRule('-I', change.rule, 1) : formatRule('-A', change.rule),
      );
    } else if (change.kind === 'delete-rule') {
      lines.push(formatRule('-D', change.rule));
    } else if (change.kind === 'delete-chain') {
      lines.push(`-F ${change.chain}`, `-X ${change.chain}`);
    }
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}
