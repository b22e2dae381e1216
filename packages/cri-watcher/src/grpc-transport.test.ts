// The gRPC client against an independent gRPC server (grpc-js) on a unix socket in a temp dir, plus a raw
// node:http2 server for answers grpc-js never gives (HTTP errors, compressed frames, two messages…).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { CriClient } from './cri-client.js';
import {
  CriNotFoundError,
  CriUnavailableError,
  CriUnimplementedError,
  GrpcStatus,
  GrpcStatusError,
} from './errors.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  GrpcUnixClient,
  MessageDeframer,
  decodeGrpcMessage,
  grpcCodeForHttpStatus,
  grpcTimeoutHeader,
} from './grpc-transport.js';

const SERVICE = '/test.v1.Raw/';
const bytes = (value: Buffer): Buffer => value;

type UnaryHandler = grpc.handleUnaryCall<Buffer, Buffer>;
type StreamHandler = grpc.handleServerStreamingCall<Buffer, Buffer>;
type Handlers = Record<string, UnaryHandler | { stream: StreamHandler }>;

/** A grpc-js server on `socketPath` whose methods take and return raw bytes. */
async function startGrpcServer(socketPath: string, handlers: Handlers): Promise<grpc.Server> {
  const server = new grpc.Server();
  const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) {
    const streaming = typeof handler !== 'function';
    definition[name] = {
      path: name.startsWith('/') ? name : SERVICE + name,
      requestStream: false,
      responseStream: streaming,
      requestSerialize: bytes,
      requestDeserialize: bytes,
      responseSerialize: bytes,
      responseDeserialize: bytes,
    };
    implementation[name] = streaming ? handler.stream : handler;
  }
  server.addService(definition, implementation);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error === null) resolve();
      else reject(error);
    });
  });
  return server;
}

/** Resolves with the call's error (fails the test if the call succeeds). */
async function failure(promise: Promise<unknown>): Promise<GrpcStatusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GrpcStatusError);
    return error as GrpcStatusError;
  }
  throw new Error('the call succeeded');
}

