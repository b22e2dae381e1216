/**
 * KubeVirt VMIs from the Kubernetes API: paged list + watch per scope (all namespaces, or one per namespace).
 *
 * Why not client-node's informer: it keeps every full object in its cache (memory grows with the cluster) and
 * stops for good on any error other than 410. This loop keeps no objects at all: each list page and each watch
 * event is summarized, turned into records and handed to the reconciler's {@link SourceHandle}; after an error
 * it restarts with capped exponential backoff and jitter, and relists (replaceAll) only after a 410.
 */
import { CustomObjectsApi, KubeConfig, Observable, Watch } from '@kubernetes/client-node';
import type { RequestContext, ResponseContext } from '@kubernetes/client-node';
import { SKIP_REASONS } from '@zonewright/zone';
import type { ClaimedRecord, Logger, SkippedRecord, SkipReason, SourceHandle } from '@zonewright/zone';
import { buildVmiRecords, summarizeVmi, vmiDisplayName, vmiKey } from './vmi-records.js';

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';
export const VMI_PLURAL = 'virtualmachineinstances';

/** A failed list or watch; `transient` failures are retried with backoff. */
export class KubernetesApiError extends Error {
  readonly statusCode: number | undefined;
  readonly transient: boolean;
  constructor(message: string, statusCode: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubernetesApiError';
    this.statusCode = statusCode;
    // 4xx other than 408/429 (and 410, which is handled by relisting) needs a person: RBAC, missing CRD…
    this.transient =
      statusCode === undefined || statusCode >= 500 || statusCode === 408 || statusCode === 429;
  }
}

/** A watch that sent nothing (not even a bookmark) for longer than the idle limit. */
export class WatchStalledError extends KubernetesApiError {
  constructor(message: string) {
    super(message, undefined);
    this.name = 'WatchStalledError';
  }
}

export type WatchRestartReason = 'expired' | 'closed' | 'error' | 'stalled';

export interface KubernetesSourceObserver {
  /** A complete (re)list of a scope was delivered. */
  onList?(info: { namespace: string | undefined; objects: number; pages: number; durationMs: number }): void;
  /** A watch event was applied. */
  onEvent?(info: { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' }): void;
  /** The watch of a scope is started again. */
  onWatchRestart?(info: { namespace: string | undefined; reason: WatchRestartReason }): void;
  /** A list or watch failed (also passed to `handle.reportError`). */
  onError?(error: Error): void;
  /** An object from the API could not be summarized. */
  onInvalidObject?(error: Error): void;
  /** The skipped records of an object changed (an empty list: it has none any more). */
  onSkipped?(info: { key: string; object: string; skipped: readonly SkippedRecord[] }): void;
}

export interface BackoffOptions {
  /** First delay (default 500 ms). */
  readonly initialMs?: number;
  /** Cap (default 30 s). */
  readonly maxMs?: number;
}

export interface KubernetesSourceOptions {
  readonly handle: SourceHandle;
  readonly kubeConfig: KubeConfig;
  /** Watch only these namespaces (one list+watch each); empty or absent: all namespaces with one watch. */
  readonly namespaces?: readonly string[];
  /** VMIs in these namespaces get no records (namespace-level opt-out). */
  readonly excludeNamespaces?: readonly string[];
  /** Zone origin, for the name length check. */
  readonly origin?: string;
  readonly allowNonRoutable?: boolean;
  readonly logger: Logger;
  readonly observer?: KubernetesSourceObserver;
  readonly clock?: { now(): number };
  /** Wait `ms`; must resolve early (or reject) when `signal` aborts. */
  readonly delay?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** [0, 1) */
  readonly random?: () => number;
  readonly backoff?: BackoffOptions;
  /** Items per list page (default 500). */
  readonly pageSize?: number;
  /** Client-side timeout of one list page request (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** Server-side watch timeout; default a random value in [300, 600) s like client-go. */
  readonly watchTimeoutSeconds?: number;
  /** Abort a watch that sent nothing for this long (default watch timeout + 30 s). */
  readonly watchIdleMs?: number;
}

/** Loads a kubeconfig: the file when given, else $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  if (path !== undefined && path !== '') config.loadFromFile(path);
  else config.loadFromDefault();
  if (config.getCurrentCluster() === null) {
    throw new KubernetesApiError(
      path !== undefined && path !== ''
        ? `kubeconfig ${path} has no current cluster`
        : 'no Kubernetes configuration found: not running in a cluster, no $KUBECONFIG and no ~/.kube/config',
      undefined,
    );
  }
  return config;
}

export function defaultDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** Capped exponential backoff with "equal jitter": half fixed, half random. */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + random() * (base / 2));
}

