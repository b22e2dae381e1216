/** Finds the kustomizations of the repository and builds them with the real `kubectl kustomize`. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

export interface Kustomization {
  /** Directory relative to the repository root, e.g. deploy/node/overlays/k3s. */
  readonly dir: string;
  /** `Kustomization` (buildable) or `Component` (only usable from a kustomization). */
  readonly kind: string;
}

/** Every directory below `roots` holding a kustomization.yaml, sorted. */
export function findKustomizations(repoRoot: string, roots: readonly string[]): Kustomization[] {
  const found: Kustomization[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry === 'kustomization.yaml') {
        const parsed = parseAllDocuments(readFileSync(path, 'utf8'))[0]?.toJS() as
          { kind?: string } | undefined;
        found.push({ dir: relative(repoRoot, dir), kind: parsed?.kind ?? 'Kustomization' });
      }
    }
  };
  for (const root of roots) walk(join(repoRoot, root));
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** `kubectl kustomize DIR`, parsed into objects; rejects with kubectl's message when the build fails. */
export async function buildKustomization(repoRoot: string, dir: string): Promise<KubernetesObject[]> {
  const { stdout } = await run(KUBECTL, ['kustomize', join(repoRoot, dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`${dir}: ${document.errors.map(String).join('; ')}`);
      return document.toJS() as KubernetesObject | null;
    })
    .filter((object): object is KubernetesObject => object !== null);
}
