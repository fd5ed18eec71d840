import { HeadBucketCommand, ListBucketsCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { AwsClient } from '../../src/deployer/aws.js';
import type { Moto } from './moto.js';

/** moto_server's S3 as one account sees it (moto keeps buckets per account, their names global, as S3 does). */
export function motoS3As(moto: Moto, region: string, account: string): S3Client {
  const client = new S3Client({ region, endpoint: moto.endpoint, forcePathStyle: true, credentials: { accessKeyId: moto.env.AWS_ACCESS_KEY_ID, secretAccessKey: moto.env.AWS_SECRET_ACCESS_KEY } });
  client.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-moto-account-id'] = account;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
  return client;
}

/**
 * S3 for `account` over moto_server, refusing as the S3 API reference says of ExpectedBucketOwner
 * (which moto ignores): "If the account ID that you provide does not match the actual owner of the
 * bucket, the request fails with the HTTP status code 403 Forbidden (access denied)." HeadBucket,
 * having no body, gives only the status. Every call is recorded.
 */
export class OwnerCheckingS3 implements AwsClient {
  calls: { name: string; input: any }[] = [];
  private readonly asCaller: S3Client;

  constructor(
    private readonly moto: Moto,
    private readonly region: string,
    account: string,
  ) {
    this.asCaller = motoS3As(moto, region, account);
  }

  async send(command: object): Promise<any> {
    const name = command.constructor.name.replace(/Command\d*$/, '');
    const input = (command as { input: { Bucket?: string; ExpectedBucketOwner?: string } }).input;
    this.calls.push({ name, input });
    if (input.ExpectedBucketOwner && input.Bucket && (await this.ownedElsewhere(input.Bucket, input.ExpectedBucketOwner))) {
      throw new S3ServiceException({
        name: name === 'HeadBucket' ? 'Forbidden' : 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: name === 'HeadBucket' ? 'Forbidden' : 'Access Denied',
      });
    }
    return this.asCaller.send(command as never);
  }

  /** The bucket exists, and not among the expected owner's buckets. */
  private async ownedElsewhere(bucket: string, expectedOwner: string): Promise<boolean> {
    const owned = (await motoS3As(this.moto, this.region, expectedOwner).send(new ListBucketsCommand({}))).Buckets ?? [];
    if (owned.some((b) => b.Name === bucket)) return false;
    try {
      await this.asCaller.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch {
      return false;
    }
  }
}
