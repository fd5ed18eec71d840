// Bundles the CLI for a fast cold start (npm run build runs this after tsc):
// - dist/bundle/cli.js: everything `build` needs, as one classic (CommonJS) script, so that
//   bin/mastodon-cfn.cjs can run it with a V8 code cache: parsing the ~700 KB bundle is most of
//   what a cold start costs, and Node 20 has no compile cache of its own for modules;
// - dist/bundle/deployer.js: the deployer and the AWS SDK, required only by commands that talk to AWS;
// - dist/bundle/cli.cache: the code cache, made here by one build of the shipped config.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist/bundle');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// .js files in this folder are CommonJS, whatever the package says.
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true,
  // bin/mastodon-cfn.cjs reads the bundle as latin1: it must stay ASCII (esbuild's default, said here on purpose).
  charset: 'ascii',
  logLevel: 'warning',
  // `import()` becomes `require()`: the deployer is a sibling script, loaded only when needed.
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
};
await build({
  ...common,
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(out, 'cli.js'),
  plugins: [
    {
      name: 'deployer-apart',
      setup(context) {
        context.onResolve({ filter: /\/deployer\/index\.js$/ }, () => ({ path: './deployer.js', external: true }));
      },
    },
    {
      // Commander loads child_process (and with it net, dgram and the streams) for executable
      // subcommands, which mastodon-cfn has none of: load it only if one is ever spawned.
      name: 'commander-child-process-on-demand',
      setup(context) {
        context.onLoad({ filter: /commander[\\/]lib[\\/]command\.js$/ }, async ({ path }) => {
          const source = await readFile(path, 'utf8');
          const eager = "const childProcess = require('node:child_process');";
          if (!source.includes(eager)) throw new Error(`${path} no longer requires child_process as expected: update scripts/bundle.mjs`);
          return { contents: source.replace(eager, "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };"), loader: 'js' };
        });
      },
    },
  ],
});
await build({ ...common, entryPoints: [join(root, 'src/deployer/index.ts')], outfile: join(out, 'deployer.js') });

// One real run writes the code cache (bin/mastodon-cfn.cjs makes it when it is missing).
const scratch = mkdtempSync(join(tmpdir(), 'mastodon-cfn-bundle-'));
try {
  execFileSync(process.execPath, [join(root, 'bin/mastodon-cfn.cjs'), 'build', '--config', join(root, 'mastodon.config.yaml'), '--out', join(scratch, 'out')], { stdio: 'ignore' });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
