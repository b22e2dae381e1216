import { describe, expect, it } from '@jest/globals';
import { DigError, parseDigOutput } from './dig.js';

// Outputs captured from dig 9.18 against named 9.18.
const nsAnswer = `
; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @127.0.0.1 -p 25353 example.test NS +norecurse +time=1 +tries=2
; (1 server found)
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 58387
;; flags: qr aa; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 2

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 8287ef947165a394010000006b07583735bec0e298534bea (good)
;; QUESTION SECTION:
;example.test.\t\t\tIN\tNS

;; ANSWER SECTION:
example.test.\t\t300\tIN\tNS\tns.example.test.

;; ADDITIONAL SECTION:
ns.example.test.\t300\tIN\tA\t192.0.2.53

;; Query time: 0 msec
;; SERVER: 127.0.0.1#25353(127.0.0.1) (UDP)
;; WHEN: Wed Nov 25 21:50:47 UTC 2026
;; MSG SIZE  rcvd: 102
`;

const nxdomain = `
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 14122
;; flags: qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; QUESTION SECTION:
;missing.example.test.\t\tIN\tA

;; AUTHORITY SECTION:
example.test.\t\t30\tIN\tSOA\tns.example.test. hostmaster.example.test. 2024010101 3600 600 86400 30

;; Query time: 0 msec
`;

const txt = `
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
;; flags: qr aa; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1

;; ANSWER SECTION:
t.example.test.\t60\tIN\tTXT\t"two words" "and more"
t.example.test.\t60\tIN\tTXT\t""
`;

describe('parseDigOutput', () => {
  it('reads status, flags and every section', () => {
    const answer = parseDigOutput(nsAnswer);
    expect(answer.status).toBe('NOERROR');
    expect(answer.flags).toEqual(['qr', 'aa']);
    expect(answer.aa).toBe(true);
    expect(answer.answers).toEqual([
      { name: 'example.test.', ttl: 300, type: 'NS', value: 'ns.example.test.' },
    ]);
    expect(answer.authority).toEqual([]);
    expect(answer.additional).toEqual([
      { name: 'ns.example.test.', ttl: 300, type: 'A', value: '192.0.2.53' },
    ]);
  });

  it('keeps the whole SOA rdata and sees a non-authoritative answer', () => {
    const answer = parseDigOutput(nxdomain);
    expect(answer.status).toBe('NXDOMAIN');
    expect(answer.aa).toBe(false);
    expect(answer.answers).toEqual([]);
    expect(answer.authority).toEqual([
      {
        name: 'example.test.',
        ttl: 30,
        type: 'SOA',
        value: 'ns.example.test. hostmaster.example.test. 2024010101 3600 600 86400 30',
      },
    ]);
  });

  it('keeps spaces inside record data', () => {
    const answer = parseDigOutput(txt);
    expect(answer.answers.map((record) => record.value)).toEqual(['"two words" "and more"', '""']);
  });

  it('throws DigError, with the output, when no server answered', () => {
    const output =
      ';; communications error to 127.0.0.1#25354: connection refused\n;; no servers could be reached\n';
    expect(() => parseDigOutput(output)).toThrow(DigError);
    expect(() => parseDigOutput(output)).toThrow(/no DNS header[\s\S]*connection refused/);
  });

  it('rejects a status it does not know', () => {
    const output = ';; ->>HEADER<<- opcode: QUERY, status: WHATEVER, id: 1\n;; flags: qr; QUERY: 1\n';
    expect(() => parseDigOutput(output)).toThrow(/unknown DNS status WHATEVER/);
  });

  it('rejects a record line it cannot read', () => {
    const output = `;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
;; flags: qr aa; QUERY: 1

;; ANSWER SECTION:
garbage
`;
    expect(() => parseDigOutput(output)).toThrow(/cannot parse record line "garbage"/);
  });
});
