/**
 * KubeVirt VMIs from the Kubernetes API: paged list + watch per scope (all namespaces, or one per namespace).
 *
 * Why not client-node's informer: it keeps every full object in its cache (memory grows with the cluster) and
 * stops for good on any error other than 410. This loop keeps no objects at all: each list page and each watch
 * event is summarized, turned into records and handed to the reconciler's {@link SourceHandle}.
 *
 * Recovery never waits longer than it must (see the package README, "Recovery"): the watch position is the
 * resourceVersion of the last event or BOOKMARK received, also when a watch breaks; a 410 relists at once; other
 * failures are retried with a backoff capped at 1 s that starts over as soon as the API answers again.
 */
import { CustomObjectsApi, KubeConfig, Observable } from '@kubernetes/client-node';
import type { RequestContext, ResponseContext } from '@kubernetes/client-node';
import { Backoff, SKIP_REASONS, systemClock, type Clock } from '@zonewright/zone';
import type {
  BackoffOptions,
  ClaimedRecord,
  Logger,
  SkippedRecord,
  SkipReason,
  SourceHandle,
} from '@zonewright/zone';
import { buildVmiRecords, summarizeVmi, vmiDisplayName, vmiKey } from './vmi-records.js';
import { requestWatch, statusMessage } from './watch-request.js';
import type { WatchAnswer, WatchHandlers } from './watch-request.js';

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
  /** A scope is current again after failures (`outageMs`: since its first failure). */
  onRecovered?(info: { namespace: string | undefined; outageMs: number; how: 'list' | 'watch' }): void;
  /** An object from the API could not be summarized. */
  onInvalidObject?(error: Error): void;
  /** The skipped records of an object changed (an empty list: it has none any more). */
  onSkipped?(info: { key: string; object: string; skipped: readonly SkippedRecord[] }): void;
}

/**
 * How the source talks to the API server (injectable, so that the retry loop is tested without a network).
 * Errors carry the HTTP status as `statusCode` or `code` where there was an answer.
 */
export interface KubernetesTransport {
  /** One list page of a scope (`continueToken` for the pages after the first). */
  listPage(
    scope: string | undefined,
    continueToken: string | undefined,
    limit: number,
    signal: AbortSignal,
  ): Promise<unknown>;
  /** Opens a watch of a scope; see {@link requestWatch}. */
  watch(
    scope: string | undefined,
    query: Readonly<Record<string, string | number | boolean>>,
    handlers: WatchHandlers,
    signal: AbortSignal,
  ): Promise<WatchAnswer>;
}

export interface KubernetesSourceOptions {
  readonly handle: SourceHandle;
  readonly kubeConfig: KubeConfig;
  /** Replaces the client-node list and the watch request made from `kubeConfig` (tests). */
  readonly transport?: KubernetesTransport;
  /** Watch only these namespaces (one list+watch each); empty or absent: all namespaces with one watch. */
  readonly namespaces?: readonly string[];
  /** VMIs in these namespaces get no records (namespace-level opt-out). */
  readonly excludeNamespaces?: readonly string[];
  /** Zone origin, for the name length check. */
  readonly origin?: string;
  readonly allowNonRoutable?: boolean;
  readonly logger: Logger;
  readonly observer?: KubernetesSourceObserver;
  readonly clock?: Pick<Clock, 'now'>;
  /** Wait `ms`; must resolve early (or reject) when `signal` aborts. */
  readonly delay?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** [0, 1) */
  readonly random?: () => number;
  /** Retries while the API is unreachable or failing (default {@link DEFAULT_RETRY}). */
  readonly backoff?: BackoffOptions;
  /** Retries of errors that need a person, e.g. a lasting 403 (default {@link DEFAULT_SLOW_RETRY}). */
  readonly slowBackoff?: BackoffOptions;
  /** Items per list page (default 500). */
  readonly pageSize?: number;
  /** Client-side timeout of one list page request, and of a watch request's answer (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** Server-side watch timeout; default a random value in [300, 600) s like client-go. */
  readonly watchTimeoutSeconds?: number;
  /** Abort a watch that sent nothing for this long (default watch timeout + 30 s). */
  readonly watchIdleMs?: number;
  /** A watch open this long without an error counts as current (default 1000 ms). */
  readonly watchSettleMs?: number;
}

