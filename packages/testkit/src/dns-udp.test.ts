import { describe, expect, it } from '@jest/globals';
import { DnsMessageError, decodeAnswer, encodeQuery } from './dns-udp.js';

// A reply to "web.vm.example.com A" with a compressed owner name and two answers (captured shape of CoreDNS's).
function reply(flags: number, records: readonly { type: number; rdata: readonly number[] }[]): Buffer {
  const question = encodeQuery(0x1234, 'web.vm.example.com', 'A').subarray(12);
  const header = Buffer.from([0x12, 0x34, flags >> 8, flags & 0xff, 0, 1, 0, records.length, 0, 0, 0, 0]);
  const answers = records.map(({ type, rdata }) =>
    Buffer.from([0xc0, 12, 0, type, 0, 1, 0, 0, 0, 30, 0, rdata.length, ...rdata]),
  );
  return Buffer.concat([header, question, ...answers]);
}

describe('encodeQuery', () => {
  it('writes the id, one question, labels and the type', () => {
    const query = encodeQuery(0xbeef, 'a.example.com.', 'AAAA');
    expect([...query.subarray(0, 6)]).toEqual([0xbe, 0xef, 0, 0, 0, 1]);
    expect(query.subarray(12).toString('latin1')).toBe('\x01a\x07example\x03com\x00\x00\x1c\x00\x01');
  });
});

describe('decodeAnswer', () => {
  it('reads rcode, aa and every A and AAAA address after compressed names', () => {
    const answer = decodeAnswer(
      reply(0x8400, [
        { type: 1, rdata: [192, 0, 2, 7] },
        { type: 28, rdata: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
      ]),
    );
    expect(answer).toEqual({
      id: 0x1234,
      rcode: 0,
      authoritative: true,
      addresses: ['192.0.2.7', '2001:db8::1'],
    });
  });

  it('reports NXDOMAIN without addresses', () => {
    expect(decodeAnswer(reply(0x8403, []))).toMatchObject({ rcode: 3, addresses: [] });
  });

  it('rejects a query, a short message and a truncated record', () => {
    expect(() => decodeAnswer(encodeQuery(1, 'x.test', 'A'))).toThrow(DnsMessageError);
    expect(() => decodeAnswer(Buffer.alloc(5))).toThrow(/shorter than a header/);
    expect(() => decodeAnswer(reply(0x8400, [{ type: 1, rdata: [1, 2, 3, 4] }]).subarray(0, 40))).toThrow(
      DnsMessageError,
    );
  });
});
