/**
 * AWS's length limits on the names the compiler derives from the config, each with its source.
 * `build` checks every derived name against its limit (config/validate.ts), so that a name AWS
 * would refuse is a config problem at build time instead of a failed stack.
 */
export interface NameLimit {
  /** What the name is, for messages. */
  what: string;
  max: number;
  source: string;
}

export const NAME_LIMITS = {
  stackName: {
    what: 'CloudFormation stack name',
    max: 128,
    source: 'CloudFormation API reference, CreateStack StackName: up to 128 characters, letters, digits and hyphens, starting with a letter',
  },
  certificateDomain: {
    what: 'ACM certificate domain name',
    max: 64,
    source: 'ACM API reference, RequestCertificate DomainName: "In compliance with RFC 5280, the length of the domain name (technically, the Common Name) that you provide cannot exceed 64 octets (characters), including periods"',
  },
  originAccessControlName: {
    what: 'CloudFront origin access control name',
    max: 64,
    source: 'CloudFront API reference, OriginAccessControlConfig Name: "You can specify up to 64 characters"',
  },
  responseHeadersPolicyName: {
    what: 'CloudFront response headers policy name',
    max: 128,
    source: "CloudFront API reference, ResponseHeadersPolicyConfig Name (no length given there); the CDK's ResponseHeadersPolicy generates names of at most 128 characters (aws-cdk-lib/aws-cloudfront/lib/response-headers-policy.ts)",
  },
  distributionComment: {
    what: 'CloudFront distribution comment',
    max: 128,
    source: 'CloudFront API reference, DistributionConfig Comment: "The comment cannot be longer than 128 characters"',
  },
  clusterName: {
    what: 'ECS cluster name',
    max: 255,
    source: 'ECS API reference, CreateCluster clusterName: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed"',
  },
  taskFamily: {
    what: 'ECS task definition family',
    max: 255,
    source: 'ECS API reference, RegisterTaskDefinition family: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed"',
  },
  logGroupName: {
    what: 'CloudWatch Logs log group name',
    max: 512,
    source: 'CloudWatch Logs API reference, CreateLogGroup logGroupName: 1 to 512 characters of [.\\-_/#A-Za-z0-9]',
  },
  secretName: {
    what: 'Secrets Manager secret name',
    max: 512,
    source: 'Secrets Manager API reference, CreateSecret Name: 1 to 512 characters',
  },
  repositoryName: {
    what: 'ECR repository name',
    max: 256,
    source: 'ECR API reference, CreateRepository repositoryName: 2 to 256 characters matching ECR_REPOSITORY_NAME',
  },
} as const satisfies Record<string, NameLimit>;

/**
 * The form of an ECR repository name (ECR API reference, CreateRepository repositoryName):
 * lower-case letters and digits, a single `.`, `_` or `-` between them, `/` between parts.
 */
export const ECR_REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export type NameKind = keyof typeof NAME_LIMITS;

/**
 * CloudFormation's quotas for one template (cloudformation-limits.md in the CloudFormation User Guide):
 * 500 resources, 200 parameters, 200 outputs, a template body of 1 MB from S3, and 51,200 bytes when
 * sent inline (TemplateBody).
 */
export const TEMPLATE_LIMITS = { Resources: 500, Parameters: 200, Outputs: 200, bytes: 1_000_000, inlineBytes: 51_200 } as const;

/**
 * The size of a customer managed policy: "You can add as many inline policies as you want to an IAM
 * user, role, or group. But the total aggregate policy size (the sum of all inline policies) per
 * entity cannot exceed… Managed policy size: 6,144 characters"; IAM does not count white space
 * (IAM User Guide, "IAM and AWS STS quotas"). At most 10 managed policies attach to a role by default.
 */
export const MANAGED_POLICY_LIMITS = { characters: 6_144, perRole: 10 } as const;
