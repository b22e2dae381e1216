/**
 * A real kube-apiserver (v1.20.2, built from Debian 12's `kubernetes` source package by
 * scripts/build-kube-apiserver.sh) with its own etcd 3.4, both on loopback with random ports, their own data
 * and certificate directories, RBAC on, a static token for the test's admin and service-account token signing
 * (so TokenRequest works). Everything is started and stopped by pid.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, killProcessTree, runCommand, spawnProcess, waitFor } from './processes.js';
import type { RunResult, SpawnedProcess } from './processes.js';

/** sha256 of the orig tarball the binary is built from; the cache directory is named after it. */
export const KUBE_APISERVER_TARBALL_SHA256 =
  'b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc';
/** Environment variable naming a kube-apiserver binary to use instead of the cached build. */
export const KUBE_APISERVER_ENV = 'ZONEWRIGHT_KUBE_APISERVER';
/** Where scripts/build-kube-apiserver.sh caches the binary (below ZONEWRIGHT_CACHE_DIR, default /var/cache/zonewright). */
export function cachedKubeApiServerPath(env: NodeJS.ProcessEnv = process.env): string {
  const cacheRoot = env['ZONEWRIGHT_CACHE_DIR'] ?? '/var/cache/zonewright';
  return join(cacheRoot, `kube-apiserver-${KUBE_APISERVER_TARBALL_SHA256}`, 'kube-apiserver');
}

/** The API server or its etcd did not start, answer, or stop. */
export class KubeApiServerError extends Error {
  constructor(message: string, output = '') {
    super(output === '' ? message : `${message}\n--- output:\n${output}`);
    this.name = 'KubeApiServerError';
  }
}

/** No kube-apiserver binary is available (and the caller asked for one). */
export class KubeApiServerMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeApiServerMissingError';
  }
}

export type KubeApiServerAvailability =
  | { readonly available: true; readonly binary: string }
  | { readonly available: false; readonly reason: string };

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the binary: `ZONEWRIGHT_KUBE_APISERVER` if set (it must exist then), else the cache path. In CI
 * (`CI=true`) a missing binary throws KubeApiServerMissingError, so real-server tests cannot silently skip there.
 */
export function kubeApiServerAvailability(
  env: NodeJS.ProcessEnv = process.env,
  executable: (path: string) => boolean = isExecutable,
): KubeApiServerAvailability {
  const configured = env[KUBE_APISERVER_ENV];
  const how =
    'build it with scripts/build-kube-apiserver.sh (12-30 minutes once on 2 cores; cached in ' +
    `${cachedKubeApiServerPath(env)}) or point ${KUBE_APISERVER_ENV} at a kube-apiserver binary`;
  let result: KubeApiServerAvailability;
  if (configured !== undefined && configured !== '') {
    result = executable(configured)
      ? { available: true, binary: configured }
      : { available: false, reason: `${KUBE_APISERVER_ENV}=${configured} is not an executable file: ${how}` };
  } else {
    const cached = cachedKubeApiServerPath(env);
    result = executable(cached)
      ? { available: true, binary: cached }
      : { available: false, reason: `no kube-apiserver at ${cached}: ${how}` };
  }
  if (!result.available && env['CI'] === 'true') throw new KubeApiServerMissingError(result.reason);
  return result;
}

export interface KubeApiServerOptions {
  /** The binary; default from kubeApiServerAvailability() (throws KubeApiServerMissingError when missing). */
  readonly binary?: string;
  /** `--watch-cache`; false makes watches read etcd, so compacted history answers 410 (default true). */
  readonly watchCache?: boolean;
  /** More kube-apiserver flags. */
  readonly extraArgs?: readonly string[];
  /** Time allowed for each start until ready; default 90 s (a loaded 2-core machine needs ~10-20 s). */
  readonly startTimeoutMs?: number;
}

export interface KubeApiResponse {
  readonly status: number;
  /** The parsed JSON body (undefined when the body is empty or not JSON). */
  readonly body: unknown;
  readonly text: string;
}

