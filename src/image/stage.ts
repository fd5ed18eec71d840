import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import type { ServiceImage } from '../compiler/fragment.js';
import { MastodonCfnError } from '../errors.js';

/**
 * A service's production build, staged for the image as postblog/Dockerfile lays it out under /app:
 * `deps/` holds the lockfile, package.json and node_modules with the production dependencies only,
 * `app/` the files `npm pack` would publish. Two folders, two layers: a change of the source leaves
 * the dependency layer as it was.
 */
export interface StagedService {
  /** The staging folder (deps/ and app/ inside it); the caller removes it. */
  folder: string;
  /** The image's command, relative to /app: `node <workspace>/<main>`. */
  command: string[];
}

interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  workspaces?: string[] | { packages?: string[] };
}

async function readPackage(folder: string): Promise<PackageJson> {
  const file = join(folder, 'package.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PackageJson;
  } catch (error) {
    throw MastodonCfnError.of('image.package', `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** npm, run in `cwd`; its output is kept for the message if it fails, never printed. */
function npm(args: string[], cwd: string): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { output: `${stderr}\n${stdout}` }));
      else resolve({ stdout });
    });
  });
}

function lastLines(error: unknown, count = 6): string {
  const output = String((error as { output?: string }).output ?? (error as Error).message ?? '');
  return output.split('\n').map((line) => line.trim()).filter(Boolean).slice(-count).join(' | ');
}

/** Where the service's lockfile is: its own folder, or the root of an npm workspace that lists it. */
async function lockfileRoot(folder: string): Promise<{ root: string; workspace?: string }> {
  if (existsSync(join(folder, 'package-lock.json'))) return { root: folder };
  for (let root = dirname(folder); root !== dirname(root); root = dirname(root)) {
    const lockfile = join(root, 'package-lock.json');
    if (!existsSync(lockfile)) continue;
    const workspace = relative(root, folder).split(sep).join('/');
    let lock: { packages?: Record<string, unknown> };
    try {
      lock = JSON.parse(await readFile(lockfile, 'utf8'));
    } catch (error) {
      throw MastodonCfnError.of('image.lockfile', `cannot read ${lockfile}: ${(error as Error).message}`);
    }
    if (lock.packages && workspace in lock.packages) return { root, workspace };
    break;
  }
  throw MastodonCfnError.of(
    'image.lockfile',
    `${folder} has no package-lock.json, and no workspace root above it lists it: run npm install there (or in its workspace root) to make one, then deploy again`,
  );
}

/** Runs the service's build script, if it has one: the image ships its output, not its source. */
async function runBuild(folder: string, pkg: PackageJson): Promise<void> {
  if (!pkg.scripts?.build) return;
  try {
    await npm(['run', 'build'], folder);
  } catch (error) {
    throw MastodonCfnError.of('image.build', `npm run build failed in ${folder}: ${lastLines(error)}. Run npm ci there (or in its workspace root) first, then deploy again.`);
  }
}

/**
 * The files `npm pack` publishes (package.json and the `files` entry): what the app layer holds. npm adds
 * the README whatever `files` says; the image leaves it out, so that editing the documentation rolls out nothing.
 */
async function packedFiles(folder: string): Promise<string[]> {
  let listing: { files: { path: string }[] }[];
  try {
    listing = JSON.parse((await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], folder)).stdout);
  } catch (error) {
    throw MastodonCfnError.of('image.pack', `npm pack --dry-run failed in ${folder}: ${lastLines(error)}`);
  }
  return listing[0].files.map((file) => file.path).filter((path) => !/^readme(\.|$)/i.test(path));
}

/**
 * What would make an image that cannot start or that carries a secret: its command's file missing (npm
 * packs main whatever `files` says, when it exists), or a dotenv file packed into it (the service's secrets come from ECS Secrets, never the image).
 */
function checkPacked(folder: string, files: string[], main: string): void {
  // A template (.env.example, .env.sample, .env.template) holds no values; every other dotenv file may.
  const envFiles = files.filter((path) => /(^|\/)\.env(\.|$)/.test(path) && !/\.env\.(example|sample|template)$/.test(path));
  if (envFiles.length > 0) {
    throw MastodonCfnError.of('image.secretFile', `${folder} would pack ${envFiles.join(', ')} into the image: leave it out of package.json's files (or add it to .npmignore); the service gets its secrets from the stack, then deploy again`);
  }
  // `node <main>` resolves as require does: the file, with .js, or a folder's index.js.
  if (![main, `${main}.js`, `${main}/index.js`].some((candidate) => files.includes(candidate))) {
    throw MastodonCfnError.of('image.main', `${folder}: package.json's main (${main}) is not among the files npm pack publishes, so the image could not start: add a build script that makes it (or fix main), then deploy again`);
  }
}

/**
 * npm's platform flags for the image, not for the machine that builds it (npm 10.1 has --os and --cpu,
 * 10.3 --libc): a dependency with prebuilt binaries per platform (esbuild, sharp, rollup…) then gets the
 * image's (Alpine: musl; amd64 or arm64), as `npm ci` inside the Dockerfile would install them.
 */
function platformFlags(platform: ServiceImage['platform']): string[] {
  const cpu = platform === 'linux/arm64' ? 'arm64' : 'x64';
  return ['--os=linux', `--cpu=${cpu}`, '--libc=musl'];
}

/** Production dependencies only (`--omit=dev`), as the lockfile pins them, without install scripts. */
async function installDependencies(deps: string, workspace: string | undefined, folder: string, platform: ServiceImage['platform']): Promise<void> {
  const args = ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', ...platformFlags(platform), ...(workspace ? ['--workspace', workspace, '--include-workspace-root=false'] : [])];
  try {
    await npm(args, deps);
  } catch (error) {
    throw MastodonCfnError.of('image.dependencies', `npm ${args.join(' ')} failed for ${folder}: ${lastLines(error)}. Check that its package-lock.json is up to date (npm install), then deploy again.`);
  }
}

/** Builds the service in `folder` and stages its image's files in a new temporary folder. */
export async function stageService(folder: string, platform: ServiceImage['platform']): Promise<StagedService> {
  const pkg = await readPackage(folder);
  const { root, workspace } = await lockfileRoot(folder);
  await runBuild(folder, pkg);
  const files = await packedFiles(folder);
  const main = (pkg.main ?? 'index.js').replace(/^\.\//, '');
  checkPacked(folder, files, main);
  const staging = await mkdtemp(join(tmpdir(), 'mastodon-cfn-image-'));
  try {
    const deps = join(staging, 'deps');
    const app = join(staging, 'app', workspace ?? '');
    await mkdir(deps, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) await cp(join(root, file), join(deps, file));
    if (workspace) {
      // npm ci checks the workspace's package.json against the lockfile, as in postblog/Dockerfile.
      await mkdir(join(deps, workspace), { recursive: true });
      await cp(join(folder, 'package.json'), join(deps, workspace, 'package.json'));
    }
    await installDependencies(deps, workspace, folder, platform);
    if (workspace) {
      // The workspace's link to itself (node_modules/<name> → ../<workspace>): the app layer has the real files.
      await rm(join(deps, 'node_modules', pkg.name ?? workspace), { force: true });
      await rm(join(deps, workspace, 'package.json'));
      // Kept only if npm put dependencies there (node_modules of the workspace, when versions conflict).
      await rmdir(join(deps, workspace)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY') throw error;
      });
    }
    for (const file of files) await cp(join(folder, file), join(app, file));
    // The standalone case: package.json is the app's (packed) and the lockfile is in deps/.
    if (!workspace) await rm(join(deps, 'package.json'));
    return { folder: staging, command: ['node', [workspace, main].filter(Boolean).join('/')] };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
