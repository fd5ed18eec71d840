import { ECR_PULL_ACTIONS, ECR_TOKEN_ACTION } from './aws/ecr.js';
import type { PolicyDocument, PolicyStatement } from './aws/iam.js';
import { knowsProvisioning, provisioningActions } from './aws/provisioning.js';
import { MANAGED_POLICY_LIMITS } from './aws/limits.js';
import { SEARCH } from './aws/search.js';
import { artifactsBucket, Ids, pascal } from './compiler/naming.js';
import type { DeployPackage, DeployStack } from './deployer/manifest.js';

/**
 * The least-privilege IAM policy of the person or CI job that runs `deploy`, `diff`, `status`,
 * `logs`, `run`, `drift`, `remove` and `cost --prices-from-aws` for one build, from what the build wrote (the manifest and
 * the templates), never from the config. Two kinds of permission:
 * - the deployer's own calls, each scoped to the resources of these stacks where the action has a
 *   resource type (names all start with the stacks' prefix, or carry CloudFormation's stack tag);
 * - what CloudFormation does with the same credentials to create, update and delete each resource
 *   type of the templates (the resource types' handler permissions), allowed only through
 *   CloudFormation: the condition aws:CalledVia cloudformation.amazonaws.com.
 */
export function deployerPolicy(pkg: DeployPackage, account = '*', transferBuckets: string[] = []): { policy: PolicyDocument; unknownTypes: string[] } {
  const stacks = pkg.stacks;
  const prefix = stacks.find((stack) => stack.role === 'main')?.name ?? stacks.at(-1)!.name;
  const regions = [...new Set(stacks.map((stack) => stack.region))];
  const home = stacks.find((stack) => stack.role === 'main') ?? stacks.at(-1)!;
  const arn = (service: string, region: string, resource: string) => `arn:aws:${service}:${region}:${account}:${resource}`;
  const inHome = (service: string, resource: string) => arn(service, home.region, resource);
  const statement = (Sid: string, Action: string[], Resource: string | string[], Condition?: PolicyStatement['Condition']): PolicyStatement => ({ Sid, Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });
  const stackTag = { StringEquals: { 'aws:ResourceTag/aws:cloudformation:stack-name': stacks.map((stack) => stack.name) } };
  const has = (test: (stack: DeployStack) => unknown) => stacks.some(test);
  // CloudFormation names a resource it creates "<stack>-<logical id>-<random>", shortening the stack's name when the whole is too long.
  const generated = prefix.slice(0, 20).toLowerCase();
  const cluster = inHome('ecs', `cluster/${prefix}`);

  const statements: PolicyStatement[] = [
    statement(
      'StacksDeployDiffRemoveDrift',
      [
        'cloudformation:DescribeStacks', 'cloudformation:DescribeStackEvents', 'cloudformation:ListStackResources', 'cloudformation:GetTemplate',
        'cloudformation:CreateChangeSet', 'cloudformation:DescribeChangeSet', 'cloudformation:ExecuteChangeSet', 'cloudformation:DeleteChangeSet', 'cloudformation:ListChangeSets',
        'cloudformation:DeleteStack', 'cloudformation:UpdateTerminationProtection', 'cloudformation:TagResource',
        'cloudformation:DetectStackDrift', 'cloudformation:DescribeStackResourceDrifts',
      ],
      stacks.map((stack) => arn('cloudformation', stack.region, `stack/${stack.name}/*`)),
    ),
    // The stacks whose outputs the config's ${cf:stack.Output} variables read when deploy, diff and the others build.
    ...(pkg.variableStacks?.length ? [statement('VariableStackOutputs', ['cloudformation:DescribeStacks'], pkg.variableStacks.map((stack) => arn('cloudformation', stack.region, `stack/${stack.name}/*`)))] : []),
    // Neither has a resource type (Service Authorization Reference, AWS CloudFormation).
    statement('DriftDetectionStatus', ['cloudformation:DescribeStackDriftDetectionStatus'], '*'),
    // Templates over CloudFormation's inline limit go to the account's artifacts bucket of the region, which CloudFormation reads with these credentials.
    statement('TemplateBucket', ['s3:ListBucket', 's3:CreateBucket', 's3:PutBucketPublicAccessBlock', 's3:PutEncryptionConfiguration'], regions.map((region) => `arn:aws:s3:::${artifactsBucket(account, region)}`)),
    statement('TemplateObjects', ['s3:PutObject', 's3:GetObject'], stacks.map((stack) => `arn:aws:s3:::${artifactsBucket(account, stack.region)}/${stack.name}/*`)),
    statement('SecretsDeployStatus', ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:TagResource', 'secretsmanager:UntagResource'], regions.map((region) => arn('secretsmanager', region, 'secret:*')), stackTag),
    statement('DatabaseEngineVersions', ['rds:DescribeDBEngineVersions'], '*'),
    // cost --prices-from-aws: the Price List Query API has no resource type.
    statement('PricesCost', ['pricing:GetProducts'], '*'),
    statement('DatabaseProtection', ['rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'rds:ModifyDBCluster', 'rds:ModifyDBInstance'], [inHome('rds', `cluster:${generated}*`), inHome('rds', `db:${generated}*`)]),
    // backup and snapshots: a manual snapshot needs the database and the snapshot it makes (Service Authorization Reference, Amazon RDS); listing has no resource to scope to.
    statement('DatabaseBackup', ['rds:CreateDBClusterSnapshot', 'rds:CreateDBSnapshot', 'rds:AddTagsToResource'], [inHome('rds', `cluster:${generated}*`), inHome('rds', `db:${generated}*`), inHome('rds', `cluster-snapshot:${prefix.toLowerCase()}-backup-*`), inHome('rds', `snapshot:${prefix.toLowerCase()}-backup-*`)]),
    statement('DatabaseSnapshots', ['rds:DescribeDBClusterSnapshots', 'rds:DescribeDBSnapshots'], '*'),
    statement('TasksRunStatus', ['ecs:RunTask'], inHome('ecs', `task-definition/${prefix}-*:*`)),
    statement('TasksFollow', ['ecs:DescribeTasks', 'ecs:StopTask'], inHome('ecs', `task/${prefix}/*`)),
    statement('ServicesStatus', ['ecs:DescribeServices'], inHome('ecs', `service/${prefix}/*`)),
    statement('TasksList', ['ecs:ListTasks'], '*', { ArnEquals: { 'ecs:cluster': cluster } }),
    // RunTask hands the task its execution and task roles, which the main stack made.
    statement('TaskRoles', ['iam:PassRole'], `arn:aws:iam::${account}:role/${generated}*`, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
    statement('LogsLogsRun', ['logs:GetLogEvents', 'logs:FilterLogEvents'], [inHome('logs', `log-group:/mastodon-cfn/${prefix}/*`), inHome('logs', `log-group:/mastodon-cfn/${prefix}/*:log-stream:*`)]),
    // Read-only checks of status whose actions take no resource, or whose resources have names AWS makes up.
    statement(
      'StatusChecks',
      ['elasticloadbalancing:DescribeTargetHealth', 'elasticache:DescribeReplicationGroups', 'cloudfront:GetDistribution', 'acm:DescribeCertificate', 'ses:GetAccount', 'ses:GetEmailIdentity'],
      '*',
    ),
  ];
  if (has((stack) => stack.images?.length)) {
    statements.push(
      statement('ImagesLogin', [ECR_TOKEN_ACTION], '*'),
      // Pushing to a repository through the registry's API (ECR User Guide, "Required IAM permissions for pushing an image").
      statement('ImagesPush', ['ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', ...ECR_PULL_ACTIONS.filter((a) => a !== 'ecr:BatchCheckLayerAvailability')], regions.map((region) => arn('ecr', region, `repository/mastodon-cfn/${prefix.toLowerCase()}/*`))),
    );
  }
  const moving = stacks.find((stack) => stack.transfer);
  const mediaBuckets = prefix.length <= generated.length ? `${generated}-${Ids.MediaBucket.toLowerCase()}-*` : `${generated}*`;
  if (moving) {
    statements.push(
      // import and export delete their dump from the transfer folder, whole or in parts, once the task has read or written it.
      statement('TransferDumps', ['s3:DeleteObject', 's3:AbortMultipartUpload'], `arn:aws:s3:::${artifactsBucket(account, moving.region)}/${moving.transfer!.prefix}*`),
      // The media bucket's name is CloudFormation's, after the stack's and the logical id: whole, for a stack name that CloudFormation need not shorten.
      statement('TransferMediaBucket', ['s3:ListBucket'], `arn:aws:s3:::${mediaBuckets}`),
      statement('TransferMedia', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], `arn:aws:s3:::${mediaBuckets}/*`),
    );
  }
  if (transferBuckets.length) {
    // The user's own buckets: import --media s3:// reads one, export --to writes one (CopyObject reads its source and writes its target).
    statements.push(
      statement('TransferBuckets', ['s3:ListBucket', 's3:GetBucketLocation'], transferBuckets.map((bucket) => `arn:aws:s3:::${bucket}`)),
      statement('TransferBucketObjects', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], transferBuckets.map((bucket) => `arn:aws:s3:::${bucket}/*`)),
    );
  }
  if (has((stack) => stack.hostedZone)) statements.push(statement('HostedZone', ['route53:ListHostedZones', 'route53:GetHostedZone'], '*'));
  if (has((stack) => stack.searchIndex)) {
    statements.push(statement('SearchServiceLinkedRole', ['iam:CreateServiceLinkedRole'], `arn:aws:iam::${account}:role/aws-service-role/${SEARCH.serviceLinkedRole}/*`, { StringEquals: { 'iam:AWSServiceName': SEARCH.serviceLinkedRole } }));
  }
  const alerts = stacks.filter((stack) => stack.alerts);
  if (alerts.length) {
    statements.push(
      statement('AlarmsStatus', ['cloudwatch:DescribeAlarms'], alerts.map((stack) => arn('cloudwatch', stack.region, `alarm:${stack.alerts!.alarmPrefix}*`))),
      statement('AlertSubscriptions', ['sns:ListSubscriptionsByTopic'], alerts.map((stack) => arn('sns', stack.region, `mastodon-cfn-${stack.name}-alerts`))),
    );
  }
  const templates = stacks.map((stack) => ({ stack, text: pkg.template(stack) }));
  const types = [...new Set(templates.flatMap(({ text }) => Object.values((JSON.parse(text) as { Resources?: Record<string, { Type: string }> }).Resources ?? {}).map((r) => r.Type)))].sort();
  const throughCloudFormation = { 'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] } };
  // One statement per service, so that the policy can be cut into managed policies of IAM's size.
  const byService = new Map<string, string[]>();
  for (const action of provisioningActions(types)) {
    const service = action.split(':')[0]!;
    byService.set(service, [...(byService.get(service) ?? []), action]);
  }
  for (const [service, actions] of byService) statements.push(statement(`Provision${pascal(service)}ThroughCloudFormation`, actions, '*', throughCloudFormation));
  // ${ssm:/name} values are dynamic references: CloudFormation reads the parameters when it makes the change set.
  const parameters = templates.flatMap(({ stack, text }) => [...text.matchAll(/\{\{resolve:ssm:([^:}]+)/g)].map((match) => arn('ssm', stack.region, `parameter${match[1]!.startsWith('/') ? '' : '/'}${match[1]}`)));
  if (parameters.length) statements.push(statement('ParametersOfTemplates', ['ssm:GetParameters'], [...new Set(parameters)].sort(), throughCloudFormation));
  return { policy: { Version: '2012-10-17', Statement: statements }, unknownTypes: types.filter((type) => !knowsProvisioning(type)) };
}

/** IAM counts a policy's characters without white space. */
const policySize = (document: PolicyDocument) => JSON.stringify(document).length;

/**
 * The policy cut into documents IAM takes as customer managed policies, whole statements each, in
 * order; a statement too large for one alone is a bug of ours (each holds one service's actions).
 */
export function managedPolicies(policy: PolicyDocument): PolicyDocument[] {
  const documents: PolicyDocument[] = [];
  for (const statement of policy.Statement) {
    const last = documents.at(-1);
    if (last && policySize({ ...last, Statement: [...last.Statement, statement] }) <= MANAGED_POLICY_LIMITS.characters) last.Statement.push(statement);
    else documents.push({ Version: policy.Version, Statement: [statement] });
    if (policySize(documents.at(-1)!) > MANAGED_POLICY_LIMITS.characters) throw new Error(`policy statement ${statement.Sid} alone is over IAM's ${MANAGED_POLICY_LIMITS.characters} characters`);
  }
  return documents;
}
