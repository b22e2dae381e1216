import { describe, expect, it } from '@jest/globals';
import { assembleRecords } from './assemble.js';
import type { ClaimedRecord } from './model.js';

const a = (name: string, address: string, claim: ClaimedRecord['claim'] = 'exclusive'): ClaimedRecord => ({
  name,
  type: 'A',
  address,
  claim,
});

describe('assembleRecords', () => {
  it('gives an exclusive name to the lowest key and reports the others', () => {
    const result = assembleRecords(
      [
        ['uid-b', [a('web.default', '10.0.0.2')]],
        ['uid-a', [a('web.default', '10.0.0.1')]],
        ['uid-c', [a('web.default', '10.0.0.3', 'shared')]],
      ],
      'vm',
      new Set(['ns']),
    );
    expect(result.records).toEqual([a('web.default', '10.0.0.1')]);
    expect(result.conflicts).toEqual([
      { name: 'web.default', winner: 'uid-a', loser: 'uid-b' },
      { name: 'web.default', winner: 'uid-a', loser: 'uid-c' },
    ]);
  });

  it('serves every object of a shared name', () => {
    const result = assembleRecords(
      [
        ['s1', [a('cam.svc', '10.0.0.1', 'shared'), a('cam.edge.svc', '10.0.0.1')]],
        ['s2', [a('cam.svc', '10.0.0.2', 'shared'), a('cam.other.svc', '10.0.0.2')]],
      ],
      'cluster.local',
      new Set(['ns']),
    );
    expect(result.conflicts).toEqual([]);
    expect(
      result.records.filter((record) => record.name === 'cam.svc').map((record) => record.address),
    ).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('rejects reserved names, invalid names and non-canonical addresses with reasons', () => {
    const result = assembleRecords(
      [
        [
          'k',
          [
            a('ns', '10.0.0.1'),
            a('bad name', '10.0.0.1'),
            a('ok', '010.0.0.1'),
            a(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}`, '10.0.0.1'),
            a('fine', '10.0.0.1'),
          ],
        ],
      ],
      'vm.example.com',
      new Set(['ns']),
    );
    expect(result.rejected.map((skipped) => skipped.reason)).toEqual([
      'reserved-name',
      'invalid-name',
      'invalid-address',
      'name-too-long',
    ]);
    expect(result.records).toEqual([a('fine', '10.0.0.1')]);
  });
});
