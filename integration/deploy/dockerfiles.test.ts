/**
 * Static checks of Dockerfile.monitor and Dockerfile.cri (no Docker engine here), and a replay of their builds:
 * the build context that .dockerignore lets through is copied as the COPY lines say, the build commands run
 * as written (only `npm ci` is replaced by the repository's installed node_modules; an `npm prune` would be
 * skipped), the runtime stage gets only what its `COPY --from=build` lines take, and the image's ENTRYPOINT
 * (with its node flags) must run there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import {
  dockerStages,
  execForm,
  isIgnored,
  parseCopy,
  parseDockerfile,
  parseDockerignore,
} from './lib/dockerfile.js';
import type { DockerInstruction, DockerStage } from './lib/dockerfile.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
/**
 * Both images ship packages/cli/bundle (scripts/bundle.mjs) instead of node_modules + dist. The CRI image's node
 * flags are part of its memory budget (bench/report); the bench suites and the CLI tests run the bundle with the
 * flags read from each ENTRYPOINT (testkit nodeImageCommand, monitorImageCommand).
 */
const IMAGES = [
  {
    file: 'Dockerfile.monitor',
    command: 'monitor',
    port: '9180',
    entrypoint: ['node', 'zonewright.js'],
  },
  {
    file: 'Dockerfile.cri',
    command: 'cri-watch',
    port: '9181',
    entrypoint: ['node', '--lite-mode', '--max-semi-space-size=1', '--no-expose-wasm', 'zonewright.js'],
  },
] as const;
const PLATFORMS = 'linux/amd64,linux/arm64,linux/arm/v7';

interface PackageJson {
  readonly name: string;
  readonly workspaces?: readonly string[];
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
}
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(REPO, path), 'utf8'));
const rootPackage = readJson('package.json') as PackageJson;
const workspaces = rootPackage.workspaces ?? [];
const workspaceByName = new Map(
  workspaces.map((dir) => [(readJson(`${dir}/package.json`) as PackageJson).name, dir]),
);

/** packages/cli and every workspace it depends on, transitively. */
function cliClosure(): Set<string> {
  const needed = new Set<string>();
  const visit = (dir: string): void => {
    if (needed.has(dir)) return;
    needed.add(dir);
    for (const dependency of Object.keys(
      (readJson(`${dir}/package.json`) as PackageJson).dependencies ?? {},
    )) {
      const workspace = workspaceByName.get(dependency);
      if (workspace !== undefined) visit(workspace);
    }
  };
  visit('packages/cli');
  return needed;
}

const ignoreRules = parseDockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));

/** Files of the repository (relative paths) that the build context holds. */
function filesUnder(relative: string): string[] {
  const absolute = join(REPO, relative);
  if (!statSync(absolute).isDirectory()) return [relative];
  return readdirSync(absolute).flatMap((entry) =>
    entry === 'node_modules' ? [] : filesUnder(posix.join(relative, entry)),
  );
}

function stagesOf(file: string): DockerStage[] {
  return dockerStages(parseDockerfile(readFileSync(join(REPO, file), 'utf8')));
}
const runs = (stage: DockerStage): DockerInstruction[] =>
  stage.instructions.filter((item) => item.keyword === 'RUN');

