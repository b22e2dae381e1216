/**
 * Validation of built manifests against the Kubernetes OpenAPI schema, offline:
 * - kubernetes-models (generated from the Kubernetes OpenAPI document): required fields, types, enums, formats;
 * - openapi-fields.ts (field sets and types from @kubernetes/client-node's generated models): unknown fields.
 * Together an unknown, misspelt, mistyped or missing field fails.
 */
import { checkOpenApiFields } from './openapi-fields.js';

interface ValidatableModel {
  validate(): void;
}
type ModelConstructor = new (data: Record<string, unknown>) => ValidatableModel;

/** Module path of a kind in kubernetes-models, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
export function kubernetesModelsPath(apiVersion: string, kind: string): string {
  const parts = apiVersion.split('/');
  const group = parts.length === 2 ? parts[0] : undefined;
  const version = parts.length === 2 ? parts[1] : parts[0];
  return group === undefined
    ? `kubernetes-models/${version}/${kind}`
    : `kubernetes-models/${group}/${version}/${kind}`;
}

async function modelConstructor(apiVersion: string, kind: string): Promise<ModelConstructor> {
  const path = kubernetesModelsPath(apiVersion, kind);
  let module: Record<string, unknown>;
  try {
    module = (await import(path)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `cannot load ${path} (${error instanceof Error ? error.message : String(error)}): ` +
        'the schema check needs kubernetes-models@4.5.1 as a root devDependency',
    );
  }
  const constructor = module[kind];
  if (typeof constructor !== 'function') throw new Error(`${path} exports no ${kind} model`);
  return constructor as ModelConstructor;
}

/** Every schema problem of one object, as readable lines (empty when valid). */
export async function validateObject(object: Record<string, unknown>): Promise<string[]> {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string')
    return ['apiVersion and kind must be strings'];
  const problems = checkOpenApiFields(object);
  const Model = await modelConstructor(apiVersion, kind);
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  return problems;
}
