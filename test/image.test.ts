import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServiceImage } from '../src/compiler/fragment.js';
import { Ids } from '../src/compiler/naming.js';
import { pushServiceImages, type ImageOptions } from '../src/deployer/images.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { NODE_BASE_IMAGE } from '../src/image/base.js';
import type { BaseSource } from '../src/image/pull.js';
import { FakeApi } from './support/fakes.js';
import { freePort } from './support/moto.js';
import { pushSyntheticNodeBase, RegistryReader, startDockerHubStandIn, startRegistry, type LocalRegistry, type SyntheticBase } from './support/registry.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ACCOUNT_REGISTRY = '123456789012.dkr.ecr.eu-central-1.amazonaws.com';
const REPOSITORY = 'social-prod-postblog';
const REPOSITORY_URI = `${ACCOUNT_REGISTRY}/${REPOSITORY}`;
const OUTPUTS = { secrets: { [Ids.service('postblog', 'RepositoryUri')]: REPOSITORY_URI } };

function postblogImage(folder: string, platform: ServiceImage['platform'] = 'linux/arm64'): ServiceImage {
  return {
    service: 'postblog',
    folder,
    repository: { stack: 'secrets', output: Ids.service('postblog', 'RepositoryUri') },
    parameter: Ids.service('postblog', 'Image'),
    platform,
    port: 8000,
    healthCheck: '/status',
  };
}

/** ECR as the AWS API reference documents GetAuthorizationToken: base64("user:password") and the registry's URL. */
function fakeEcr(username: string, password: string): FakeApi {
  return new FakeApi({
    GetAuthorizationToken: () => ({
      authorizationData: [{ authorizationToken: Buffer.from(`${username}:${password}`).toString('base64'), expiresAt: new Date(Date.now() + 12 * 3600_000), proxyEndpoint: `https://${ACCOUNT_REGISTRY}` }],
    }),
  });
}