function frame(message: Buffer, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

interface Ended {
  messages: string[];
  errors: (GrpcStatusError | undefined)[];
}

/** Collects a stream's messages and every onEnd (to check it comes exactly once). */
function collect(): Ended & { handlers: { onMessage(m: Buffer): void; onEnd(e?: GrpcStatusError): void } } {
  const ended: Ended = { messages: [], errors: [] };
  return {
    ...ended,
    handlers: {
      onMessage: (message) => ended.messages.push(message.toString()),
      onEnd: (error) => ended.errors.push(error),
    },
  };
}

const until = async (condition: () => boolean, timeoutMs = 3000): Promise<void> => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

let dir: string;
let socketPath: string;
const servers: grpc.Server[] = [];
const clients: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zonewright-grpc-'));
  socketPath = join(dir, 'runtime.sock');
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

const serve = async (handlers: Handlers): Promise<grpc.Server> => {
  const server = await startGrpcServer(socketPath, handlers);
  servers.push(server);
  return server;
};

const client = (path = socketPath): GrpcUnixClient => {
  const created = new GrpcUnixClient(path);
  clients.push(created);
  return created;
};

describe('GrpcUnixClient against a grpc-js server', () => {
  it('round-trips request and response bytes, with grpc-timeout from the deadline', async () => {
    let deadline: grpc.Deadline | undefined;
    await serve({
      Reverse: (call, callback) => {
        deadline = call.getDeadline();
        callback(null, Buffer.from(call.request).reverse());
      },
    });
    const grpcClient = client();
    const before = Date.now();
    expect(await grpcClient.unary(SERVICE + 'Reverse', Buffer.from([1, 2, 3, 250]), 4000)).toEqual(
      Buffer.from([250, 3, 2, 1]),
    );
    // An empty message is a message (zero-length frame), not "no response".
    expect(await grpcClient.unary(SERVICE + 'Reverse', Buffer.alloc(0), 4000)).toEqual(Buffer.alloc(0));
    expect(deadline).toBeDefined();
    const deadlineMs = new Date(deadline ?? 0).getTime() - before;
    expect(deadlineMs).toBeGreaterThan(3000);
    expect(deadlineMs).toBeLessThanOrEqual(4100);
  });

  it('reports the server status as typed CRI errors (NOT_FOUND, UNIMPLEMENTED)', async () => {
    await serve({
      '/runtime.v1.RuntimeService/ListPodSandbox': (_call, callback) => {
        callback({ code: grpc.status.NOT_FOUND, details: 'no sandbox here' });
      },
    });
    const cri = new CriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 2000 });
    clients.push(cri);
    const notFound = cri.listPodSandboxes();
    await expect(notFound).rejects.toBeInstanceOf(CriNotFoundError);
    await expect(notFound).rejects.toThrow(/ListPodSandbox .*\(NOT_FOUND\): no sandbox here/);
    const unimplemented = cri.version();
    await expect(unimplemented).rejects.toBeInstanceOf(CriUnimplementedError);
    await expect(unimplemented).rejects.toMatchObject({ code: GrpcStatus.UNIMPLEMENTED, method: 'Version' });
  });

  it('percent-decodes grpc-message', async () => {
    const details = 'sandbox "wëb-0" 100% gone\nsee: /run/x';
    await serve({ Fail: (_call, callback) => callback({ code: grpc.status.FAILED_PRECONDITION, details }) });
    const error = await failure(client().unary(SERVICE + 'Fail', Buffer.alloc(0), 2000));
    expect(error.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(error.details).toBe(details);
  });

  it('fails with DEADLINE_EXCEEDED when a grpc-js server never answers, and stays usable', async () => {
    let cancelled = false;
    await serve({
      Hang: (call) => {
        call.on('cancelled', () => (cancelled = true));
      },
      Echo: (call, callback) => callback(null, call.request),
    });
    const grpcClient = client();
    const start = Date.now();
    const error = await failure(grpcClient.unary(SERVICE + 'Hang', Buffer.from('x'), 150));
    expect(error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(Date.now() - start).toBeLessThan(1500);
    await until(() => cancelled);
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.from('still here'), 2000)).toString()).toBe(
      'still here',
    );
  });

  it('reassembles a message of the size limit from many DATA chunks, and refuses one byte more', async () => {
    const large = randomBytes(DEFAULT_MAX_MESSAGE_BYTES);
    await serve({
      Large: (_call, callback) => callback(null, large),
      TooLarge: (_call, callback) => callback(null, Buffer.alloc(DEFAULT_MAX_MESSAGE_BYTES + 1)),
      Echo: (call, callback) => callback(null, call.request),
    });
    const grpcClient = client();
    expect((await grpcClient.unary(SERVICE + 'Large', Buffer.alloc(0), 4000)).equals(large)).toBe(true);
    const error = await failure(grpcClient.unary(SERVICE + 'TooLarge', Buffer.alloc(0), 4000));
    expect(error.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(/16777217 bytes/);
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.from('ok'), 2000)).toString()).toBe('ok');
  });

  it('delivers server-streamed messages in order, then ends once without error', async () => {
    await serve({
      Events: {
        stream: (call) => {
          for (const word of ['created', '', 'started', 'stopped']) call.write(Buffer.from(word));
          call.end();
        },
      },
    });
    const events = collect();
    client().serverStream(SERVICE + 'Events', Buffer.alloc(0), events.handlers);
    await until(() => events.errors.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.messages).toEqual(['created', '', 'started', 'stopped']);
    expect(events.errors).toEqual([undefined]);
  });

  it('cancel() resets the stream and ends it once without error', async () => {
    let cancelled = false;
    await serve({
      Events: {
        stream: (call) => {
          call.write(Buffer.from('first'));
          call.on('cancelled', () => (cancelled = true));
        },
      },
    });
    const events = collect();
    const stream = client().serverStream(SERVICE + 'Events', Buffer.alloc(0), events.handlers);
    await until(() => events.messages.length === 1);
    stream.cancel();
    stream.cancel();
    await until(() => cancelled);
    expect(events.errors).toEqual([undefined]);
  });

  it('ends a stream with UNAVAILABLE when the server shuts down mid-stream', async () => {
    const server = await serve({ Events: { stream: (call) => void call.write(Buffer.from('first')) } });
    const events = collect();
    client().serverStream(SERVICE + 'Events', Buffer.alloc(0), events.handlers);
    await until(() => events.messages.length === 1);
    server.forceShutdown();
    await until(() => events.errors.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.errors).toHaveLength(1);
    expect(events.errors[0]?.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('fails fast with UNAVAILABLE naming the cause when the socket does not exist', async () => {
    const start = Date.now();
    const error = await failure(
      client(join(dir, 'missing.sock')).unary(SERVICE + 'Echo', Buffer.alloc(0), 5000),
    );
    expect(error.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(error.details).toBe(`connect ENOENT ${join(dir, 'missing.sock')}`);
    expect(Date.now() - start).toBeLessThan(1000);
    const cri = new CriClient({ endpoint: join(dir, 'missing.sock') });
    clients.push(cri);
    await expect(cri.listPodSandboxes()).rejects.toBeInstanceOf(CriUnavailableError);
  });

  it('dials again by itself after the server restarted on the same path', async () => {
    const handlers: Handlers = { Echo: (call, callback) => callback(null, call.request) };
    const first = await serve(handlers);
    const grpcClient = client();
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.from('one'), 2000)).toString()).toBe('one');
    first.forceShutdown();
    expect((await failure(grpcClient.unary(SERVICE + 'Echo', Buffer.from('x'), 2000))).code).toBe(
      GrpcStatus.UNAVAILABLE,
    );
    rmSync(socketPath, { force: true });
    await serve(handlers);
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.from('two'), 2000)).toString()).toBe('two');
  });

  it('close() fails running calls as CANCELLED, resets their streams, and refuses later calls', async () => {
    let arrived = 0;
    let cancelled = 0;
    await serve({
      Hang: (call) => {
        arrived++;
        call.on('cancelled', () => cancelled++);
      },
      Events: { stream: (call) => void call.on('cancelled', () => cancelled++) },
    });
    const grpcClient = client();
    const hanging = failure(grpcClient.unary(SERVICE + 'Hang', Buffer.alloc(0), 5000));
    const events = collect();
    grpcClient.serverStream(SERVICE + 'Events', Buffer.alloc(0), events.handlers);
    await until(() => arrived === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    grpcClient.close();
    await until(() => cancelled === 2);
    expect((await hanging).code).toBe(GrpcStatus.CANCELLED);
    expect(events.errors.map((error) => error?.code)).toEqual([GrpcStatus.CANCELLED]);
    expect((await failure(grpcClient.unary(SERVICE + 'Hang', Buffer.alloc(0), 1000))).code).toBe(
      GrpcStatus.CANCELLED,
    );
  });
});