export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** PEM of the CA that signed the serving certificate. */
  readonly caPem: string;
  readonly caFile: string;
  /** Bearer token of `zw-admin` (group system:masters). */
  readonly adminToken: string;
  /** Holds etcd's data, the certificates, keys and the token file. */
  readonly directory: string;
  readonly etcdUrl: string;
  /** pid of the running kube-apiserver (undefined while stopped during restart()). */
  pid(): number | undefined;
  etcdPid(): number | undefined;
  /** Writes a kubeconfig with only this server, its CA and `token` (default the admin's); returns its path. */
  writeKubeconfig(path: string, token?: string): Promise<string>;
  /** One HTTPS request with a JSON body (token default the admin's). Never throws on an HTTP status. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<KubeApiResponse>;
  /** request(), but throws KubeApiServerError unless the status is 2xx; returns the parsed body. */
  call(method: string, path: string, body?: unknown, token?: string): Promise<unknown>;
  /** A TokenRequest token for ServiceAccount `namespace/name` (default 1 h). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
  /**
   * Stops kube-apiserver (SIGTERM; SIGKILL after `graceMs`, default 15 s) and starts it again on the same
   * port with the same etcd, certificates and keys; resolves once it is ready. Returns how long each step took.
   */
  restart(options?: { readonly graceMs?: number; readonly downMs?: number }): Promise<KubeApiServerRestart>;
  /** How long the first start took. */
  readonly startTimings: KubeApiServerStartTimings;
  /** Runs the real `kubectl` (KUBECTL or PATH) with an admin kubeconfig; never throws on its exit code. */
  kubectl(args: readonly string[]): Promise<RunResult>;
  /** `etcdctl compact` at etcd's current revision (history before it is gone); returns that revision. */
  compact(): Promise<number>;
  /** Stops kube-apiserver and etcd by pid and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
  /** kube-apiserver's output (most recent part, across restarts). */
  output(): string;
  etcdOutput(): string;
}

export interface KubeApiServerStartTimings {
  /** From spawn until the server first answered HTTP (any status: it serves requests before it is ready). */
  readonly answeredMs: number;
  /** From spawn until ready (/readyz 200 and RBAC decisions served). */
  readonly readyMs: number;
}

export interface KubeApiServerRestart extends KubeApiServerStartTimings {
  /** From SIGTERM until the old process was gone. */
  readonly stopMs: number;
  /** From SIGTERM until the new process was ready. */
  readonly downMs: number;
}

export interface KubeApiServerFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly tokenFile: string;
}

export interface KubeApiServerArgsInput {
  readonly port: number;
  readonly etcdUrl: string;
  readonly files: KubeApiServerFiles;
  readonly certDirectory: string;
  readonly watchCache: boolean;
  readonly extraArgs?: readonly string[];
}

