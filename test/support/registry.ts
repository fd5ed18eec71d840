import { execFile, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './moto.js';

/**
 * A real registry: Debian's docker-registry (distribution 2.8) on a free loopback port, with its
 * storage in a temporary folder and Basic authentication from an htpasswd file (bcrypt, as
 * distribution requires). Plain HTTP: distribution checks Basic credentials without TLS.
 */
export interface LocalRegistry {
  url: string;
  username: string;
  password: string;
  /** The Authorization header value of the registry's user. */
  authorization: string;
  /** The access log's requests so far ("PUT /v2/…"), to count what a push sent. */
  requests(): string[];
  stop(): Promise<void>;
}

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export async function startRegistry(): Promise<LocalRegistry> {
  const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-registry-'));
  const username = 'pusher';
  const password = `pw-${createHash('sha256').update(folder).digest('hex').slice(0, 16)}`;
  // htpasswd reads the password from standard input (-i): it never appears on a command line.
  const htpasswd = execFileSync('htpasswd', ['-niB', username], { input: password }).toString();
  writeFileSync(join(folder, 'htpasswd'), htpasswd);
  mkdirSync(join(folder, 'data'));
  const port = await freePort();
  writeFileSync(
    join(folder, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: info, accesslog: { disabled: false } }',
      `storage: { filesystem: { rootdirectory: ${join(folder, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", secret: local-test-secret }`,
      `auth: { htpasswd: { realm: local-test, path: ${join(folder, 'htpasswd')} } }`,
      '',
    ].join('\n'),
  );
  const child = spawn(REGISTRY_BINARY, ['serve', join(folder, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const collect = (chunk: Buffer) => log.push(...chunk.toString().split('\n'));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await fetch(`${url}/v2/`)).status === 401) break;
    } catch {
      // not listening yet
    }
    if (attempt > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${log.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    username,
    password,
    authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
    requests: () => log.flatMap((line) => /"((?:GET|HEAD|POST|PUT|PATCH|DELETE) \S+) HTTP/.exec(line)?.[1] ?? []),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Reads the registry API as a test: plain HTTP GETs, independent of the code that pushed. */
export class RegistryReader {
  constructor(
    private readonly registry: LocalRegistry,
    private readonly repository: string,
  ) {}

  async get(path: string, accept = `${MANIFEST}, ${INDEX}, */*`): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
    const answer = await fetch(`${this.registry.url}/v2/${this.repository}/${path}`, { headers: { authorization: this.registry.authorization, accept } });
    return { status: answer.status, bytes: Buffer.from(await answer.arrayBuffer()), headers: answer.headers };
  }

  async json(path: string): Promise<any> {
    const answer = await this.get(path);
    if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.bytes.toString()}`);
    return JSON.parse(answer.bytes.toString());
  }

  /** A layer's entries (`tar -tvzf`: mode, owner, size, name, link target). */
  async layerListing(digest: string): Promise<string[]> {
    const { bytes } = await this.get(`blobs/${digest}`);
    if (digestOf(bytes) !== digest) throw new Error(`blob ${digest} has another digest`);
    const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-layer-'));
    try {
      writeFileSync(join(folder, 'layer.tar.gz'), bytes);
      const { stdout } = await promisify(execFile)('tar', ['-tvzf', join(folder, 'layer.tar.gz'), '--numeric-owner'], { maxBuffer: 256 * 1024 * 1024 });
      return stdout.split('\n').filter(Boolean);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }
}

/** Pushes one blob as a monolithic upload (POST, then PUT with the digest). */
async function pushBlob(registry: LocalRegistry, repository: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = digestOf(bytes);
  const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: registry.authorization } });
  if (started.status !== 202) throw new Error(`blob upload refused: HTTP ${started.status}`);
  const location = new URL(started.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: new Uint8Array(bytes), headers: { authorization: registry.authorization, 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload failed: HTTP ${put.status}`);
  return { digest, size: bytes.length };
}

async function pushManifest(registry: LocalRegistry, repository: string, reference: string, mediaType: string, body: object): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(body));
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { authorization: registry.authorization, 'content-type': mediaType } });
  if (put.status !== 201) throw new Error(`manifest refused: HTTP ${put.status} ${await put.text()}`);
  return { digest: digestOf(bytes), size: bytes.length };
}

