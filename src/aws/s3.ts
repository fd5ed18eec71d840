import { MastodonCfnError } from '../errors.js';

/**
 * S3's limits on one object (Amazon S3 User Guide, "Uploading and copying objects using multipart upload"):
 * one PutObject or CopyObject moves at most 5 GiB; a multipart upload has at most 10,000 parts of 5 MiB to 5 GiB
 * (the last may be smaller), so an object of at most 5 TiB.
 */
export const S3_LIMITS = { singleRequestBytes: 5 * 1024 ** 3, maxParts: 10_000, minPartBytes: 5 * 1024 ** 2, maxPartBytes: 5 * 1024 ** 3 } as const;

/** Bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (general purpose bucket naming rules). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface S3Location {
  bucket: string;
  /** Empty, or ending in `/`: the folder the objects are under. */
  prefix: string;
}

const BUCKET_RULE = '3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit';

/** A bucket's name as an option gives it, or a clear error naming the option. */
export function bucketName(name: string, option: string): string {
  if (!BUCKET_NAME.test(name) || name.includes('..')) throw MastodonCfnError.of('usage.bucket', `${option} takes a bucket's name (${BUCKET_RULE}), got ${JSON.stringify(name)}`, 2);
  return name;
}

/** `s3://bucket` or `s3://bucket/some/folder/`: a folder of a bucket, or a clear error naming the option. */
export function parseS3Folder(url: string, option: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!match || !BUCKET_NAME.test(match[1]) || match[1].includes('..')) {
    throw MastodonCfnError.of('usage.s3Url', `${option} takes s3://<bucket>/<folder>/ (a bucket name of ${BUCKET_RULE}), got ${JSON.stringify(url)}`, 2);
  }
  const folder = (match[2] ?? '').replace(/^\/+/, '');
  if (Buffer.byteLength(folder) > 900) throw MastodonCfnError.of('usage.s3Url', `${option}: the folder of ${url} is too long for S3 keys (1,024 bytes) with the files under it`, 2);
  return { bucket: match[1], prefix: folder === '' || folder.endsWith('/') ? folder : `${folder}/` };
}
