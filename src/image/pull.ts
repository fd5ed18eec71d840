import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MastodonCfnError } from '../errors.js';
import type { BaseImage } from './base.js';

/**
 * Pulls the base image by digest. containerify's own download takes only `name:tag` (its parseImage
 * splits the reference at the first ':'), so it cannot pull by digest, which is what pinning means: this
 * module fetches the index, the platform's manifest, its config and layers by digest, checks every
 * digest, and keeps them in a content-addressed cache, so a second build asks the registry nothing.
 */
export interface BaseSource extends BaseImage {
  /** A whole Authorization header value; without it, a Bearer challenge gets an anonymous token (Docker Hub). */
  authorization?: string;
}

export type Platform = 'linux/amd64' | 'linux/arm64';

export const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
export const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function describe(base: BaseImage): string {
  return `the base image ${base.repository.replace(/^library\//, '')}:${base.tag}@${base.digest} from ${base.registry}`;
}

function unreachable(base: BaseImage, error: unknown): MastodonCfnError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return MastodonCfnError.of('image.baseUnreachable', `cannot download ${describe(base)}: ${cause?.code ?? cause?.message ?? (error as Error).message}. Check the network connection, then deploy again.`);
}

/** A Bearer challenge's token, asked for anonymously (Docker Hub serves public images so). */
async function anonymousToken(challenge: string): Promise<string | undefined> {
  const match = /^Bearer\s+(.*)$/i.exec(challenge);
  if (!match) return undefined;
  const parameters = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
  if (!parameters.realm) return undefined;
  const url = new URL(parameters.realm);
  for (const key of ['service', 'scope']) if (parameters[key]) url.searchParams.set(key, parameters[key]);
  const answer = await fetch(url);
  if (!answer.ok) return undefined;
  const body = (await answer.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token;
}

/** Reads content-addressed registry objects of one base image, each checked against its digest. */
class BaseReader {
  private authorization: string | undefined;
  constructor(
    private readonly base: BaseSource,
    private readonly cache: string,
  ) {
    this.authorization = base.authorization;
  }

  private async get(path: string, accept: string[]): Promise<Response> {
    const url = `${this.base.registry.replace(/\/$/, '')}/v2/${this.base.repository}/${path}`;
    const request = () => fetch(url, { headers: { accept: accept.join(', '), ...(this.authorization ? { authorization: this.authorization } : {}) } });
    let answer: Response;
    try {
      answer = await request();
      if (answer.status === 401 && !this.base.authorization) {
        const token = await anonymousToken(answer.headers.get('www-authenticate') ?? '');
        if (token) {
          this.authorization = `Bearer ${token}`;
          answer = await request();
        }
      }
    } catch (error) {
      throw unreachable(this.base, error);
    }
    if (!answer.ok) {
      const why =
        answer.status === 401 || answer.status === 403
          ? 'the registry refused access. Check the network connection (a proxy may answer for it), then deploy again'
          : answer.status === 404
            ? 'the registry does not have it. The pinned digest (src/image/base.ts) is gone: update mastodon-cfn'
            : answer.status === 429
              ? 'the registry refuses more pulls for now (HTTP 429). Deploy again later: once downloaded, the base image is cached'
              : `the registry answered HTTP ${answer.status}. Deploy again in a few minutes`;
      throw MastodonCfnError.of('image.baseRefused', `cannot download ${describe(this.base)} (GET ${path}): ${why}.`);
    }
    return answer;
  }

  /** The object with this digest, from the cache or the registry (then cached). */
  async read(kind: 'manifests' | 'blobs', digest: string, accept: string[]): Promise<Buffer> {
    const file = join(this.cache, 'blobs', ...digest.split(':'));
    if (existsSync(file)) {
      const cached = await readFile(file);
      if (sha256(cached) === digest) return cached;
    }
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await (await this.get(`${kind}/${digest}`, accept)).arrayBuffer());
    } catch (error) {
      if (error instanceof MastodonCfnError) throw error;
      throw unreachable(this.base, error);
    }
    if (sha256(bytes) !== digest) throw MastodonCfnError.of('image.baseDigest', `the registry sent ${kind}/${digest} of ${describe(this.base)} with another digest (${sha256(bytes)}): deploy again; if it persists, the registry is not serving that image faithfully`);
    try {
      await mkdir(join(file, '..'), { recursive: true });
      // Written whole, then renamed: a build stopped midway never leaves a truncated object in the cache.
      await writeFile(`${file}.partial`, bytes);
      await rename(`${file}.partial`, file);
    } catch (error) {
      throw MastodonCfnError.of('image.cache', `cannot write the image cache ${this.cache}: ${(error as Error).message}. Make it writable, or set XDG_CACHE_HOME to a writable folder, then deploy again.`);
    }
    return bytes;
  }
}

/** The platform's entry of a multi-arch index; attestation entries (platform unknown/unknown) never match. */
function platformManifest(index: { manifests?: Descriptor[] }, platform: Platform, base: BaseImage): Descriptor {
  const [os, architecture] = platform.split('/');
  const found = (index.manifests ?? []).find((m) => m.platform?.os === os && m.platform.architecture === architecture && (architecture !== 'arm64' || !m.platform.variant || m.platform.variant === 'v8'));
  if (!found) {
    const offered = (index.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
    throw MastodonCfnError.of('image.basePlatform', `${describe(base)} has no ${platform} image (it has ${offered || 'none'})`);
  }
  return found;
}

/**
 * Writes the base image's platform manifest, config and layers into `folder` in containerify's layout
 * (manifest.json, config.json, <hex>.tar.gz) and returns the parsed config, for the caller to change.
 */
export async function pullBase(base: BaseSource, platform: Platform, cache: string, folder: string): Promise<{ config: Record<string, any> }> {
  const reader = new BaseReader(base, cache);
  const index = JSON.parse((await reader.read('manifests', base.digest, INDEX_TYPES)).toString('utf8'));
  if (!INDEX_TYPES.includes(index.mediaType)) throw MastodonCfnError.of('image.baseIndex', `${describe(base)} is not a multi-arch index (${index.mediaType}): pin the digest of the tag's index`);
  const entry = platformManifest(index, platform, base);
  const manifestBytes = await reader.read('manifests', entry.digest, MANIFEST_TYPES);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { mediaType?: string; config: Descriptor; layers: Descriptor[] };
  // containerify reads a layer's media type from the manifest's own; an OCI manifest may leave it out.
  manifest.mediaType ??= entry.mediaType;
  const config = JSON.parse((await reader.read('blobs', manifest.config.digest, ['*/*'])).toString('utf8'));
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest));
  for (const layer of manifest.layers) {
    if (!/gzip$/.test(layer.mediaType)) throw MastodonCfnError.of('image.baseLayer', `${describe(base)} has a layer of type ${layer.mediaType}, which the image builder cannot copy`);
    await writeFile(join(folder, `${layer.digest.split(':')[1]}.tar.gz`), await reader.read('blobs', layer.digest, ['*/*']));
  }
  return { config };
}
