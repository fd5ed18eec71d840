import { ACMClient } from '@aws-sdk/client-acm';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { PricingClient } from '@aws-sdk/client-pricing';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import { appendFileSync } from 'node:fs';
import { annotateAwsError } from '../awsErrors.js';

/**
 * The AWS APIs the deployer talks to, as injectable clients. Each is reached through the SDK's
 * default credential chain and honours AWS_ENDPOINT_URL, so the same code runs against AWS and
 * against a local emulator. Tests inject fakes for what an emulator cannot produce. With
 * MASTODON_CFN_API_LOG set to a file, each call is appended to it as a JSON line (service,
 * operation, region): what `mastodon-cfn policy` must allow, and what the test suite checks it does.
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
  ecs(region: string): AwsClient;
  /** ECR: the registry credentials for pushing service images. */
  ecr(region: string): AwsClient;
  logs(region: string): AwsClient;
  /** CloudWatch alarms (alerts:), and SNS for their topic's subscriptions. */
  cloudWatch(region: string): AwsClient;
  sns(region: string): AwsClient;
  loadBalancing(region: string): AwsClient;
  elastiCache(region: string): AwsClient;
  /** CloudFront and Route 53 are global services: their clients take no region. */
  cloudFront(): AwsClient;
  route53(): AwsClient;
  acm(region: string): AwsClient;
  ses(region: string): AwsClient;
  /** The Price List Query API (global; answered from us-east-1). */
  pricing(): AwsClient;
  /** IAM is global: only for a service-linked role a resource needs before CloudFormation can create it. */
  iam(): AwsClient;
}

// The SDK warns on every run that its releases after January 2027 will need Node 22; the lockfile pins one that supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Retries with exponential backoff, which covers throttling (the SDK's standard retry mode); AWS_MAX_ATTEMPTS overrides it, as for every AWS SDK. */
const MAX_ATTEMPTS = 8;

interface SdkClient {
  send(command: any): Promise<any>;
}

/** A client whose failures say which operation failed in which region, for the one error handler to explain. */
function annotated(service: string, region: string, client: SdkClient): AwsClient {
  return {
    async send(command) {
      // The bundler may suffix a class name with a number to keep names unique (DescribeStacksCommand2).
      const operation = command.constructor.name.replace(/Command\d*$/, '');
      if (process.env.MASTODON_CFN_API_LOG) appendFileSync(process.env.MASTODON_CFN_API_LOG, `${JSON.stringify({ service, operation, region })}\n`);
      try {
        return await client.send(command);
      } catch (error) {
        throw annotateAwsError(error, { service, operation, region });
      }
    },
  };
}

/** Where the SDK signs requests to the global services (CloudFront, Route 53, the Price List). */
const GLOBAL_REGION = 'us-east-1';

/** The real SDK clients, one per service and region. (This module, like all of the deployer, loads only for commands that talk to AWS.) */
export function sdkClients(): Clients {
  const cache = new Map<string, AwsClient>();
  const client = (service: string, region: string, make: () => SdkClient) => {
    const id = `${service}/${region}`;
    if (!cache.has(id)) cache.set(id, annotated(service, region, make()));
    return cache.get(id)!;
  };
  const options = (region: string) => ({ region, maxAttempts: Number(process.env.AWS_MAX_ATTEMPTS) || MAX_ATTEMPTS });
  return {
    cloudFormation: (region) => client('CloudFormation', region, () => new CloudFormationClient(options(region))),
    secretsManager: (region) => client('Secrets Manager', region, () => new SecretsManagerClient(options(region))),
    // Path-style addressing works with every S3 endpoint, emulators included.
    s3: (region) => client('S3', region, () => new S3Client({ ...options(region), forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) })),
    sts: (region) => client('STS', region, () => new STSClient(options(region))),
    rds: (region) => client('RDS', region, () => new RDSClient(options(region))),
    ecs: (region) => client('ECS', region, () => new ECSClient(options(region))),
    ecr: (region) => client('ECR', region, () => new ECRClient(options(region))),
    logs: (region) => client('CloudWatch Logs', region, () => new CloudWatchLogsClient(options(region))),
    cloudWatch: (region) => client('CloudWatch', region, () => new CloudWatchClient(options(region))),
    sns: (region) => client('SNS', region, () => new SNSClient(options(region))),
    loadBalancing: (region) => client('Elastic Load Balancing', region, () => new ElasticLoadBalancingV2Client(options(region))),
    elastiCache: (region) => client('ElastiCache', region, () => new ElastiCacheClient(options(region))),
    cloudFront: () => client('CloudFront', GLOBAL_REGION, () => new CloudFrontClient(options(GLOBAL_REGION))),
    route53: () => client('Route 53', GLOBAL_REGION, () => new Route53Client(options(GLOBAL_REGION))),
    acm: (region) => client('ACM', region, () => new ACMClient(options(region))),
    ses: (region) => client('SES', region, () => new SESv2Client(options(region))),
    pricing: () => client('Pricing', GLOBAL_REGION, () => new PricingClient(options(GLOBAL_REGION))),
    iam: () => client('IAM', GLOBAL_REGION, () => new IAMClient(options(GLOBAL_REGION))),
  };
}