describe.each(IMAGES)('$file', ({ file, command, port, entrypoint }) => {
  const stages = stagesOf(file);
  const build = stages[0] as DockerStage;
  const final = stages.at(-1) as DockerStage;

  it('is multi-stage: a build stage on the build platform, a runtime stage that copies only its output', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build.name).toBeDefined();
    expect(build.platform).toBe('$BUILDPLATFORM');
    const copies = final.instructions.filter((item) => item.keyword === 'COPY').map(parseCopy);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(copy.from).toBe(build.name);
    expect(runs(final).some((item) => /\bnpm\b|\btsc\b/.test(item.text))).toBe(false);
  });

  it('installs dependencies (npm ci) before any source is copied, from manifests and the lock file only', () => {
    const index = build.instructions.findIndex(
      (item) => item.keyword === 'RUN' && /^npm ci\b/.test(item.text),
    );
    expect(index).toBeGreaterThan(0);
    const before = build.instructions
      .slice(0, index)
      .filter((item) => item.keyword === 'COPY')
      .map(parseCopy);
    const sources = before.flatMap((copy) => copy.sources);
    for (const source of sources) expect(source).toMatch(/(^|\/)(package\.json|package-lock\.json)$/);
    expect(sources).toContain('package-lock.json');
    for (const workspace of workspaces) expect(sources).toContain(`${workspace}/package.json`);
  });

  it('copies sources of exactly the workspaces the CLI needs; every COPY source exists in the build context', () => {
    const copies = build.instructions.filter((item) => item.keyword === 'COPY').map(parseCopy);
    const sourceDirs = new Set<string>();
    for (const copy of copies) {
      expect(copy.from).toBeUndefined();
      for (const source of copy.sources) {
        expect(`${source} exists: ${String(existsSync(join(REPO, source)))}`).toBe(`${source} exists: true`);
        const files = filesUnder(source);
        const included = files.filter((path) => !isIgnored(ignoreRules, path));
        expect(`${source}: ${included.length} file(s) in the build context`).not.toBe(
          `${source}: 0 file(s) in the build context`,
        );
        for (const path of files.filter(
          (candidate) => candidate.endsWith('.ts') && !candidate.endsWith('.test.ts'),
        )) {
          expect(`${path} ignored: ${String(isIgnored(ignoreRules, path))}`).toBe(`${path} ignored: false`);
        }
        const workspace = /^(packages\/[^/]+)\/src$/.exec(source)?.[1];
        if (workspace !== undefined) sourceDirs.add(workspace);
      }
    }
    expect([...sourceDirs].sort()).toEqual([...cliClosure()].sort());
    expect(sourceDirs.has('packages/testkit')).toBe(false);
  });

  it('builds with the project build CI runs, bundles, and ships only the bundle', () => {
    expect(rootPackage.scripts?.['build']).toBe('tsc -b tsconfig.json');
    const rootReferences = (readJson('tsconfig.json') as { references: { path: string }[] }).references.map(
      (item) => item.path,
    );
    expect(rootReferences).toContain('packages/cli');
    const steps = runs(build).flatMap((item) => item.text.split(' && '));
    expect(steps.filter((step) => /\btsc\b/.test(step))).toEqual(['node_modules/.bin/tsc -b packages/cli']);
    const copies = final.instructions.filter((item) => item.keyword === 'COPY').map(parseCopy);
    const bundle = steps.indexOf('node scripts/bundle.mjs --out bundle --quiet');
    expect(bundle).toBeGreaterThan(steps.findIndex((step) => /\btsc\b/.test(step)));
    expect(copies.map((copy) => `${copy.sources.join(' ')} -> ${copy.destination}`)).toEqual([
      '/src/bundle -> ./',
    ]);
  });

  it('runs as a numeric non-root user with the CLI as entrypoint', () => {
    const users = final.instructions.filter((item) => item.keyword === 'USER').map((item) => item.text);
    expect(users).toHaveLength(1);
    expect(users[0]).toMatch(/^[1-9]\d*(:\d+)?$/);
    const entrypointInstruction = final.instructions.find((item) => item.keyword === 'ENTRYPOINT');
    const cmd = final.instructions.find((item) => item.keyword === 'CMD');
    expect(entrypointInstruction === undefined ? [] : execForm(entrypointInstruction)).toEqual([
      ...entrypoint,
    ]);
    expect(cmd === undefined ? [] : execForm(cmd)).toEqual([command]);
    expect(final.instructions.find((item) => item.keyword === 'EXPOSE')?.text).toBe(port);
  });

  it('documents the multi-arch buildx command', () => {
    const text = readFileSync(join(REPO, file), 'utf8');
    expect(text).toContain(`docker buildx build --platform ${PLATFORMS}`);
    expect(text).toContain(`-f ${file}`);
    expect(readFileSync(join(REPO, 'docs', 'deploy.md'), 'utf8')).toContain(`-f ${file}`);
  });
});

describe('Dockerfile.cri', () => {
  it('ships iptables (nft and legacy) and iproute2 for node-setup', () => {
    const final = stagesOf('Dockerfile.cri').at(-1) as DockerStage;
    const install = runs(final).find((item) => item.text.includes('apt-get install'));
    expect(install?.text).toMatch(/\biptables\b/);
    expect(install?.text).toMatch(/\biproute2\b/);
  });
});