interface WatchOutcome {
  readonly resourceVersion: string;
  readonly reason: 'expired' | 'closed' | 'stopped';
  readonly events: number;
}

function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { code?: unknown; statusCode?: unknown };
  if (typeof record.statusCode === 'number') return record.statusCode;
  if (typeof record.code === 'number') return record.code;
  return undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const body = (error as { body?: unknown }).body;
    if (typeof body === 'string' && body.startsWith('{')) {
      try {
        const status = JSON.parse(body) as { message?: unknown };
        if (typeof status.message === 'string') return status.message;
      } catch {
        // fall through
      }
    }
    const code = statusCodeOf(error);
    return code !== undefined ? `HTTP ${code}: ${error.message.split('\n')[0] ?? ''}` : error.message;
  }
  return String(error);
}

/**
 * A compact fingerprint of an object's skipped records: one character per skip (its reason) and a 32-bit
 * FNV-1a hash of the details. Kept per object instead of the records themselves, so that 100k VMIs that each
 * report a link-local address cost a short string each.
 */
function skipSignature(skipped: readonly SkippedRecord[]): string {
  let hash = 0x811c9dc5;
  let reasons = '';
  for (const skip of skipped) {
    reasons += String.fromCharCode(65 + SKIP_REASONS.indexOf(skip.reason));
    for (let index = 0; index < skip.detail.length; index++) {
      hash = Math.imul(hash ^ skip.detail.charCodeAt(index), 0x01000193);
    }
  }
  return `${reasons}:${(hash >>> 0).toString(36)}`;
}

/**
 * Feeds a {@link SourceHandle} from the Kubernetes API. `start()` returns at once; `markSynced()` is called after
 * the first complete list of every scope. While the API is unreachable nothing is removed from the handle.
 */
export class KubernetesSource {
  private readonly options: KubernetesSourceOptions;
  private readonly api: CustomObjectsApi;
  private readonly watch: Watch;
  private readonly clock: { now(): number };
  private readonly delay: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly scopes: readonly (string | undefined)[];
  private readonly excluded: ReadonlySet<string>;
  /** Keys per scope; only kept with several scopes, to turn one scope's relist into removals. */
  private readonly keysByScope = new Map<string | undefined, Set<string>>();
  /** Objects with skipped records → {@link skipSignature}. */
  private readonly skippedByKey = new Map<string, string>();
  private readonly stopController = new AbortController();
  private readonly watchControllers = new Set<AbortController>();
  private readonly syncedScopes = new Set<string | undefined>();
  private loops: Promise<void>[] = [];
  private synced = false;
  private started = false;
  private healthy = true;

  constructor(options: KubernetesSourceOptions) {
    this.options = options;
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.watch = new Watch(options.kubeConfig);
    this.clock = options.clock ?? { now: () => Date.now() };
    this.delay = options.delay ?? defaultDelay;
    this.random = options.random ?? Math.random;
    const namespaces = [...new Set(options.namespaces ?? [])].sort();
    this.scopes = namespaces.length === 0 ? [undefined] : namespaces;
    this.excluded = new Set(options.excludeNamespaces ?? []);
    if (this.scopes.length > 1) for (const scope of this.scopes) this.keysByScope.set(scope, new Set());
  }

  /** Start listing and watching. */
  start(): void {
    if (this.started) throw new Error('KubernetesSource already started');
    this.started = true;
    this.loops = this.scopes.map((scope) => this.run(scope));
  }

