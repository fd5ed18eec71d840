import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import layers from 'containerify/lib/appLayerCreator.js';
import containerifyLog from 'containerify/lib/logger.js';
import { createRegistry } from 'containerify/lib/registry.js';
import type { ServiceImage } from '../compiler/fragment.js';
import type { Reporter } from '../deployer/terminal.js';
import { MastodonCfnError } from '../errors.js';
import { MANIFEST_TYPES, pullBase, type BaseSource } from './pull.js';
import { stageService, type StagedService } from './stage.js';

/**
 * Service images without a Docker engine, assembled and pushed by containerify (npm, 4.1.0), a library
 * made for exactly this: it adds a Node.js app's files as layers on a base image with fixed timestamps,
 * writes the config and manifest, pushes only the blobs a registry lacks (HEAD first), and documents
 * ECR ("Basic " + GetAuthorizationToken's token). Its dependencies are node-tar and, for its CLI,
 * commander. Chosen over the registry clients on npm (oci-registry-client, docker-registry-client,
 * @snyk/docker-registry-v2-client), which pull and push but build nothing, so the layers, config and
 * manifest would be ours to write. Used as a library (its lib/ modules; containerify.d.ts), so the
 * registry token is a header, never an argument as its CLI's --toToken would make it. It declares node
 * >=22 but uses nothing Node 20 lacks: test/image.test.ts builds and pushes with it on Node 20.
 * What it lacks is done here: pulling the base by digest (src/image/pull.ts, on @snyk/docker-registry-v2-client), the Dockerfile's CMD
 * (it sets only an ENTRYPOINT; the base's is kept), and not pushing an image the registry has.
 * node-tar writes a folder's entries in the file system's order: the same source gives the same digest
 * on one machine, and may give another one elsewhere (a new rollout of the same files, never a wrong image).
 */

/** Every timestamp of the image (tar entries, history): an unchanged build is byte for byte the same image. */
const FIXED_TIME = '1970-01-01T00:00:00.000Z';

/** The image's layout, as in postblog/Dockerfile: root-owned files under /app, run as the base's `node` user. */
const WORKDIR = '/app';
const USER = 'node';

export interface BuiltImage {
  digest: string;
  /** containerify's output folder (manifest.json, config and layers), for pushImage. */
  folder: string;
  /** Removes the build's temporary files. */
  dispose(): Promise<void>;
}

export interface RegistryTarget {
  /** https://host[:port], without /v2/. */
  registry: string;
  repository: string;
  /** A whole Authorization header value ("Basic …"), never put on a command line or in a message. */
  authorization: string;
}

/** Where downloaded base images are kept between deploys. */
export function defaultCacheFolder(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mastodon-cfn');
}

/** containerify logs to the console; while it runs, its lines go to the live status (shown on a terminal only). */
async function quietly<T>(reporter: Reporter, service: string, work: () => Promise<T>): Promise<T> {
  const log = containerifyLog.default;
  const saved = { ...log };
  const status = (...message: unknown[]) => reporter.status(`${service}: ${message.map(String).join(' ')}`);
  Object.assign(log, { info: status, error: status, debug: () => undefined });
  try {
    return await work();
  } finally {
    Object.assign(log, saved);
  }
}

/** The Dockerfile's HEALTHCHECK, with the service's port and health path. */
function healthCheckCommand(port: number, path: string): string {
  return `node -e "fetch('http://127.0.0.1:' + (process.env.PORT || ${port}) + '${path}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`;
}

