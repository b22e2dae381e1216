import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './processes.js';

/** C source of the pause binary (packages/testkit/pause/pause.c). */
export const PAUSE_SOURCE_PATH = fileURLToPath(new URL('../pause/pause.c', import.meta.url));
export const DEFAULT_PAUSE_REFERENCE = 'registry.zonewright.test/pause:1';

export interface PauseImage {
  /** Image reference the archive is tagged with (use as containerd's `sandbox_image`). */
  readonly reference: string;
  /** docker-archive tar (manifest.json + config JSON + one layer). */
  readonly archivePath: string;
  /** `sha256:…` of the layer tar (the image's only diff id). */
  readonly layerDigest: string;
}

export class PauseImageError extends Error {
  override readonly name = 'PauseImageError';
}

interface TarEntry {
  readonly name: string;
  readonly data: Buffer;
  readonly mode: number;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar archive of regular files (names ≤ 100 bytes), with fixed owner and time so it is byte-stable. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    if (name.length > 100) throw new PauseImageError(`tar entry name too long: ${entry.name}`);
    const header = Buffer.alloc(512, 0);
    name.copy(header, 0);
    header.write(octal(entry.mode, 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii');
    header.write(octal(0, 8), 116, 'ascii');
    header.write(octal(entry.data.length, 12), 124, 'ascii');
    header.write(octal(0, 12), 136, 'ascii');
    header.write('        ', 148, 'ascii');
    header.write('0', 156, 'ascii');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    header.write('root', 265, 'ascii');
    header.write('root', 297, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(header, entry.data);
    const padding = (512 - (entry.data.length % 512)) % 512;
    if (padding > 0) blocks.push(Buffer.alloc(padding, 0));
  }
  blocks.push(Buffer.alloc(1024, 0));
  return Buffer.concat(blocks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function goArchitecture(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    default:
      return process.arch;
  }
}

/**
 * Compiles pause.c with `gcc -static` into `dir` and packs it as a docker-archive tar tagged `reference`.
 */
export async function buildPauseImage(options: { dir: string; reference?: string }): Promise<PauseImage> {
  const reference = options.reference ?? DEFAULT_PAUSE_REFERENCE;
  await mkdir(options.dir, { recursive: true });
  const binary = join(options.dir, 'pause');
  const compiled = await runCommand('gcc', ['-static', '-O2', '-s', '-o', binary, PAUSE_SOURCE_PATH], {
    timeoutMs: 60_000,
  });
  if (compiled.code !== 0) {
    throw new PauseImageError(`gcc -static failed for ${PAUSE_SOURCE_PATH}:\n${compiled.stderr}`);
  }
  const layer = tarArchive([{ name: 'pause', data: await readFile(binary), mode: 0o755 }]);
  const layerHex = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArchitecture(),
      os: 'linux',
      config: { Entrypoint: ['/pause'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
      history: [{ created_by: 'zonewright testkit buildPauseImage' }],
    }),
  );
  const configName = `${sha256(config)}.json`;
  const layerName = `${layerHex}/layer.tar`;
  const manifest = Buffer.from(
    JSON.stringify([{ Config: configName, RepoTags: [reference], Layers: [layerName] }]),
  );
  const archive = tarArchive([
    { name: configName, data: config, mode: 0o644 },
    { name: layerName, data: layer, mode: 0o644 },
    { name: 'manifest.json', data: manifest, mode: 0o644 },
  ]);
  const archivePath = join(options.dir, 'pause-image.tar');
  await writeFile(archivePath, archive);
  return { reference, archivePath, layerDigest: `sha256:${layerHex}` };
}

/** Imports an image archive into containerd's CRI namespace (`ctr -n k8s.io images import`). */
export async function importImage(archivePath: string, containerdSocket: string): Promise<void> {
  const result = await runCommand(
    'ctr',
    ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'import', archivePath],
    { timeoutMs: 60_000 },
  );
  if (result.code !== 0) {
    throw new PauseImageError(`ctr images import ${archivePath} failed:\n${result.stdout}${result.stderr}`);
  }
}
