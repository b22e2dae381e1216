/**
 * A small gRPC client over HTTP/2 (`node:http2`) for one unix socket: unary and server-streaming calls with
 * messages as bytes (the CRI codec in ./cri-messages.ts encodes and decodes them). Written instead of using
 * `@grpc/grpc-js` (channels, resolvers, load balancing, ~280 KiB of minified JavaScript) for the node
 * watcher's memory budget; see docs/adr/0013. No compression, no TLS, no retries of its own: the watcher's
 * poller retries with backoff, and a failed connection is simply dialled again by the next call.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { GrpcStatus, GrpcStatusError } from './errors.js';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/** Largest response message accepted (the same default as gRPC's own clients). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const FRAME_HEADER_BYTES = 5;
const USER_AGENT = 'zonewright-cri-watcher';

/** What a call reports: each response message as it completes, then its end exactly once. */
export interface GrpcCallHandlers {
  /** A throw ends the call with that error (a non-gRPC error as INTERNAL) and cancels the stream. */
  onMessage(message: Buffer): void;
  /** `undefined` after status OK, and after {@link GrpcStream.cancel}. */
  onEnd(error: GrpcStatusError | undefined): void;
}

/** A running server-streaming call. */
export interface GrpcStream {
  /** Sends RST_STREAM (CANCEL); the call ends without an error. */
  cancel(): void;
}

/** The gRPC code for a non-200 HTTP status (the gRPC spec's HTTP-to-gRPC status mapping). */
export function grpcCodeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The gRPC code for a stream the server reset without a status (the spec's RST_STREAM mapping). */
function grpcCodeForResetCode(resetCode: number): number {
  switch (resetCode) {
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return GrpcStatus.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return GrpcStatus.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return GrpcStatus.PERMISSION_DENIED;
    default:
      return GrpcStatus.INTERNAL;
  }
}

const TIMEOUT_UNITS: readonly (readonly [string, number])[] = [
  ['m', 1],
  ['S', 1000],
  ['M', 60_000],
  ['H', 3_600_000],
];

/** The `grpc-timeout` header value for a deadline `ms` from now: at most 8 digits, rounded up. */
export function grpcTimeoutHeader(ms: number): string {
  for (const [unit, unitMs] of TIMEOUT_UNITS) {
    const value = Math.max(1, Math.ceil(ms / unitMs));
    if (value < 1e8) return `${value}${unit}`;
  }
  return '99999999H';
}

/** `grpc-message` is percent-encoded UTF-8; a malformed escape stays as it is (the spec asks not to fail). */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value.charCodeAt(i);
    if (char === 0x25 && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char < 0x80) {
      bytes.push(char);
    } else {
      // Not allowed unescaped by the spec, but keep it readable rather than dropping it.
      const codePoint = value.codePointAt(i) ?? char;
      bytes.push(...Buffer.from(String.fromCodePoint(codePoint), 'utf8'));
      if (codePoint > 0xffff) i++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Cuts gRPC length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length, the message) out of
 * DATA chunks of any size. Refuses compressed messages (we never offer an encoding) and messages over the
 * limit before buffering them.
 */
export class MessageDeframer {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  private body: Buffer | undefined;
  private bodyBytes = 0;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** The messages `chunk` completes, in order; throws a {@link GrpcStatusError} for a frame refused. */
  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.body === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, chunk.length - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + take);
        this.headerBytes += take;
        offset += take;
        if (this.headerBytes < FRAME_HEADER_BYTES) break;
        this.body = Buffer.allocUnsafe(this.checkedLength());
        this.bodyBytes = 0;
      } else {
        const take = Math.min(this.body.length - this.bodyBytes, chunk.length - offset);
        chunk.copy(this.body, this.bodyBytes, offset, offset + take);
        this.bodyBytes += take;
        offset += take;
      }
      if (this.body.length === this.bodyBytes) {
        messages.push(this.body);
        this.body = undefined;
        this.headerBytes = 0;
      }
    }
    return messages;
  }

  /** True between the first and the last byte of a message (the stream must not end there). */
  get midMessage(): boolean {
    return this.headerBytes > 0;
  }

  private checkedLength(): number {
    const flag = this.header[0];
    const length = this.header.readUInt32BE(1);
    if (flag === 1) {
      throw new GrpcStatusError(
        GrpcStatus.INTERNAL,
        'compressed response message, but no compression was offered',
      );
    }
    if (flag !== 0) throw new GrpcStatusError(GrpcStatus.INTERNAL, `invalid compressed flag ${flag}`);
    if (length > this.maxMessageBytes) {
      throw new GrpcStatusError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `response message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`,
      );
    }
    return length;
  }
}

/** One HTTP/2 session and the calls running on it (they keep the process alive; an idle session does not). */
interface Connection {
  readonly session: http2.ClientHttp2Session;
  active: number;
  /** Why the session went away (error, GOAWAY, close): the cause given to calls it cut off. */
  lost: string | undefined;
}

