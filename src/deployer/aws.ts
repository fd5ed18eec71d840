import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';

/**
 * The AWS APIs the deployer talks to, as injectable clients. Each is reached through the SDK's
 * default credential chain and honours AWS_ENDPOINT_URL, so the same code runs against AWS and
 * against a local emulator. Tests inject fakes for what an emulator cannot produce.
 */
export interface AwsClient {
  send(command: object): Promise<any>;
}

export interface Clients {
  cloudFormation(region: string): AwsClient;
  secretsManager(region: string): AwsClient;
  s3(region: string): AwsClient;
  sts(region: string): AwsClient;
  rds(region: string): AwsClient;
}

// The SDK warns on every run that its releases after January 2027 will need Node 22; the lockfile pins one that supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Retries with exponential backoff, which covers throttling (the SDK's standard retry mode). */
const MAX_ATTEMPTS = 8;

/** The real SDK clients, one per service and region. (This module, like all of the deployer, loads only for commands that talk to AWS.) */
export function sdkClients(): Clients {
  const cache = new Map<string, AwsClient>();
  const client = (key: string, region: string, make: () => AwsClient) => {
    const id = `${key}/${region}`;
    if (!cache.has(id)) cache.set(id, make());
    return cache.get(id)!;
  };
  const options = (region: string) => ({ region, maxAttempts: MAX_ATTEMPTS });
  return {
    cloudFormation: (region) => client('cfn', region, () => new CloudFormationClient(options(region))),
    secretsManager: (region) => client('sm', region, () => new SecretsManagerClient(options(region))),
    // Path-style addressing works with every S3 endpoint, emulators included.
    s3: (region) => client('s3', region, () => new S3Client({ ...options(region), forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) })),
    sts: (region) => client('sts', region, () => new STSClient(options(region))),
    rds: (region) => client('rds', region, () => new RDSClient(options(region))),
  };
}