describe('GrpcUnixClient against a raw HTTP/2 server', () => {
  type Respond = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;
  let server: http2.Http2Server | undefined;
  const sessions = new Set<http2.ServerHttp2Session>();

  afterEach(async () => {
    for (const session of sessions) session.destroy();
    sessions.clear();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
  });

  const rawServe = async (respond: Respond): Promise<void> => {
    server = http2.createServer();
    server.on('session', (session) => {
      sessions.add(session);
      session.on('error', () => undefined);
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      stream.resume();
      respond(stream, headers);
    });
    await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  };

  const grpcHeaders = { ':status': 200, 'content-type': 'application/grpc+proto' };
  const withTrailers = (
    stream: http2.ServerHttp2Stream,
    body: Buffer,
    trailers: http2.OutgoingHttpHeaders,
  ): void => {
    stream.respond(grpcHeaders, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(body);
  };

  it.each<[string, Respond, number, RegExp]>([
    ['HTTP 404', (s) => s.respond({ ':status': 404 }, { endStream: true }), GrpcStatus.UNIMPLEMENTED, /404/],
    [
      'HTTP 401',
      (s) => s.respond({ ':status': 401 }, { endStream: true }),
      GrpcStatus.UNAUTHENTICATED,
      /401/,
    ],
    ['HTTP 503', (s) => s.respond({ ':status': 503 }, { endStream: true }), GrpcStatus.UNAVAILABLE, /503/],
    ['HTTP 418', (s) => s.respond({ ':status': 418 }, { endStream: true }), GrpcStatus.UNKNOWN, /418/],
    [
      'not gRPC content',
      (s) => {
        s.respond({ ':status': 200, 'content-type': 'text/html' });
        s.end('<html>');
      },
      GrpcStatus.UNKNOWN,
      /text\/html/,
    ],
    [
      'a trailers-only status',
      (s) => {
        s.respond(
          { ...grpcHeaders, 'grpc-status': '5', 'grpc-message': 'no%20such%20sandbox' },
          { endStream: true },
        );
      },
      GrpcStatus.NOT_FOUND,
      /^no such sandbox$/,
    ],
    [
      'a compressed message',
      (s) => withTrailers(s, frame(Buffer.from('x'), 1), { 'grpc-status': '0' }),
      GrpcStatus.INTERNAL,
      /compressed/,
    ],
    [
      'two messages to a unary call',
      (s) =>
        withTrailers(s, Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]), {
          'grpc-status': '0',
        }),
      GrpcStatus.INTERNAL,
      /more than one message/,
    ],
    [
      'OK without a message',
      (s) => withTrailers(s, Buffer.alloc(0), { 'grpc-status': '0' }),
      GrpcStatus.INTERNAL,
      /without a message/,
    ],
    [
      'trailers without grpc-status',
      (s) => withTrailers(s, frame(Buffer.from('a')), { 'x-other': '1' }),
      GrpcStatus.UNKNOWN,
      /without grpc-status/,
    ],
    [
      'a stream ending inside a message',
      (s) => withTrailers(s, frame(Buffer.from('abcdef')).subarray(0, 8), { 'grpc-status': '0' }),
      GrpcStatus.INTERNAL,
      /inside a message/,
    ],
    [
      'a stream refused',
      (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
      GrpcStatus.UNAVAILABLE,
      /reset by the server \(code 7\)/,
    ],
    [
      'a stream reset with ENHANCE_YOUR_CALM',
      (s) => s.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM),
      GrpcStatus.RESOURCE_EXHAUSTED,
      /reset by the server/,
    ],
  ])('maps %s', async (_name, respond, code, details) => {
    await rawServe(respond);
    const error = await failure(client().unary(SERVICE + 'Any', Buffer.from('q'), 2000));
    expect(error.code).toBe(code);
    expect(error.details).toMatch(details);
  });

  const echo = (stream: http2.ServerHttp2Stream): void => {
    stream.on('end', () => withTrailers(stream, frame(Buffer.from('ok')), { 'grpc-status': '0' }));
  };

  it('enforces the deadline itself (RST_STREAM CANCEL) when the server ignores grpc-timeout', async () => {
    const resetCodes: number[] = [];
    await rawServe((stream, headers) => {
      if (headers[':path'] === SERVICE + 'Hang') stream.on('close', () => resetCodes.push(stream.rstCode));
      else echo(stream);
    });
    const grpcClient = client();
    const start = Date.now();
    const error = await failure(grpcClient.unary(SERVICE + 'Hang', Buffer.from('x'), 150));
    expect(error.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(Date.now() - start).toBeLessThan(1500);
    await until(() => resetCodes.length > 0);
    expect(resetCodes).toEqual([http2.constants.NGHTTP2_CANCEL]);
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.alloc(0), 2000)).toString()).toBe('ok');
  });

  it('reuses one session for every call; reconnect() dials a new one and lets running calls finish', async () => {
    let release: (() => void) | undefined;
    await rawServe((stream, headers) => {
      if (headers[':path'] === SERVICE + 'Slow')
        release = () => withTrailers(stream, frame(Buffer.from('late')), { 'grpc-status': '0' });
      else echo(stream);
    });
    const grpcClient = client();
    await grpcClient.unary(SERVICE + 'Echo', Buffer.alloc(0), 2000);
    await Promise.all([1, 2, 3].map(() => grpcClient.unary(SERVICE + 'Echo', Buffer.alloc(0), 2000)));
    expect(sessions.size).toBe(1);
    const slow = grpcClient.unary(SERVICE + 'Slow', Buffer.alloc(0), 3000);
    await until(() => release !== undefined);
    grpcClient.reconnect();
    expect((await grpcClient.unary(SERVICE + 'Echo', Buffer.alloc(0), 2000)).toString()).toBe('ok');
    expect(sessions.size).toBe(2);
    release?.();
    expect((await slow).toString()).toBe('late');
  });

  it('sends the gRPC request headers and a length-prefixed body', async () => {
    let seen: http2.IncomingHttpHeaders | undefined;
    const body: Buffer[] = [];
    await rawServe((stream) => {
      stream.on('data', (chunk: Buffer) => body.push(chunk));
      stream.on('end', () => withTrailers(stream, frame(Buffer.from('r')), { 'grpc-status': '0' }));
    });
    server?.prependListener('stream', (_stream, headers) => (seen = headers));
    expect(
      (await client().unary('/runtime.v1.RuntimeService/Version', Buffer.from('req'), 2500)).toString(),
    ).toBe('r');
    expect(seen).toMatchObject({
      ':method': 'POST',
      ':path': '/runtime.v1.RuntimeService/Version',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '2500m',
    });
    expect(Buffer.concat(body)).toEqual(frame(Buffer.from('req')));
  });
});