/** The issuer written into service-account tokens (the in-cluster default). */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** kube-apiserver's command line (pure). Loopback only; no insecure port; RBAC; token file; SA keys. */
export function kubeApiServerArgs(input: KubeApiServerArgsInput): string[] {
  return [
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${input.port}`,
    // 1.20 still opens an unauthenticated port 8080 unless told not to.
    '--insecure-port=0',
    `--etcd-servers=${input.etcdUrl}`,
    `--cert-dir=${input.certDirectory}`,
    `--tls-cert-file=${input.files.certFile}`,
    `--tls-private-key-file=${input.files.keyFile}`,
    `--token-auth-file=${input.files.tokenFile}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${input.files.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${input.files.serviceAccountKeyFile}`,
    `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
    '--service-cluster-ip-range=10.96.0.0/24',
    // No kube-controller-manager or kubelets: the `kubernetes` Service endpoints would point at loopback.
    '--endpoint-reconciler-type=none',
    `--watch-cache=${input.watchCache}`,
    '--profiling=false',
    '--logtostderr=true',
    '--v=1',
    ...(input.extraArgs ?? []),
  ];
}

export interface EtcdArgsInput {
  readonly name: string;
  readonly dataDirectory: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** etcd's command line (pure): one member, loopback only. */
export function etcdArgs(input: EtcdArgsInput): string[] {
  const client = `http://127.0.0.1:${input.clientPort}`;
  const peer = `http://127.0.0.1:${input.peerPort}`;
  return [
    `--name=${input.name}`,
    `--data-dir=${input.dataDirectory}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${input.name}=${peer}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${input.name}`,
    '--log-level=warn',
    '--logger=zap',
  ];
}

export interface StaticTokenUser {
  readonly token: string;
  readonly user: string;
  readonly uid: string;
  readonly groups: readonly string[];
}

/** The `--token-auth-file` CSV: token,user,uid,"group1,group2" (pure). */
export function tokenFileText(users: readonly StaticTokenUser[]): string {
  for (const entry of users) {
    for (const field of [entry.token, entry.user, entry.uid, ...entry.groups]) {
      if (!/^[A-Za-z0-9:._@-]+$/.test(field)) {
        throw new KubeApiServerError(
          `token file field ${JSON.stringify(field)} has characters CSV would need quoted`,
        );
      }
    }
  }
  return users
    .map((entry) => [entry.token, entry.user, entry.uid, `"${entry.groups.join(',')}"`].join(','))
    .join('\n')
    .concat('\n');
}

/** A kubeconfig (JSON, which is YAML) with one cluster, its CA inline, and one token user (pure). */
export function kubeconfigText(
  url: string,
  caPem: string,
  token: string,
  name = 'zw-kube-apiserver',
): string {
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name,
          cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
        },
      ],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: name, user: name } }],
      'current-context': name,
    },
    null,
    2,
  )}\n`;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const result = await runCommand('openssl', args, { cwd, timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new KubeApiServerError(`openssl ${args.join(' ')} failed (${result.code})`, result.stderr);
  }
}

/** CA, serving certificate for 127.0.0.1/localhost, and the service-account signing key pair, made with openssl. */
async function makeCertificates(directory: string): Promise<KubeApiServerFiles> {
  await mkdir(directory, { recursive: true });
  const files = {
    caFile: join(directory, 'ca.crt'),
    certFile: join(directory, 'apiserver.crt'),
    keyFile: join(directory, 'apiserver.key'),
    serviceAccountKeyFile: join(directory, 'sa.key'),
    serviceAccountPublicKeyFile: join(directory, 'sa.pub'),
    tokenFile: join(directory, 'tokens.csv'),
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '7',
      '-subj',
      '/CN=zonewright-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    directory,
  );
  await writeFile(
    join(directory, 'apiserver.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc',
      '',
    ].join('\n'),
  );
  await openssl(
    ['req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'],
    directory,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'apiserver.crt',
      '-days',
      '7',
      '-extfile',
      'apiserver.ext',
    ],
    directory,
  );
  await openssl(
    ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'],
    directory,
  );
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], directory);
  return files;
}

function describeExit(process_: SpawnedProcess): string | undefined {
  const status = process_.exitStatus();
  return status === undefined ? undefined : `exited (${status.code ?? status.signal ?? '?'})`;
}

/**
 * Starts etcd and kube-apiserver and resolves once the API server is ready: `/readyz` answers 200 and an
 * unprivileged user is allowed discovery (which takes ~1 s more: RBAC decisions come from an informer cache that
 * is empty at first, so early requests get 403).
 */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  let binary = options.binary;
  if (binary === undefined) {
    const availability = kubeApiServerAvailability();
    if (!availability.available) throw new KubeApiServerMissingError(availability.reason);
    binary = availability.binary;
  }
  // Ports come from the kernel a moment before use; another test may take one first: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (error) {
      const portTaken = error instanceof KubeApiServerError && /address already in use/.test(error.message);
      if (!portTaken || attempt === 3) throw error;
    }
  }
}

async function startOnce(binary: string, options: KubeApiServerOptions): Promise<KubeApiServer> {
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const directory = await mkdtemp(join(tmpdir(), 'zw-kube-apiserver-'));
  const suffix = randomBytes(4).toString('hex');
  const adminToken = randomBytes(24).toString('hex');
  const probeToken = randomBytes(24).toString('hex');
  let etcd: SpawnedProcess | undefined;
  let apiserver: SpawnedProcess | undefined;
  let apiserverLog = '';
  const stopAll = async (): Promise<void> => {
    if (apiserver !== undefined) await killProcessTree(apiserver.pid, { graceMs: 2000 });
    if (etcd !== undefined) await killProcessTree(etcd.pid, { graceMs: 2000 });
  };
  try {
    const files = await makeCertificates(join(directory, 'pki'));
    await writeFile(
      files.tokenFile,
      tokenFileText([
        { token: adminToken, user: 'zw-admin', uid: 'zw-admin', groups: ['system:masters'] },
        { token: probeToken, user: 'zw-readiness-probe', uid: 'zw-readiness-probe', groups: [] },
      ]),
      { mode: 0o600 },
    );
    const caPem = await readFile(files.caFile, 'utf8');
    const adminKubeconfig = join(directory, 'admin.kubeconfig');

    const clientPort = await freeTcpPort();
    let peerPort = await freeTcpPort();
    while (peerPort === clientPort) peerPort = await freeTcpPort();
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    etcd = await spawnProcess(
      'etcd',
      etcdArgs({ name: `zw-${suffix}`, dataDirectory: join(directory, 'etcd'), clientPort, peerPort }),
      { cwd: directory, maxOutputBytes: 256 * 1024 },
    );
    const etcdProcess = etcd;
    await waitFor(
      async () => {
        const exited = describeExit(etcdProcess);
        if (exited !== undefined) throw new KubeApiServerError(`etcd ${exited}`, etcdProcess.output());
        try {
          const response = await fetch(`${etcdUrl}/health`);
          return response.ok ? true : undefined;
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, description: `etcd on ${etcdUrl} to be healthy` },
    );

    const port = await freeTcpPort();
    const url = `https://127.0.0.1:${port}`;
    const args = kubeApiServerArgs({
      port,
      etcdUrl,
      files,
      certDirectory: join(directory, 'generated-certs'),
      watchCache: options.watchCache ?? true,
      ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
    });

    const send = (
      method: string,
      path: string,
      body?: unknown,
      token = adminToken,
    ): Promise<KubeApiResponse> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = httpsRequest(
          `${url}${path}`,
          {
            method,
            ca: caPem,
            headers: {
              authorization: `Bearer ${token}`,
              accept: 'application/json',
              ...(payload === undefined
                ? {}
                : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            },
            timeout: 30_000,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
              } catch {
                parsed = undefined;
              }
              resolve({ status: response.statusCode ?? 0, body: parsed, text });
            });
            response.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', reject);
        req.end(payload);
      });

    const launch = async (): Promise<KubeApiServerStartTimings> => {
      const spawnedAt = Date.now();
      let answeredAt: number | undefined;
      const started = await spawnProcess(binary, args, {
        cwd: directory,
        maxOutputBytes: 512 * 1024,
        onLine: (line) => {
          apiserverLog += `${line}\n`;
          if (apiserverLog.length > 1024 * 1024) apiserverLog = apiserverLog.slice(-512 * 1024);
        },
      });
      apiserver = started;
      await waitFor(
        async () => {
          const exited = describeExit(started);
          if (exited !== undefined)
            throw new KubeApiServerError(`kube-apiserver ${exited}`, started.output());
          try {
            const readyz = await send('GET', '/readyz');
            answeredAt ??= Date.now();
            if (readyz.status !== 200) return undefined;
            // RBAC's informer cache has synced once discovery (bound to system:authenticated) is allowed.
            return (await send('GET', '/apis', undefined, probeToken)).status === 200 ? true : undefined;
          } catch {
            return undefined; // not listening yet
          }
        },
        { timeoutMs: startTimeoutMs, intervalMs: 100, description: `kube-apiserver on ${url} to be ready` },
      );
      const readyAt = Date.now();
      return { answeredMs: (answeredAt ?? readyAt) - spawnedAt, readyMs: readyAt - spawnedAt };
    };
    const firstStart = await launch();
    await writeFile(adminKubeconfig, kubeconfigText(url, caPem, adminToken), { mode: 0o600 });

    let stopped = false;
    const call = async (method: string, path: string, body?: unknown, token?: string): Promise<unknown> => {
      const response = await send(method, path, body, token);
      if (response.status < 200 || response.status > 299) {
        throw new KubeApiServerError(`${method} ${path} answered HTTP ${response.status}: ${response.text}`);
      }
      return response.body;
    };
    const etcdctl = async (commandArgs: readonly string[]): Promise<string> => {
      const result = await runCommand('etcdctl', [`--endpoints=${etcdUrl}`, ...commandArgs], {
        timeoutMs: 30_000,
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      if (result.code !== 0) {
        throw new KubeApiServerError(
          `etcdctl ${commandArgs.join(' ')} failed (${result.code})`,
          result.stderr,
        );
      }
      return result.stdout;
    };
    return {
      url,
      port,
      caPem,
      caFile: files.caFile,
      adminToken,
      directory,
      etcdUrl,
      startTimings: firstStart,
      pid: () =>
        apiserver !== undefined && describeExit(apiserver) === undefined ? apiserver.pid : undefined,
      etcdPid: () => etcdProcess.pid,
      async writeKubeconfig(path, token = adminToken) {
        await writeFile(path, kubeconfigText(url, caPem, token), { mode: 0o600 });
        return path;
      },
      request: send,
      call,
      async serviceAccountToken(namespace, name, expirationSeconds = 3600) {
        const body = await call(
          'POST',
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
          { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
        );
        const token = (body as { status?: { token?: unknown } } | undefined)?.status?.token;
        if (typeof token !== 'string' || token === '') {
          throw new KubeApiServerError(`TokenRequest for ${namespace}/${name} returned no token`);
        }
        return token;
      },
      async restart(restartOptions = {}) {
        if (stopped) throw new KubeApiServerError('restart() after stop()');
        const previous = apiserver;
        const goneAt = Date.now();
        if (previous !== undefined) {
          await killProcessTree(previous.pid, { graceMs: restartOptions.graceMs ?? 15_000 });
        }
        const stopMs = Date.now() - goneAt;
        if (restartOptions.downMs !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, restartOptions.downMs));
        }
        const timings = await launch();
        return { ...timings, stopMs, downMs: Date.now() - goneAt };
      },
      async kubectl(kubectlArgs) {
        return runCommand(
          process.env['KUBECTL'] ?? 'kubectl',
          ['--kubeconfig', adminKubeconfig, ...kubectlArgs],
          {
            timeoutMs: 60_000,
          },
        );
      },
      async compact() {
        const status = JSON.parse(await etcdctl(['endpoint', 'status', '--write-out=json'])) as {
          Status?: { header?: { revision?: number } };
        }[];
        const revision = status[0]?.Status?.header?.revision;
        if (typeof revision !== 'number')
          throw new KubeApiServerError('etcdctl endpoint status gave no revision');
        await etcdctl(['compact', String(revision)]);
        return revision;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await stopAll();
        } finally {
          await rm(directory, { recursive: true, force: true });
        }
      },
      output: () => apiserverLog,
      etcdOutput: () => etcdProcess.output(),
    };
  } catch (error) {
    try {
      await stopAll();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    throw error;
  }
}

/**
 * A minimal CustomResourceDefinition for KubeVirt's `kubevirt.io/v1` VirtualMachineInstance, written for these
 * tests: names and scope as KubeVirt serves them, and a schema that keeps every field (the monitor reads
 * spec.networks and status.interfaces; the real CRD's schema is not needed for that).
 */
export const VMI_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'virtualmachineinstances.kubevirt.io' },
  spec: {
    group: 'kubevirt.io',
    scope: 'Namespaced',
    names: {
      plural: 'virtualmachineinstances',
      singular: 'virtualmachineinstance',
      kind: 'VirtualMachineInstance',
      listKind: 'VirtualMachineInstanceList',
      shortNames: ['vmi', 'vmis'],
    },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
} as const;

/** Creates VMI_CRD and resolves once VMIs can be listed (the CRD is established and served). */
export async function installVmiCrd(api: KubeApiServer, timeoutMs = 30_000): Promise<void> {
  await api.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', VMI_CRD);
  await waitFor(
    async () =>
      (await api.request('GET', '/apis/kubevirt.io/v1/virtualmachineinstances')).status === 200
        ? true
        : undefined,
    { timeoutMs, intervalMs: 100, description: 'the VirtualMachineInstance CRD to be served' },
  );
}