  /** Stop every watch; resolves when the loops have ended (an in-flight request is abandoned). */
  async stop(): Promise<void> {
    this.stopController.abort();
    for (const controller of this.watchControllers) controller.abort();
    await Promise.all(this.loops);
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** Current number of skipped records by reason (for a gauge). */
  skippedCounts(): Map<SkipReason, number> {
    const counts = new Map<SkipReason, number>();
    for (const signature of this.skippedByKey.values()) {
      for (let index = 0; index < signature.length && signature[index] !== ':'; index++) {
        const reason = SKIP_REASONS[signature.charCodeAt(index) - 65];
        if (reason !== undefined) counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
    }
    return counts;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private path(scope: string | undefined): string {
    return scope === undefined
      ? `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/${VMI_PLURAL}`
      : `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/namespaces/${encodeURIComponent(scope)}/${VMI_PLURAL}`;
  }

  private async run(scope: string | undefined): Promise<void> {
    let resourceVersion: string | undefined;
    let attempt = 0;
    /** 410s since the last watch that made progress: from the second on, relist only after a backoff. */
    let expiredInARow = 0;
    const logger = this.options.logger;
    const relist = async (): Promise<void> => {
      resourceVersion = undefined;
      this.options.observer?.onWatchRestart?.({ namespace: scope, reason: 'expired' });
      if (expiredInARow++ > 0) {
        await this.delay(
          backoffDelay(attempt++, this.random, this.options.backoff),
          this.stopController.signal,
        );
      }
    };
    while (!this.stopped) {
      let watchStarted: number | undefined;
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list(scope);
          if (this.stopped) return;
          attempt = 0;
        }
        watchStarted = this.clock.now();
        const outcome = await this.watchOnce(scope, resourceVersion);
        if (outcome.reason === 'stopped') return;
        resourceVersion = outcome.resourceVersion;
        const progressed = outcome.events > 0 || this.clock.now() - watchStarted >= 1000;
        if (progressed) expiredInARow = 0;
        if (outcome.reason === 'expired') {
          logger.info('watch resourceVersion expired, relisting', { namespace: scope, resourceVersion });
          await relist();
          continue;
        }
        this.options.observer?.onWatchRestart?.({ namespace: scope, reason: 'closed' });
        if (progressed) {
          attempt = 0;
          logger.debug('watch closed by the server, watching again', { namespace: scope, resourceVersion });
          continue;
        }
        // Closed at once without a single event: do not spin.
        await this.delay(
          backoffDelay(attempt++, this.random, this.options.backoff),
          this.stopController.signal,
        );
      } catch (error) {
        if (this.stopped) return;
        const code = statusCodeOf(error);
        if (code === 410) {
          // An expired continue token or watch resourceVersion: start over with a fresh list.
          logger.info('resourceVersion expired, relisting', { namespace: scope });
          await relist();
          continue;
        }
        // A watch that worked for a minute before it failed starts the backoff over.
        if (watchStarted !== undefined && this.clock.now() - watchStarted >= 60_000) attempt = 0;
        const wrapped =
          error instanceof KubernetesApiError
            ? error
            : new KubernetesApiError(
                `${resourceVersion === undefined ? 'list' : 'watch'} of ${this.path(scope)} failed: ${messageOf(error)}`,
                code,
                { cause: error },
              );
        const wait = backoffDelay(attempt++, this.random, this.options.backoff);
        // 403/404 (RBAC, KubeVirt not installed) need a person, but may be fixed while we run: keep retrying.
        const log = wrapped.transient ? logger.warn.bind(logger) : logger.error.bind(logger);
        log(`${wrapped.message}; retrying in ${wait} ms`, {
          namespace: scope,
          attempt,
          statusCode: wrapped.statusCode,
        });
        this.healthy = false;
        this.options.handle.reportError(wrapped);
        this.options.observer?.onError?.(wrapped);
        if (resourceVersion !== undefined) {
          this.options.observer?.onWatchRestart?.({
            namespace: scope,
            reason: wrapped instanceof WatchStalledError ? 'stalled' : 'error',
          });
        }
        await this.delay(wait, this.stopController.signal);
      }
    }
  }

  /** Lists every page of a scope and delivers it; returns the list's resourceVersion. */
  private async list(scope: string | undefined): Promise<string> {
    const started = this.clock.now();
    const entries = new Map<string, readonly ClaimedRecord[]>();
    const listedWithSkips = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    let objects = 0;
    let resourceVersion = '';
    do {
      const page = (await this.listPage(scope, token)) as {
        metadata?: { resourceVersion?: unknown; continue?: unknown };
        items?: unknown;
      };
      if (this.stopped) return '';
      pages++;
      if (!Array.isArray(page.items)) {
        throw new KubernetesApiError(`list of ${this.path(scope)} returned no items array`, undefined);
      }
      for (const item of page.items) {
        objects++;
        const summary = summarizeVmi(item);
        if (summary instanceof Error) {
          this.invalid(summary);
          continue;
        }
        const key = vmiKey(summary);
        const built = this.build(summary);
        if (built.records.length > 0) entries.set(key, built.records);
        if (built.skipped.length > 0) listedWithSkips.add(key);
        this.setSkips(key, vmiDisplayName(summary), built.skipped);
      }
      const metadata = page.metadata ?? {};
      if (pages === 1)
        resourceVersion = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
      token =
        typeof metadata.continue === 'string' && metadata.continue !== '' ? metadata.continue : undefined;
    } while (token !== undefined);

    const now = this.clock.now();
    const handle = this.options.handle;
    const scopeKeys = this.keysByScope.get(scope);
    if (scopeKeys === undefined) {
      handle.replaceAll(entries, now);
      this.clearStaleSkips(undefined, listedWithSkips);
    } else {
      for (const key of scopeKeys) if (!entries.has(key)) handle.remove(key, now);
      for (const [key, records] of entries) handle.upsert(key, records, now);
      this.clearStaleSkips(scopeKeys, listedWithSkips);
      scopeKeys.clear();
      for (const key of entries.keys()) scopeKeys.add(key);
      for (const key of listedWithSkips) scopeKeys.add(key);
    }
    // The zone now reflects this scope at the list's resourceVersion (serials from source versions, ADR 0010).
    if (resourceVersion !== '') handle.reportVersion?.(resourceVersion, scope ?? '');
    this.markHealthy();
    const durationMs = this.clock.now() - started;
    this.options.logger.info(`listed ${objects} VMIs in ${pages} pages (${durationMs} ms)`, {
      namespace: scope,
      resourceVersion,
      withRecords: entries.size,
    });
    this.options.observer?.onList?.({ namespace: scope, objects, pages, durationMs });
    this.syncedScopes.add(scope);
    if (!this.synced && this.syncedScopes.size === this.scopes.length) {
      this.synced = true;
      handle.markSynced();
    }
    return resourceVersion;
  }

  private async listPage(scope: string | undefined, token: string | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs ?? 60_000);
    const signal = AbortSignal.any([timeout, this.stopController.signal]);
    // Sets the abort signal on the request (client-node's object-parameter API takes Observable middleware).
    const options = {
      middleware: [
        {
          pre: (context: RequestContext): Observable<RequestContext> => {
            context.setSignal(signal);
            return new Observable(Promise.resolve(context));
          },
          post: (context: ResponseContext): Observable<ResponseContext> =>
            new Observable(Promise.resolve(context)),
        },
      ],
      middlewareMergeStrategy: 'append' as const,
    };
    const limit = this.options.pageSize ?? 500;
    try {
      const result: unknown = await (scope === undefined
        ? this.api.listClusterCustomObject(
            { group: KUBEVIRT_GROUP, version: KUBEVIRT_VERSION, plural: VMI_PLURAL, limit, _continue: token },
            options,
          )
        : this.api.listNamespacedCustomObject(
            {
              group: KUBEVIRT_GROUP,
              version: KUBEVIRT_VERSION,
              plural: VMI_PLURAL,
              namespace: scope,
              limit,
              _continue: token,
            },
            options,
          ));
      return result;
    } catch (error) {
      if (timeout.aborted) {
        throw new KubernetesApiError(
          `list of ${this.path(scope)} timed out after ${this.options.requestTimeoutMs ?? 60_000} ms`,
          undefined,
          { cause: error },
        );
      }
      throw error;
    }
  }

