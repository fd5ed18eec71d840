import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { open } from 'node:fs/promises';
import { S3_LIMITS, type S3Location } from '../aws/s3.js';
import type { AwsClient } from './aws.js';

/** Files up to this size go in one PutObject; larger ones in parts, so that a dump of hundreds of GiB fits S3's 10,000 parts. */
const SINGLE_UPLOAD_BYTES = 64 * 1024 ** 2;

function partSize(bytes: number): number {
  return Math.max(SINGLE_UPLOAD_BYTES, Math.ceil(bytes / S3_LIMITS.maxParts));
}

type ObjectHeaders = { ContentType?: string; CacheControl?: string; ExpectedBucketOwner?: string };

/** A multipart upload that is aborted when a part fails: S3 keeps (and bills) the parts of an upload never completed. */
async function inParts(s3: AwsClient, target: { Bucket: string; Key: string } & ObjectHeaders, size: number, send: (uploadId: string, part: number, start: number, end: number) => Promise<string | undefined>): Promise<void> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand(target));
  const { Bucket, Key } = target;
  try {
    const step = partSize(size);
    const parts = [];
    for (let start = 0, part = 1; start < size; start += step, part++) {
      const end = Math.min(start + step, size) - 1;
      parts.push({ PartNumber: part, ETag: await send(UploadId, part, start, end) });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
    throw error;
  }
}

/**
 * The bytes `start` to `end` of a file, read whole: a body of known bytes is sent as it is, where a stream
 * would be sent in aws-chunked encoding. A file shorter than it was measured is an error, not a short object.
 */
async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const bytes = Buffer.alloc(end - start + 1);
    const { bytesRead } = await file.read(bytes, 0, bytes.length, start);
    if (bytesRead !== bytes.length) throw new Error(`${path} changed while it was sent: it has fewer bytes than it had`);
    return bytes;
  } finally {
    await file.close();
  }
}

/** Uploads a local file of `size` bytes, in parts of at most 64 MiB (or what 10,000 parts need) held in memory one at a time. */
export async function uploadFile(s3: AwsClient, target: { Bucket: string; Key: string } & ObjectHeaders, path: string, size: number): Promise<void> {
  if (size <= SINGLE_UPLOAD_BYTES) {
    await s3.send(new PutObjectCommand({ ...target, Body: await readRange(path, 0, size - 1) }));
    return;
  }
  await inParts(s3, target, size, async (UploadId, PartNumber, start, end) => {
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: target.Bucket, Key: target.Key, UploadId, PartNumber, Body: await readRange(path, start, end) }));
    return ETag;
  });
}

/** A copy inside S3 (no bytes through this machine), keeping the source's metadata: in parts above CopyObject's 5 GiB. */
export async function copyObject(s3: AwsClient, source: { Bucket: string; Key: string }, target: { Bucket: string; Key: string }, size: number): Promise<void> {
  const CopySource = `${source.Bucket}/${source.Key.split('/').map(encodeURIComponent).join('/')}`;
  if (size <= S3_LIMITS.singleRequestBytes) {
    await s3.send(new CopyObjectCommand({ ...target, CopySource, MetadataDirective: 'COPY' }));
    return;
  }
  await inParts(s3, target, size, async (UploadId, PartNumber, start, end) => {
    const result = await s3.send(new UploadPartCopyCommand({ ...target, UploadId, PartNumber, CopySource, CopySourceRange: `bytes=${start}-${end}` }));
    return result.CopyPartResult?.ETag;
  });
}

/** Every object under a folder, by its key below the folder, with its size. */
export async function listFolder(s3: AwsClient, location: S3Location): Promise<Map<string, number>> {
  const objects = new Map<string, number>();
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix || undefined, ContinuationToken }));
    for (const object of page.Contents ?? []) {
      if (object.Key && !object.Key.endsWith('/')) objects.set(object.Key.slice(location.prefix.length), object.Size ?? 0);
    }
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return objects;
}

/** Whether a folder holds any object at all (one request). */
export async function folderIsEmpty(s3: AwsClient, location: S3Location): Promise<boolean> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: location.prefix || undefined, MaxKeys: 1 }));
  return (page.KeyCount ?? page.Contents?.length ?? 0) === 0;
}

export async function deleteObject(s3: AwsClient, target: { Bucket: string; Key: string }): Promise<void> {
  await s3.send(new DeleteObjectCommand(target));
}