/**
 * Retry delays while the API is down or failing: 125–250 ms, then 250–500 ms, then 0.5–1 s at most. The cap is
 * what the recovery target needs: a change made once the API answers again must be in the zone within 2 s, and
 * the next attempt comes at most 1 s after the API is back, leaving ~1 s for the relist (10k VMIs: ~0.3 s here)
 * and the zone write. It costs at most one refused connection a second per scope while the API is down.
 */
export const DEFAULT_RETRY: BackoffOptions = Object.freeze({ initialMs: 250, maxMs: 1000 });
/** Errors that need a person (a lasting 403, a missing CRD): up to 30 s apart, so the error log stays readable. */
export const DEFAULT_SLOW_RETRY: BackoffOptions = Object.freeze({ initialMs: 2000, maxMs: 30_000 });
/** A 410 right after a relist, again and again (no event in between): a brief pause, at most 1 s. */
const EXPIRED_RETRY: BackoffOptions = Object.freeze({ initialMs: 200, maxMs: 1000 });
/**
 * A kube-apiserver answers 403 for about a second after it starts (its RBAC authorizer's cache is empty): the
 * first this many 403s in a row within {@link STARTUP_FORBIDDEN_WINDOW_MS} of the API answering again are
 * warnings, retried fast; after that a 403 is an error that needs a person.
 */
export const STARTUP_FORBIDDEN_COUNT = 10;
export const STARTUP_FORBIDDEN_WINDOW_MS = 5000;

/** How one failed list or watch is retried and logged (pure; see {@link planRetry}). */
export interface RetryPlan {
  readonly backoff: 'fast' | 'slow';
  readonly level: 'warn' | 'error';
  /** A 403 from an API server that is probably still starting. */
  readonly startingUp: boolean;
}

/**
 * Decides how a failure is retried. `forbiddenInARow` counts this failure when it is a 403; `answeringForMs` is
 * how long the API has been answering HTTP since it was last unreachable (or since the source started).
 */
export function planRetry(failure: {
  readonly statusCode: number | undefined;
  readonly transient: boolean;
  readonly forbiddenInARow: number;
  readonly answeringForMs: number;
}): RetryPlan {
  const startingUp =
    failure.statusCode === 403 &&
    failure.forbiddenInARow <= STARTUP_FORBIDDEN_COUNT &&
    failure.answeringForMs <= STARTUP_FORBIDDEN_WINDOW_MS;
  if (failure.transient || startingUp) return { backoff: 'fast', level: 'warn', startingUp };
  return { backoff: 'slow', level: 'error', startingUp: false };
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

function vmiPath(scope: string | undefined): string {
  return scope === undefined
    ? `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/${VMI_PLURAL}`
    : `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/namespaces/${encodeURIComponent(scope)}/${VMI_PLURAL}`;
}

/** The transport from a kubeconfig: client-node's CustomObjectsApi for lists, {@link requestWatch} for watches. */
export function kubeConfigTransport(kubeConfig: KubeConfig): KubernetesTransport {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    listPage(scope, continueToken, limit, signal) {
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
      const common = {
        group: KUBEVIRT_GROUP,
        version: KUBEVIRT_VERSION,
        plural: VMI_PLURAL,
        limit,
        _continue: continueToken,
      };
      return scope === undefined
        ? api.listClusterCustomObject(common, options)
        : api.listNamespacedCustomObject({ ...common, namespace: scope }, options);
    },
    watch: (scope, query, handlers, signal) =>
      requestWatch(kubeConfig, vmiPath(scope), query, handlers, signal),
  };
}

/** How a watch ended. */
interface WatchOutcome {
  readonly end: 'expired' | 'closed' | 'failed' | 'stopped';
  readonly error?: Error;
  /** It delivered an event or bookmark, or stayed open for the settle time: the API answers. */
  readonly progressed: boolean;
}