function statusOf(metadata: http2.IncomingHttpHeaders): GrpcStatusError | undefined {
  const raw = metadata['grpc-status'];
  const details = metadata['grpc-message'];
  const message = typeof details === 'string' ? decodeGrpcMessage(details) : '';
  if (typeof raw !== 'string' || !/^\d+$/.test(raw)) {
    return new GrpcStatusError(
      GrpcStatus.UNKNOWN,
      raw === undefined ? 'response without grpc-status' : `invalid grpc-status ${JSON.stringify(raw)}`,
    );
  }
  const code = Number(raw);
  return code === GrpcStatus.OK ? undefined : new GrpcStatusError(code, message);
}

/** The root cause's message: Node wraps socket errors in "The pending stream has been canceled". */
function causeMessage(error: Error | undefined): string | undefined {
  if (error === undefined) return undefined;
  // Duck-typed: errors from Node's internals fail `instanceof Error` in another realm (jest's VM modules).
  const cause: unknown = error.cause;
  const message: unknown =
    typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'message') : undefined;
  return typeof message === 'string' ? message : error.message;
}

function asStatusError(error: unknown): GrpcStatusError {
  if (error instanceof GrpcStatusError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GrpcStatusError(GrpcStatus.INTERNAL, message, { cause: error });
}

/** One call on a connection; ends exactly once, by the server's status, a local failure, or cancel. */
class Call {
  private stream: http2.ClientHttp2Stream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private headers: http2.IncomingHttpHeaders | undefined;
  private trailers: http2.IncomingHttpHeaders | undefined;
  private streamError: NodeJS.ErrnoException | undefined;
  private readonly deframer: MessageDeframer;

  constructor(
    private readonly connection: Connection,
    private readonly handlers: GrpcCallHandlers,
    private readonly onDone: (call: Call) => void,
    maxMessageBytes: number,
  ) {
    this.deframer = new MessageDeframer(maxMessageBytes);
    if (connection.active++ === 0) connection.session.ref();
  }

  start(path: string, request: Buffer, timeoutMs: number | undefined): void {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': USER_AGENT,
    };
    if (timeoutMs !== undefined) headers['grpc-timeout'] = grpcTimeoutHeader(timeoutMs);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.connection.session.request(headers);
    } catch (error) {
      // The session closed between the check and the request (GOAWAY, socket error). Ended asynchronously,
      // like every other end, so serverStream() returns its handle first.
      const failure = this.unavailable(error instanceof Error ? error.message : String(error), error);
      queueMicrotask(() => {
        this.end(failure);
      });
      return;
    }
    this.stream = stream;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.abort(new GrpcStatusError(GrpcStatus.DEADLINE_EXCEEDED, `no response within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    stream.on('response', (responseHeaders, flags) => {
      this.onResponse(responseHeaders, flags);
    });
    stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => {
      this.trailers = trailers;
    });
    stream.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    stream.on('error', (error: Error) => {
      this.streamError ??= error;
    });
    stream.on('close', () => {
      this.onClose();
    });
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + request.length);
    frame[0] = 0;
    frame.writeUInt32BE(request.length, 1);
    request.copy(frame, FRAME_HEADER_BYTES);
    stream.end(frame);
  }

  /** Ends the call now with `error` (`undefined`: cancelled by the caller) and resets the stream. */
  abort(error: GrpcStatusError | undefined): void {
    if (this.ended) return;
    const stream = this.stream;
    if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    this.end(error);
  }

  private end(error: GrpcStatusError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (--this.connection.active === 0 && !this.connection.session.destroyed) this.connection.session.unref();
    this.onDone(this);
    this.handlers.onEnd(error);
  }

  private onResponse(headers: http2.IncomingHttpHeaders, flags: number): void {
    if (this.ended) return;
    const httpStatus = Number(headers[':status']);
    if (httpStatus !== 200) {
      this.abort(new GrpcStatusError(grpcCodeForHttpStatus(httpStatus), `HTTP status ${httpStatus}`));
      return;
    }
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      this.abort(new GrpcStatusError(GrpcStatus.UNKNOWN, `unexpected content-type ${String(contentType)}`));
      return;
    }
    this.headers = headers;
    // Trailers-only response: the status is in these headers and nothing follows.
    if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) this.trailers = headers;
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    try {
      for (const message of this.deframer.push(chunk)) {
        this.handlers.onMessage(message);
        if (this.ended) return;
      }
    } catch (error) {
      this.abort(asStatusError(error));
    }
  }

  private onClose(): void {
    if (this.ended) return;
    if (this.trailers !== undefined) {
      const status = statusOf(this.trailers);
      if (status === undefined && this.deframer.midMessage) {
        this.end(new GrpcStatusError(GrpcStatus.INTERNAL, 'stream ended inside a message'));
      } else {
        this.end(status);
      }
      return;
    }
    // No status: the connection went away, or the server reset the stream (Node reports that as
    // ERR_HTTP2_STREAM_ERROR with the stream's rstCode; other stream errors are the session's).
    const resetByServer = this.streamError?.code === 'ERR_HTTP2_STREAM_ERROR';
    if (this.connection.lost === undefined && (this.streamError === undefined || resetByServer)) {
      this.end(this.fromReset(this.stream?.rstCode ?? http2.constants.NGHTTP2_NO_ERROR));
      return;
    }
    const cause = this.connection.lost ?? causeMessage(this.streamError) ?? 'the connection closed';
    this.end(this.unavailable(cause, this.streamError));
  }

  private fromReset(resetCode: number): GrpcStatusError {
    if (resetCode === http2.constants.NGHTTP2_NO_ERROR) {
      return new GrpcStatusError(
        GrpcStatus.INTERNAL,
        this.headers === undefined ? 'stream closed without a response' : 'stream ended without trailers',
      );
    }
    return new GrpcStatusError(
      grpcCodeForResetCode(resetCode),
      `stream reset by the server (code ${resetCode})`,
    );
  }

  private unavailable(cause: string, error: unknown): GrpcStatusError {
    return new GrpcStatusError(
      GrpcStatus.UNAVAILABLE,
      cause,
      error === undefined ? undefined : { cause: error },
    );
  }
}

/**
 * gRPC calls over one lazily dialled HTTP/2 session to a unix socket. A session that fails, closes or gets
 * GOAWAY is dropped and the next call dials again. Never emits: every failure is a call's
 * {@link GrpcStatusError} (connection failures are UNAVAILABLE with the cause's message).
 */
export class GrpcUnixClient {
  private connection: Connection | undefined;
  private closed = false;
  private readonly calls = new Set<Call>();

  constructor(
    readonly socketPath: string,
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  /** One request, one response message; fails with DEADLINE_EXCEEDED after `timeoutMs` (and resets the stream). */
  unary(path: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let response: Buffer | undefined;
      this.start(path, request, timeoutMs, {
        onMessage: (message) => {
          if (response !== undefined) {
            throw new GrpcStatusError(GrpcStatus.INTERNAL, 'unary call answered with more than one message');
          }
          response = message;
        },
        onEnd: (error) => {
          if (error !== undefined) reject(error);
          else if (response === undefined) {
            reject(new GrpcStatusError(GrpcStatus.INTERNAL, 'unary call answered OK without a message'));
          } else resolve(response);
        },
      });
    });
  }

  /** One request, messages until the server's status; no deadline (it runs until the end or cancel()). */
  serverStream(path: string, request: Buffer, handlers: GrpcCallHandlers): GrpcStream {
    const call = this.start(path, request, undefined, handlers);
    return {
      cancel: () => {
        call?.abort(undefined);
      },
    };
  }

  /** Drops the session (its running calls may finish) so the next call dials afresh. */
  reconnect(): void {
    const old = this.connection;
    this.connection = undefined;
    old?.session.close();
  }

  /** Fails running calls with CANCELLED and closes the session; later calls fail with CANCELLED too. */
  close(): void {
    this.closed = true;
    for (const call of [...this.calls]) {
      call.abort(new GrpcStatusError(GrpcStatus.CANCELLED, 'the client was closed'));
    }
    this.connection?.session.destroy();
    this.connection = undefined;
  }

  private start(
    path: string,
    request: Buffer,
    timeoutMs: number | undefined,
    handlers: GrpcCallHandlers,
  ): Call | undefined {
    if (this.closed) {
      // Asynchronously, like every other end, so callers can keep the handle before it fires.
      queueMicrotask(() => {
        handlers.onEnd(new GrpcStatusError(GrpcStatus.CANCELLED, 'the client was closed'));
      });
      return undefined;
    }
    const call = new Call(this.connect(), handlers, (done) => this.calls.delete(done), this.maxMessageBytes);
    this.calls.add(call);
    call.start(path, request, timeoutMs);
    return call;
  }

  private connect(): Connection {
    const current = this.connection;
    if (
      current !== undefined &&
      current.lost === undefined &&
      !current.session.closed &&
      !current.session.destroyed
    ) {
      return current;
    }
    const session = http2.connect('http://localhost', {
      createConnection: () => net.connect(this.socketPath),
    });
    const connection: Connection = { session, active: 0, lost: undefined };
    const lose = (why: string): void => {
      connection.lost ??= why;
      if (this.connection === connection) this.connection = undefined;
    };
    session.on('error', (error: Error) => {
      lose(error.message);
    });
    session.on('goaway', (errorCode: number) => {
      lose(`the server sent GOAWAY (code ${errorCode})`);
    });
    session.on('close', () => {
      lose('the connection closed');
    });
    session.unref();
    this.connection = connection;
    return connection;
  }
}
