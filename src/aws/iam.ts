/**
 * The IAM action each AWS API call of the deployer is authorized by (Service Authorization
 * Reference): mostly `<service prefix>:<operation>`, with S3's renamed ones, and none for STS
 * GetCallerIdentity ("No permissions are required to perform this operation", STS API reference).
 * `policy` allows these; the test suite checks that every call the deployer makes has one.
 */
export const IAM_PREFIXES: Record<string, string | undefined> = {
  CloudFormation: 'cloudformation',
  'Secrets Manager': 'secretsmanager',
  S3: 's3',
  STS: undefined,
  RDS: 'rds',
  ECS: 'ecs',
  ECR: 'ecr',
  'CloudWatch Logs': 'logs',
  CloudWatch: 'cloudwatch',
  SNS: 'sns',
  'Elastic Load Balancing': 'elasticloadbalancing',
  ElastiCache: 'elasticache',
  CloudFront: 'cloudfront',
  'Route 53': 'route53',
  ACM: 'acm',
  SES: 'ses',
  Pricing: 'pricing',
  IAM: 'iam',
};

/** S3 operations authorized by an action of another name (Amazon S3 User Guide, "Required permissions for Amazon S3 API operations"). */
const S3_ACTIONS: Record<string, string> = {
  HeadBucket: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  PutPublicAccessBlock: 's3:PutBucketPublicAccessBlock',
  PutBucketEncryption: 's3:PutEncryptionConfiguration',
  HeadObject: 's3:GetObject',
  DeleteObjects: 's3:DeleteObject',
  // A copy also needs s3:GetObject on its source; the parts of a multipart upload are PutObject's.
  CopyObject: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
};

/** The action a call needs, or undefined when it needs none. */
export function iamActionOf(service: string, operation: string): string | undefined {
  if (!(service in IAM_PREFIXES)) throw new Error(`no IAM prefix is known for the ${service} API`);
  const prefix = IAM_PREFIXES[service];
  if (prefix === undefined) return undefined;
  if (prefix === 's3' && S3_ACTIONS[operation]) return S3_ACTIONS[operation];
  return `${prefix}:${operation}`;
}

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const wildcard = (pattern: string) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');

/** Whether some statement of the policy allows the action (actions are case-insensitive in IAM, and may end in a wildcard). */
export function allowsAction(policy: PolicyDocument, action: string): boolean {
  return policy.Statement.some((statement) => statement.Effect === 'Allow' && statement.Action.some((pattern) => wildcard(pattern).test(action)));
}