/** The retry state of one scope (all namespaces, or one namespace). */
interface ScopeState {
  readonly scope: string | undefined;
  /** Where the next watch starts: the last list's, event's or bookmark's resourceVersion; undefined: relist. */
  resourceVersion: string | undefined;
  readonly retry: Backoff;
  readonly slowRetry: Backoff;
  readonly expiredRetry: Backoff;
  /** 410s since the last watch that made progress: from the second on, relist after a brief pause. */
  expiredInARow: number;
  /** 403s in a row. */
  forbiddenInARow: number;
  /** Since when the API has answered HTTP (any status) without a connection failure in between. */
  answeringSinceMs: number | undefined;
  /** The first failure since the scope was last current. */
  failingSinceMs: number | undefined;
  /**
   * While a list runs with its watch already open (see {@link KubernetesSource.listAndWatch}): the keys the
   * watch changed since the list's first page, each with its newest records (undefined: removed). The list's
   * snapshot is older than these, so they override it when it is delivered.
   */
  changedDuringList: Map<string, readonly ClaimedRecord[] | undefined> | undefined;
}

/** How a list that ran with its watch open ended: the watch's outcome, once the snapshot was delivered. */
interface ListAndWatch {
  readonly from: string;
  readonly outcome: WatchOutcome;
}

function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { code?: unknown; statusCode?: unknown };
  if (typeof record.statusCode === 'number') return record.statusCode;
  if (typeof record.code === 'number') return record.code;
  return undefined;
}

