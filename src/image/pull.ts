import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientOptions } from '@snyk/docker-registry-v2-client';
import { MastodonCfnError } from '../errors.js';
import type { BaseImage } from './base.js';

/**
 * Pulls the base image by digest. containerify's own download takes only `name:tag` (its parseImage
 * splits the reference at the first ':'), so it cannot pull by digest, which is what pinning means.
 *
 * The registry protocol is @snyk/docker-registry-v2-client's (npm, 4.0.5; needle underneath): the
 * WWW-Authenticate Bearer challenge and its anonymous token (getAuthTokenForEndpoint, which also refuses
 * a token realm on another domain than the registry's), blobs streamed to disk (downloadLayer), and
 * redirects followed with the Authorization header dropped when they leave the registry's origin, as the
 * hosts behind Docker Hub's blob redirects require.
 *
 * What it lacks is done here:
 * - Manifests are fetched with its registryCall (exported; its doc says it may go in a later major
 *   version, hence the ^4 range), not getManifest: getManifest returns the parsed
 *   manifest only, never its bytes, so neither the platform manifest's digest can be checked nor the
 *   manifest kept by digest; and its platform pick returns the only non-attestation entry of an index
 *   whatever platform was asked for, which would build an arm64 service on an amd64 base.
 * - One token for the whole pull: each of its calls answers a challenge anew with a token request of
 *   its own; here the token is asked for once and sent as a header.
 * - Every object's digest is checked (it checks none), the platform's manifest is picked from the index,
 *   and everything is kept in a content-addressed cache, so a second build asks the registry nothing.
 * - Its errors (HTTP status, needle's network errors, its realm refusal) become MastodonCfnErrors that
 *   say what to do.
 * It is in the deployer bundle only, and loaded there by the first download (registryClient below).
 */
export interface BaseSource extends BaseImage {
  /** A whole Authorization header value; without it, a Bearer challenge gets an anonymous token (Docker Hub). */
  authorization?: string;
}

export type Platform = 'linux/amd64' | 'linux/arm64';

export const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
export const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];

type Client = typeof import('@snyk/docker-registry-v2-client');

/**
 * Loaded on the first download only: with needle and the public suffix list it is most of a megabyte,
 * which every deployer command would otherwise load, and a build from the cache never needs it.
 */
let client: Promise<Client> | undefined;
const registryClient = () => (client ??= import('@snyk/docker-registry-v2-client'));

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

function describe(base: BaseImage): string {
  return `the base image ${base.repository.replace(/^library\//, '')}:${base.tag}@${base.digest} from ${base.registry}`;
}

/** needle rejects with Node's socket errors (code ECONNREFUSED, ENOTFOUND…). */
function unreachable(base: BaseImage, error: unknown): MastodonCfnError {
  const { code, cause, message } = error as { code?: string; cause?: { code?: string }; message?: string };
  return MastodonCfnError.of('image.baseUnreachable', `cannot download ${describe(base)}: ${code ?? cause?.code ?? message ?? String(error)}. Check the network connection, then deploy again.`);
}

function refused(base: BaseImage, path: string, why: string): MastodonCfnError {
  return MastodonCfnError.of('image.baseRefused', `cannot download ${describe(base)} (GET ${path}): ${why}.`);
}