describe('MessageDeframer', () => {
  const stream = Buffer.concat([
    frame(Buffer.from('first')),
    frame(Buffer.alloc(0)),
    frame(randomBytes(300)),
  ]);

  it.each([1, 2, 4, 5, 6, 7, 13, 64, stream.length])('cuts the same messages from %d-byte chunks', (size) => {
    const deframer = new MessageDeframer();
    const messages: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset += size) {
      messages.push(...deframer.push(stream.subarray(offset, offset + size)));
    }
    expect(Buffer.concat(messages.map((message) => frame(message)))).toEqual(stream);
    expect(messages.map((message) => message.length)).toEqual([5, 0, 300]);
    expect(deframer.midMessage).toBe(false);
  });

  it('refuses an announced length over the limit before buffering it', () => {
    const deframer = new MessageDeframer(10);
    expect(() => deframer.push(frame(Buffer.alloc(11)).subarray(0, 5))).toThrow(
      /11 bytes exceeds the limit of 10/,
    );
  });
});

describe('protocol helpers', () => {
  it.each([
    [2500, '2500m'],
    [0.2, '1m'],
    [99_999_999, '99999999m'],
    [100_000_000, '100000S'],
  ])('grpc-timeout for %d ms is %s', (ms, header) => {
    expect(grpcTimeoutHeader(ms)).toBe(header);
  });

  it('percent-decodes UTF-8 and leaves malformed escapes alone', () => {
    expect(decodeGrpcMessage('caf%C3%A9%20%25')).toBe('café %');
    expect(decodeGrpcMessage('100%zz%4')).toBe('100%zz%4');
  });

  it.each([
    [400, GrpcStatus.INTERNAL],
    [403, GrpcStatus.PERMISSION_DENIED],
    [429, GrpcStatus.UNAVAILABLE],
    [502, GrpcStatus.UNAVAILABLE],
    [504, GrpcStatus.UNAVAILABLE],
    [500, GrpcStatus.UNKNOWN],
  ])('HTTP %d is gRPC code %d', (httpStatus, code) => {
    expect(grpcCodeForHttpStatus(httpStatus)).toBe(code);
  });
});