  private watchOnce(scope: string | undefined, fromVersion: string): Promise<WatchOutcome> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(this.random() * 300);
    const idleMs = this.options.watchIdleMs ?? timeoutSeconds * 1000 + 30_000;
    return new Promise<WatchOutcome>((resolve, reject) => {
      let resourceVersion = fromVersion;
      let events = 0;
      let expired = false;
      let failure: Error | undefined;
      let controller: AbortController | undefined;
      let settled = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const abort = (): void => {
        controller?.abort();
      };
      const armIdle = (): void => {
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          failure ??= new WatchStalledError(`watch of ${this.path(scope)} sent no data for ${idleMs} ms`);
          abort();
          finish(null);
        }, idleMs);
      };
      const onStop = (): void => {
        abort();
        finish(null);
      };
      const finish = (error: unknown): void => {
        if (settled) return;
        settled = true;
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        this.stopController.signal.removeEventListener('abort', onStop);
        if (controller !== undefined) this.watchControllers.delete(controller);
        if (this.stopped) resolve({ resourceVersion, reason: 'stopped', events });
        else if (expired || statusCodeOf(error) === 410)
          resolve({ resourceVersion, reason: 'expired', events });
        else if (failure !== undefined) reject(failure);
        else if (error !== null && error !== undefined)
          reject(
            error instanceof Error ? error : new KubernetesApiError(messageOf(error), statusCodeOf(error)),
          );
        else resolve({ resourceVersion, reason: 'closed', events });
      };
      this.stopController.signal.addEventListener('abort', onStop);
      armIdle();
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        armIdle();
        if (type !== 'ERROR') this.markHealthy();
        const eventTime = this.clock.now();
        const metadata =
          typeof object === 'object' && object !== null
            ? (object as { metadata?: { resourceVersion?: unknown } }).metadata
            : undefined;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
          case 'DELETED':
            events++;
            this.applyEvent(scope, type, object, eventTime);
            this.options.observer?.onEvent?.({ type });
            break;
          case 'BOOKMARK':
            this.options.observer?.onEvent?.({ type });
            break;
          case 'ERROR': {
            const status = object as { code?: unknown; message?: unknown } | null;
            if (status?.code === 410) expired = true;
            else {
              failure = new KubernetesApiError(
                `watch of ${this.path(scope)} failed: ${typeof status?.message === 'string' ? status.message : JSON.stringify(object)}`,
                typeof status?.code === 'number' ? status.code : undefined,
              );
            }
            abort();
            finish(null);
            return;
          }
          default:
            return;
        }
        if (typeof metadata?.resourceVersion === 'string' && metadata.resourceVersion !== '') {
          resourceVersion = metadata.resourceVersion;
          // Also after a BOOKMARK: the state is known to be current up to this revision.
          this.options.handle.reportVersion?.(resourceVersion, scope ?? '');
        }
      };
      this.watch
        .watch(
          this.path(scope),
          { resourceVersion: fromVersion, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          finish,
        )
        .then((created) => {
          controller = created;
          if (settled) created.abort();
          else {
            this.watchControllers.add(created);
            // The stream is open (client-node resolves after the 200 response).
            this.markHealthy();
          }
        })
        .catch(finish);
    });
  }

  private build(summary: Exclude<ReturnType<typeof summarizeVmi>, Error>): {
    records: readonly ClaimedRecord[];
    skipped: readonly SkippedRecord[];
  } {
    if (this.excluded.has(summary.namespace)) return { records: [], skipped: [] };
    return buildVmiRecords(summary, {
      allowNonRoutable: this.options.allowNonRoutable ?? false,
      origin: this.options.origin ?? '',
    });
  }

  private applyEvent(
    scope: string | undefined,
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    object: unknown,
    eventTime: number,
  ): void {
    const summary = summarizeVmi(object);
    if (summary instanceof Error) {
      this.invalid(summary);
      return;
    }
    const key = vmiKey(summary);
    const scopeKeys = this.keysByScope.get(scope);
    const handle = this.options.handle;
    if (type === 'DELETED') {
      handle.remove(key, eventTime);
      scopeKeys?.delete(key);
      this.setSkips(key, vmiDisplayName(summary), []);
      return;
    }
    const built = this.build(summary);
    if (built.records.length > 0) {
      handle.upsert(key, built.records, eventTime);
      scopeKeys?.add(key);
    } else {
      handle.remove(key, eventTime);
      scopeKeys?.delete(key);
    }
    this.setSkips(key, vmiDisplayName(summary), built.skipped);
  }

  private markHealthy(): void {
    if (this.healthy) return;
    this.healthy = true;
    this.options.logger.info('Kubernetes API reachable again');
    this.options.handle.reportHealthy();
  }

  private invalid(error: Error): void {
    this.options.logger.warn(`ignoring an object from the API: ${error.message}`);
    this.options.observer?.onInvalidObject?.(error);
  }

  private setSkips(key: string, object: string, skipped: readonly SkippedRecord[]): void {
    const signature = skipped.length === 0 ? undefined : skipSignature(skipped);
    if (this.skippedByKey.get(key) === signature) return;
    if (signature === undefined) this.skippedByKey.delete(key);
    else {
      this.skippedByKey.set(key, signature);
      for (const skip of skipped) {
        // Guest agents report a link-local address on nearly every interface: not worth a warning each.
        const message = `skipped a record of VMI ${object}: ${skip.detail}`;
        if (skip.reason === 'non-routable-address')
          this.options.logger.debug(message, { reason: skip.reason });
        else this.options.logger.warn(message, { reason: skip.reason });
      }
    }
    this.options.observer?.onSkipped?.({ key, object, skipped });
  }

  /** After a list: clear the skips of keys (within `scopeKeys`) that the list did not have. */
  private clearStaleSkips(scopeKeys: ReadonlySet<string> | undefined, listed: ReadonlySet<string>): void {
    const candidates = scopeKeys === undefined ? [...this.skippedByKey.keys()] : [...scopeKeys];
    for (const key of candidates) {
      if (!listed.has(key) && this.skippedByKey.has(key)) this.setSkips(key, key, []);
    }
  }
}
