import { CreateBucketCommand, HeadBucketCommand, type BucketLocationConstraint, PutBucketEncryptionCommand, PutObjectCommand, PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createHash } from 'node:crypto';
import { TEMPLATE_LIMITS } from '../aws/limits.js';
import { artifactsBucket } from '../compiler/naming.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient, Clients } from './aws.js';


const statusOf = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

function notThisAccounts(bucket: string, region: string, account: string, how: string): MastodonCfnError {
  return MastodonCfnError.of(
    'deploy.artifactsBucket',
    `The artifacts bucket ${bucket} (${region}) ${how}: another AWS account owns that name, or these credentials may not read it (s3:ListBucket). ` +
      `mastodon-cfn uploads templates over ${TEMPLATE_LIMITS.inlineBytes.toLocaleString('en-US')} bytes only to a bucket of account ${account}, so nothing was deployed. If the bucket is this account's, grant s3:ListBucket and s3:PutObject on it and deploy again.`,
  );
}

/**
 * Makes sure the artifacts bucket is this account's, creating it on first need. Its name is
 * predictable, so anyone may create it first: every call names the account as ExpectedBucketOwner
 * (S3 then answers 403 for a bucket of another account), and only a 404 means "create it", as
 * the CDK does with its bootstrap bucket.
 */
async function ensureArtifactsBucket(s3: AwsClient, bucket: string, region: string, account: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket, ExpectedBucketOwner: account }));
    return;
  } catch (error) {
    if (statusOf(error) === 403) throw notThisAccounts(bucket, region, account, 'exists but S3 refused HeadBucket (403)');
    if (statusOf(error) !== 404) throw error;
  }
  try {
    // CreateBucket takes no ExpectedBucketOwner: a name already taken answers BucketAlreadyExists.
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }) }));
  } catch (error) {
    if ((error as { name?: string }).name === 'BucketAlreadyExists') throw notThisAccounts(bucket, region, account, 'was just created by someone else (BucketAlreadyExists)');
    // Another deploy of this account made it meanwhile: it is ours.
    if ((error as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw error;
  }
  await s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, ExpectedBucketOwner: account, PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true } }));
  await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ExpectedBucketOwner: account, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
}

/** The account's artifacts bucket of the region, made on first need; every request to it names the account as ExpectedBucketOwner. */
export async function ownArtifactsBucket(clients: Clients, region: string): Promise<{ bucket: string; account: string }> {
  const account = (await clients.sts(region).send(new GetCallerIdentityCommand({}))).Account as string;
  const bucket = artifactsBucket(account, region);
  await ensureArtifactsBucket(clients.s3(region), bucket, region, account);
  return { bucket, account };
}

/**
 * The template as CloudFormation receives it: compact JSON inline, or, when even that is too
 * large, an object in an artifacts bucket of the stack's own region (made on first need).
 */
export async function templateSource(clients: Clients, region: string, stackName: string, templateText: string): Promise<{ TemplateBody?: string; TemplateURL?: string }> {
  const body = JSON.stringify(JSON.parse(templateText));
  if (Buffer.byteLength(body) <= TEMPLATE_LIMITS.inlineBytes) return { TemplateBody: body };

  const s3 = clients.s3(region);
  const { bucket, account } = await ownArtifactsBucket(clients, region);
  const key = `${stackName}/${createHash('sha256').update(body).digest('hex')}.json`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ExpectedBucketOwner: account }));
  // CloudFormation reads the template itself, from the S3 URL (also when the tool talks to an emulator).
  return { TemplateURL: `https://${bucket}.s3.${region}.amazonaws.com/${key}` };
}
