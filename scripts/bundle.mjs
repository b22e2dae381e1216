// Bundles the built CLI (packages/cli/dist, run `npm run build` first) into packages/cli/bundle/: one ES module
// per entry point plus shared chunks, so every command loads only its own code (`cri-watch` never loads
// @kubernetes/client-node). The node image (Dockerfile.cri) ships this directory instead of node_modules: a
// node-local watcher then parses a few minified files instead of ~300 modules, which (with the node flags in
// Dockerfile.cri) keeps its idle memory under the 60 MB target (bench/report). Licence comments of the bundled
// packages go to *.LEGAL.txt next to the output files.
//
//   node scripts/bundle.mjs [--out DIR] [--quiet]
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};
const outdir = path.resolve(option('--out') ?? path.join(root, 'packages/cli/bundle'));
const quiet = args.includes('--quiet');
const entry = path.join(root, 'packages/cli/bin/zonewright.js');

// prom-client's index loads its Pushgateway client, and with it http, https (so tls and OpenSSL) and zlib, when
// the module loads. zonewright serves /metrics for Prometheus to scrape and never pushes; left out, the CRI
// watcher (which must stay under 60 MB) loads none of that for it. Using it fails loudly.
const withoutPushgateway = {
  name: 'without-pushgateway',
  setup(plugin) {
    plugin.onResolve({ filter: /^\.\/lib\/pushgateway$/ }, (args) =>
      args.importer.includes(`${path.sep}prom-client${path.sep}`)
        ? { path: 'pushgateway', namespace: 'zw-stub-pushgateway' }
        : undefined,
    );
    plugin.onLoad({ filter: /.*/, namespace: 'zw-stub-pushgateway' }, () => ({
      contents:
        "module.exports = class Pushgateway { constructor() { throw new Error('prom-client Pushgateway is left out of the zonewright bundle (scripts/bundle.mjs)'); } };",
      loader: 'js',
    }));
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: { zonewright: entry },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Minified (1.7 MiB less idle RSS than unminified in the bench), but functions and classes keep their
  // `.name` (error names, stack frames); the linked source maps are used with NODE_OPTIONS=--enable-source-maps.
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'external',
  metafile: true,
  plugins: [withoutPushgateway],
  // `Intl.Segmenter` in the bundled code is a lazy stand-in (see the shim for why).
  inject: [path.join(root, 'scripts/bundle-shims/lazy-segmenter.mjs')],
  logLevel: 'warning',
  // Bundled CommonJS packages call require() for Node's built-in modules; ES module output has none.
  banner: {
    js: "import { createRequire as __zwCreateRequire } from 'node:module'; const require = __zwCreateRequire(import.meta.url);",
  },
});
const cliPackage = JSON.parse(await readFile(path.join(root, 'packages/cli/package.json'), 'utf8'));
await writeFile(
  path.join(outdir, 'package.json'),
  `${JSON.stringify({ name: 'zonewright-bundle', version: cliPackage.version, private: true, type: 'module' }, null, 2)}\n`,
);
if (!quiet) {
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, output]) => `${path.relative(root, file)} ${(output.bytes / 1024).toFixed(0)} KiB`);
  process.stdout.write(
    `bundled ${path.relative(root, entry)} → ${path.relative(root, outdir)}/\n  ${outputs.join('\n  ')}\n`,
  );
}
