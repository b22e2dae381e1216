/** Builds a throwaway kustomization that includes repository directories (bases, components) by path. */
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { buildKustomization, type KubernetesObject } from '../../deploy/lib/kustomize.js';

/**
 * Writes `<scratch>/overlays/<name>/kustomization.yaml` with the given resources and components (paths relative
 * to the repository; kustomize refuses absolute ones) and builds it with the real `kubectl kustomize`.
 */
export async function buildOverlay(
  repoRoot: string,
  scratch: string,
  name: string,
  include: { readonly resources: readonly string[]; readonly components: readonly string[] },
): Promise<KubernetesObject[]> {
  const dir = path.join(scratch, 'overlays', name);
  await fs.mkdir(dir, { recursive: true });
  const relative = (target: string): string => path.relative(dir, path.join(repoRoot, target));
  await fs.writeFile(
    path.join(dir, 'kustomization.yaml'),
    JSON.stringify({
      resources: include.resources.map(relative),
      components: include.components.map(relative),
    }),
  );
  return buildKustomization(repoRoot, path.relative(repoRoot, dir));
}
