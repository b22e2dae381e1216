/** Typed views of the pod templates in built manifests (only the fields the policy tests read). */
import type { KubernetesObject } from './kustomize.js';

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: unknown;
}
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: string;
}
export interface HttpProbe {
  readonly httpGet?: { readonly path?: string; readonly port: number | string };
}
export interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities?: { readonly add?: readonly string[]; readonly drop?: readonly string[] };
}
export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly { readonly configMapRef?: { readonly name: string } }[];
  readonly ports?: readonly ContainerPort[];
  readonly livenessProbe?: HttpProbe;
  readonly readinessProbe?: HttpProbe;
  readonly resources?: {
    readonly requests?: Record<string, string>;
    readonly limits?: Record<string, string>;
  };
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly VolumeMount[];
}
export interface Volume {
  readonly name: string;
  readonly emptyDir?: unknown;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly configMap?: { readonly name: string };
}
export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly hostNetwork?: boolean;
  readonly automountServiceAccountToken?: boolean;
  readonly serviceAccountName?: string;
  readonly nodeSelector?: Record<string, string>;
  readonly securityContext?: SecurityContext & { readonly supplementalGroups?: readonly number[] };
}
export interface Workload extends KubernetesObject {
  readonly spec: {
    readonly replicas?: number;
    readonly selector: { readonly matchLabels?: Record<string, string> };
    readonly template: {
      readonly metadata?: { readonly labels?: Record<string, string> };
      readonly spec: PodSpec;
    };
  };
}
export interface ConfigMap extends KubernetesObject {
  readonly data?: Record<string, string>;
}

export function workloads(objects: readonly KubernetesObject[]): Workload[] {
  return objects.filter(
    (object): object is Workload => object.kind === 'Deployment' || object.kind === 'DaemonSet',
  );
}

export function configMap(objects: readonly KubernetesObject[], name: string): ConfigMap {
  const found = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === name);
  if (found === undefined) throw new Error(`no ConfigMap ${name}`);
  return found;
}

/** The container's environment as the kubelet builds it: envFrom ConfigMaps first, then env (literal values). */
export function containerEnvironment(
  container: Container,
  objects: readonly KubernetesObject[],
): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef === undefined) continue;
    for (const [key, value] of Object.entries(configMap(objects, source.configMapRef.name).data ?? {}))
      env.set(key, value);
  }
  for (const variable of container.env ?? []) env.set(variable.name, variable.value);
  return env;
}

/** A probe's port as a number (named ports resolved against the container's ports). */
export function probePort(container: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** Effective security settings: the container's own, else the pod's. */
export function effectiveSecurity(pod: PodSpec, container: Container): SecurityContext {
  return { ...(pod.securityContext ?? {}), ...(container.securityContext ?? {}) };
}
