import { describe, expect, it } from '@jest/globals';
import { RuntimeEndpointError } from './errors.js';
import { resolveRuntimeEndpoint, socketPathFromEndpoint } from './endpoint.js';

const none = (): boolean => false;

describe('resolveRuntimeEndpoint', () => {
  it('uses --runtime-endpoint first, without looking for it', () => {
    const result = resolveRuntimeEndpoint({
      runtimeEndpoint: 'unix:///custom/cri.sock',
      criDir: '/ignored',
      criFile: 'x.sock',
      exists: () => {
        throw new Error('must not look');
      },
    });
    expect(result).toMatchObject({
      endpoint: 'unix:///custom/cri.sock',
      socketPath: '/custom/cri.sock',
      from: 'flag',
    });
  });

  it('accepts a plain absolute path as endpoint', () => {
    expect(resolveRuntimeEndpoint({ runtimeEndpoint: '/run/x.sock', exists: none }).endpoint).toBe(
      'unix:///run/x.sock',
    );
  });

  it('uses CRI_DIR + CRI_FILE next (smarter-dns names)', () => {
    const result = resolveRuntimeEndpoint({
      criDir: '/run/k3s/containerd/',
      criFile: 'containerd.sock',
      exists: none,
    });
    expect(result).toMatchObject({ socketPath: '/run/k3s/containerd/containerd.sock', from: 'env' });
    expect(result.description).toContain('CRI_DIR and CRI_FILE');
  });

  it('rejects CRI_DIR without CRI_FILE', () => {
    expect(() => resolveRuntimeEndpoint({ criDir: '/run/crio', exists: none })).toThrow(
      /CRI_DIR and CRI_FILE must be set together/,
    );
  });

  it('rejects a CRI_FILE with a slash', () => {
    expect(() => resolveRuntimeEndpoint({ criDir: '/run', criFile: 'a/b.sock', exists: none })).toThrow(
      RuntimeEndpointError,
    );
  });

  const defaults: [string, string, string][] = [
    [
      '/run/containerd/containerd.sock',
      'containerd',
      'found containerd socket /run/containerd/containerd.sock',
    ],
    ['/run/k3s/containerd/containerd.sock', 'k3s', 'found k3s socket /run/k3s/containerd/containerd.sock'],
    ['/run/crio/crio.sock', 'cri-o', 'found cri-o socket /run/crio/crio.sock'],
    ['/var/run/cri-dockerd.sock', 'cri-dockerd', 'found cri-dockerd socket /var/run/cri-dockerd.sock'],
  ];
  it.each(defaults)('finds %s among the defaults and says so', (path, runtime, description) => {
    const result = resolveRuntimeEndpoint({ exists: (candidate) => candidate === path });
    expect(result).toMatchObject({ socketPath: path, from: 'default', runtime, description });
  });

  it('prefers containerd when several sockets exist', () => {
    expect(resolveRuntimeEndpoint({ exists: () => true }).runtime).toBe('containerd');
  });

  it('lists every socket tried when none exists', () => {
    let thrown: unknown;
    try {
      resolveRuntimeEndpoint({ exists: none });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RuntimeEndpointError);
    const error = thrown as RuntimeEndpointError;
    expect(error.tried).toEqual(defaults.map(([path]) => path));
    expect(error.message).toContain('/run/crio/crio.sock');
    expect(error.message).toContain('--runtime-endpoint');
  });
});

describe('socketPathFromEndpoint', () => {
  it.each([
    ['unix:///run/a.sock', '/run/a.sock'],
    ['unix:/run/a.sock', '/run/a.sock'],
    ['  /run//a.sock ', '/run/a.sock'],
  ])('%s -> %s', (input, path) => {
    expect(socketPathFromEndpoint(input)).toBe(path);
  });

  it.each(['tcp://127.0.0.1:1234', 'npipe:////./pipe/x', 'relative.sock', 'unix://relative.sock'])(
    'rejects %s with a clear message',
    (input) => {
      expect(() => socketPathFromEndpoint(input)).toThrow(RuntimeEndpointError);
    },
  );
});
