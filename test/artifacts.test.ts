import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateBucketCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { sdkClients, type Clients } from '../src/deployer/aws.js';
import { deploy } from '../src/deployer/commands.js';
import { readPackage } from '../src/deployer/manifest.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { useMoto } from './support/moto.js';
import { writePackage } from './support/packages.js';
import { motoS3As, OwnerCheckingS3 } from './support/s3Owner.js';

const REGION = 'eu-central-1';
/** moto's account for the test credentials, as STS GetCallerIdentity answers it. */
const ACCOUNT = '123456789012';
const SQUATTER = '999999999999';
const BUCKET = `mastodon-cfn-artifacts-${ACCOUNT}-${REGION}`;

/** A stack whose template is over CloudFormation's 51,200 bytes inline. */
const bigPackage = (name: string) => writePackage([{ name, region: REGION, dependsOn: [], template: { ...{ Metadata: { Padding: 'x'.repeat(60_000) } }, Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } } }]);

describe('the artifacts bucket for templates over 51,200 bytes: only ever this account\'s (moto_server)', function () {
  const moto = useMoto('each');

  const squat = () => motoS3As(moto, REGION, SQUATTER).send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  const keysIn = async (bucket: string) => ((await motoS3As(moto, REGION, ACCOUNT).send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key);
  const deployWith = (s3: OwnerCheckingS3, name: string) => {
    const clients: Clients = { ...sdkClients(), s3: () => s3 };
    return deploy(readPackage(bigPackage(name)), { clients, reporter: recordingReporter(), confirm: async () => true, polling: { initialMs: 5, maxMs: 20 } }, { allowDataLoss: false, forceVersion: false });
  };
  const stackStatus = async (name: string) => {
    try {
      return (await sdkClients().cloudFormation(REGION).send(new DescribeStacksCommand({ StackName: name }))).Stacks[0].StackStatus as string;
    } catch {
      return 'NONE';
    }
  };

  it('the S3 stand-in refuses, as S3 does, a call whose ExpectedBucketOwner is not the bucket\'s owner (moto alone accepts it)', async () => {
    await squat();
    const s3 = new OwnerCheckingS3(moto, REGION, ACCOUNT);
    // The squatter's bucket answers anyone (as with a bucket policy open to all): only the expected owner tells.
    expect(await s3.send(new HeadBucketCommand({ Bucket: BUCKET }))).to.have.nested.property('$metadata.httpStatusCode', 200);
    const head = await s3.send(new HeadBucketCommand({ Bucket: BUCKET, ExpectedBucketOwner: ACCOUNT })).catch((error) => error);
    expect([head.name, head.$metadata.httpStatusCode]).to.deep.equal(['Forbidden', 403]);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: 'x', ExpectedBucketOwner: ACCOUNT })).catch((error) => error);
    expect([put.name, put.$metadata.httpStatusCode]).to.deep.equal(['AccessDenied', 403]);
    expect(await s3.send(new HeadBucketCommand({ Bucket: BUCKET, ExpectedBucketOwner: SQUATTER }))).to.have.nested.property('$metadata.httpStatusCode', 200);
    const missing = await s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here', ExpectedBucketOwner: ACCOUNT })).catch((error) => error);
    expect(missing.$metadata.httpStatusCode).to.equal(404);
  });

  it('refuses a bucket of that name that another account owns: a clear error, nothing uploaded to it, no stack made', async () => {
    await squat();
    const s3 = new OwnerCheckingS3(moto, REGION, ACCOUNT);
    const error = await deployWith(s3, 'social-squatted').then(
      () => undefined,
      (e) => e,
    );
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.match(new RegExp(`^The artifacts bucket ${BUCKET} \\(${REGION}\\) exists but S3 refused HeadBucket \\(403\\): another AWS account owns that name`));
    expect(await keysIn(BUCKET)).to.deep.equal([]);
    expect(s3.calls.map((c) => c.name)).to.deep.equal(['HeadBucket']);
    expect(await stackStatus('social-squatted')).to.equal('NONE');
  });

  it('creates the bucket on a 404 only, and names this account as the expected owner on every call that takes one', async () => {
    const s3 = new OwnerCheckingS3(moto, REGION, ACCOUNT);
    await deployWith(s3, 'social-big');
    expect(await stackStatus('social-big')).to.equal('CREATE_COMPLETE');
    expect(s3.calls.map((c) => [c.name, c.input.ExpectedBucketOwner])).to.deep.equal([
      ['HeadBucket', ACCOUNT],
      // CreateBucket has no ExpectedBucketOwner: a name already taken is BucketAlreadyExists.
      ['CreateBucket', undefined],
      ['PutPublicAccessBlock', ACCOUNT],
      ['PutBucketEncryption', ACCOUNT],
      ['PutObject', ACCOUNT],
    ]);
    expect(await keysIn(BUCKET)).to.satisfy((keys: string[]) => keys.length === 1 && keys[0].startsWith('social-big/'));

    const again = new OwnerCheckingS3(moto, REGION, ACCOUNT);
    await deployWith(again, 'social-big-too');
    expect(again.calls.map((c) => [c.name, c.input.ExpectedBucketOwner])).to.deep.equal([
      ['HeadBucket', ACCOUNT],
      ['PutObject', ACCOUNT],
    ]);
  });
});
