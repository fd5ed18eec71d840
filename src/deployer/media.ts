import { GetBucketLocationCommand } from '@aws-sdk/client-s3';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseS3Folder, type S3Location } from '../aws/s3.js';
import { MastodonCfnError } from '../errors.js';
import { fileSystemReason, isSystemError } from '../fileErrors.js';
import { MEDIA_CACHE_CONTROL, MEDIA_FOLDERS } from '../mastodon/facts.js';
import type { Clients } from './aws.js';
import { copyObject, listFolder, uploadFile } from './objects.js';
import type { Reporter } from './terminal.js';

export type MediaSource = { kind: 'folder'; path: string } | { kind: 's3'; location: S3Location };

/** `--media`: Mastodon's public/system folder, or the S3 folder the old server stored its media in. */
export function mediaSource(value: string): MediaSource {
  if (/^s3:\/\//i.test(value)) return { kind: 's3', location: parseS3Folder(value.replace(/^s3:/i, 's3:'), '--media') };
  if (value === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw MastodonCfnError.of('usage.media', `--media takes the old server's public/system folder, or s3://<bucket>/<folder>/, got ${JSON.stringify(value)}`, 2);
  }
  const path = resolve(value);
  let entries: string[];
  try {
    if (!statSync(path).isDirectory()) throw MastodonCfnError.of('usage.media', `--media ${value} is a file: give the old server's public/system folder, or s3://<bucket>/<folder>/`, 2);
    entries = readdirSync(path);
  } catch (error) {
    if (isSystemError(error)) throw MastodonCfnError.of('usage.media', `--media ${value}: ${fileSystemReason(error, path)}; give the old server's public/system folder, or s3://<bucket>/<folder>/`, 2);
    throw error;
  }
  if (!MEDIA_FOLDERS.some((folder) => entries.includes(folder))) {
    // The usual slips: the folder above public/system, or one of the folders in it.
    const hint = entries.includes('system') ? `: did you mean ${join(value, 'system')}?` : (MEDIA_FOLDERS as readonly string[]).includes(basename(path)) ? `: did you mean ${dirname(path)}?` : '';
    throw MastodonCfnError.of('usage.media', `--media ${value} holds none of ${MEDIA_FOLDERS.join(', ')}: give the folder Mastodon stores its files in (public/system, or PAPERCLIP_ROOT_PATH)${hint}`, 2);
  }
  return { kind: 'folder', path };
}

/** The types of the files Mastodon stores, by extension (the browsers read them from the media domain as they are). */
const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.avif': 'image/avif', '.heic': 'image/heic', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.mov': 'video/quicktime', '.webm': 'video/webm',
  '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg', '.oga': 'audio/ogg', '.opus': 'audio/ogg', '.m4a': 'audio/mp4', '.wav': 'audio/wave', '.flac': 'audio/flac',
  '.zip': 'application/zip', '.csv': 'text/csv', '.json': 'application/json',
};

interface LocalFile {
  key: string;
  path: string;
  size: number;
}

/** The regular files under a folder, by their path below it (S3's keys); links are not followed, so nothing outside is sent. */
function* filesUnder(root: string, below = ''): Generator<LocalFile> {
  for (const name of readdirSync(join(root, below)).sort()) {
    const key = below ? `${below}/${name}` : name;
    const path = join(root, key);
    const stat = lstatSync(path);
    if (stat.isDirectory()) yield* filesUnder(root, key);
    else if (stat.isFile()) yield { key, path, size: stat.size };
  }
}

/** The region a bucket is in (GetBucketLocation answers from us-east-1 for any bucket; no constraint is us-east-1, EU is eu-west-1). */
export async function bucketRegion(clients: Clients, bucket: string): Promise<string> {
  const { LocationConstraint } = await clients.s3('us-east-1').send(new GetBucketLocationCommand({ Bucket: bucket }));
  return !LocationConstraint ? 'us-east-1' : LocationConstraint === 'EU' ? 'eu-west-1' : LocationConstraint;
}

/** Files copied at once: S3 takes thousands of requests a second per prefix; this machine's bandwidth is the limit. */
const PARALLEL_COPIES = 8;

async function inParallel<T>(items: Iterable<T>, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: PARALLEL_COPIES }, worker));
}

export interface MediaCopy {
  copied: number;
  skipped: number;
  bytes: number;
}

/**
 * Copies media into a bucket folder: from a local folder (uploaded, with the types and the Cache-Control
 * Mastodon gives its own uploads) or from S3 (copied inside S3, metadata kept). A file already there with
 * the same size is skipped, so an interrupted copy goes on where it stopped when run again.
 */
export async function copyMedia(clients: Clients, source: MediaSource, target: S3Location & { region: string }, reporter: Reporter): Promise<MediaCopy> {
  const s3 = clients.s3(target.region);
  const there = await listFolder(s3, target);
  const result: MediaCopy = { copied: 0, skipped: 0, bytes: 0 };
  const progress = () => reporter.status(`media: ${result.copied} copied (${(result.bytes / 1024 ** 2).toFixed(0)} MiB), ${result.skipped} already there`);
  const needed = (key: string, size: number) => {
    if (there.get(key) === size) {
      result.skipped++;
      return false;
    }
    return true;
  };
  const done = (size: number) => {
    result.copied++;
    result.bytes += size;
    progress();
  };
  const Key = (key: string) => `${target.prefix}${key}`;
  if (source.kind === 'folder') {
    await inParallel(filesUnder(source.path), async (file) => {
      if (!needed(file.key, file.size)) return;
      const ContentType = CONTENT_TYPES[extname(file.key).toLowerCase()] ?? 'application/octet-stream';
      await uploadFile(s3, { Bucket: target.bucket, Key: Key(file.key), ContentType, CacheControl: MEDIA_CACHE_CONTROL }, file.path, file.size);
      done(file.size);
    });
  } else {
    const from = source.location;
    const objects = await listFolder(clients.s3(await bucketRegion(clients, from.bucket)), from);
    await inParallel(objects, async ([key, size]) => {
      if (!needed(key, size)) return;
      await copyObject(s3, { Bucket: from.bucket, Key: `${from.prefix}${key}` }, { Bucket: target.bucket, Key: Key(key) }, size);
      done(size);
    });
  }
  reporter.clear();
  return result;
}
