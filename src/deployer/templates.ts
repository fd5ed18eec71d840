import { CreateBucketCommand, HeadBucketCommand, type BucketLocationConstraint, PutBucketEncryptionCommand, PutObjectCommand, PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createHash } from 'node:crypto';
import type { Clients } from './aws.js';

/** CloudFormation takes at most 51,200 bytes inline; larger templates must come from S3. */
export const INLINE_TEMPLATE_LIMIT = 51_200;

/**
 * The template as CloudFormation receives it: compact JSON inline, or, when even that is too
 * large, an object in an artifacts bucket of the stack's own region (made on first need).
 */
export async function templateSource(clients: Clients, region: string, stackName: string, templateText: string): Promise<{ TemplateBody?: string; TemplateURL?: string }> {
  const body = JSON.stringify(JSON.parse(templateText));
  if (Buffer.byteLength(body) <= INLINE_TEMPLATE_LIMIT) return { TemplateBody: body };

  const s3 = clients.s3(region);
  const account = (await clients.sts(region).send(new GetCallerIdentityCommand({}))).Account as string;
  const bucket = `mastodon-cfn-artifacts-${account}-${region}`;
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }) }));
    await s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true } }));
    await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  }
  const key = `${stackName}/${createHash('sha256').update(body).digest('hex')}.json`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
  // CloudFormation reads the template itself, from the S3 URL (also when the tool talks to an emulator).
  return { TemplateURL: `https://${bucket}.s3.${region}.amazonaws.com/${key}` };
}
