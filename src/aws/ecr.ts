/**
 * How ECS pulls an image from a private ECR repository, for execution roles scoped to their own
 * repositories. Sources: ECR User Guide, "Private repository concepts" (the registry URI is
 * `aws_account_id.dkr.ecr.region.amazonaws.com`, China regions end in `.amazonaws.com.cn`), and the
 * Service Authorization Reference for Amazon ECR: `GetAuthorizationToken` has no resource type, so it
 * is only ever allowed on "*"; the three pull actions act on a `repository` resource,
 * `arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}`.
 */
export const ECR_PULL_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'];
export const ECR_TOKEN_ACTION = 'ecr:GetAuthorizationToken';

const PRIVATE_IMAGE = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([^:@]+)/;

/** The repository ARN of an image in a private ECR registry; undefined for any other registry (ECR Public and Docker Hub need no IAM). */
export function privateRepositoryArn(image: string): string | undefined {
  const match = PRIVATE_IMAGE.exec(image);
  if (!match) return undefined;
  const [, account, region, china, repository] = match;
  return `arn:${china ? 'aws-cn' : region!.startsWith('us-gov-') ? 'aws-us-gov' : 'aws'}:ecr:${region}:${account}:repository/${repository}`;
}
