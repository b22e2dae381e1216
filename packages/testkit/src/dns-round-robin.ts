import { createSocket, type Socket } from 'node:dgram';
import { createConnection, createServer, type Server } from 'node:net';
import { findFreeDnsPort } from './named.js';

export interface DnsBackend {
  readonly address: string;
  readonly port: number;
}

export interface DnsRoundRobin {
  readonly address: string;
  readonly port: number;
  /** Queries (UDP datagrams and TCP connections) sent to each backend so far, by index. */
  readonly counts: readonly number[];
  stop(): Promise<void>;
}

/**
 * A stand-in for a Kubernetes Service in front of several DNS servers, on loopback: every UDP query and every
 * TCP connection goes to the next backend in turn, so a client (a secondary) may get its SOA from one replica
 * and its zone transfer from another.
 */
export async function startDnsRoundRobin(
  backends: readonly DnsBackend[],
  address = '127.0.0.1',
): Promise<DnsRoundRobin> {
  if (backends.length === 0) throw new Error('startDnsRoundRobin needs at least one backend');
  const port = await findFreeDnsPort(address);
  const counts = backends.map(() => 0);
  let next = 0;
  const pick = (): DnsBackend => {
    const index = next % backends.length;
    next += 1;
    counts[index] = (counts[index] ?? 0) + 1;
    return backends[index] as DnsBackend;
  };
  const udp: Socket = createSocket('udp4');
  const upstreams = new Set<Socket>();
  udp.on('message', (message, client) => {
    const backend = pick();
    const upstream = createSocket('udp4');
    upstreams.add(upstream);
    const done = (): void => {
      upstreams.delete(upstream);
      upstream.close();
    };
    const timer = setTimeout(done, 5000);
    upstream.on('message', (answer) => {
      clearTimeout(timer);
      udp.send(answer, client.port, client.address, done);
    });
    upstream.on('error', done);
    upstream.send(message, backend.port, backend.address);
  });
  await new Promise<void>((resolve) => udp.bind(port, address, resolve));
  const sockets = new Set<{ destroy(): void }>();
  const tcp: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const backend = pick();
    const upstream = createConnection({ host: backend.address, port: backend.port });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => tcp.listen(port, address, resolve));
  return {
    address,
    port,
    counts,
    stop: async () => {
      for (const upstream of upstreams) upstream.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
