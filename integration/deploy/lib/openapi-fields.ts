/**
 * Strict structural check of Kubernetes objects against the field types that @kubernetes/client-node
 * generates from the Kubernetes OpenAPI document (`attributeTypeMap` of every model class): every field
 * must be known at its place (a misspelt or invented field fails) and have the OpenAPI type. Required
 * fields, enums and formats are checked separately by kubernetes-models (see schema.ts).
 */
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}

interface ModelClass {
  getAttributeTypeMap(): readonly Attribute[];
}

const models = k8s as unknown as Record<string, unknown>;

function modelClass(typeName: string): ModelClass | undefined {
  const candidate = models[typeName];
  if (typeof candidate === 'function' && 'getAttributeTypeMap' in candidate)
    return candidate as unknown as ModelClass;
  return undefined;
}

/** The client-node model name of a top-level object, e.g. apps/v1 Deployment → V1Deployment. */
export function modelNameOf(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkValue(value: unknown, type: string, path: string, problems: string[]): void {
  if (value === null) return; // explicit null clears a field; the API accepts it
  const arrayMatch = /^Array<(.+)>$/.exec(type);
  if (arrayMatch?.[1] !== undefined) {
    if (!Array.isArray(value)) {
      problems.push(`${path}: expected an array, got ${describe(value)}`);
      return;
    }
    const itemType = arrayMatch[1];
    value.forEach((item, index) => {
      checkValue(item, itemType, `${path}[${index}]`, problems);
    });
    return;
  }
  const mapMatch = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapMatch?.[1] !== undefined) {
    if (!isPlainObject(value)) {
      problems.push(`${path}: expected a map, got ${describe(value)}`);
      return;
    }
    const valueType = mapMatch[1];
    for (const [key, item] of Object.entries(value)) checkValue(item, valueType, `${path}.${key}`, problems);
    return;
  }
  switch (type) {
    case 'string':
    case 'Date':
      if (typeof value !== 'string') problems.push(`${path}: expected a string, got ${describe(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') problems.push(`${path}: expected a number, got ${describe(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: expected a boolean, got ${describe(value)}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        problems.push(`${path}: expected an integer or a string, got ${describe(value)}`);
      }
      return;
    case 'any':
    case 'object':
      return;
    default:
      checkObject(value, type, path, problems);
  }
}

function checkObject(value: unknown, typeName: string, path: string, problems: string[]): void {
  const model = modelClass(typeName);
  if (model === undefined) {
    problems.push(`${path}: no OpenAPI model ${typeName} in @kubernetes/client-node`);
    return;
  }
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object (${typeName}), got ${describe(value)}`);
    return;
  }
  const attributes = new Map(
    model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute.type]),
  );
  for (const [key, item] of Object.entries(value)) {
    const type = attributes.get(key);
    const where = path === '' ? key : `${path}.${key}`;
    if (type === undefined) {
      problems.push(`${where}: unknown field "${key}" in ${typeName}`);
      continue;
    }
    checkValue(item, type, where, problems);
  }
}

/** Problems of one object; empty when every field is known and typed as the OpenAPI document says. */
export function checkOpenApiFields(object: Record<string, unknown>): string[] {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string')
    return ['apiVersion and kind must be strings'];
  const problems: string[] = [];
  checkObject(object, modelNameOf(apiVersion, kind), '', problems);
  return problems;
}
