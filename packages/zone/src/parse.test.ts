import { describe, expect, it } from '@jest/globals';
import { checkZone, lookup, originFromFileName } from './check.js';
import { parseTtl, parseZone } from './parse.js';

const handWritten = `$ORIGIN example.com.
$TTL 1h
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        3600 900 604800 300 )
    IN NS ns1
ns1 IN A 192.0.2.53
www 300 IN A 192.0.2.10
    IN AAAA 2001:db8::10
mail.example.com. IN MX 10 www
txt IN TXT "hello; world" "second"
alias IN CNAME www
`;

describe('parseZone', () => {
  it('reads a hand-written zone with parentheses, comments, inherited owners and relative names', () => {
    const parsed = parseZone(handWritten);
    expect(parsed.problems).toEqual([]);
    expect(parsed.origin).toBe('example.com');
    const soa = parsed.records[0];
    expect(soa).toMatchObject({ name: 'example.com', type: 'SOA', ttl: 3600, line: 3 });
    expect(soa?.rdata.slice(0, 3)).toEqual(['ns1.example.com', 'hostmaster.example.com', '2024010101']);
    expect(parsed.records.find((record) => record.type === 'AAAA')).toMatchObject({
      name: 'www.example.com',
      ttl: 3600, // $TTL applies to a record without its own TTL, as in BIND
      rdata: ['2001:db8::10'],
      line: 9,
    });
    expect(parsed.records.find((record) => record.type === 'TXT')?.rdata).toEqual([
      '"hello; world"',
      '"second"',
    ]);
    expect(parsed.records.find((record) => record.type === 'MX')?.rdata).toEqual(['10', 'www.example.com']);
    expect(checkZone(parsed)).toEqual([]);
  });

  it('reports each syntax problem with its line and keeps going', () => {
    const parsed = parseZone(
      [
        '$ORIGIN vm.',
        '$TTL 30',
        '@ IN SOA ns h 1 2 3 4 5',
        '@ IN NS ns',
        'ns IN A 10.0.0.1',
        'bad IN A 10.0.0.999',
        'x IN AAAA 10.0.0.1',
        'y IN A',
        'z IN BOGUS#',
        'ok IN A 10.0.0.2',
        'bad line here',
        '(',
        '',
      ].join('\n'),
    );
    expect(parsed.problems.map((problem) => problem.line)).toEqual([6, 7, 8, 9, 11, 12]);
    expect(parsed.problems[0]?.message).toContain('"10.0.0.999" is not an IPv4 address');
    expect(parsed.records.map((record) => record.name)).toContain('ok.vm');
  });

  it('parses TTL units', () => {
    expect(parseTtl('1h30m')).toBe(5400);
    expect(parseTtl('2d')).toBe(172800);
    expect(parseTtl('30')).toBe(30);
    expect(parseTtl('x')).toBeUndefined();
    expect(parseTtl('99999999999')).toBeUndefined();
  });
});

describe('checkZone', () => {
  const problemsOf = (text: string): string[] =>
    checkZone(parseZone(text, { origin: 'vm.example.com' })).map(
      (problem) => `${problem.line}: ${problem.message}`,
    );

  it('finds a missing SOA, serial 0, NS without glue, bad names, CNAME clashes and out-of-zone data', () => {
    expect(problemsOf('$TTL 30\n@ IN NS ns\n')).toEqual([
      '1: no SOA record for vm.example.com.',
      '2: NS target ns.vm.example.com. is inside the zone but has no A or AAAA record (glue)',
    ]);
    const problems = problemsOf(
      [
        '$TTL 30',
        '@ IN SOA ns h 0 1 1 1 1',
        '@ IN NS ns',
        'ns IN A 10.0.0.1',
        'bad_name IN A 10.0.0.2',
        'c IN CNAME ns',
        'c IN A 10.0.0.3',
        'other.example.org. IN A 10.0.0.4',
        'ns IN A 10.0.0.1',
      ].join('\n'),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^2: SOA serial is 0/),
      expect.stringMatching(/^5: owner name bad_name\.vm\.example\.com\. is not a valid host name/),
      '6: c.vm.example.com. is a CNAME and also has a A record (line 7)',
      '8: other.example.org. is outside the zone vm.example.com.',
      '9: duplicate A record for ns.vm.example.com.',
    ]);
  });

  it('needs an origin', () => {
    const messages = checkZone(parseZone('x IN A 10.0.0.1\n')).map((problem) => problem.message);
    expect(messages).toEqual([
      expect.stringContaining('with no $ORIGIN'),
      expect.stringContaining('no origin'),
    ]);
  });
});

describe('lookup', () => {
  const parsed = parseZone(handWritten);
  it('answers records, NODATA, NXDOMAIN and NOTAUTH like a server', () => {
    expect(lookup(parsed, 'www.example.com.', 'A')).toMatchObject({
      status: 'NOERROR',
      records: [{ rdata: ['192.0.2.10'] }],
    });
    expect(lookup(parsed, 'WWW.example.com', undefined)).toMatchObject({
      status: 'NOERROR',
      records: [{}, {}],
    });
    expect(lookup(parsed, 'ns1.example.com', 'AAAA')).toEqual({ status: 'NODATA', name: 'ns1.example.com' });
    expect(lookup(parsed, 'nope.example.com', 'A')).toEqual({ status: 'NXDOMAIN', name: 'nope.example.com' });
    expect(lookup(parsed, 'example.org', 'A')).toEqual({ status: 'NOTAUTH', name: 'example.org' });
  });
  it('derives origins from file names', () => {
    expect(originFromFileName('db.vm.example.com')).toBe('vm.example.com');
    expect(originFromFileName('zone.txt')).toBeUndefined();
  });
});
