/**
 * One Kubernetes watch request (`GET …?watch=true`), newline-delimited JSON events over a chunked response.
 *
 * Why not client-node's `Watch`: on any status other than 200 it throws `new Error(statusText)` and drops the
 * response body, so a 403 reads "Forbidden" where the API server said which user may not do what (client-node
 * 1.4.0, `dist/watch.js`). This request reads the Status body of an error answer, uses the same kubeconfig
 * authentication (`applyToHTTPSOptions`: token, client certificate, CA, exec plugins), and reports a stream that
 * breaks mid-line as an error (the partial line is dropped), not as a clean end.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface WatchHandlers {
  /** One event line: `type` ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  onEvent(type: string, object: unknown): void;
  /** The stream ended after a 200 answer: `undefined` when the server ended it, else why it broke. Once. */
  onEnd(error: Error | undefined): void;
}

/** The API server's answer to a watch request. */
export type WatchAnswer =
  { readonly ok: true } | { readonly ok: false; readonly statusCode: number; readonly message: string };

/** Longest error body read (a Status object is a few hundred bytes). */
const MAX_ERROR_BODY = 64 * 1024;

/** The `message` of a Kubernetes Status body, when it is one. */
export function statusMessage(body: string): string | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' && status.message !== '' ? status.message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends the watch request. Resolves with the answer once the response headers (or, for an error answer, its
 * body) arrived; rejects when no answer came (refused, reset, TLS failure, aborted). After `{ ok: true }`, events
 * go to `onEvent` and the end to `onEnd`. Aborting `signal` ends the stream (`onEnd` with the abort error).
 */
export async function requestWatch(
  kubeConfig: KubeConfig,
  path: string,
  query: Readonly<Record<string, string | number | boolean>>,
  handlers: WatchHandlers,
  signal: AbortSignal,
): Promise<WatchAnswer> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  url.searchParams.set('watch', 'true');
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, String(value));
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const transport = url.protocol === 'http:' ? http : https;
  const headers: http.OutgoingHttpHeaders = {};
  if (options.headers !== undefined && !Array.isArray(options.headers))
    Object.assign(headers, options.headers);
  headers['accept'] = 'application/json';
  return new Promise<WatchAnswer>((resolve, reject) => {
    let answered = false;
    let ended = false;
    const end = (error: Error | undefined): void => {
      if (ended) return;
      ended = true;
      handlers.onEnd(error);
    };
    const request = transport.request(url, {
      method: 'GET',
      agent: options.agent,
      auth: options.auth,
      headers,
      signal,
    });
    request.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
    request.on('error', (error) => {
      if (answered) end(error);
      else reject(error);
    });
    request.on('response', (response) => {
      answered = true;
      const statusCode = response.statusCode ?? 0;
      response.setEncoding('utf8');
      if (statusCode !== 200) {
        let body = '';
        const answer = (): void => {
          const reason = response.statusMessage ?? http.STATUS_CODES[statusCode] ?? 'error';
          resolve({
            ok: false,
            statusCode,
            message: statusMessage(body) ?? `HTTP ${statusCode}: ${reason}`,
          });
        };
        response.on('data', (chunk: string) => {
          if (body.length < MAX_ERROR_BODY) body += chunk;
        });
        response.on('end', answer);
        response.on('error', answer);
        return;
      }
      resolve({ ok: true });
      let buffer = '';
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (line === '' || ended) continue;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as { type?: unknown; object?: unknown };
          } catch {
            // A lost event cannot be skipped: end the stream so that the caller watches again from the last one.
            end(new Error(`watch of ${path} sent a line that is not JSON: ${line.slice(0, 80)}`));
            request.destroy();
            return;
          }
          if (typeof event.type === 'string') handlers.onEvent(event.type, event.object);
        }
      });
      response.on('error', (error) => end(error));
      response.on('end', () => end(undefined));
      response.on('close', () => {
        if (!response.complete)
          end(new Error(`watch stream of ${path} broke off (connection closed or reset)`));
        else end(undefined);
      });
    });
    request.end();
  });
}