/** What the library threw, for one registry path: its NeedleWrapperException carries the HTTP status. */
function failure(base: BaseImage, path: string, error: unknown, { AuthenticationError }: Client): MastodonCfnError {
  if (error instanceof MastodonCfnError) return error;
  if (error instanceof AuthenticationError) {
    return refused(base, path, `the registry sent its token service to ${error.realmUrl}, which is not on the registry's domain, so no token was asked for there. Check the network connection (a proxy may answer for the registry), then deploy again`);
  }
  const status = (error as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number') return unreachable(base, error);
  const why =
    status === 401 || status === 403
      ? 'the registry refused access. Check the network connection (a proxy may answer for it), then deploy again'
      : status === 404
        ? 'the registry does not have it. The pinned digest (src/image/base.ts) is gone: update mastodon-cfn'
        : status === 429
          ? 'the registry refuses more pulls for now (HTTP 429). Deploy again later: once downloaded, the base image is cached'
          : `the registry answered HTTP ${status}. Deploy again in a few minutes`;
  return refused(base, path, why);
}

/** Reads content-addressed registry objects of one base image, each checked against its digest. */
class BaseReader {
  private readonly host: string;
  /** The library's options for every request (scheme, Authorization); settled by the first download. */
  private session: Promise<ClientOptions> | undefined;

  constructor(
    private readonly base: BaseSource,
    private readonly cache: string,
  ) {
    this.host = new URL(base.registry).host;
  }

  private async options(library: Client): Promise<ClientOptions> {
    // The library builds https:// URLs and replaces the scheme only when told to.
    const scheme: ClientOptions = new URL(this.base.registry).protocol === 'http:' ? { protocol: 'http' } : {};
    if (this.base.authorization) return { ...scheme, headers: { Authorization: this.base.authorization } };
    // Challenged on the index itself, so that every request of the pull names a digest, never a tag.
    const path = `manifests/${this.base.digest}`;
    try {
      const token = await library.getAuthTokenForEndpoint(this.host, `/${this.base.repository}/${path}`, '', '', scheme);
      return token ? { ...scheme, headers: { Authorization: `Bearer ${token}` } } : scheme;
    } catch (error) {
      // Any answer but a challenge means no token is needed (the probe's Accept is application/json, which a
      // registry without authentication may answer with 404 for an OCI index): the download itself says what is wrong.
      if (typeof (error as { statusCode?: unknown }).statusCode === 'number') return scheme;
      throw failure(this.base, path, error, library);
    }
  }

  /** Downloads one object into `partial`. */
  private async download(kind: 'manifests' | 'blobs', digest: string, accept: string[], partial: string): Promise<void> {
    const path = `${kind}/${digest}`;
    const library = await registryClient();
    const { downloadLayer, registryCall } = library;
    try {
      const options = await (this.session ??= this.options(library));
      if (kind === 'blobs') {
        await downloadLayer(partial, this.host, this.base.repository, digest, undefined, undefined, { ...options, acceptLayer: accept.join(', ') });
      } else {
        const answer = await registryCall(`${this.host}/v2/${this.base.repository}/${path}`, undefined, undefined, { ...options, headers: { ...options.headers, Accept: accept.join(', ') } });
        // `raw` is the body as it came (needle asks for no compression), before any decoding to a string.
        await writeFile(partial, answer.raw);
      }
    } catch (error) {
      await rm(partial, { force: true });
      if ((error as NodeJS.ErrnoException).path === partial) throw this.unwritable(error);
      throw failure(this.base, path, error, library);
    }
  }

  private unwritable(error: unknown): MastodonCfnError {
    return MastodonCfnError.of('image.cache', `cannot write the image cache ${this.cache}: ${(error as Error).message}. Make it writable, or set XDG_CACHE_HOME to a writable folder, then deploy again.`);
  }

  /** The cache file of the object with this digest, downloaded first unless the cache has it. */
  async fetch(kind: 'manifests' | 'blobs', digest: string, accept: string[]): Promise<string> {
    const file = join(this.cache, 'blobs', ...digest.split(':'));
    if (existsSync(file) && (await fileDigest(file)) === digest) return file;
    try {
      await mkdir(join(file, '..'), { recursive: true });
    } catch (error) {
      throw this.unwritable(error);
    }
    // Downloaded whole, checked, then renamed: a build stopped midway never leaves a truncated object in the cache.
    const partial = `${file}.partial`;
    await this.download(kind, digest, accept, partial);
    const received = await fileDigest(partial);
    if (received !== digest) {
      await rm(partial, { force: true });
      throw MastodonCfnError.of('image.baseDigest', `the registry sent ${kind}/${digest} of ${describe(this.base)} with another digest (${received}): deploy again; if it persists, the registry is not serving that image faithfully`);
    }
    try {
      await rename(partial, file);
    } catch (error) {
      throw this.unwritable(error);
    }
    return file;
  }

  async json(kind: 'manifests' | 'blobs', digest: string, accept: string[]): Promise<any> {
    return JSON.parse(await readFile(await this.fetch(kind, digest, accept), 'utf8'));
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
  const index = await reader.json('manifests', base.digest, INDEX_TYPES);
  if (!INDEX_TYPES.includes(index.mediaType)) throw MastodonCfnError.of('image.baseIndex', `${describe(base)} is not a multi-arch index (${index.mediaType}): pin the digest of the tag's index`);
  const entry = platformManifest(index, platform, base);
  const manifest = (await reader.json('manifests', entry.digest, MANIFEST_TYPES)) as { mediaType?: string; config: Descriptor; layers: Descriptor[] };
  // containerify reads a layer's media type from the manifest's own; an OCI manifest may leave it out.
  manifest.mediaType ??= entry.mediaType;
  const config = await reader.json('blobs', manifest.config.digest, ['*/*']);
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest));
  for (const layer of manifest.layers) {
    if (!/gzip$/.test(layer.mediaType)) throw MastodonCfnError.of('image.baseLayer', `${describe(base)} has a layer of type ${layer.mediaType}, which the image builder cannot copy`);
    await copyFile(await reader.fetch('blobs', layer.digest, ['*/*']), join(folder, `${layer.digest.split(':')[1]}.tar.gz`));
  }
  return { config };
}
