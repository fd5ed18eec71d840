/**
 * The AWS regions a config may name, and the resource types of the compiled stacks each one lacks.
 *
 * Source: CloudFormation's per-region resource specifications as cfn-lint 1.51.0 bundles them
 * (cfnlint/data/schemas/providers/<region>.py, the table its rule E3006 "resource type does not
 * exist in region" reads), read on 2026-12-02 for every resource type the compiler emits.
 * test/aws-facts.test.ts derives the table again from the installed cfn-lint and fails when it differs.
 */
export const REGIONS_DATE = '2026-12-02';

interface RegionFacts {
  /** The ARN partition: the certificates stack lives in us-east-1, so the home region must be in `aws` too. */
  partition: 'aws' | 'aws-cn' | 'aws-us-gov';
  /** Resource types of the compiled stacks that CloudFormation cannot create in this region. */
  missingTypes: readonly string[];
}

const SES = 'AWS::SES::EmailIdentity';
const aws = (...missingTypes: string[]): RegionFacts => ({ partition: 'aws', missingTypes });

export const REGIONS: Readonly<Record<string, RegionFacts>> = {
  'af-south-1': aws(),
  'ap-east-1': aws(SES),
  'ap-east-2': aws(SES),
  'ap-northeast-1': aws(),
  'ap-northeast-2': aws(),
  'ap-northeast-3': aws(),
  'ap-south-1': aws(),
  'ap-south-2': aws(),
  'ap-southeast-1': aws(),
  'ap-southeast-2': aws(),
  'ap-southeast-3': aws(),
  'ap-southeast-4': aws(SES),
  'ap-southeast-5': aws(),
  'ap-southeast-6': aws(SES),
  'ap-southeast-7': aws(SES),
  'ca-central-1': aws(),
  'ca-west-1': aws(),
  'cn-north-1': { partition: 'aws-cn', missingTypes: ['AWS::CloudFront::OriginAccessControl', SES] },
  'cn-northwest-1': { partition: 'aws-cn', missingTypes: ['AWS::CloudFront::OriginAccessControl', SES] },
  'eu-central-1': aws(),
  'eu-central-2': aws(),
  'eu-north-1': aws(),
  'eu-south-1': aws(),
  'eu-south-2': aws(SES),
  'eu-west-1': aws(),
  'eu-west-2': aws(),
  'eu-west-3': aws(),
  'il-central-1': aws(),
  'me-central-1': aws(),
  'me-south-1': aws(),
  'mx-central-1': aws(SES),
  'sa-east-1': aws(),
  'us-east-1': aws(),
  'us-east-2': aws(),
  'us-gov-east-1': { partition: 'aws-us-gov', missingTypes: ['AWS::CloudFront::Distribution', 'AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::ResponseHeadersPolicy'] },
  'us-gov-west-1': { partition: 'aws-us-gov', missingTypes: ['AWS::CloudFront::Distribution', 'AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::ResponseHeadersPolicy'] },
  'us-west-1': aws(),
  'us-west-2': aws(),
};

/** The regions where every stack of a build can be created. */
export const DEPLOYABLE_REGIONS: readonly string[] = Object.entries(REGIONS)
  .filter(([, facts]) => facts.partition === 'aws' && facts.missingTypes.length === 0)
  .map(([region]) => region);
