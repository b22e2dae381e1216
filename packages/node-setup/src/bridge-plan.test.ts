import { BridgeConflictError, parseBridgeState, planBridge, planBridgeRemoval } from './bridge-plan.js';

const desired = { name: 'cni0', addresses: ['172.38.0.1/16'] };

describe('planBridge', () => {
  it('creates, addresses and brings up a missing bridge', () => {
    expect(planBridge({ addresses: [], ports: [] }, desired)).toEqual([
      ['link', 'add', 'cni0', 'type', 'bridge'],
      ['addr', 'add', '172.38.0.1/16', 'dev', 'cni0'],
      ['link', 'set', 'cni0', 'up'],
    ]);
  });
  it('is empty when everything is in place', () => {
    expect(
      planBridge({ link: { kind: 'bridge', up: true }, addresses: ['172.38.0.1/16'], ports: [] }, desired),
    ).toEqual([]);
  });
  it('refuses a non-bridge link of that name', () => {
    expect(() => planBridge({ link: { kind: 'veth', up: true }, addresses: [], ports: [] }, desired)).toThrow(
      BridgeConflictError,
    );
  });
});

describe('parseBridgeState + planBridgeRemoval', () => {
  const links = JSON.stringify([
    { ifname: 'cni0', flags: ['BROADCAST', 'UP'], linkinfo: { info_kind: 'bridge' } },
    { ifname: 'veth1', master: 'cni0', flags: ['UP'] },
  ]);
  const addrs = JSON.stringify([{ ifname: 'cni0', addr_info: [{ local: '172.38.0.1', prefixlen: 16 }] }]);
  it('keeps a bridge with ports', () => {
    const state = parseBridgeState('cni0', links, addrs);
    expect(state.ports).toEqual(['veth1']);
    expect(planBridgeRemoval(state, desired).commands).toEqual([]);
  });
  it('deletes a portless bridge carrying our address', () => {
    const state = parseBridgeState(
      'cni0',
      JSON.stringify([{ ifname: 'cni0', flags: ['UP'], linkinfo: { info_kind: 'bridge' } }]),
      addrs,
    );
    expect(planBridgeRemoval(state, desired).commands).toEqual([['link', 'del', 'cni0']]);
  });
});
