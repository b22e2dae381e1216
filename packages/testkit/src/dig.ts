import { runCommand } from './processes.js';

export type DnsStatus =
  | 'NOERROR'
  | 'FORMERR'
  | 'SERVFAIL'
  | 'NXDOMAIN'
  | 'NOTIMP'
  | 'REFUSED'
  | 'YXDOMAIN'
  | 'YXRRSET'
  | 'NXRRSET'
  | 'NOTAUTH'
  | 'NOTZONE'
  | 'BADVERS';

const statuses: ReadonlySet<string> = new Set<DnsStatus>([
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
  'BADVERS',
]);

export interface DigRecord {
  /** Fully qualified, as dig prints it (trailing dot). */
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  /** The record data as dig prints it, e.g. '192.0.2.1' or 'ns.example.com. host.example.com. 1 2 3 4 5'. */
  readonly value: string;
}

export interface DigAnswer {
  readonly status: DnsStatus;
  /** Header flags, e.g. ['qr', 'aa']. */
  readonly flags: readonly string[];
  readonly aa: boolean;
  readonly answers: readonly DigRecord[];
  readonly authority: readonly DigRecord[];
  readonly additional: readonly DigRecord[];
  /** dig's full output, for failure messages. */
  readonly raw: string;
}

export interface DigQuery {
  readonly server: string;
  readonly port: number;
  readonly name: string;
  readonly type: string;
  /** Query over TCP instead of UDP. */
  readonly tcp?: boolean;
  /** Seconds per try (dig +time); default 1. */
  readonly timeSeconds?: number;
  /** Tries (dig +tries); default 2. */
  readonly tries?: number;
  /** Run dig inside this network namespace (`nsenter --net=PATH`), e.g. a Netns's path. */
  readonly netns?: string;
}

/** dig got no answer, or printed something this parser does not understand. */
export class DigError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(`${message}\n${output}`);
    this.name = 'DigError';
  }
}

/**
 * Sends one non-recursive query with the real `dig` and parses its answer.
 * Throws DigError when no server answered, ToolMissingError without dig.
 */
export async function dig(query: DigQuery): Promise<DigAnswer> {
  const timeSeconds = query.timeSeconds ?? 1;
  const tries = query.tries ?? 2;
  const args = [
    `@${query.server}`,
    '-p',
    String(query.port),
    query.name,
    query.type,
    '+norecurse',
    `+time=${timeSeconds}`,
    `+tries=${tries}`,
    ...(query.tcp ? ['+tcp'] : []),
  ];
  // dig's own limits bound it; the process limit is a backstop.
  const limit = { timeoutMs: (timeSeconds * tries + 5) * 1000 };
  const result =
    query.netns === undefined
      ? await runCommand('dig', args, limit)
      : await runCommand('nsenter', [`--net=${query.netns}`, '--', 'dig', ...args], limit);
  const output = result.stdout + result.stderr;
  if (result.code !== 0) {
    throw new DigError(
      `dig ${args.join(' ')} exited with ${result.code ?? result.signal ?? 'unknown'}`,
      output,
    );
  }
  return parseDigOutput(output);
}

/**
 * The SOA serial a server answers for origin authoritatively (aa, NOERROR), or undefined while it does not
 * (zone not loaded or transferred yet, or nothing listening): for start-up and transfer waits.
 */
export async function servedSoaSerial(
  server: { readonly address: string; readonly port: number },
  origin: string,
): Promise<number | undefined> {
  const name = origin.endsWith('.') ? origin : `${origin}.`;
  try {
    const answer = await dig({ server: server.address, port: server.port, name, type: 'SOA', tries: 1 });
    const soa = answer.answers.find((record) => record.type === 'SOA');
    if (answer.status !== 'NOERROR' || !answer.aa || !soa) return undefined;
    return Number(soa.value.split(/\s+/)[2]);
  } catch (error) {
    if (error instanceof DigError) return undefined; // not listening yet
    throw error;
  }
}

const sectionNames = {
  'ANSWER SECTION:': 'answers',
  'AUTHORITY SECTION:': 'authority',
  'ADDITIONAL SECTION:': 'additional',
} as const;

/** Parses dig's default (+cmd +comments) output. Exported for unit tests. */
export function parseDigOutput(output: string): DigAnswer {
  const header = /->>HEADER<<- opcode: \S+, status: ([A-Z]+), id: \d+/.exec(output);
  const status = header?.[1];
  if (status === undefined) throw new DigError('no DNS header in dig output', output);
  if (!statuses.has(status)) throw new DigError(`unknown DNS status ${status}`, output);
  const flagLine = /^;; flags:([^;]*);/m.exec(output);
  if (!flagLine?.[1]) throw new DigError('no flags line in dig output', output);
  const flags = flagLine[1].trim().split(/\s+/).filter(Boolean);

  const sections: Record<'answers' | 'authority' | 'additional', DigRecord[]> = {
    answers: [],
    authority: [],
    additional: [],
  };
  let current: DigRecord[] | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith(';; ')) {
      const key = line.slice(3).trim();
      current = key in sectionNames ? sections[sectionNames[key as keyof typeof sectionNames]] : undefined;
      continue;
    }
    if (line.trim() === '') {
      current = undefined;
      continue;
    }
    if (!current || line.startsWith(';')) continue;
    const match = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!match) throw new DigError(`cannot parse record line ${JSON.stringify(line)}`, output);
    const [, name = '', ttl = '', , type = '', value = ''] = match;
    current.push({ name, ttl: Number(ttl), type, value: value.trim() });
  }
  return {
    status: status as DnsStatus,
    flags,
    aa: flags.includes('aa'),
    answers: sections.answers,
    authority: sections.authority,
    additional: sections.additional,
    raw: output,
  };
}