/** A gzipped tar of files (path → content, mode), root-owned, with fixed times: GNU tar. */
function tarball(files: Record<string, { content: string; mode: number }>): Buffer {
  const folder = mkdtempSync(join(tmpdir(), 'mastodon-cfn-base-'));
  try {
    for (const [path, file] of Object.entries(files)) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), file.content, { mode: file.mode });
    }
    return execFileSync('tar', ['-czf', '-', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', folder, ...Object.keys(files)]);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

export interface SyntheticBase {
  repository: string;
  /** The index's digest. */
  digest: string;
  /** Each platform's only layer, and its config. */
  layers: Record<'amd64' | 'arm64', string>;
  configs: Record<'amd64' | 'arm64', string>;
}

/**
 * A stand-in for the node image (Docker Hub cannot be reached here): an OCI index of a linux/amd64 and a
 * linux/arm64 image, each one layer with docker-entrypoint.sh and a `node` user, the official image's
 * ENTRYPOINT ["docker-entrypoint.sh"] and CMD ["node"], and an attestation entry (unknown/unknown) as
 * Docker Hub's indexes have.
 */
export async function pushSyntheticNodeBase(registry: LocalRegistry, repository = 'library/node'): Promise<SyntheticBase> {
  const layers = {} as SyntheticBase['layers'];
  const configs = {} as SyntheticBase['configs'];
  const entries = [];
  for (const architecture of ['amd64', 'arm64'] as const) {
    const layer = tarball({
      'usr/local/bin/docker-entrypoint.sh': { content: `#!/bin/sh\n# ${architecture}\nexec "$@"\n`, mode: 0o755 },
      'etc/passwd': { content: 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n', mode: 0o644 },
    });
    const diffId = digestOf(execFileSync('gzip', ['-dc'], { input: layer }));
    const layerBlob = await pushBlob(registry, repository, layer);
    layers[architecture] = layerBlob.digest;
    const config = Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        ...(architecture === 'arm64' ? { variant: 'v8' } : {}),
        created: '2026-04-01T00:00:00Z',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_VERSION=24.19.0'], Entrypoint: ['docker-entrypoint.sh'], Cmd: ['node'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created: '2026-04-01T00:00:00Z', created_by: 'synthetic base layer' }],
      }),
    );
    const configBlob = await pushBlob(registry, repository, config);
    configs[architecture] = configBlob.digest;
    const manifest = await pushManifest(registry, repository, `${architecture}-only`, MANIFEST, {
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
    });
    entries.push({ mediaType: MANIFEST, ...manifest, platform: { architecture, os: 'linux', ...(architecture === 'arm64' ? { variant: 'v8' } : {}) } });
  }
  // What Docker Hub's build attestations look like in an index: an entry no platform may pick.
  const attestation = await pushManifest(registry, repository, 'attestation', MANIFEST, {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await pushBlob(registry, repository, Buffer.from('{}'))) },
    layers: [],
  });
  entries.push({ mediaType: MANIFEST, ...attestation, platform: { architecture: 'unknown', os: 'unknown' } });
  const index = await pushManifest(registry, repository, '24.19.0-alpine', INDEX, { schemaVersion: 2, mediaType: INDEX, manifests: entries });
  return { repository, digest: index.digest, layers, configs };
}

export interface DockerHubStandIn {
  url: string;
  cdnUrl: string;
  /** What each request carried: its path, and whether it had an Authorization header. */
  requests: { server: 'registry' | 'token' | 'cdn'; path: string; authorization?: string }[];
  stop(): Promise<void>;
}

/**
 * Docker Hub's way of serving a public image, in front of the local registry (Docker Hub itself cannot be
 * reached here): every registry request without a Bearer token is refused with a challenge naming the token
 * endpoint, which hands out an anonymous pull token for the challenged scope; blobs are redirected (307) to
 * another host, a CDN that refuses requests carrying an Authorization header, as S3's presigned URLs do.
 */
export async function startDockerHubStandIn(registry: LocalRegistry, repository = 'library/node'): Promise<DockerHubStandIn> {
  const requests: DockerHubStandIn['requests'] = [];
  const token = 'anonymous-pull-token';
  const scope = `repository:${repository}:pull`;
  const [registryPort, cdnPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${registryPort}`;
  const relay = async (path: string, response: import('node:http').ServerResponse, accept?: string) => {
    const answer = await fetch(`${registry.url}${path}`, { headers: { authorization: registry.authorization, ...(accept ? { accept } : {}) } });
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  };
  const front = createServer((request, response) => {
    const path = request.url ?? '/';
    const authorization = request.headers.authorization;
    if (path.startsWith('/token')) {
      requests.push({ server: 'token', path, authorization });
      const query = new URL(path, url).searchParams;
      if (query.get('service') !== 'registry.docker.io' || query.get('scope') !== scope) return void response.writeHead(401).end();
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    }
    requests.push({ server: 'registry', path, authorization });
    if (authorization !== `Bearer ${token}`) {
      response.writeHead(401, { 'www-authenticate': `Bearer realm="${url}/token",service="registry.docker.io",scope="${scope}"`, 'content-type': 'application/json' });
      return void response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    if (path.includes('/blobs/')) return void response.writeHead(307, { location: `http://localhost:${cdnPort}${path}` }).end();
    void relay(path, response, request.headers.accept);
  });
  const cdn = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push({ server: 'cdn', path, authorization: request.headers.authorization });
    if (request.headers.authorization) return void response.writeHead(400).end('Only one auth mechanism allowed');
    void relay(path, response);
  });
  await Promise.all([new Promise<void>((resolve) => front.listen(registryPort, '127.0.0.1', resolve)), new Promise<void>((resolve) => cdn.listen(cdnPort, '127.0.0.1', resolve))]);
  return {
    url,
    cdnUrl: `http://localhost:${cdnPort}`,
    requests,
    stop: async () => {
      await Promise.all([front, cdn].map((server) => new Promise((resolve) => server.close(resolve) && server.closeAllConnections())));
    },
  };
}