/** postblog as a workspace of a copy of the repository root, to change its source without touching the worktree's. */
function copyOfWorkspace(): string {
  const copy = mkdtempSync(join(tmpdir(), 'mastodon-cfn-postblog-'));
  for (const file of ['package.json', 'package-lock.json', 'postblog/package.json', 'postblog/tsconfig.json', 'postblog/src']) cpSync(join(ROOT, file), join(copy, file), { recursive: true });
  // TypeScript and the types for `npm run build`; the image takes only what npm ci installs in its staging copy.
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

const WRITES = /^(PUT|POST|PATCH|DELETE) /;

describe('service images built without Docker and pushed to a real registry (docker-registry)', function () {
  this.timeout(600_000);
  let registry: LocalRegistry;
  let base: SyntheticBase;
  let options: ImageOptions;
  let cache: string;
  const workspaceCopies: string[] = [];
  /** A cache folder of its own, for a test that must download the base; removed after the suite. */
  const emptyCache = () => {
    const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-empty-cache-'));
    workspaceCopies.push(folder);
    return folder;
  };

  /** The deploy's error when the base image comes from `base` (the service folder is never reached): a user's problem, exit 1. */
  async function baseFailure(base: Partial<BaseSource>, cacheFolder = emptyCache()): Promise<MastodonCfnError> {
    const error = await pushServiceImages([postblogImage('/nonexistent/folder')], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), {
      ...options,
      base: { ...NODE_BASE_IMAGE, ...base },
      cacheFolder,
    }).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    return error;
  }

  before(async () => {
    registry = await startRegistry();
    base = await pushSyntheticNodeBase(registry);
    cache = mkdtempSync(join(tmpdir(), 'mastodon-cfn-cache-'));
    options = { base: { ...NODE_BASE_IMAGE, registry: registry.url, digest: base.digest, authorization: registry.authorization }, registry: registry.url, cacheFolder: cache };
  });
  after(async () => {
    await registry?.stop();
    rmSync(cache, { recursive: true, force: true });
    for (const copy of workspaceCopies) rmSync(copy, { recursive: true, force: true });
  });

  let first: { image: string; digest: string; manifest: any };

  it("builds postblog's production build on the base's arm64 image, as postblog/Dockerfile does, and pushes it with ECR's token", async () => {
    const reporter = recordingReporter();
    const ecr = fakeEcr(registry.username, registry.password);
    // containerify logs with console.log and console.error: none of it may reach the deploy's output.
    const logged: unknown[][] = [];
    const consoleMethods = { log: console.log, error: console.error, info: console.info, warn: console.warn };
    Object.assign(console, Object.fromEntries(Object.keys(consoleMethods).map((name) => [name, (...args: unknown[]) => logged.push(args)])));
    let parameters: Record<string, string>;
    try {
      parameters = await pushServiceImages([postblogImage(join(ROOT, 'postblog'))], OUTPUTS, ecr, reporter, options);
    } finally {
      Object.assign(console, consoleMethods);
    }
    expect(logged).to.deep.equal([]);
    expect(ecr.calls.map((call) => call.name)).to.deep.equal(['GetAuthorizationToken']);
    const image = parameters[Ids.service('postblog', 'Image')];
    expect(image).to.match(new RegExp(`^${REPOSITORY_URI}@sha256:[0-9a-f]{64}$`));
    const digest = image.split('@')[1];
    expect(reporter.lines).to.deep.equal([`postblog: built image ${digest.slice(0, 19)} (linux/arm64), pushed to ${REPOSITORY_URI}`]);

    const reader = new RegistryReader(registry, REPOSITORY);
    const byDigest = await reader.get(`manifests/${digest}`);
    expect(byDigest.status).to.equal(200);
    const manifest = JSON.parse(byDigest.bytes.toString());
    // Tagged with its digest (the repository's tags are immutable): the tag names this very manifest.
    const byTag = await reader.get(`manifests/${digest.replace(':', '-')}`);
    expect(byTag.headers.get('docker-content-digest')).to.equal(digest);
    // The base's arm64 layer, then the dependencies, then the app.
    expect(manifest.layers).to.have.length(3);
    expect(manifest.layers[0].digest).to.equal(base.layers.arm64);

    const config = await reader.json(`blobs/${manifest.config.digest}`);
    expect(config.architecture).to.equal('arm64');
    expect(config.config).to.deep.include({ User: 'node', WorkingDir: '/app', Entrypoint: ['docker-entrypoint.sh'], Cmd: ['node', 'postblog/dist/src/server.js'], ExposedPorts: { '8000/tcp': {} } });
    expect(config.config.Env).to.include.members(['NODE_ENV=production', 'PORT=8000', 'NODE_VERSION=24.19.0']);
    expect(config.config.Healthcheck.Test[0]).to.equal('CMD-SHELL');
    expect(config.config.Healthcheck.Test[1]).to.equal(`node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/status').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`);
    expect(config.config.Healthcheck).to.deep.include({ Interval: 30e9, Timeout: 5e9, StartPeriod: 10e9, Retries: 3 });
    expect(config.rootfs.diff_ids).to.have.length(3);
    expect(config.history.map((h: { created: string }) => h.created).slice(1)).to.satisfy((times: string[]) => times.every((t) => t === '1970-01-01T00:00:00.000Z'));

    const deps = await reader.layerListing(manifest.layers[1].digest);
    const app = await reader.layerListing(manifest.layers[2].digest);
    // containerify writes absolute entry names (/app/…), which image extraction reads relative to the root.
    const names = (listing: string[]) => listing.map((line) => line.split(/\s+/).slice(5).join(' ').replace(/^\//, ''));
    expect(names(deps)).to.include.members(['app/package.json', 'app/package-lock.json', 'app/node_modules/express/package.json', 'app/node_modules/masto/package.json']);
    for (const devDependency of ['typescript', 'supertest', '@types/express', 'playwright-core']) {
      expect(names(deps).some((name) => name.startsWith(`app/node_modules/${devDependency}/`)), devDependency).to.equal(false);
    }
    // The workspace's link to itself is gone: the app layer has postblog's files.
    expect(names(deps).some((name) => name.startsWith('app/node_modules/postblog'))).to.equal(false);
    expect(deps.some((line) => line.startsWith('l'))).to.equal(false);
    // What postblog/Dockerfile ships: its package.json and its build, no source, tests, Dockerfile or README.
    const built = readdirSync(join(ROOT, 'postblog/dist/src')).map((file) => `app/postblog/dist/src/${file}`);
    expect(built).to.include('app/postblog/dist/src/server.js');
    expect(names(app).filter((name) => !name.endsWith('/')).sort()).to.deep.equal(['app/postblog/package.json', ...built].sort());
    // Root-owned files, as COPY makes them: the node user can read the app but not change it.
    expect(deps.concat(app).every((line) => line.split(/\s+/)[1] === '0/0')).to.equal(true);
    first = { image, digest, manifest };
  });

  it('gives the same digest for an unchanged build, and then pushes nothing and downloads no base again', async () => {
    const before = registry.requests().length;
    const reporter = recordingReporter();
    const parameters = await pushServiceImages([postblogImage(join(ROOT, 'postblog'))], OUTPUTS, fakeEcr(registry.username, registry.password), reporter, options);
    expect(parameters[Ids.service('postblog', 'Image')]).to.equal(first.image);
    expect(reporter.lines).to.deep.equal([`postblog: built image ${first.digest.slice(0, 19)} (linux/arm64), unchanged (already in ${REPOSITORY_URI})`]);
    const requests = registry.requests().slice(before);
    expect(requests.filter((request) => WRITES.test(request))).to.deep.equal([]);
    // The base came from the cache: no request for library/node at all.
    expect(requests.filter((request) => request.includes('/library/node/'))).to.deep.equal([]);
  });

  it('gives a new digest when a source file changes, uploading only the app layer, the config and the manifest', async () => {
    const copy = copyOfWorkspace();
    workspaceCopies.push(copy);
    const server = join(copy, 'postblog/src/server.ts');
    writeFileSync(server, `${readFileSync(server, 'utf8')}\n// changed\n`);
    const before = registry.requests().length;
    const parameters = await pushServiceImages([postblogImage(join(copy, 'postblog'))], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options);
    const image = parameters[Ids.service('postblog', 'Image')];
    expect(image).to.not.equal(first.image);
    const manifest = await new RegistryReader(registry, REPOSITORY).json(`manifests/${image.split('@')[1]}`);
    expect(manifest.layers.slice(0, 2)).to.deep.equal(first.manifest.layers.slice(0, 2));
    expect(manifest.layers[2].digest).to.not.equal(first.manifest.layers[2].digest);
    const uploads = registry.requests().slice(before).filter((request) => /^PUT .*\/blobs\/uploads\//.test(request));
    expect(uploads.map((request) => /digest=([^&]+)/.exec(request)?.[1]?.replace('%3A', ':')).sort()).to.deep.equal([manifest.layers[2].digest, manifest.config.digest].sort());
  });

  it("picks the base's amd64 image for a linux/amd64 service, pulled as from Docker Hub (an anonymous token, blobs on another host)", async () => {
    const hub = await startDockerHubStandIn(registry);
    try {
      const parameters = await pushServiceImages([postblogImage(join(ROOT, 'postblog'), 'linux/amd64')], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), {
        ...options,
        base: { ...NODE_BASE_IMAGE, registry: hub.url, digest: base.digest },
        cacheFolder: emptyCache(),
      });
      const reader = new RegistryReader(registry, REPOSITORY);
      const manifest = await reader.json(`manifests/${parameters[Ids.service('postblog', 'Image')].split('@')[1]}`);
      expect(manifest.layers[0].digest).to.equal(base.layers.amd64);
      expect((await reader.json(`blobs/${manifest.config.digest}`)).architecture).to.equal('amd64');
      // The same dependencies and app as the arm64 image: nothing in them depends on the platform.
      expect(manifest.layers.slice(1)).to.deep.equal(first.manifest.layers.slice(1));
      // Pulled by digest, never by tag; the token was asked for without credentials; the CDN never saw the token.
      expect(hub.requests.filter((r) => r.server === 'registry').every((r) => /\/(manifests|blobs)\/sha256:[0-9a-f]{64}$/.test(r.path))).to.equal(true);
      expect(hub.requests.filter((r) => r.server === 'token').map((r) => r.authorization)).to.deep.equal([undefined]);
      const cdn = hub.requests.filter((r) => r.server === 'cdn');
      expect(cdn.map((r) => r.path.split('/').at(-1)).sort()).to.deep.equal([base.configs.amd64, base.layers.amd64].sort());
      expect(cdn.every((r) => r.authorization === undefined)).to.equal(true);
      // The stand-in refuses as Docker Hub does: the first request, without a token, got the challenge; the CDN takes no Authorization.
      expect(hub.requests[0]).to.deep.include({ server: 'registry', authorization: undefined });
      expect((await fetch(`${hub.cdnUrl}/v2/library/node/blobs/${base.layers.amd64}`, { headers: { authorization: 'Bearer anonymous-pull-token' } })).status).to.equal(400);
    } finally {
      await hub.stop();
    }
  });

  /** A service folder with a package-lock.json of its own, made by npm from the npm registry. */
  async function standaloneService(pkg: Record<string, unknown>, files: Record<string, string>): Promise<string> {
    const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-standalone-'));
    workspaceCopies.push(folder);
    writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'standalone', version: '1.0.0', ...pkg }));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(folder, name)), { recursive: true });
      writeFileSync(join(folder, name), text);
    }
    await promisify(execFile)('npm', ['install', '--package-lock-only', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: folder });
    return folder;
  }

  it('builds a service with a package-lock.json of its own: its build script run, production dependencies only, `node <main>`', async () => {
    const folder = await standaloneService(
      { main: 'out/index.js', files: ['out/'], scripts: { build: 'node build.mjs' }, dependencies: { ms: '2.1.3' }, devDependencies: { depd: '2.0.0' } },
      { 'build.mjs': "import { mkdirSync, writeFileSync } from 'node:fs';\nmkdirSync('out', { recursive: true });\nwriteFileSync('out/index.js', 'console.log(1)\\n');\n" },
    );
    const parameters = await pushServiceImages([{ ...postblogImage(folder), port: 3000, healthCheck: '/health' }], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options);
    const reader = new RegistryReader(registry, REPOSITORY);
    const manifest = await reader.json(`manifests/${parameters[Ids.service('postblog', 'Image')].split('@')[1]}`);
    const config = await reader.json(`blobs/${manifest.config.digest}`);
    expect(config.config).to.deep.include({ Cmd: ['node', 'out/index.js'], ExposedPorts: { '3000/tcp': {} } });
    expect(config.config.Env).to.include('PORT=3000');
    expect(config.config.Healthcheck.Test[1]).to.include("(process.env.PORT || 3000) + '/health'");
    const names = async (layer: { digest: string }) => (await reader.layerListing(layer.digest)).map((line) => line.split(/\s+/).slice(5).join(' ').replace(/^\//, ''));
    const deps = await names(manifest.layers[1]);
    expect(deps).to.include.members(['app/package-lock.json', 'app/node_modules/ms/index.js']);
    expect(deps.some((name) => name.startsWith('app/node_modules/depd'))).to.equal(false);
    expect((await names(manifest.layers[2])).filter((name) => !name.endsWith('/')).sort()).to.deep.equal(['app/out/index.js', 'app/package.json']);
  });

  it("installs the prebuilt binaries of the image's platform (Alpine arm64: musl), not the building machine's", async () => {
    // rollup's per-platform packages, as esbuild's and sharp's: npm picks one by os, cpu and libc.
    const optionalDependencies = { '@rollup/rollup-linux-arm64-musl': '4.24.0', '@rollup/rollup-linux-arm64-gnu': '4.24.0', '@rollup/rollup-linux-x64-gnu': '4.24.0', '@rollup/rollup-linux-x64-musl': '4.24.0' };
    const folder = await standaloneService({ optionalDependencies }, { 'index.js': 'console.log(1)\n' });
    const parameters = await pushServiceImages([postblogImage(folder, 'linux/arm64')], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options);
    const reader = new RegistryReader(registry, REPOSITORY);
    const manifest = await reader.json(`manifests/${parameters[Ids.service('postblog', 'Image')].split('@')[1]}`);
    const installed = (await reader.layerListing(manifest.layers[1].digest))
      .map((line) => line.split(/\s+/).slice(5).join(' ').match(/^\/?app\/node_modules\/@rollup\/([^/]+)\/package\.json$/)?.[1])
      .filter(Boolean);
    expect(installed).to.deep.equal(['rollup-linux-arm64-musl']);
  });

  it('refuses to pack a dotenv file into the image, naming it, before anything is installed or pushed', async () => {
    const folder = await standaloneService({}, { 'index.js': 'console.log(1)\n', 'config/.env.production': 'TOKEN=secret\n', '.env.example': 'TOKEN=\n' });
    const before = registry.requests().length;
    const error = await pushServiceImages([postblogImage(folder)], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.equal(`${folder} would pack config/.env.production into the image: leave it out of package.json's files (or add it to .npmignore); the service gets its secrets from the stack, then deploy again`);
    expect(error.message).not.to.include('secret\n');
    expect(registry.requests().slice(before).filter((line) => WRITES.test(line))).to.deep.equal([]);
  });

  it('refuses a service whose main file is not built, as the image could not start', async () => {
    // npm pack adds main to files itself, when it exists: here no build script makes it.
    const folder = await standaloneService({ main: 'dist/server.js', files: ['src/'] }, { 'src/server.ts': 'export {}\n' });
    const error = await pushServiceImages([postblogImage(folder)], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.message).to.equal(`${folder}: package.json's main (dist/server.js) is not among the files npm pack publishes, so the image could not start: add a build script that makes it (or fix main), then deploy again`);
  });

  it('refuses credentials the registry refuses, before building: exit 1, what failed and what to do, and no password', async () => {
    const error = await pushServiceImages([postblogImage('/nonexistent/folder')], OUTPUTS, fakeEcr(registry.username, 'wrong-password'), recordingReporter(), options).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.equal(`cannot push to ${registry.url}/${REPOSITORY}: the registry refused the credentials (HTTP 401). Check that the repository exists and that the credentials may push to it, then deploy again.`);
    expect(error.message).to.not.include('wrong-password');
  });

  it('says what to do when ECR refuses GetAuthorizationToken', async () => {
    const denied = new FakeApi({
      GetAuthorizationToken: () => {
        throw Object.assign(new Error('User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
      },
    });
    const error = await pushServiceImages([postblogImage(join(ROOT, 'postblog'))], OUTPUTS, denied, recordingReporter(), options).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.match(/not allowed to do this \(AccessDeniedException: .*ecr:GetAuthorizationToken\)\. Grant the permission .* \(the deploy needs it to push service images\)$/);
  });

  it('says the base registry cannot be reached (Docker Hub offline), before building', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const error = await baseFailure({ registry: closed });
    expect(error.message).to.equal(`cannot download the base image node:${NODE_BASE_IMAGE.tag}@${NODE_BASE_IMAGE.digest} from ${closed}: ECONNREFUSED. Check the network connection, then deploy again.`);
  });

  it('says the pinned base is gone when the registry does not have its digest', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const error = await baseFailure({ ...options.base!, digest: missing }, cache);
    expect(error.message).to.equal(
      `cannot download the base image node:${NODE_BASE_IMAGE.tag}@${missing} from ${registry.url} (GET manifests/${missing}): the registry does not have it. The pinned digest (src/image/base.ts) is gone: update mastodon-cfn.`,
    );
  });

  it('refuses a base layer the registry serves with other bytes than its digest, and caches none of it', async () => {
    // A registry that does not serve the image faithfully: the real registry's answers, but the arm64 layer altered.
    const server = createServer((request, response) => {
      void (async () => {
        const answer = await fetch(`${registry.url}${request.url}`, { headers: { authorization: registry.authorization, accept: request.headers.accept ?? '*/*' } });
        let body = Buffer.from(await answer.arrayBuffer());
        if (request.url?.endsWith(base.layers.arm64)) body = Buffer.concat([body, Buffer.from('tampered')]);
        response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' }).end(body);
      })();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const tampering = `http://127.0.0.1:${port}`;
    const cacheFolder = emptyCache();
    try {
      const error = await baseFailure({ registry: tampering, digest: base.digest }, cacheFolder);
      expect(error.message).to.match(
        new RegExp(`^the registry sent blobs/${base.layers.arm64} of the base image node:${NODE_BASE_IMAGE.tag}@${base.digest} from ${tampering} with another digest \\(sha256:[0-9a-f]{64}\\): deploy again; if it persists, the registry is not serving that image faithfully$`),
      );
      // The index, the arm64 manifest and the config were faithful and are kept; nothing of the altered layer is.
      const kept = readdirSync(join(cacheFolder, 'blobs/sha256'));
      expect(kept).to.include.members([base.digest, base.configs.arm64].map((digest) => digest.split(':')[1]));
      expect(kept).to.have.length(3);
      expect(kept.filter((file) => file.startsWith(base.layers.arm64.split(':')[1]))).to.deep.equal([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses a registry whose Bearer challenge sends the token request to another domain, and asks there nothing", async () => {
    const asked: string[] = [];
    const tokenService = createServer((request, response) => {
      asked.push(request.url ?? '');
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    const [registryPort, tokenPort] = [await freePort(), await freePort()];
    // localhost is not 127.0.0.1's domain: the library takes a realm only on the registry's host or registrable domain.
    const challenging = createServer((_request, response) =>
      void response.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${tokenPort}/token",service="registry.docker.io",scope="repository:library/node:pull"` }).end(),
    );
    await Promise.all([new Promise<void>((resolve) => tokenService.listen(tokenPort, '127.0.0.1', resolve)), new Promise<void>((resolve) => challenging.listen(registryPort, '127.0.0.1', resolve))]);
    const url = `http://127.0.0.1:${registryPort}`;
    try {
      const error = await baseFailure({ registry: url });
      expect(error.message).to.equal(
        `cannot download the base image node:${NODE_BASE_IMAGE.tag}@${NODE_BASE_IMAGE.digest} from ${url} (GET manifests/${NODE_BASE_IMAGE.digest}): the registry sent its token service to http://localhost:${tokenPort}/token, which is not on the registry's domain, so no token was asked for there. Check the network connection (a proxy may answer for the registry), then deploy again.`,
      );
      expect(asked).to.deep.equal([]);
    } finally {
      await Promise.all([tokenService, challenging].map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it("says to run npm ci when the service's build fails, naming the folder", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-broken-'));
    workspaceCopies.push(folder);
    writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'broken', version: '1.0.0', scripts: { build: 'echo "tsc: not found" >&2; exit 127' } }));
    writeFileSync(join(folder, 'package-lock.json'), JSON.stringify({ name: 'broken', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'broken', version: '1.0.0' } } }));
    const error = await pushServiceImages([postblogImage(folder)], OUTPUTS, fakeEcr(registry.username, registry.password), recordingReporter(), options).catch((e) => e);
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.match(new RegExp(`^npm run build failed in ${folder}: .*tsc: not found.*\\. Run npm ci there \\(or in its workspace root\\) first, then deploy again\\.$`));
  });
});