describe.each(IMAGES)('$file build, replayed', ({ file, command, entrypoint }) => {
  let scratch = '';

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'zw-docker-'));
  });
  afterAll(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('the runtime stage gets only what it copies from the build stage, and its ENTRYPOINT runs there', async () => {
    const [build, ...rest] = stagesOf(file) as [DockerStage, ...DockerStage[]];
    const final = rest.at(-1) as DockerStage;
    const buildRoot = join(scratch, 'build');
    const runtimeRoot = join(scratch, 'runtime');
    let workdir = '/';
    const inBuild = (path: string): string => join(buildRoot, posix.resolve(workdir, path));
    for (const instruction of build.instructions) {
      if (instruction.keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, instruction.text);
        mkdirSync(inBuild('.'), { recursive: true });
      } else if (instruction.keyword === 'COPY') {
        const copy = parseCopy(instruction);
        for (const source of copy.sources) {
          const isDir = statSync(join(REPO, source)).isDirectory();
          for (const path of filesUnder(source).filter((candidate) => !isIgnored(ignoreRules, candidate))) {
            const rest = isDir ? path.slice(source.length + 1) : basename(path);
            const target =
              copy.destination.endsWith('/') || isDir ? posix.join(copy.destination, rest) : copy.destination;
            mkdirSync(dirname(inBuild(target)), { recursive: true });
            cpSync(join(REPO, path), inBuild(target));
          }
        }
      } else if (instruction.keyword === 'RUN') {
        for (const step of instruction.text.split(' && ')) {
          if (/^npm ci\b/.test(step)) linkNodeModules(inBuild('.'));
          else if (/^npm prune\b/.test(step))
            continue; // would change the shared node_modules
          else await run('sh', ['-c', step], { cwd: inBuild('.'), maxBuffer: 16 * 1024 * 1024 });
        }
      }
    }

    // The runtime stage: its WORKDIR and what it copies from the build stage (paths in the build image).
    workdir = '/';
    const inRuntime = (path: string): string => join(runtimeRoot, posix.resolve(workdir, path));
    for (const instruction of final.instructions) {
      if (instruction.keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, instruction.text);
        mkdirSync(inRuntime('.'), { recursive: true });
      } else if (instruction.keyword === 'COPY') {
        const copy = parseCopy(instruction);
        for (const source of copy.sources) {
          const from = join(buildRoot, source);
          const target = statSync(from).isDirectory()
            ? inRuntime(copy.destination)
            : copy.destination.endsWith('/')
              ? join(inRuntime(copy.destination), basename(source))
              : inRuntime(copy.destination);
          cpSync(from, target, { recursive: true });
        }
      }
    }
    const app = inRuntime('.');
    const [node, ...args] = entrypoint;
    expect(node).toBe('node');
    const script = args.at(-1) ?? '';
    expect(existsSync(join(app, script))).toBe(true);
    // Self-contained: no node_modules, no workspace packages; licences of the bundled code travel with it.
    expect(readdirSync(app).filter((name) => name === 'node_modules' || name === 'packages')).toEqual([]);
    expect(readdirSync(app).some((name) => name.endsWith('.LEGAL.txt'))).toBe(true);
    // The CRI client has its own codec and gRPC transport: no grpc-js, proto-loader or protobufjs.
    const sources = readdirSync(app)
      .filter((name) => name.endsWith('.js.map'))
      .flatMap(
        (name) => (JSON.parse(readFileSync(join(app, name), 'utf8')) as { sources: string[] }).sources,
      );
    expect(sources.some((source) => source.includes('cri-watcher/src/grpc-transport.ts'))).toBe(true);
    expect(sources.filter((source) => /@grpc\/|protobufjs|proto-loader\//.test(source))).toEqual([]);
    // The docs' `kubectl exec … -- node /app/…` commands name files this image has.
    const documented = ['README.md', 'docs/deploy.md', 'docs/runbook.md'].flatMap((doc) =>
      [...readFileSync(join(REPO, doc), 'utf8').matchAll(/\bnode (\/app\/[\w./-]+\.js)\b/g)].map(
        (match) => match[1] ?? '',
      ),
    );
    expect(documented.length).toBeGreaterThan(0);
    for (const script of new Set(documented))
      expect([script, existsSync(join(runtimeRoot, script))]).toEqual([script, true]);
    const help = await run(process.execPath, [...args, '--help'], { cwd: app });
    expect(help.stdout).toContain('zonewright');
    expect(help.stderr).toBe('');
    const commandHelp = await run(process.execPath, [...args, command, '--help'], { cwd: app });
    expect(commandHelp.stdout).toContain(`zonewright ${command}`);
    expect(commandHelp.stderr).toBe('');
  });
});

/**
 * Stands in for `npm ci` in a scratch build directory: links every installed package of the repository,
 * and the workspace packages to the scratch copies (so the build resolves them there, as in the image).
 */
function linkNodeModules(root: string): void {
  const modules = join(root, 'node_modules');
  mkdirSync(join(modules, '@zonewright'), { recursive: true });
  for (const entry of readdirSync(join(REPO, 'node_modules'))) {
    if (entry === '@zonewright' || entry === '.bin' || entry.startsWith('.package-lock')) continue;
    symlinkSync(join(REPO, 'node_modules', entry), join(modules, entry));
  }
  symlinkSync(join(REPO, 'node_modules', '.bin'), join(modules, '.bin'));
  for (const [name, dir] of workspaceByName) {
    symlinkSync(join(root, dir), join(modules, name));
  }
}
