/**
 * A small DNS client over UDP for measurements that ask many times a second (dig forks a process per query):
 * one socket, one question, the answer's rcode and its A/AAAA addresses. Encodes and decodes only what that
 * needs (RFC 1035 header, question, resource records with name compression).
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export const DNS_TYPE = { A: 1, AAAA: 28, SOA: 6 } as const;
export type UdpQueryType = keyof typeof DNS_TYPE;

export interface UdpAnswer {
  readonly id: number;
  /** 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, … */
  readonly rcode: number;
  readonly authoritative: boolean;
  /** Addresses of the A or AAAA records in the answer section, in order. */
  readonly addresses: readonly string[];
}

/** A reply that is not a DNS message this client understands. */
export class DnsMessageError extends Error {
  override readonly name = 'DnsMessageError';
}

/** A query message (recursion not desired) for `name` and `type` with the given id. */
export function encodeQuery(id: number, name: string, type: UdpQueryType): Buffer {
  const labels = name.split('.').filter((label) => label !== '');
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63) throw new DnsMessageError(`bad label in ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  const code = DNS_TYPE[type];
  parts.push(Buffer.from([0, code >> 8, code & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

/** Offset just after the (possibly compressed) name starting at `offset`. */
function skipName(message: Buffer, offset: number): number {
  let at = offset;
  for (;;) {
    const length = message[at];
    if (length === undefined) throw new DnsMessageError('name runs past the end of the message');
    if (length === 0) return at + 1;
    if (length >= 0xc0) return at + 2;
    at += length + 1;
  }
}

function formatAddress(rdata: Buffer): string {
  if (rdata.length === 4) return [...rdata].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i).toString(16));
  // The WHATWG URL parser prints an IPv6 host in its canonical (RFC 5952) form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The header and the A/AAAA addresses of the answer section. */
export function decodeAnswer(message: Buffer): UdpAnswer {
  if (message.length < 12)
    throw new DnsMessageError(`a ${message.length}-byte reply is shorter than a header`);
  const flags = message.readUInt16BE(2);
  if ((flags & 0x8000) === 0) throw new DnsMessageError('the reply is not a response (QR is 0)');
  const questions = message.readUInt16BE(4);
  const answers = message.readUInt16BE(6);
  let offset = 12;
  for (let i = 0; i < questions; i++) offset = skipName(message, offset) + 4;
  const addresses: string[] = [];
  for (let i = 0; i < answers; i++) {
    offset = skipName(message, offset);
    if (offset + 10 > message.length) throw new DnsMessageError('record header runs past the end');
    const type = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 8);
    const rdata = message.subarray(offset + 10, offset + 10 + length);
    if (rdata.length !== length) throw new DnsMessageError('record data runs past the end');
    if ((type === DNS_TYPE.A && length === 4) || (type === DNS_TYPE.AAAA && length === 16))
      addresses.push(formatAddress(rdata));
    offset += 10 + length;
  }
  return {
    id: message.readUInt16BE(0),
    rcode: flags & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    addresses,
  };
}

/** One UDP socket that sends queries to one server and matches replies by id. */
export class UdpDnsClient {
  private readonly socket: Socket;
  private readonly waiting = new Map<number, (answer: UdpAnswer | undefined) => void>();
  private nextId = Math.floor(Math.random() * 0xffff);

  constructor(
    private readonly server: string,
    private readonly port: number,
  ) {
    this.socket = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
    this.socket.on('message', (message) => {
      let answer: UdpAnswer;
      try {
        answer = decodeAnswer(message);
      } catch {
        return; // not ours to judge: the query times out
      }
      this.waiting.get(answer.id)?.(answer);
    });
  }

  /** The answer, or undefined when none came within `timeoutMs`. */
  query(name: string, type: UdpQueryType = 'A', timeoutMs = 500): Promise<UdpAnswer | undefined> {
    this.nextId = (this.nextId + 1) & 0xffff;
    const id = this.nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        done(undefined);
      }, timeoutMs);
      const done = (answer: UdpAnswer | undefined): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(answer);
      };
      this.waiting.set(id, done);
      this.socket.send(encodeQuery(id, name, type), this.port, this.server);
    });
  }

  close(): void {
    for (const done of [...this.waiting.values()]) done(undefined);
    this.socket.close();
  }
}
