import { expect } from 'chai';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { lintLater, REPO_ROOT, tempDir, type CliResult } from './support/build.js';

const { name, version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

/** Runs npm; a failure fails the test with npm's own words (an unreachable registry says so). */
function npm(args: string[], cwd: string): string {
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  return result.stdout;
}

/** Runs `mastodon-cfn` as a person would: by name, from PATH, with the prefix's bin first. */
function installed(prefix: string, args: string[], cwd: string, user?: { uid: number; gid: number }): CliResult {
  const PATH = [join(prefix, 'bin'), dirname(process.execPath), process.env.PATH].join(':');
  const result = spawnSync('mastodon-cfn', args, { cwd, encoding: 'utf8', env: { ...process.env, PATH }, ...user });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('installing mastodon-cfn with npm', function () {
  // npm installs the dependencies (from its cache, else the registry): it may take a minute.
  this.timeout(300_000);
  let packed: { filename: string; files: { path: string }[] };
  let prefix: string;
  const packageFolder = () => join(prefix, 'lib/node_modules', name);

  before(() => {
    const destination = tempDir('mastodon-cfn-pack-');
    // `prepare` would rebuild dist/ under the tests that run from it; the test run has just built it.
    [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', destination], REPO_ROOT));
    prefix = tempDir('mastodon-cfn-prefix-');
    npm(['install', '--global', '--prefix', prefix, '--prefer-offline', join(destination, packed.filename)], destination);
  });

  it('packs what the command reads at run time, and no source, tests or the postblog workspace', () => {
    const files = packed.files.map((file) => file.path);
    // The bundle holds the code, the templates and the price table; the schema is read as a file.
    expect(files).to.include.members(['bin/mastodon-cfn.cjs', 'dist/bundle/cli.cache', 'dist/bundle/cli.js', 'dist/bundle/deployer.js', 'dist/bundle/package.json', 'dist/types/src/plugins.d.ts', 'package.json', 'schema/mastodon.config.schema.json']);
    expect(files.filter((file) => /^(src|test|postblog|scripts|bench|templates|node_modules|dist\/(src|test|postblog))\//.test(file))).to.deep.equal([]);
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), 'the README installs the tarball npm pack makes').to.include(`npm pack && npm install -g ./${packed.filename}\n`);
  });

  it('puts a mastodon-cfn on PATH that runs from any folder: --version, init, build', () => {
    const work = tempDir('mastodon-cfn-elsewhere-');
    const shown = installed(prefix, ['--version'], work);
    expect([shown.status, shown.stdout, shown.stderr]).to.deep.equal([0, `${version}\n`, '']);
    const init = installed(prefix, ['init', '--yes', '--service', 'club', '--domain', 'social.example.org'], work);
    expect(init.status, init.stderr).to.equal(0);
    const built = installed(prefix, ['build'], work);
    expect(built.status, built.stderr).to.equal(0);
    expect(built.stdout).to.match(/^Built club \(prod\) into \.mastodon-cfn\//);
    const out = join(work, '.mastodon-cfn');
    expect(readdirSync(out).filter((file) => !file.startsWith('.')).sort()).to.deep.equal([
      'architecture.svg', 'club-prod-certificates.template.json', 'club-prod-secrets.template.json', 'club-prod.template.json', 'manifest.json',
    ]);
    lintLater(out);
  });

  it("init's modeline names this version of the package, and the package holds the schema at the path it names", () => {
    const work = tempDir('mastodon-cfn-elsewhere-');
    expect(installed(prefix, ['init', '--yes'], work).status).to.equal(0);
    const modeline = readFileSync(join(work, 'mastodon.config.yaml'), 'utf8').split('\n')[0];
    const url = /^# yaml-language-server: \$schema=https:\/\/unpkg\.com\/(?<pkg>[^@/]+)@(?<at>[^/]+)\/(?<path>.+)$/.exec(modeline);
    expect(url, modeline).to.not.equal(null);
    expect([url!.groups!.pkg, url!.groups!.at]).to.deep.equal([name, version]);
    expect(packed.files.map((file) => file.path)).to.include(url!.groups!.path);
    expect(readFileSync(join(packageFolder(), url!.groups!.path), 'utf8')).to.equal(readFileSync(join(REPO_ROOT, 'schema/mastodon.config.schema.json'), 'utf8'));
  });

  it("a plugin written against the package's types type-checks, and a wrong one does not", () => {
    const work = tempDir('mastodon-cfn-plugin-');
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(packageFolder(), join(work, 'node_modules', name));
    copyFileSync(join(REPO_ROOT, 'examples/plugins/rate-limit.mjs'), join(work, 'rate-limit.mjs'));
    writeFileSync(join(work, 'typed.ts'), [
      "import type { HookContext, MastodonCfnPlugin } from 'mastodon-cfn/plugins';",
      'export default class Typed implements MastodonCfnPlugin {',
      "  hooks: MastodonCfnPlugin['hooks'] = { 'after:compile': ({ templates, config }: HookContext) => { templates.main!.Resources.X = { Type: 'AWS::SNS::Topic', Properties: { DisplayName: config.domain } }; } };",
      '}',
      '',
    ].join('\n'));
    writeFileSync(join(work, 'wrong.ts'), "import type { MastodonCfnPlugin } from 'mastodon-cfn/plugins';\nexport const hooks: MastodonCfnPlugin['hooks'] = { 'after:compil': () => undefined };\n");
    const tsc = (files: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--allowJs', '--checkJs', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), ...files], { cwd: work, encoding: 'utf8' });
    const good = tsc(['typed.ts', 'rate-limit.mjs']);
    expect(good.status, good.stdout).to.equal(0);
    const wrong = tsc(['wrong.ts']);
    expect(wrong.stdout).to.match(/error TS2353: Object literal may only specify known properties, and ''after:compil'' does not exist in type/);
  });

  it('runs from an install folder it may not write to, the code cache then only missing', () => {
    const bundle = join(packageFolder(), 'dist/bundle');
    // Without a cache the command tries to write one when it ends (as when another Node version rejects the shipped one).
    rmSync(join(bundle, 'cli.cache'));
    const work = tempDir('mastodon-cfn-elsewhere-');
    // root writes anywhere: it runs the command as nobody, for whom the install is read-only, as for anyone else.
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? { uid: 65534, gid: 65534 } : undefined;
    if (asRoot) {
      chmodSync(prefix, 0o755);
      chmodSync(work, 0o777);
    } else {
      chmodSync(bundle, 0o555);
    }
    try {
      expect(installed(prefix, ['init', '--yes'], work, user).status).to.equal(0);
      const built = installed(prefix, ['build'], work, user);
      expect([built.status, built.stderr]).to.deep.equal([0, '']);
      expect(readdirSync(bundle).sort()).to.deep.equal(['cli.js', 'deployer.js', 'package.json']);
    } finally {
      chmodSync(bundle, 0o755);
    }
  });

  it('a folder install links the folder: the command is the folder, built', () => {
    const linked = tempDir('mastodon-cfn-prefix-');
    // Without --ignore-scripts npm runs `prepare` in the folder (npm run build), as the README says: here it is built already.
    npm(['install', '--global', '--prefix', linked, '--prefer-offline', '--ignore-scripts', REPO_ROOT], linked);
    expect(existsSync(join(linked, 'lib/node_modules', name, 'src/cli.ts')), 'the link leads to the folder itself').to.equal(true);
    const shown = installed(linked, ['--version'], tempDir('mastodon-cfn-elsewhere-'));
    expect([shown.status, shown.stdout]).to.deep.equal([0, `${version}\n`]);
  });
});
