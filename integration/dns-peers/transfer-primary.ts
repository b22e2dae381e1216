// The primary side of the zone-transfer tests, shared by every secondary tested against it (BIND, Knot): a real
// Reconciler writing a VM zone and a reverse zone, served by a real CoreDNS running the shipped Corefile.monitor
// with the opt-in transfer snippet (`to 127.0.0.1:<secondary port>`, so CoreDNS NOTIFYs that secondary).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanUp, dig, startCoreDns, waitFor, type CoreDnsServer } from '@zonewright/testkit';
import {
  defaultZoneConfig,
  FileZoneStore,
  parseReverseRanges,
  Reconciler,
  silentLogger,
  systemClock,
  type ClaimedRecord,
  type SourceHandle,
} from '@zonewright/zone';

export const REVERSE = '77.10.in-addr.arpa';

export interface DnsEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface TransferPrimary {
  /** The VM zone's origin (random per primary). */
  readonly origin: string;
  /** The reverse zone of 10.77.0.0/16. */
  readonly reverse: string;
  readonly core: CoreDnsServer;
  /** The primary's temporary directory (its zones/ and transfer/ inside), removed by stop(): a secondary may
   * keep its files here. */
  readonly directory: string;
  /** CoreDNS's DNS listener: where secondaries ask for the SOA and transfer from. */
  readonly endpoint: DnsEndpoint;
  /** What the reconciler publishes, by source key: change it, then publish(). */
  readonly entries: Map<string, ClaimedRecord[]>;
  publish(): void;
  /** Stops the reconciler and CoreDNS and removes the zones directory; safe to call twice. */
  stop(): Promise<void>;
}

export function vmi(name: string, address: string): ClaimedRecord[] {
  return [
    { name: `nic1.${name}.default`, type: 'A', address, claim: 'exclusive' },
    { name: `${name}.default`, type: 'A', address, claim: 'exclusive' },
  ];
}

/** The values server answers authoritatively (NOERROR + aa), else its status (e.g. ['NXDOMAIN']). */
export async function answer(server: DnsEndpoint, name: string, type: string): Promise<string[]> {
  const result = await dig({ server: server.address, port: server.port, name, type, tries: 1 });
  return result.status === 'NOERROR' && result.aa
    ? result.answers.map((record) => record.value)
    : [result.status];
}

/**
 * Starts the primary with two VMs (web 10.77.0.10, db 10.77.0.20) published, and resolves once CoreDNS serves
 * both zones. secondaryPort is the secondary's port on 127.0.0.1 (known before the secondary starts: the
 * snippet allows it and sends it NOTIFY). Whatever was started is stopped again if a later step fails.
 */
export async function startTransferPrimary(label: string, secondaryPort: number): Promise<TransferPrimary> {
  const origin = `vm.${label}-${Math.random().toString(36).slice(2, 8)}.test`;
  const dir = await mkdtemp(join(tmpdir(), `zw-${label}-`));
  let reconciler: Reconciler | undefined;
  let core: CoreDnsServer | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await cleanUp(`${label} primary`, [
      () => reconciler?.stop(),
      () => core?.stop(),
      () => rm(dir, { recursive: true, force: true }),
    ]);
  };
  try {
    const zones = join(dir, 'zones');
    const snippets = join(dir, 'transfer');
    await mkdir(zones);
    await mkdir(snippets);
    reconciler = new Reconciler({
      config: defaultZoneConfig(origin, ['127.0.0.1']),
      store: new FileZoneStore(zones),
      clock: systemClock,
      logger: silentLogger,
      debounceMs: 20,
      maxDelayMs: 100,
      reverseRanges: parseReverseRanges('10.77.0.0/16'),
    });
    const source: SourceHandle = reconciler.registerSource('test');
    await reconciler.start();
    const entries = new Map([
      ['a', vmi('web', '10.77.0.10')],
      ['b', vmi('db', '10.77.0.20')],
    ]);
    source.replaceAll(entries);
    source.markSynced();
    await reconciler.whenReady();
    await writeFile(
      join(snippets, 'transfer.conf'),
      `    transfer {\n        to 127.0.0.1:${secondaryPort}\n    }\n`,
    );
    core = await startCoreDns({ corefile: 'monitor', zonesDirectory: zones, importDirectory: snippets });
    await core.waitForSerial(origin, 1);
    await core.waitForSerial(REVERSE, 1);
    return {
      origin,
      reverse: REVERSE,
      core,
      directory: dir,
      endpoint: { address: core.address, port: core.ports.dns },
      entries,
      publish: () => {
        source.replaceAll(entries);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Makes three changes one after the other (a VM added, a VM's address moved, a VM deleted) and, for each, waits
 * until CoreDNS answers it and then until the secondary does (bounded: 10 s each). Returns, per change, how
 * many ms after CoreDNS the secondary answered it. Leaves: web at 10.77.0.11, cache at 10.77.0.30, db gone.
 */
export async function followChanges(
  primary: TransferPrimary,
  secondary: DnsEndpoint,
  secondaryName: string,
): Promise<number[]> {
  const delays: number[] = [];
  for (const [step, vm, change, expected] of [
    ['add', 'cache', () => primary.entries.set('c', vmi('cache', '10.77.0.30')), ['10.77.0.30']],
    ['move', 'web', () => primary.entries.set('a', vmi('web', '10.77.0.11')), ['10.77.0.11']],
    ['delete', 'db', () => primary.entries.delete('b'), ['NXDOMAIN']],
  ] as const) {
    change();
    primary.publish();
    const name = `nic1.${vm}.default.${primary.origin}`;
    const seen = (server: DnsEndpoint) => async () =>
      JSON.stringify(await answer(server, name, 'A')) === JSON.stringify(expected) ? Date.now() : undefined;
    const atPrimary = await waitFor(seen(primary.endpoint), {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: `CoreDNS to answer ${step}`,
    });
    const atSecondary = await waitFor(seen(secondary), {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: `${secondaryName} to answer ${step}`,
    });
    delays.push(atSecondary - atPrimary);
  }
  return delays;
}