/** Builds the service's image on the base image (for its platform); nothing is pushed yet. */
export async function buildImage(image: ServiceImage, base: BaseSource, reporter: Reporter, cacheFolder = defaultCacheFolder()): Promise<BuiltImage> {
  const work = await mkdtemp(join(tmpdir(), 'mastodon-cfn-build-'));
  let staged: StagedService | undefined;
  const dispose = async () => {
    await rm(work, { recursive: true, force: true });
    if (staged) await rm(staged.folder, { recursive: true, force: true });
  };
  try {
    const from = join(work, 'from');
    const to = join(work, 'to');
    await mkdir(from);
    await mkdir(to);
    // The base first: an unreachable registry fails the deploy before the service is built.
    reporter.status(`${image.service}: base image ${base.repository}:${base.tag} (${image.platform})`);
    const { config } = await pullBase(base, image.platform, cacheFolder, from);
    reporter.status(`${image.service}: building ${image.folder}`);
    const service = (staged = await stageService(image.folder, image.platform));
    // The Dockerfile's CMD, before containerify adds the rest: it has no option for one.
    config.config = { ...config.config, Cmd: service.command };
    config.history = [...(config.history ?? []), { created: FIXED_TIME, created_by: `/bin/sh -c #(nop)  CMD ${JSON.stringify(service.command)}`, empty_layer: true }];
    await writeFile(join(from, 'config.json'), JSON.stringify(config));
    const descriptor = await quietly(reporter, image.service, () =>
      layers.default.addLayers(work, from, to, {
        folder: service.folder,
        workdir: WORKDIR,
        user: USER,
        // Only what is set here changes; the base's ENTRYPOINT (docker-entrypoint.sh) stays.
        nonDefaults: { workdir: WORKDIR, user: USER },
        envs: ['NODE_ENV=production', `PORT=${image.port}`],
        labels: {},
        expose: [String(image.port)],
        healthcheckCmd: healthCheckCommand(image.port, image.healthCheck),
        healthcheckInterval: '30s',
        healthcheckTimeout: '5s',
        healthcheckStartPeriod: '10s',
        healthcheckRetries: '3',
        setTimeStamp: FIXED_TIME,
        // One layer each: the dependencies change less often than the app.
        customContent: { deps: WORKDIR },
        extraContent: { app: WORKDIR },
      }),
    );
    return { digest: descriptor.digest, folder: to, dispose };
  } catch (error) {
    await dispose();
    if (error instanceof MastodonCfnError) throw error;
    throw MastodonCfnError.of('image.assemble', `cannot assemble the image of ${image.service}: ${String((error as Error).message ?? error)}`);
  }
}

function manifestUrl(target: RegistryTarget, reference: string): string {
  return `${target.registry.replace(/\/$/, '')}/v2/${target.repository}/manifests/${reference}`;
}

/** The one tag of an image: its digest, so that an immutable tag never has to move. */
export function digestTag(digest: string): string {
  return digest.replace(':', '-');
}

function refused(target: RegistryTarget, detail: string): MastodonCfnError {
  return MastodonCfnError.of('image.pushRefused', `cannot push to ${target.registry}/${target.repository}: ${detail}. Check that the repository exists and that the credentials may push to it, then deploy again.`);
}

/** Fails before anything is built when the registry refuses the credentials (GET /v2/, the API's version check). */
export async function checkAccess(target: RegistryTarget): Promise<void> {
  const answer = await registryRequest(target, `${target.registry.replace(/\/$/, '')}/v2/`, 'GET');
  if (answer.status === 401 || answer.status === 403) throw refused(target, `the registry refused the credentials (HTTP ${answer.status})`);
  if (answer.status !== 200) throw refused(target, `the registry answered HTTP ${answer.status}`);
}

async function registryRequest(target: RegistryTarget, url: string, method: 'GET' | 'HEAD'): Promise<Response> {
  try {
    return await fetch(url, { method, headers: { authorization: target.authorization, accept: MANIFEST_TYPES.join(', ') } });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw MastodonCfnError.of('image.registryUnreachable', `cannot reach the registry ${target.registry} (${cause?.code ?? (error as Error).message}). Check the network connection, then deploy again.`);
  }
}

/** Whether the registry has this image already (by digest): then nothing is pushed again. */
async function hasImage(target: RegistryTarget, digest: string): Promise<boolean> {
  const answer = await registryRequest(target, manifestUrl(target, digest), 'HEAD');
  if (answer.status === 401 || answer.status === 403) throw refused(target, `the registry refused the credentials (HTTP ${answer.status})`);
  if (answer.status !== 200 && answer.status !== 404) throw refused(target, `the registry answered HTTP ${answer.status}`);
  return answer.status === 200;
}

/** Pushes the image unless the registry has it; tags it with its digest. */
export async function pushImage(built: BuiltImage, target: RegistryTarget, reporter: Reporter, service: string): Promise<'pushed' | 'unchanged'> {
  if (await hasImage(target, built.digest)) return 'unchanged';
  try {
    await quietly(reporter, service, async () => {
      const registry = await createRegistry(`${target.registry.replace(/\/$/, '')}/v2/`, target.repository, 0, target.authorization);
      await registry.upload(`${target.repository}:${digestTag(built.digest)}`, built.folder, false, undefined, undefined);
    });
  } catch (error) {
    // containerify rejects with a message string (the URL and the registry's answer; never the Authorization header).
    throw refused(target, String((error as Error)?.message ?? error).replace(/\s+/g, ' ').trim());
  }
  return 'pushed';
}
