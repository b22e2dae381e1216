/**
 * True for a JSON-style object (not null, not an array): the one guard every package uses on decoded input
 * (Kubernetes objects, CRI verbose info).
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