function messageOf(error: unknown): string {
  // Not `instanceof Error`: errors from Node's own modules may come from another realm (e.g. under jest).
  const record =
    typeof error === 'object' && error !== null ? (error as { body?: unknown; message?: unknown }) : {};
  if (typeof record.message !== 'string') return String(error);
  const fromBody = typeof record.body === 'string' ? statusMessage(record.body) : undefined;
  if (fromBody !== undefined) return fromBody;
  const code = statusCodeOf(error);
  return code !== undefined ? `HTTP ${code}: ${record.message.split('\n')[0] ?? ''}` : record.message;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
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
 * the first complete list of every scope. While the API is unreachable nothing is removed from the handle;
 * `reportError` is called on every failure and `reportHealthy` once every scope is current again (a relist was
 * delivered, or a resumed watch delivered an event or bookmark or stayed open for the settle time).
 */
export class KubernetesSource {
  private readonly options: KubernetesSourceOptions;
  private readonly transport: KubernetesTransport;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly delay: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly scopes: readonly (string | undefined)[];
  private readonly excluded: ReadonlySet<string>;
  /** Keys per scope; only kept with several scopes, to turn one scope's relist into removals. */
  private readonly keysByScope = new Map<string | undefined, Set<string>>();
  /** Objects with skipped records → {@link skipSignature}. */
  private readonly skippedByKey = new Map<string, string>();
  private readonly stopController = new AbortController();
  private readonly syncedScopes = new Set<string | undefined>();
  /** Scopes that failed and are not current again yet. */
  private readonly failingScopes = new Set<string | undefined>();
  private loops: Promise<void>[] = [];
  private synced = false;
  private started = false;

  constructor(options: KubernetesSourceOptions) {
    this.options = options;
    this.transport = options.transport ?? kubeConfigTransport(options.kubeConfig);
    this.clock = options.clock ?? systemClock;
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
    this.loops = this.scopes.map((scope) => this.run(this.newScopeState(scope)));
  }

  /** Stop every watch; resolves when the loops have ended (an in-flight request is abandoned). */
  async stop(): Promise<void> {
    this.stopController.abort();
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

  private newScopeState(scope: string | undefined): ScopeState {
    const random = this.random;
    return {
      scope,
      resourceVersion: undefined,
      retry: new Backoff({ ...DEFAULT_RETRY, ...this.options.backoff, random }),
      slowRetry: new Backoff({ ...DEFAULT_SLOW_RETRY, ...this.options.slowBackoff, random }),
      expiredRetry: new Backoff({ ...EXPIRED_RETRY, random }),
      expiredInARow: 0,
      forbiddenInARow: 0,
      answeringSinceMs: undefined,
      failingSinceMs: undefined,
      changedDuringList: undefined,
    };
  }

  private async run(state: ScopeState): Promise<void> {
    const { logger, observer } = this.options;
    const scope = state.scope;
    while (!this.stopped) {
      try {
        let from: string;
        let outcome: WatchOutcome;
        if (state.resourceVersion === undefined) {
          ({ from, outcome } = await this.listAndWatch(state));
        } else {
          from = state.resourceVersion;
          outcome = await this.watchOnce(state, from);
        }
        if (this.stopped || outcome.end === 'stopped') return;
        if (outcome.progressed) {
          state.expiredInARow = 0;
          state.expiredRetry.reset();
        }
        if (outcome.end === 'expired') {
          logger.info('watch resourceVersion expired, relisting', {
            namespace: scope,
            resourceVersion: from,
          });
          await this.relist(state);
          continue;
        }
        if (outcome.end === 'failed') throw outcome.error ?? new Error('watch failed');
        observer?.onWatchRestart?.({ namespace: scope, reason: 'closed' });
        if (outcome.progressed) {
          logger.debug('watch closed by the server, watching again', {
            namespace: scope,
            resourceVersion: state.resourceVersion,
          });
          continue;
        }
        // Closed at once without a single event: do not spin.
        await this.delay(state.retry.next(), this.stopController.signal);
      } catch (error) {
        if (this.stopped) return;
        if (statusCodeOf(error) === 410) {
          // An expired continue token, or a 410 answer to the watch request: start over with a fresh list.
          logger.info('resourceVersion expired, relisting', { namespace: scope });
          await this.relist(state);
          continue;
        }
        await this.failed(state, error);
      }
    }
  }

  /** After a 410: relist at once; only a 410 again without progress in between waits (briefly). */
  private async relist(state: ScopeState): Promise<void> {
    state.resourceVersion = undefined;
    this.options.observer?.onWatchRestart?.({ namespace: state.scope, reason: 'expired' });
    if (state.expiredInARow++ > 0) {
      await this.delay(state.expiredRetry.next(), this.stopController.signal);
    }
  }

  /** Reports and logs a failed list or watch, and waits before the next attempt. */
  private async failed(state: ScopeState, error: unknown): Promise<void> {
    const { logger, observer, handle } = this.options;
    const scope = state.scope;
    const watching = state.resourceVersion !== undefined;
    const code = statusCodeOf(error);
    const wrapped =
      error instanceof KubernetesApiError
        ? error
        : new KubernetesApiError(
            `${watching ? 'watch' : 'list'} of ${vmiPath(scope)} failed: ${messageOf(error)}`,
            code,
            { cause: error },
          );
    const now = this.clock.now();
    if (wrapped.statusCode === undefined) state.answeringSinceMs = undefined;
    else state.answeringSinceMs ??= now;
    state.forbiddenInARow = wrapped.statusCode === 403 ? state.forbiddenInARow + 1 : 0;
    const plan = planRetry({
      statusCode: wrapped.statusCode,
      transient: wrapped.transient,
      forbiddenInARow: state.forbiddenInARow,
      answeringForMs: state.answeringSinceMs === undefined ? 0 : now - state.answeringSinceMs,
    });
    const wait = plan.backoff === 'fast' ? state.retry.next() : state.slowRetry.next();
    let note = '';
    if (plan.startingUp) {
      note =
        ` (403 number ${state.forbiddenInARow} since the API answers again: an API server that just started` +
        ' answers 403 until its authorizer has loaded RBAC)';
    } else if (wrapped.statusCode === 403) {
      note = ` (403 number ${state.forbiddenInARow} in a row: check the RBAC of this service account)`;
    }
    const log = plan.level === 'warn' ? logger.warn.bind(logger) : logger.error.bind(logger);
    log(`${wrapped.message}; retrying in ${wait} ms${note}`, {
      namespace: scope,
      statusCode: wrapped.statusCode,
      attempt: plan.backoff === 'fast' ? state.retry.attempts : state.slowRetry.attempts,
    });
    if (state.failingSinceMs === undefined) state.failingSinceMs = now;
    this.failingScopes.add(scope);
    handle.reportError(wrapped);
    observer?.onError?.(wrapped);
    if (watching) {
      observer?.onWatchRestart?.({
        namespace: scope,
        reason: wrapped instanceof WatchStalledError ? 'stalled' : 'error',
      });
    }
    await this.delay(wait, this.stopController.signal);
  }

  /** The API answered with data (a list, an event or bookmark, a watch that stayed open): retries start over. */
  private answered(state: ScopeState): void {
    state.retry.reset();
    state.slowRetry.reset();
    state.forbiddenInARow = 0;
    state.answeringSinceMs ??= this.clock.now();
  }

  /** What the scope delivered so far is current: ends its outage (and the source's, once every scope is current). */
  private current(state: ScopeState, how: 'list' | 'watch', detail: string): void {
    if (state.failingSinceMs === undefined) return;
    const outageMs = this.clock.now() - state.failingSinceMs;
    state.failingSinceMs = undefined;
    this.failingScopes.delete(state.scope);
    this.options.logger.info(
      `Kubernetes API answers again; VMIs${state.scope === undefined ? '' : ` in namespace ${state.scope}`} ` +
        `are current (${detail}) after ${seconds(outageMs)} s of failures`,
      { namespace: state.scope, outageMs },
    );
    this.options.observer?.onRecovered?.({ namespace: state.scope, outageMs, how });
    if (this.failingScopes.size === 0) this.options.handle.reportHealthy();
  }

  /**
   * Lists a scope and watches it from the list's first page on, so that a change made while a long list is
   * paged (10k VMIs from an API server without watch cache: ~20 s) reaches the zone at once instead of after
   * the list. The pages after the first are consistent with the first page's resourceVersion (continue tokens),
   * so the watch from that version misses nothing. Watch events are applied as they come and remembered
   * ({@link ScopeState.changedDuringList}); the snapshot, delivered when the last page is in, takes them over,
   * so it neither reverts a change nor brings back a deleted VMI. The scope counts as current, and the zone's
   * source version moves on, only once the snapshot is delivered. A failed list stops the watch and fails as
   * before; a watch that ended during the list is handled after it (its outcome is returned).
   */
  private async listAndWatch(state: ScopeState): Promise<ListAndWatch> {
    const stopWatch = new AbortController();
    let watching: Promise<WatchOutcome> | undefined;
    state.changedDuringList = new Map();
    let listed: string;
    try {
      listed = await this.list(state, (firstPageVersion) => {
        if (firstPageVersion === '') return;
        watching = this.watchOnce(state, firstPageVersion, stopWatch.signal);
      });
    } catch (error) {
      stopWatch.abort();
      await watching;
      // The events of the stopped watch are in the handle, but without the snapshot they are no position.
      state.resourceVersion = undefined;
      throw error;
    } finally {
      state.changedDuringList = undefined;
    }
    if (this.stopped) {
      stopWatch.abort();
      await watching;
      return { from: listed, outcome: { end: 'stopped', progressed: false } };
    }
    // Events after the first page moved the position on; otherwise the watch (if any) stands at the list's.
    state.resourceVersion ??= listed;
    // One page only (or no resourceVersion on it): nothing to overlap, the watch starts after the list. Either
    // way it starts from the list's resourceVersion, the first page's.
    return { from: listed, outcome: await (watching ?? this.watchOnce(state, listed)) };
  }

  /**
   * Lists every page of a scope and delivers it; returns the list's resourceVersion. `onFirstPage` is called with
   * it as soon as the first page is in. The next page is asked for before a page's items are processed, so the
   * API server prepares it meanwhile (one page ahead, at most two pages held).
   */
  private async list(state: ScopeState, onFirstPage?: (resourceVersion: string) => void): Promise<string> {
    const scope = state.scope;
    const started = this.clock.now();
    const entries = new Map<string, readonly ClaimedRecord[]>();
    const listedWithSkips = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    let objects = 0;
    let resourceVersion = '';
    let next: Promise<unknown> = this.listPage(scope, undefined);
    do {
      const page = (await next) as {
        metadata?: { resourceVersion?: unknown; continue?: unknown };
        items?: unknown;
      };
      if (this.stopped) return '';
      pages++;
      if (!Array.isArray(page.items)) {
        throw new KubernetesApiError(`list of ${vmiPath(scope)} returned no items array`, undefined);
      }
      const metadata = page.metadata ?? {};
      token =
        typeof metadata.continue === 'string' && metadata.continue !== '' ? metadata.continue : undefined;
      if (token !== undefined) {
        next = this.listPage(scope, token);
        // Awaited in the next round; if this list ends first (stop, a bad page), its failure is of no interest.
        next.catch(() => undefined);
      }
      if (pages === 1) {
        resourceVersion = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
        if (token !== undefined) onFirstPage?.(resourceVersion);
      }
      const changed = state.changedDuringList;
      for (const item of page.items) {
        objects++;
        const summary = summarizeVmi(item);
        if (summary instanceof Error) {
          this.invalid(summary);
          continue;
        }
        const key = vmiKey(summary);
        // The watch already delivered a newer state of this VMI.
        if (changed?.has(key) === true) continue;
        const built = this.build(summary);
        if (built.records.length > 0) entries.set(key, built.records);
        if (built.skipped.length > 0) listedWithSkips.add(key);
        this.setSkips(key, vmiDisplayName(summary), built.skipped);
      }
    } while (token !== undefined);

    // What the watch changed while the pages came in is newer than the snapshot: it wins.
    const changed = state.changedDuringList;
    const changedCount = changed?.size ?? 0;
    if (changed !== undefined) {
      for (const [key, records] of changed) {
        if (records === undefined) entries.delete(key);
        else entries.set(key, records);
        if (this.skippedByKey.has(key)) listedWithSkips.add(key);
        else listedWithSkips.delete(key);
      }
      // From here on (the snapshot is delivered below, synchronously) events go to the handle as usual.
      state.changedDuringList = undefined;
    }

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
    // The zone now reflects this scope at the list's resourceVersion, or at the newest event the watch
    // delivered during the list (serials from source versions, ADR 0012).
    // (state.resourceVersion is unset when a list starts; only that watch's events and bookmarks set it.)
    const reflected = state.resourceVersion ?? resourceVersion;
    if (reflected !== '') handle.reportVersion?.(reflected, scope ?? '');
    this.answered(state);
    const durationMs = this.clock.now() - started;
    const during = changedCount > 0 ? `; ${changedCount} VMIs changed by the watch meanwhile` : '';
    this.options.logger.info(`listed ${objects} VMIs in ${pages} pages (${durationMs} ms${during})`, {
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
    this.current(state, 'list', `relisted ${objects} VMIs`);
    return resourceVersion;
  }

  private async listPage(scope: string | undefined, token: string | undefined): Promise<unknown> {
    const timeoutMs = this.options.requestTimeoutMs ?? 60_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([timeout, this.stopController.signal]);
    try {
      return await this.transport.listPage(scope, token, this.options.pageSize ?? 500, signal);
    } catch (error) {
      if (timeout.aborted) {
        throw new KubernetesApiError(`list of ${vmiPath(scope)} timed out after ${timeoutMs} ms`, undefined, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * Watches a scope from `fromVersion` until the stream ends (never rejects). Every event and bookmark moves
   * `state.resourceVersion` on at once, so a watch that breaks resumes after the last event it delivered.
   */
  private watchOnce(state: ScopeState, fromVersion: string, abort?: AbortSignal): Promise<WatchOutcome> {
    const { observer } = this.options;
    const scope = state.scope;
    const path = vmiPath(scope);
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(this.random() * 300);
    const idleMs = this.options.watchIdleMs ?? timeoutSeconds * 1000 + 30_000;
    const settleMs = this.options.watchSettleMs ?? 1000;
    const answerMs = Math.min(this.options.requestTimeoutMs ?? 60_000, idleMs);
    // Aborted when the watch ends or the source stops (a listener, not AbortSignal.any: one watch after another
    // must not leave anything behind on the long-lived stop signal).
    const controller = new AbortController();
    const signal = controller.signal;
    const stopSignal = this.stopController.signal;
    return new Promise<WatchOutcome>((resolve) => {
      let progressed = false;
      let settled = false;
      let idleTimer: NodeJS.Timeout | undefined;
      let settleTimer: NodeJS.Timeout | undefined;
      const finish = (end: WatchOutcome['end'], error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idleTimer);
        clearTimeout(settleTimer);
        stopSignal.removeEventListener('abort', onStop);
        abort?.removeEventListener('abort', onStop);
        controller.abort();
        if (this.stopped) resolve({ end: 'stopped', progressed });
        else resolve(error === undefined ? { end, progressed } : { end, error, progressed });
      };
      const fail = (error: unknown, statusCode = statusCodeOf(error)): void => {
        finish(
          'failed',
          error instanceof KubernetesApiError
            ? error
            : new KubernetesApiError(`watch of ${path} failed: ${messageOf(error)}`, statusCode, {
                cause: error,
              }),
        );
      };
      const progress = (): void => {
        if (progressed || settled) return;
        progressed = true;
        this.answered(state);
        // During a list the scope is current only once the list is delivered (list() says so then).
        if (state.changedDuringList === undefined)
          this.current(state, 'watch', `watch resumed from resourceVersion ${fromVersion}`);
      };
      const onStop = (): void => finish('stopped');
      if (stopSignal.aborted || abort?.aborted === true) onStop();
      else {
        stopSignal.addEventListener('abort', onStop, { once: true });
        abort?.addEventListener('abort', onStop, { once: true });
      }
      const armIdle = (ms: number, error: () => Error): void => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => fail(error()), ms);
      };
      armIdle(
        answerMs,
        () => new KubernetesApiError(`watch of ${path}: no answer within ${answerMs} ms`, undefined),
      );
      const stalled = (): Error => new WatchStalledError(`watch of ${path} sent no data for ${idleMs} ms`);
      const handlers: WatchHandlers = {
        onEvent: (type, object) => {
          if (settled) return;
          armIdle(idleMs, stalled);
          const metadata =
            typeof object === 'object' && object !== null
              ? (object as { metadata?: { resourceVersion?: unknown } }).metadata
              : undefined;
          switch (type) {
            case 'ADDED':
            case 'MODIFIED':
            case 'DELETED':
              this.applyEvent(state, type, object, this.clock.now());
              observer?.onEvent?.({ type });
              break;
            case 'BOOKMARK':
              observer?.onEvent?.({ type });
              break;
            case 'ERROR': {
              const status = object as { code?: unknown; message?: unknown } | null;
              if (status?.code === 410) finish('expired');
              else {
                const message = typeof status?.message === 'string' ? status.message : JSON.stringify(object);
                fail(
                  new KubernetesApiError(
                    `watch of ${path} failed: ${message}`,
                    typeof status?.code === 'number' ? status.code : undefined,
                  ),
                );
              }
              return;
            }
            default:
              return;
          }
          if (typeof metadata?.resourceVersion === 'string' && metadata.resourceVersion !== '') {
            state.resourceVersion = metadata.resourceVersion;
            // Also after a BOOKMARK: the state is known to be current up to this revision (not during a list:
            // the zone holds the older state until the snapshot is in; list() reports the version then).
            if (state.changedDuringList === undefined)
              this.options.handle.reportVersion?.(metadata.resourceVersion, scope ?? '');
          }
          progress();
        },
        onEnd: (error) => {
          if (error === undefined) finish('closed');
          else fail(error, undefined);
        },
      };
      this.transport
        .watch(
          scope,
          { resourceVersion: fromVersion, allowWatchBookmarks: true, timeoutSeconds },
          handlers,
          signal,
        )
        .then(
          (answer) => {
            if (settled) return;
            if (!answer.ok) {
              if (answer.statusCode === 410) finish('expired');
              else
                fail(new KubernetesApiError(`watch of ${path} failed: ${answer.message}`, answer.statusCode));
              return;
            }
            state.answeringSinceMs ??= this.clock.now();
            armIdle(idleMs, stalled);
            settleTimer = setTimeout(progress, settleMs);
          },
          (error: unknown) => fail(error),
        );
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
    state: ScopeState,
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
    const scopeKeys = this.keysByScope.get(state.scope);
    const handle = this.options.handle;
    if (type === 'DELETED') {
      handle.remove(key, eventTime);
      scopeKeys?.delete(key);
      state.changedDuringList?.set(key, undefined);
      this.setSkips(key, vmiDisplayName(summary), []);
      return;
    }
    const built = this.build(summary);
    if (built.records.length > 0) {
      handle.upsert(key, built.records, eventTime);
      scopeKeys?.add(key);
      state.changedDuringList?.set(key, built.records);
    } else {
      handle.remove(key, eventTime);
      scopeKeys?.delete(key);
      state.changedDuringList?.set(key, undefined);
    }
    this.setSkips(key, vmiDisplayName(summary), built.skipped);
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
