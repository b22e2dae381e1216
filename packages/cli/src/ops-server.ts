import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@zonewright/zone';
import type { Registry } from 'prom-client';
import { UsageError } from './errors.js';

export interface OpsServerOptions {
  /** `host:port`, `:port` or `port`; port 0 picks a free one. */
  readonly listen: string;
  readonly registry: Registry;
  /** Ready: the first complete zone is on disk. */
  readonly isReady: () => boolean;
  /**
   * Healthy: the process can still do its job (it is not wedged). Returns why it cannot (a short sentence for
   * the /healthz body), or undefined when it is healthy.
   */
  readonly healthProblem: () => string | undefined;
  /** Extra detail for /readyz and /healthz bodies. */
  readonly status?: () => unknown;
  readonly logger: Logger;
}

export interface OpsServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string | undefined; port: number } {
  const match = /^(?:\[?([^\]]*)\]?:)?(\d{1,5})$/.exec(listen.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(listen)} is not host:port, :port or a port number`);
  }
  const host = match[1];
  return { host: host === undefined || host === '' ? undefined : host, port };
}

/** Serves `/healthz`, `/readyz` and Prometheus `/metrics`; `--listen ''` turns it off (returns undefined). */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer | undefined> {
  if (options.listen.trim() === '') return undefined;
  const { host, port } = parseListen(options.listen);
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      response.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply(405, 'method not allowed\n');
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      const problem = options.healthProblem();
      reply(
        problem === undefined ? 200 : 503,
        `${problem === undefined ? 'ok' : `unhealthy: ${problem}`}\n${JSON.stringify(options.status?.() ?? {})}\n`,
      );
    } else if (path === '/readyz') {
      const ready = options.isReady();
      reply(
        ready ? 200 : 503,
        `${ready ? 'ready' : 'not ready: no complete zone on disk yet'}\n${JSON.stringify(options.status?.() ?? {})}\n`,
      );
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (error: unknown) => reply(500, `metrics failed: ${String(error)}\n`),
      );
    } else {
      reply(404, 'not found: try /healthz, /readyz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new UsageError(`cannot listen on ${options.listen}: ${error.code ?? error.message}`)),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  options.logger.info(`serving /healthz, /readyz and /metrics on ${address.address}:${address.port}`);
  return {
    port: address.port,
    address: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
