import { expect } from 'chai';
import { allowsAction, iamActionOf, type PolicyDocument, type PolicyStatement } from '../src/aws/iam.js';
import { MANAGED_POLICY_LIMITS } from '../src/aws/limits.js';
import { inMemoryPackage } from '../src/deployer/manifest.js';
import { deployerPolicy } from '../src/policy.js';
import { buildConfig, minimalYaml, runCli, tempDir } from './support/build.js';
import { EVERYTHING } from './support/policy-hooks.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const policyOf = (yaml: string, account?: string) => deployerPolicy(inMemoryPackage(buildConfig({ yaml }).files), account);
const statements = (policy: PolicyDocument) => Object.fromEntries(policy.Statement.map((s) => [s.Sid, s])) as Record<string, PolicyStatement>;

describe('mastodon-cfn policy: the IAM policy the deployer needs for a build', () => {
  it('prints managed policy documents, each within IAM’s 6,144 characters and at most the 10 a role takes, every statement once', () => {
    const yamlFile = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(yamlFile, EVERYTHING);
    const result = runCli(['policy', '--config', yamlFile, '--account', '123456789012']);
    expect(result.status, result.stderr).to.equal(0);
    const documents = JSON.parse(result.stdout) as PolicyDocument[];
    expect(documents.length).to.be.within(1, MANAGED_POLICY_LIMITS.perRole);
    for (const document of documents) {
      expect(document.Version).to.equal('2012-10-17');
      expect(JSON.stringify(document).length).to.be.at.most(MANAGED_POLICY_LIMITS.characters);
    }
    const sids = documents.flatMap((d) => d.Statement.map((s) => s.Sid));
    expect(new Set(sids).size).to.equal(sids.length);
    expect(result.stdout).to.not.include(':*:stack/');
    expect(result.stdout).to.include('arn:aws:cloudformation:us-east-1:123456789012:stack/social-prod-certificates/*');
  });

  it('lets import and export touch only the stack’s transfer folder and media bucket, and the user’s buckets only when named', () => {
    const pkg = inMemoryPackage(buildConfig({ yaml: minimalYaml('provider: { region: eu-central-1 }\n') }).files);
    const without = statements(deployerPolicy(pkg, '123456789012').policy);
    expect(without.TransferDumps).to.deep.include({ Action: ['s3:DeleteObject', 's3:AbortMultipartUpload'], Resource: 'arn:aws:s3:::mastodon-cfn-artifacts-123456789012-eu-central-1/social-prod/transfer/*' });
    expect(without.TransferMedia!.Resource).to.equal('arn:aws:s3:::social-prod-mediabucket-*/*');
    expect(without).to.not.have.property('TransferBuckets');
    const named = statements(deployerPolicy(pkg, '123456789012', ['my-archive']).policy);
    expect(named.TransferBuckets).to.deep.include({ Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: ['arn:aws:s3:::my-archive'] });
    expect(named.TransferBucketObjects!.Resource).to.deep.equal(['arn:aws:s3:::my-archive/*']);
  });

  it('scopes the deployer’s own calls to the stacks’ resources; only actions without a resource type, and CloudFormation’s own provisioning, are on "*"', () => {
    const { policy } = policyOf(minimalYaml('provider: { region: eu-central-1 }\n'));
    const byId = statements(policy);
    expect(byId.StacksDeployDiffRemoveDrift!.Resource).to.deep.equal([
      'arn:aws:cloudformation:us-east-1:*:stack/social-prod-certificates/*',
      'arn:aws:cloudformation:eu-central-1:*:stack/social-prod-secrets/*',
      'arn:aws:cloudformation:eu-central-1:*:stack/social-prod/*',
    ]);
    expect(byId.TasksRunStatus!.Resource).to.equal('arn:aws:ecs:eu-central-1:*:task-definition/social-prod-*:*');
    expect(byId.TaskRoles).to.deep.include({ Resource: 'arn:aws:iam::*:role/social-prod*', Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
    expect(byId.SecretsDeployStatus!.Condition).to.deep.equal({ StringEquals: { 'aws:ResourceTag/aws:cloudformation:stack-name': ['social-prod-certificates', 'social-prod-secrets', 'social-prod'] } });
    expect(byId.LogsLogsRun!.Resource).to.deep.equal(['arn:aws:logs:eu-central-1:*:log-group:/mastodon-cfn/social-prod/*', 'arn:aws:logs:eu-central-1:*:log-group:/mastodon-cfn/social-prod/*:log-stream:*']);
    const open = policy.Statement.filter((s) => s.Resource === '*');
    const direct = open.filter((s) => !s.Sid.startsWith('Provision'));
    expect(direct.map((s) => s.Sid).sort()).to.deep.equal(['DatabaseEngineVersions', 'DatabaseSnapshots', 'DriftDetectionStatus', 'PricesCost', 'StatusChecks', 'TasksList']);
    expect(byId.DatabaseSnapshots!.Action).to.deep.equal(['rds:DescribeDBClusterSnapshots', 'rds:DescribeDBSnapshots']);
    // backup creates snapshots only of this stack's database, and only under its own names.
    expect(byId.DatabaseBackup!.Resource).to.deep.equal(['arn:aws:rds:eu-central-1:*:cluster:social-prod*', 'arn:aws:rds:eu-central-1:*:db:social-prod*', 'arn:aws:rds:eu-central-1:*:cluster-snapshot:social-prod-backup-*', 'arn:aws:rds:eu-central-1:*:snapshot:social-prod-backup-*']);
    expect(byId.TasksList!.Condition).to.deep.equal({ ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-central-1:*:cluster/social-prod' } });
    for (const provisioning of open.filter((s) => s.Sid.startsWith('Provision'))) {
      expect(provisioning.Condition, provisioning.Sid).to.deep.equal({ 'ForAnyValue:StringEquals': { 'aws:CalledVia': ['cloudformation.amazonaws.com'] } });
    }
    // Only what this build needs: no image pushes, search role, alarms or hosted zone lookups.
    expect(Object.keys(byId)).to.not.include.members(['ImagesPush', 'ImagesLogin', 'SearchServiceLinkedRole', 'AlarmsStatus', 'AlertSubscriptions', 'HostedZone']);
  });

  it('lets CloudFormation make each resource type of the templates, from the handlers of its registry schema', () => {
    const { policy, unknownTypes } = policyOf(EVERYTHING);
    expect(unknownTypes).to.deep.equal([]);
    for (const action of ['ecs:CreateService', 'ecs:RegisterTaskDefinition', 'rds:CreateDBCluster', 'elasticache:CreateReplicationGroup', 'iam:CreateRole', 'iam:PutRolePolicy', 'sns:Subscribe', 'cloudwatch:PutMetricAlarm', 'es:CreateDomain', 'ec2:CreateVpc', 'cloudfront:CreateDistribution', 'route53:ChangeResourceRecordSets', 's3:GetBucketWebsite']) {
      expect(allowsAction(policy, action), action).to.equal(true);
    }
    // The deploy's own calls of this build.
    const byId = statements(policy);
    expect(byId.ImagesPush!.Resource).to.deep.equal(['arn:aws:ecr:us-east-1:*:repository/mastodon-cfn/social-prod/*']);
    expect(byId.AlarmsStatus!.Resource).to.deep.equal(['arn:aws:cloudwatch:us-east-1:*:alarm:mastodon-cfn/social-prod/*']);
    expect(byId.AlertSubscriptions!.Resource).to.deep.equal(['arn:aws:sns:us-east-1:*:mastodon-cfn-social-prod-alerts']);
    expect(byId.SearchServiceLinkedRole!.Condition).to.deep.equal({ StringEquals: { 'iam:AWSServiceName': 'opensearchservice.amazonaws.com' } });
    expect(allowsAction(policy, 'ecs:DeleteCluster')).to.equal(true);
    expect(allowsAction(policy, 'lambda:CreateFunction')).to.equal(false);
  });

  it('names a type of resources: it does not know, and lets CloudFormation read the ${ssm:} parameters the templates resolve', () => {
    const yamlFile = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(yamlFile, minimalYaml("mastodon:\n  environment: { SINGLE_USER_MODE: '${ssm:/social/single}' }\nresources:\n  Resources:\n    Queue: { Type: AWS::SQS::Queue }\n"));
    const result = runCli(['policy', '--config', yamlFile]);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.equal('mastodon-cfn policy: the permissions CloudFormation needs for AWS::SQS::Queue (from resources: or a plugin) are not known to it: add them to the policy by hand.\n');
    const parameters = (JSON.parse(result.stdout) as PolicyDocument[]).flatMap((d) => d.Statement).find((s) => s.Sid === 'ParametersOfTemplates');
    expect(parameters).to.deep.include({ Action: ['ssm:GetParameters'], Resource: ['arn:aws:ssm:us-east-1:*:parameter/social/single'] });
    const bad = runCli(['policy', '--config', yamlFile, '--account', '12345']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.include('--account takes a 12-digit AWS account id, got "12345"');
  });

  it('knows the action of each call: S3’s renamed ones, none for GetCallerIdentity, and refuses an API it has no prefix for', () => {
    expect(iamActionOf('S3', 'HeadBucket')).to.equal('s3:ListBucket');
    expect(iamActionOf('S3', 'PutBucketEncryption')).to.equal('s3:PutEncryptionConfiguration');
    expect(iamActionOf('Elastic Load Balancing', 'DescribeTargetHealth')).to.equal('elasticloadbalancing:DescribeTargetHealth');
    expect(iamActionOf('STS', 'GetCallerIdentity')).to.equal(undefined);
    expect(() => iamActionOf('Lambda', 'Invoke')).to.throw('no IAM prefix is known for the Lambda API');
  });
});
