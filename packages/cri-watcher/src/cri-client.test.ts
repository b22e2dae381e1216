import { existsSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { GrpcStatus as status } from './errors.js';
import { CriClient, RUNTIME_PROTO_PATH } from './cri-client.js';
import { hostnameFromVerboseInfo } from './cri-messages.js';
import {
  CriCallError,
  CriNotFoundError,
  CriUnavailableError,
  CriUnimplementedError,
  RuntimeEndpointError,
  toCriError,
} from './errors.js';

describe('hostnameFromVerboseInfo', () => {
  it('reads containerd info -> config.hostname', () => {
    const info = {
      info: JSON.stringify({ pid: 42, config: { metadata: { name: 'web' }, hostname: 'camera' } }),
    };
    expect(hostnameFromVerboseInfo(info)).toBe('camera');
  });

  it('reads CRI-O info -> runtimeSpec.hostname', () => {
    const info = { info: JSON.stringify({ runtimeSpec: { ociVersion: '1.0.2', hostname: 'sensor' } }) };
    expect(hostnameFromVerboseInfo(info)).toBe('sensor');
  });

  it.each([
    [{}],
    [{ info: 'not json' }],
    [{ info: JSON.stringify({ config: { hostname: '' } }) }],
    [{ info: JSON.stringify({ config: { hostname: 7 } }) }],
    [{ info: JSON.stringify(['config']) }],
  ])('returns undefined for %j', (info: Record<string, string>) => {
    expect(hostnameFromVerboseInfo(info)).toBeUndefined();
  });
});

describe('toCriError', () => {
  const endpoint = 'unix:///run/x.sock';
  it.each([
    [status.UNAVAILABLE, CriUnavailableError, true],
    [status.DEADLINE_EXCEEDED, CriUnavailableError, true],
    [status.UNIMPLEMENTED, CriUnimplementedError, false],
    [status.NOT_FOUND, CriNotFoundError, false],
    [status.INVALID_ARGUMENT, CriCallError, false],
  ])('gRPC code %d -> %p (transient %p)', (code, type, transient) => {
    const error = toCriError('ListPodSandbox', { code, details: 'boom', message: `${code} boom` }, endpoint);
    expect(error).toBeInstanceOf(type);
    expect(error.transient).toBe(transient);
    expect(error.method).toBe('ListPodSandbox');
    expect(error.message).toContain('ListPodSandbox');
    expect(error.message).toContain(endpoint);
    expect(error.message).toContain('boom');
  });
});

describe('CriClient', () => {
  it('ships its proto next to the module (works from src/ and dist/)', () => {
    expect(RUNTIME_PROTO_PATH).toMatch(/packages\/cri-watcher\/proto\/runtime-subset\.proto$/);
    expect(existsSync(RUNTIME_PROTO_PATH)).toBe(true);
  });

  it('rejects endpoints that are not unix sockets', () => {
    expect(() => new CriClient({ endpoint: 'tcp://127.0.0.1:1' })).toThrow(RuntimeEndpointError);
  });

  it('rejects a non-positive timeout', () => {
    expect(() => new CriClient({ endpoint: '/run/x.sock', timeoutMs: 0 })).toThrow(/positive/);
  });
});
