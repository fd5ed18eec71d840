import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { expect } from 'chai';
import { failure } from './support/build.js';
import { CreateChangeSetCommand, DeleteChangeSetCommand, DescribeChangeSetCommand, DescribeStacksCommand, ExecuteChangeSetCommand, type StackEvent } from '@aws-sdk/client-cloudformation';
import { sdkClients, type Clients } from '../src/deployer/aws.js';
import { deploy, diff, remove, run, type DeployerContext } from '../src/deployer/commands.js';
import { dnsValidationRecord, rootCause } from '../src/deployer/follow.js';
import { createOwnerOnce } from '../src/deployer/owner.js';
import { upgradeProblem } from '../src/deployer/guards.js';
import { readPackage } from '../src/deployer/manifest.js';
import { sesSmtpPassword, vapidKeyPair } from '../src/deployer/secrets.js';
import { recordingReporter, terminalReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { FakeCloudFormation, NO_CHANGES_REASON } from './support/fakeCloudFormation.js';
import { Interrupted } from '../src/deployer/stacks.js';
import { twoRegionPackage, writePackage } from './support/packages.js';

function context(cfn: FakeCloudFormation, overrides: Partial<DeployerContext> = {}, services: Partial<Clients> = {}) {
  const reporter = recordingReporter();
  // deploy first names the account it changes (STS GetCallerIdentity).
  const sts = new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/test', UserId: 'AIDATEST' }) });
  const clients = fakeClients({ cloudFormation: () => cfn, sts: () => sts, ...services });
  return { reporter, context: { clients, reporter, confirm: async () => true, polling: { initialMs: 1, maxMs: 2 }, ...overrides } satisfies DeployerContext };
}

const event = (id: string, logicalId: string, type: string, status: string, reason?: string) => ({ StackId: 'id/stack', StackName: 'stack', EventId: id, LogicalResourceId: logicalId, ResourceType: type, ResourceStatus: status, ResourceStatusReason: reason, Timestamp: new Date('2026-11-22T10:00:00Z') }) as StackEvent;
const deployed = { status: 'CREATE_COMPLETE', outputs: { MediaCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', MastodonVersion: 'v4.5.2' } };
const options = { allowDataLoss: false, forceVersion: false };


describe('deployer with an injected CloudFormation client', () => {
  it('wires the certificate ARN from the us-east-1 stack into the main stack', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('wired-certificates', deployed);
    cfn.stacks.set('wired', deployed);
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(readPackage(twoRegionPackage('wired')), context(cfn).context, options);
    const mainChangeSet = cfn.called('CreateChangeSet').find((c) => c.input.StackName === 'wired')!;
    expect(mainChangeSet.input.Parameters).to.deep.equal([{ ParameterKey: 'MediaCertificateArn', ParameterValue: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' }]);
    expect(mainChangeSet.input.ChangeSetType).to.equal('UPDATE');
  });

  it('refuses to replace a stateful resource, naming it and its policy action, unless --allow-data-loss', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('social-certificates', deployed);
    cfn.stacks.set('social', deployed);
    cfn.changes = [
      { Action: 'Modify', LogicalResourceId: 'DatabaseCluster', ResourceType: 'AWS::RDS::DBCluster', Replacement: 'True', PolicyAction: 'ReplaceAndSnapshot' },
      { Action: 'Modify', LogicalResourceId: 'Cache', ResourceType: 'AWS::ElastiCache::ReplicationGroup', Replacement: 'Conditional' },
      { Action: 'Modify', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', Replacement: 'True' },
    ];
    const error = await failure(deploy(readPackage(twoRegionPackage('social')), context(cfn).context, options));
    expect(error.message).to.include('DatabaseCluster (AWS::RDS::DBCluster): would replace it; policy action ReplaceAndSnapshot');
    expect(error.message).to.include('Cache (AWS::ElastiCache::ReplicationGroup): would possibly replace it');
    expect(error.message).to.not.include('Alerts');
    expect(cfn.called('ExecuteChangeSet')).to.have.length(0);
    expect(cfn.called('DeleteChangeSet')).to.have.length(1);

    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(readPackage(twoRegionPackage('social')), context(cfn).context, { ...options, allowDataLoss: true });
    expect(cfn.called('ExecuteChangeSet')).to.have.length(2);
  });

  for (const leftover of ['ROLLBACK_COMPLETE', 'REVIEW_IN_PROGRESS']) {
    it(`deletes a stack left in ${leftover} by a failed first deploy and creates it again, with a notice`, async () => {
      const cfn = new FakeCloudFormation();
      cfn.stacks.set('first-certificates', { status: leftover });
      const { reporter, context: ctx } = context(cfn);
      await failure(deploy(readPackage(twoRegionPackage('first')), ctx, options)).catch(() => undefined);
      // An empty stack is deleted only once its change set is no longer recent (ListChangeSets tells).
      const expected = leftover === 'REVIEW_IN_PROGRESS' ? ['DescribeStacks', 'ListChangeSets', 'DeleteStack', 'DescribeStacks', 'CreateChangeSet'] : ['DescribeStacks', 'DeleteStack', 'DescribeStacks', 'CreateChangeSet'];
      expect(cfn.calls.map((c) => c.name).slice(0, expected.length)).to.deep.equal(expected);
      expect(cfn.called('CreateChangeSet')[0].input.ChangeSetType).to.equal('CREATE');
      expect(reporter.lines[1]).to.equal(`first-certificates is ${leftover}, left by a first deploy that never completed: deleting it to start again.`);
    });
  }

  it('refuses to touch a stack that is busy', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('busy-certificates', { status: 'UPDATE_IN_PROGRESS' });
    const error = await failure(deploy(readPackage(twoRegionPackage('busy')), context(cfn).context, options));
    expect(error.message).to.match(/^busy-certificates is UPDATE_IN_PROGRESS: another operation is running on it/);
    expect(cfn.called('CreateChangeSet')).to.have.length(0);
  });

  it('names the root cause of a failed deploy, not just "failed"', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = {
      finalStatus: 'ROLLBACK_COMPLETE',
      events: [
        event('1', 'CertificateNotices', 'AWS::SNS::Topic', 'CREATE_FAILED', 'Resource creation cancelled'),
        event('2', 'Alerts', 'AWS::SNS::Topic', 'CREATE_FAILED', 'Topic name is invalid'),
        event('3', 'fail-certificates', 'AWS::CloudFormation::Stack', 'ROLLBACK_IN_PROGRESS', 'The following resource(s) failed to create: [Alerts]'),
      ],
    };
    const error = await failure(deploy(readPackage(twoRegionPackage('fail')), context(cfn).context, options));
    expect(error.message).to.equal('fail-certificates failed: ROLLBACK_COMPLETE. Root cause: Alerts (AWS::SNS::Topic): Topic name is invalid');
  });

  it('reports why CloudFormation rejected a change set', async () => {
    const cfn = new FakeCloudFormation();
    cfn.changeSetFailure = 'Template format error: Unresolved resource dependencies [Nope]';
    const error = await failure(deploy(readPackage(twoRegionPackage('bad')), context(cfn).context, options));
    expect(error.message).to.equal('bad-certificates: CloudFormation rejected the change set: Template format error: Unresolved resource dependencies [Nope]');
  });

  it('prints the DNS record a certificate waits for', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = {
      finalStatus: 'CREATE_COMPLETE',
      events: [event('1', 'MediaCertificate', 'AWS::CertificateManager::Certificate', 'CREATE_IN_PROGRESS', 'Content of DNS Record is: {Name: _a1.media.example.com.,Type: CNAME,Value: _b2.acm-validations.aws.}')],
    };
    const { reporter, context: ctx } = context(cfn);
    await failure(deploy(readPackage(twoRegionPackage('dns')), ctx, options)).catch(() => undefined);
    expect(reporter.lines).to.include('Waiting for certificate validation of MediaCertificate: create this DNS record (it can stay forever):\n  _a1.media.example.com. CNAME _b2.acm-validations.aws.');
  });

  it('with Route 53, says CloudFormation writes the validation record instead of asking for it, and passes the zone', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = {
      finalStatus: 'CREATE_COMPLETE',
      events: [event('1', 'InstanceCertificate', 'AWS::CertificateManager::Certificate', 'CREATE_IN_PROGRESS', 'Content of DNS Record is: {Name: _a1.social.example.com.,Type: CNAME,Value: _b2.acm-validations.aws.}')],
    };
    const route53 = new FakeApi({ GetHostedZone: ({ Id }) => ({ HostedZone: { Id: `/hostedzone/${Id}`, Name: 'example.com.', Config: { PrivateZone: false } } }) });
    const pkg = writePackage([
      {
        name: 'zoned',
        region: 'eu-central-1',
        dependsOn: [],
        hostedZone: { parameter: 'HostedZoneId', hostedZoneId: 'Z0123456789ABCDEFGHIJ', domain: 'social.example.com', names: ['social.example.com'] },
        template: { Parameters: { HostedZoneId: { Type: 'AWS::Route53::HostedZone::Id' } }, Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { Zone: { Value: { Ref: 'HostedZoneId' } } } },
      },
    ]);
    const { reporter, context: ctx } = context(cfn, {}, { route53: () => route53 });
    await deploy(readPackage(pkg), ctx, options);
    expect(reporter.lines).to.include('Waiting for certificate validation of InstanceCertificate: CloudFormation writes its record into Route 53 (_a1.social.example.com. CNAME _b2.acm-validations.aws.); ACM usually validates within minutes.');
    expect(cfn.called('CreateChangeSet')[0].input.Parameters).to.deep.equal([{ ParameterKey: 'HostedZoneId', ParameterValue: 'Z0123456789ABCDEFGHIJ' }]);
  });

  it('on Ctrl-C stops following, leaves the stack deploying and says how to follow it again', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: undefined };
    const interrupt = new AbortController();
    const ctx = context(cfn, { polling: { initialMs: 5, maxMs: 5, signal: interrupt.signal } }).context;
    setTimeout(() => interrupt.abort(), 50);
    const error = await failure(deploy(readPackage(twoRegionPackage('slow')), ctx, options));
    expect(error.exitCode).to.equal(130);
    expect(error.message).to.include('CloudFormation goes on deploying it');
    expect(error.message).to.include('aws cloudformation describe-stack-events --stack-name slow-certificates --region us-east-1');
    expect(cfn.stacks.get('slow-certificates')!.status).to.equal('CREATE_IN_PROGRESS');
  });

  it('refuses an upgrade that skips a minor series or goes down, unless --force-version', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('up-certificates', deployed);
    cfn.stacks.set('up', { status: 'UPDATE_COMPLETE', outputs: { MastodonVersion: 'v4.3.1' } });
    const error = await failure(deploy(readPackage(twoRegionPackage('up', { version: 'v4.5.2' })), context(cfn).context, options));
    expect(error.message).to.include('deploy the latest v4.4.x release first, then v4.5.2');
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(readPackage(twoRegionPackage('up', { version: 'v4.5.2' })), context(cfn).context, { ...options, forceVersion: true });
  });
});

/** One stack with what the compiler's main stack asks of the deployer: deletion protection after create, post-deployment migrations, kept secrets. */
function operationsPackage(name: string, extra: { reusable?: boolean; afterDeploy?: boolean } = {}) {
  return writePackage([
    {
      name,
      region: 'eu-central-1',
      dependsOn: [],
      deletionProtection: { parameter: 'DatabaseDeletionProtection', clusterOutput: 'DatabaseClusterId' },
      ...(extra.afterDeploy === false
        ? {}
        : {
            afterDeploy: {
              description: 'post-deployment migrations (rails db:migrate)',
              outputs: { cluster: 'ClusterName', taskDefinition: 'PostDeploymentMigrationTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
              capacityProvider: 'FARGATE',
              container: 'migrate',
            },
          }),
      reusableSecrets: extra.reusable ? [{ parameter: 'ExistingMastodonSecretsArn', name: `mastodon-cfn/${name}/mastodon` }] : [],
      oneOffTask: {
        outputs: { cluster: 'ClusterName', taskDefinition: 'PostDeploymentMigrationTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
        capacityProvider: 'FARGATE',
        container: 'migrate',
      },
      template: {
        Parameters: {
          DatabaseDeletionProtection: { Type: 'String', AllowedValues: ['true', 'false'], Default: 'true' },
          ExistingMastodonSecretsArn: { Type: 'String', Default: '' },
        },
        Resources: { Alerts: { Type: 'AWS::SNS::Topic' } },
        Outputs: { Protection: { Value: { Ref: 'DatabaseDeletionProtection' } }, Reused: { Value: { Ref: 'ExistingMastodonSecretsArn' } } },
      },
    },
  ]);
}

const taskArn = 'arn:aws:ecs:eu-central-1:123456789012:task/ops/0a1b2c3d4e5f';
const createdOutputs = { MastodonLogGroup: '/mastodon-cfn/ops/mastodon', DatabaseClusterId: 'ops-db', ClusterName: 'ops', PostDeploymentMigrationTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/ops-migrations:3', TaskSubnets: 'subnet-1,subnet-2', TaskSecurityGroup: 'sg-1' };

/** ECS answering RunTask, then DescribeTasks: running once, then stopped with `exitCode` for the container (the migrate one unless named). */
function fakeEcs(exitCode: number | undefined, failures: object[] = [], container = 'migrate') {
  let polls = 0;
  return new FakeApi({
    RunTask: () => (failures.length ? { tasks: [], failures } : { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] }),
    DescribeTasks: () => ({
      tasks: [polls++ === 0 ? { taskArn, lastStatus: 'RUNNING' } : { taskArn, lastStatus: 'STOPPED', stoppedReason: exitCode === 0 ? 'Essential container in task exited' : 'Task failed', containers: [{ name: container, exitCode }] }],
    }),
  });
}

describe('deployer: sizes and the estimate', () => {
  const oneStack = (extra: object) =>
    readPackage(writePackage([{ name: 'shape', region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } }, ...extra } as never]));

  it('refuses a change of size that would drop the database, and says it is the size change and how to move the data', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('shape', { status: 'UPDATE_COMPLETE', outputs: { Profile: 'standard' } });
    cfn.changes = [
      { Action: 'Remove', LogicalResourceId: 'DatabaseCluster', ResourceType: 'AWS::RDS::DBCluster', PolicyAction: 'Snapshot' },
      { Action: 'Add', LogicalResourceId: 'PostgresInstance', ResourceType: 'AWS::RDS::DBInstance' },
    ];
    const error = await failure(deploy(oneStack({ size: 'small', statefulResources: [{ logicalId: 'PostgresInstance', type: 'AWS::RDS::DBInstance' }] }), context(cfn).context, options));
    expect(error.message).to.equal(
      [
        'Refusing to deploy shape: the change set would destroy or replace stateful resources:',
        '  DatabaseCluster (AWS::RDS::DBCluster): would delete it; policy action Snapshot',
        'The stack runs size standard and this build is size small: the database and its data are not moved to the new one. Copy them first (pg_dump, then pg_restore into the new database), or keep size standard.',
        'Nothing was changed. If that is really what you want, deploy again with --allow-data-loss.',
      ].join('\n'),
    );
    expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);
  });

  it('turning database.readReplica off is no data loss: a removed Aurora reader or read replica holds none of its own (the deployed template says which it was)', async () => {
    const stack = (extra: object) => oneStack({ size: 'standard', statefulResources: [{ logicalId: 'DatabaseCluster', type: 'AWS::RDS::DBCluster' }], ...extra });
    for (const [id, properties] of [
      ['DatabaseReaderInstance', { DBClusterIdentifier: { Ref: 'DatabaseCluster' }, DBInstanceClass: 'db.serverless' }],
      ['PostgresReplica', { SourceDBInstanceIdentifier: { Ref: 'PostgresInstance' }, DBInstanceClass: 'db.t4g.micro' }],
    ] as const) {
      const cfn = new FakeCloudFormation();
      cfn.stacks.set('shape', { status: 'UPDATE_COMPLETE', outputs: { Size: 'standard' }, template: JSON.stringify({ Resources: { [id]: { Type: 'AWS::RDS::DBInstance', DeletionPolicy: 'Delete', Properties: properties } } }) });
      cfn.changes = [{ Action: 'Remove', LogicalResourceId: id, ResourceType: 'AWS::RDS::DBInstance' }];
      await deploy(stack({}), context(cfn).context, options);
      expect(cfn.called('ExecuteChangeSet'), id).to.have.length(1);
    }
    // A removed instance with data of its own is refused as before.
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('shape', { status: 'UPDATE_COMPLETE', outputs: { Size: 'standard' }, template: JSON.stringify({ Resources: { PostgresInstance: { Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceClass: 'db.t4g.micro', AllocatedStorage: '20' } } } }) });
    cfn.changes = [{ Action: 'Remove', LogicalResourceId: 'PostgresInstance', ResourceType: 'AWS::RDS::DBInstance' }];
    const error = await failure(deploy(stack({}), context(cfn).context, options));
    expect(error.message).to.include('PostgresInstance (AWS::RDS::DBInstance): would delete it');
    expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);
  });

  it('protects an RDS instance (size small) once created, as it does an Aurora cluster', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: { DatabaseInstanceId: 'shape-db' } };
    const rds = new FakeApi({ ModifyDBInstance: () => ({}) });
    const { reporter, context: ctx } = context(cfn, {}, { rds: () => rds });
    await deploy(oneStack({ deletionProtection: { parameter: 'DatabaseDeletionProtection', instanceOutput: 'DatabaseInstanceId' }, template: { Parameters: { DatabaseDeletionProtection: { Type: 'String' } }, Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { P: { Value: { Ref: 'DatabaseDeletionProtection' } } } } }), ctx, options);
    expect(rds.calls).to.deep.equal([{ name: 'ModifyDBInstance', input: { DBInstanceIdentifier: 'shape-db', DeletionProtection: true, ApplyImmediately: true } }]);
    expect(reporter.lines).to.include('shape: deletion protection of database instance shape-db turned on');
  });

  it('against a deployed stack, the plan starts with the change in monthly cost: lines added (+), removed (-) and changed (~)', async () => {
    const database = (storage: string) => ({ Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceClass: 'db.t4g.micro', StorageType: 'gp3', AllocatedStorage: storage } });
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('shape', {
      status: 'UPDATE_COMPLETE',
      // Deployed before sizes: its Profile output says what usage to price.
      template: JSON.stringify({ Resources: { PostgresInstance: database('20'), Cache: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'valkey', CacheNodeType: 'cache.t4g.micro' } } }, Outputs: { Profile: { Value: 'small' } } }),
    });
    const pkg = oneStack({ template: { Resources: { PostgresInstance: database('30'), Logs: { Type: 'AWS::Logs::LogGroup' } }, Outputs: { Size: { Value: 'small' } } } });
    pkg.estimate = { total: 0, currency: 'USD', region: 'eu-central-1', date: '2026-11-25', incomplete: false, priced: true };
    const { reporter, context: ctx } = context(cfn);
    await diff(pkg, ctx);
    // eu-central-1 of the shipped table: db.t4g.micro $0.019 an hour, gp3 $0.137 a GB-month, cache.t4g.micro valkey $0.0144 an hour, logs $0.63 a GB (1 GB at size small).
    expect(reporter.lines[0]).to.equal(
      [
        'Monthly cost: $27.12 → $18.61 a month (estimate, eu-central-1 prices of 2026-11-25) (-$8.51)',
        '  ~ $2.74 → $4.11  PostgresInstance  gp3 storage',
        '  - $10.51  Cache  ElastiCache valkey cache.t4g.micro',
        '  + $0.63  Logs  CloudWatch Logs ingestion into Logs (assumed)',
      ].join('\n'),
    );
    expect(cfn.called('GetTemplate')).to.deep.equal([{ name: 'GetTemplate', input: { StackName: 'shape', TemplateStage: 'Original' } }]);
  });

  it('in a region the price table lacks, the plan says the cost is unknown and compares nothing', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('shape', { status: 'UPDATE_COMPLETE', template: JSON.stringify({ Resources: { Logs: { Type: 'AWS::Logs::LogGroup' } } }) });
    const pkg = oneStack({});
    pkg.estimate = { total: 0, currency: 'USD', region: 'sa-east-1', date: '2026-11-25', incomplete: true, priced: false };
    const { reporter, context: ctx } = context(cfn);
    await diff(pkg, ctx);
    expect(reporter.lines[0]).to.equal('Estimated cost once deployed: unknown: the price table of 2026-11-25 has no prices for sa-east-1 (mastodon-cfn cost itemises it)');
    expect(cfn.called('GetTemplate')).to.deep.equal([]);
  });

  it("prints the build's monthly estimate before it changes anything", async () => {
    const cfn = new FakeCloudFormation();
    const pkg = oneStack({});
    pkg.estimate = { total: 74.08, currency: 'USD', region: 'eu-central-1', date: '2026-11-25', incomplete: false, priced: true };
    const { reporter, context: ctx } = context(cfn);
    await deploy(pkg, ctx, options);
    // After the account it changes (preflight.ts), and before anything is changed.
    expect(reporter.lines[0]).to.equal('Deploying to AWS account 123456789012 as arn:aws:iam::123456789012:user/test, in eu-central-1');
    expect(reporter.lines[1]).to.equal('Estimated cost once deployed: $74.08 a month (estimate, eu-central-1 prices of 2026-11-25) (mastodon-cfn cost itemises it)');
  });
});

describe('deployer: running the instance safely', () => {
  it('creates the database unprotected so a failed create can roll back, protects it once created, and keeps it protected', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: createdOutputs };
    const rds = new FakeApi({ ModifyDBCluster: () => ({}) });
    const { reporter, context: ctx } = context(cfn, {}, { rds: () => rds, ecs: () => fakeEcs(0) });
    await deploy(readPackage(operationsPackage('ops')), ctx, options);
    expect(cfn.called('CreateChangeSet')[0].input.Parameters).to.deep.include({ ParameterKey: 'DatabaseDeletionProtection', ParameterValue: 'false' });
    expect(rds.calls).to.deep.equal([{ name: 'ModifyDBCluster', input: { DBClusterIdentifier: 'ops-db', DeletionProtection: true, ApplyImmediately: true } }]);
    expect(reporter.lines).to.include('ops: deletion protection of database cluster ops-db turned on');

    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(readPackage(operationsPackage('ops')), context(cfn, {}, { rds: () => rds, ecs: () => fakeEcs(0) }).context, options);
    expect(cfn.called('CreateChangeSet')[1].input.Parameters).to.deep.include({ ParameterKey: 'DatabaseDeletionProtection', ParameterValue: 'true' });
    expect(rds.calls).to.have.length(1);
  });

  it('runs the post-deployment migrations as a one-off Fargate task after the deploy and reports the outcome', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('ops', { status: 'UPDATE_COMPLETE', outputs: createdOutputs });
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    const ecs = fakeEcs(0);
    const { reporter, context: ctx } = context(cfn, {}, { ecs: () => ecs });
    await deploy(readPackage(operationsPackage('ops')), ctx, options);
    const [run] = ecs.calls;
    expect(run.name).to.equal('RunTask');
    expect(run.input).to.deep.include({ cluster: 'ops', taskDefinition: createdOutputs.PostDeploymentMigrationTaskDefinition, count: 1, capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] });
    expect(run.input.networkConfiguration.awsvpcConfiguration).to.deep.equal({ subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'ENABLED' });
    expect(reporter.lines.at(-1)).to.equal('ops: post-deployment migrations (rails db:migrate) done (task 0a1b2c3d4e5f, exit code 0)');
  });

  it('says where the log of failed post-deployment migrations is, and exits 1', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('ops', { status: 'UPDATE_COMPLETE', outputs: createdOutputs });
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    const error = await failure(deploy(readPackage(operationsPackage('ops')), context(cfn, {}, { ecs: () => fakeEcs(1) }).context, options));
    expect(error.exitCode).to.equal(1);
    expect(error.message).to.include('ops is deployed, but the post-deployment migrations (rails db:migrate) failed: migrate exited with code 1 (Task failed)');
    expect(error.message).to.include('stream migrate/migrate/0a1b2c3d4e5f');

    const unplaced = await failure(deploy(readPackage(operationsPackage('ops')), context(cfn, {}, { ecs: () => fakeEcs(undefined, [{ arn: 'x', reason: 'RESOURCE:MEMORY' }]) }).context, options));
    expect(unplaced.message).to.equal('ECS did not start the post-deployment migrations (rails db:migrate) task: RESOURCE:MEMORY');
  });

  it('leaves no empty stack behind when a first deploy is declined', async () => {
    const cfn = new FakeCloudFormation();
    const error = await failure(deploy(readPackage(twoRegionPackage('declined')), context(cfn, { confirm: async () => false }).context, options));
    expect(error.message).to.match(/^Not deployed: declined-certificates was not created/);
    expect(cfn.called('DeleteStack').map((c) => c.input.StackName)).to.deep.equal(['declined-certificates']);
    expect(cfn.stacks.has('declined-certificates')).to.equal(false);
  });

  it('reuses a kept secret an earlier remove left, instead of failing with "already exists"', async () => {
    const arn = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:mastodon-cfn/kept/mastodon-AbCdEf';
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: createdOutputs };
    const secrets = new FakeApi({ DescribeSecret: ({ SecretId }) => ({ ARN: arn, Name: SecretId }) });
    const { reporter, context: ctx } = context(cfn, {}, { secretsManager: () => secrets, rds: () => new FakeApi({ ModifyDBCluster: () => ({}) }) });
    await deploy(readPackage(operationsPackage('kept', { reusable: true, afterDeploy: false })), ctx, options);
    expect(secrets.calls).to.deep.equal([{ name: 'DescribeSecret', input: { SecretId: 'mastodon-cfn/kept/mastodon' } }]);
    expect(cfn.called('CreateChangeSet')[0].input.Parameters).to.deep.include({ ParameterKey: 'ExistingMastodonSecretsArn', ParameterValue: arn });
    expect(reporter.lines[1]).to.equal('kept: reusing mastodon-cfn/kept/mastodon, kept by an earlier remove (its values stay as they were)');

    // Once adopted, later deploys keep the stack's own value without looking the secret up again.
    cfn.stacks.get('kept')!.parameters = { ExistingMastodonSecretsArn: arn };
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(readPackage(operationsPackage('kept', { reusable: true, afterDeploy: false })), context(cfn, {}, { secretsManager: () => secrets }).context, options);
    expect(secrets.calls).to.have.length(1);
    expect(cfn.called('CreateChangeSet')[1].input.Parameters).to.deep.include({ ParameterKey: 'ExistingMastodonSecretsArn', ParameterValue: arn });
  });

  it('refuses to start over while a kept secret is scheduled for deletion, and says how to restore it', async () => {
    const cfn = new FakeCloudFormation();
    const secrets = new FakeApi({ DescribeSecret: ({ SecretId }) => ({ ARN: 'arn:x', Name: SecretId, DeletedDate: new Date('2026-11-20T00:00:00Z') }) });
    const error = await failure(deploy(readPackage(operationsPackage('gone', { reusable: true })), context(cfn, {}, { secretsManager: () => secrets }).context, options));
    expect(error.message).to.include('aws secretsmanager restore-secret --secret-id mastodon-cfn/gone/mastodon --region eu-central-1');
    expect(cfn.called('CreateChangeSet')).to.have.length(0);
  });
});

/** CloudWatch Logs answering GetLogEvents from pages, the stream missing until the container writes (as documented). */
function fakeLogs(pages: string[][]) {
  let call = 0;
  return new FakeApi({
    GetLogEvents: (input) => {
      call++;
      if (call === 1) throw Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' });
      const page = input.nextToken ? Number(String(input.nextToken).split('/')[1]) : 0;
      const events = (pages[page] ?? []).map((message, i) => ({ timestamp: 1_700_000_000_000 + i, message }));
      return { events, nextForwardToken: `f/${events.length ? page + 1 : page}` };
    },
  });
}

describe('the owner account: created once, its password never printed', () => {
  const owner = {
    outputs: { cluster: 'ClusterName', taskDefinition: 'OwnerAccountTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
    capacityProvider: 'FARGATE',
    container: 'owner',
    description: 'creation of the owner account @alice',
    username: 'alice',
    email: 'alice@example.com',
    passwordSecret: 'mastodon-cfn/ops/owner',
  };
  const outputs = { ...createdOutputs, OwnerAccountTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/ops-owner-account:1' };
  const secretsManager = () => {
    const tags: { Key: string; Value: string }[] = [];
    return new FakeApi({ DescribeSecret: () => ({ Name: owner.passwordSecret, Tags: [...tags] }), TagResource: ({ Tags }) => {
        // As Secrets Manager: a key tagged again takes the new value.
        for (const tag of Tags) {
          const kept = tags.findIndex((old) => old.Key === tag.Key);
          if (kept >= 0) tags[kept] = tag;
          else tags.push(tag);
        }
        return {};
      },
    });
  };
  const ownerTask = (exitCode: number) => fakeEcs(exitCode, [], 'owner');
  const OPS_STACK = 'arn:aws:cloudformation:eu-central-1:123456789012:stack/ops/0a1b2c3d-0000-4000-8000-000000000001';
  const OPS_STACK_AGAIN = 'arn:aws:cloudformation:eu-central-1:123456789012:stack/ops/0a1b2c3d-0000-4000-8000-000000000002';

  it('runs its task once, after which the secret is tagged and later deploys leave it alone; only where the password is, is printed', async () => {
    const secrets = secretsManager();
    const ecs = ownerTask(0);
    const reporter = recordingReporter();
    await createOwnerOnce({ ecs, secretsManager: secrets }, owner, outputs, { name: 'ops', region: 'eu-central-1', id: OPS_STACK }, reporter, { initialMs: 1, maxMs: 1 });
    expect(ecs.calls.filter((c) => c.name === 'RunTask').map((c) => c.input.taskDefinition)).to.deep.equal([outputs.OwnerAccountTaskDefinition]);
    expect(secrets.calls.map((c) => c.name)).to.deep.equal(['DescribeSecret', 'TagResource']);
    expect(reporter.lines.at(-1)).to.equal(
      'Owner account @alice (alice@example.com) is ready: log in at the instance with that e-mail address.\nIts password is in Secrets Manager, and is printed only when you ask for it:\n  aws secretsmanager get-secret-value --secret-id mastodon-cfn/ops/owner --region eu-central-1 --query SecretString --output text',
    );
    // The deployer never reads the secret's value: there is nothing it could print.
    expect(secrets.calls.map((c) => c.name)).to.not.include('GetSecretValue');

    const again = recordingReporter();
    await createOwnerOnce({ ecs, secretsManager: secrets }, owner, outputs, { name: 'ops', region: 'eu-central-1', id: OPS_STACK }, again, { initialMs: 1, maxMs: 1 });
    expect(ecs.calls.filter((c) => c.name === 'RunTask')).to.have.length(1);
    expect(again.lines).to.deep.equal([]);

    // The main stack removed and created again: a new database, where the tag's account is not.
    await createOwnerOnce({ ecs, secretsManager: secrets }, owner, outputs, { name: 'ops', region: 'eu-central-1', id: OPS_STACK_AGAIN }, recordingReporter(), { initialMs: 1, maxMs: 1 });
    expect(ecs.calls.filter((c) => c.name === 'RunTask')).to.have.length(2);
    // And only once there too.
    await createOwnerOnce({ ecs, secretsManager: secrets }, owner, outputs, { name: 'ops', region: 'eu-central-1', id: OPS_STACK_AGAIN }, recordingReporter(), { initialMs: 1, maxMs: 1 });
    expect(ecs.calls.filter((c) => c.name === 'RunTask')).to.have.length(2);
  });

  it('a failed creation names its log stream, is not marked done, and is tried again by the next deploy', async () => {
    const secrets = secretsManager();
    const error = await failure(createOwnerOnce({ ecs: ownerTask(1), secretsManager: secrets }, owner, outputs, { name: 'ops', region: 'eu-central-1', id: OPS_STACK }, recordingReporter(), { initialMs: 1, maxMs: 1 }));
    expect(error.message).to.include('the creation of the owner account @alice failed: owner exited with code 1');
    expect(error.message).to.include('stream owner/owner/0a1b2c3d4e5f');
    expect(secrets.calls.map((c) => c.name)).to.deep.equal(['DescribeSecret']);
  });
});

describe('mastodon-cfn run and tootctl: one-off commands, without ECS Exec', () => {
  const deployedOps = () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('ops', { status: 'UPDATE_COMPLETE', outputs: createdOutputs });
    return cfn;
  };

  it('runs the command in a one-off task of the stack, streams its log as it runs and returns its exit code', async () => {
    for (const exitCode of [0, 3]) {
      const ecs = fakeEcs(exitCode);
      const logs = fakeLogs([['Creating account alice', 'OK'], ['New password: f9a0b1c2']]);
      const written: string[] = [];
      const { reporter, context: ctx } = context(deployedOps(), {}, { ecs: () => ecs, logs: () => logs });
      const code = await run(readPackage(operationsPackage('ops')), ctx, ['bin/tootctl', 'accounts', 'create', 'alice', '--email', 'alice@example.com', '--confirmed', '--role', 'Owner'], (text) => written.push(text));
      expect(code).to.equal(exitCode);
      const [started] = ecs.calls;
      expect(started.input.overrides).to.deep.equal({ containerOverrides: [{ name: 'migrate', command: ['bin/tootctl', 'accounts', 'create', 'alice', '--email', 'alice@example.com', '--confirmed', '--role', 'Owner'] }] });
      expect(started.input.taskDefinition).to.equal(createdOutputs.PostDeploymentMigrationTaskDefinition);
      expect(logs.calls[0].input).to.deep.include({ logGroupName: '/mastodon-cfn/ops/mastodon', logStreamName: 'migrate/migrate/0a1b2c3d4e5f', startFromHead: true });
      expect(written.join('')).to.equal('Creating account alice\nOK\nNew password: f9a0b1c2\n');
      expect(reporter.lines[0]).to.match(/^Started bin\/tootctl accounts create alice .* as task 0a1b2c3d4e5f in eu-central-1; its output follows \(Ctrl-C stops it\)\.$/);
    }
  });

  it('on Ctrl-C stops the task and exits 130', async () => {
    const ecs = new FakeApi({ RunTask: () => ({ tasks: [{ taskArn }], failures: [] }), DescribeTasks: () => ({ tasks: [{ taskArn, lastStatus: 'RUNNING' }] }), StopTask: () => ({}) });
    const interrupt = new AbortController();
    const { context: ctx } = context(deployedOps(), { polling: { initialMs: 5, maxMs: 5, signal: interrupt.signal } }, { ecs: () => ecs, logs: () => fakeLogs([]) });
    setTimeout(() => interrupt.abort(), 30);
    const error = await failure(run(readPackage(operationsPackage('ops')), ctx, ['bin/rails', 'runner', 'sleep 600'], () => undefined));
    expect(error.exitCode).to.equal(130);
    expect(ecs.calls.at(-1)).to.deep.equal({ name: 'StopTask', input: { cluster: 'ops', task: taskArn, reason: 'Stopped by mastodon-cfn run (Ctrl-C)' } });
  });

  it('says to deploy first when the stack is not deployed', async () => {
    const error = await failure(run(readPackage(operationsPackage('ops')), context(new FakeCloudFormation()).context, ['bin/tootctl', 'help'], () => undefined));
    expect(error.message).to.equal('ops is not deployed in eu-central-1: run mastodon-cfn deploy first.');
  });
});

describe('deployer pieces', () => {
  const stream = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream };
  };

  it('on a terminal keeps one live status line and prints no event lines', () => {
    const { written, stream: tty } = stream(true);
    const reporter = terminalReporter(undefined, tty);
    reporter.status('social-prod: 3/50 resources  UPDATE_IN_PROGRESS');
    reporter.event('10:00:00  CREATE_COMPLETE  Alerts');
    reporter.status('social-prod: 4/50 resources  UPDATE_IN_PROGRESS');
    reporter.line('social-prod: deployed');
    expect(written).to.deep.equal(['⠋ social-prod: 3/50 resources  UPDATE_IN_PROGRESS', '\r\x1b[K', '⠙ social-prod: 4/50 resources  UPDATE_IN_PROGRESS', '\r\x1b[K', 'social-prod: deployed\n']);
  });

  it('off a terminal, or with --progress events, prints one plain line per event and no status', () => {
    for (const [isTTY, progress] of [[false, undefined], [true, 'events']] as const) {
      const { written, stream: out } = stream(isTTY);
      const reporter = terminalReporter(progress, out);
      reporter.status('social-prod: 3/50 resources');
      reporter.event('10:00:00  CREATE_COMPLETE  Alerts');
      expect(written).to.deep.equal(['10:00:00  CREATE_COMPLETE  Alerts\n']);
    }
  });

  it('knows which upgrades Mastodon allows', () => {
    expect(upgradeProblem('v4.3.1', 'v4.3.5')).to.equal(undefined);
    expect(upgradeProblem('v4.3.1', 'v4.4.0')).to.equal(undefined);
    expect(upgradeProblem('v4.5.2', 'v4.5.2')).to.equal(undefined);
    expect(upgradeProblem('v4.5.2', 'v5.0.0')).to.equal(undefined);
    expect(upgradeProblem('v4.5.2', 'v4.4.9')).to.match(/cannot be downgraded/);
    expect(upgradeProblem('v4.3.1', 'v4.5.0')).to.match(/deploy the latest v4.4.x release first/);
    expect(upgradeProblem('v4.5.2', 'v5.1.0')).to.match(/deploy the latest v5.0.x release first/);
  });

  it('finds the first real failure among echoes', () => {
    expect(rootCause([event('1', 'A', 'T', 'CREATE_FAILED', 'Resource creation cancelled'), event('2', 'B', 'U', 'CREATE_FAILED', 'boom')])).to.equal('B (U): boom');
    expect(dnsValidationRecord(event('1', 'C', 'AWS::CertificateManager::Certificate', 'CREATE_IN_PROGRESS', 'no record'))).to.equal(undefined);
  });

  it('makes VAPID keys Web Push accepts: a P-256 private scalar and an uncompressed public point', () => {
    const { VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY } = vapidKeyPair();
    expect(Buffer.from(VAPID_PRIVATE_KEY, 'base64url')).to.have.length(32);
    const point = Buffer.from(VAPID_PUBLIC_KEY, 'base64url');
    expect(point).to.have.length(65);
    expect(point[0]).to.equal(4);
    expect(VAPID_PUBLIC_KEY).to.match(/^[A-Za-z0-9_-]+$/);
  });

  it('derives the SES SMTP password as AWS documents it (checked against an independent implementation)', () => {
    const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const python = spawnSync('python3', ['-c', `
import hmac, hashlib, base64, sys
def sign(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
s = sign(("AWS4" + sys.argv[1]).encode(), "11111111")
for m in (sys.argv[2], "ses", "aws4_request", "SendRawEmail"): s = sign(s, m)
print(base64.b64encode(bytes([4]) + s).decode())`, key, 'eu-central-1'], { encoding: 'utf8' });
    expect(sesSmtpPassword(key, 'eu-central-1')).to.equal(python.stdout.trim());
    expect(sesSmtpPassword(key, 'eu-central-1')).to.not.equal(sesSmtpPassword(key, 'us-east-1'));
  });

  it('retries a throttled API call with backoff (the real SDK client, against a local endpoint)', async () => {
    let requests = 0;
    const server = createServer((request, response) => {
      requests++;
      request.resume();
      request.on('end', () => {
        if (requests <= 2) {
          response.writeHead(400, { 'content-type': 'text/xml' });
          response.end('<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>');
        } else {
          response.writeHead(200, { 'content-type': 'text/xml' });
          response.end('<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>s</StackName><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-22T10:00:00Z</CreationTime></member></Stacks></DescribeStacksResult></DescribeStacksResponse>');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' });
    try {
      const result = await sdkClients().cloudFormation('eu-west-3').send(new DescribeStacksCommand({ StackName: 's' }));
      expect(result.Stacks[0].StackStatus).to.equal('CREATE_COMPLETE');
      expect(requests).to.equal(3);
    } finally {
      process.env = saved;
      server.close();
    }
  });
});

describe('change sets, as CloudFormation answers them', () => {
  const onePackage = (name: string, extra: object = {}) =>
    readPackage(writePackage([{ name, region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { Topic: { Value: { Ref: 'Alerts' } } } }, ...extra } as never]));
  const sent = async (cfn: FakeCloudFormation, command: object) => {
    try {
      await cfn.send(command);
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
    throw new Error('expected CloudFormation to refuse');
  };

  it('the stand-in refuses what CloudFormation refuses, with its errors, and answers an outputs-only and an empty change set as documented', async () => {
    const cfn = new FakeCloudFormation();
    cfn.changes = [];
    cfn.stacks.set('app', { status: 'UPDATE_COMPLETE', template: '{"Resources":{}}' });
    const create = (input: object) => new CreateChangeSetCommand({ StackName: 'app', ChangeSetName: 'mastodon-cfn', ChangeSetType: 'UPDATE', TemplateBody: '{"Resources":{},"Outputs":{"A":{"Value":"1"}}}', ...input });
    cfn.describesInProgress = 2;
    const { Id } = await cfn.send(create({ ClientToken: 'one' }));
    // Made in the background: not yet executable, nor deletable.
    expect((await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: Id }))).Status).to.equal('CREATE_IN_PROGRESS');
    expect(await sent(cfn, new DeleteChangeSetCommand({ ChangeSetName: Id }))).to.match(/^InvalidChangeSetStatusException: ChangeSet \[\S+\] cannot be deleted in its current status of \[CREATE_IN_PROGRESS\]$/);
    expect(await sent(cfn, new ExecuteChangeSetCommand({ ChangeSetName: Id }))).to.match(/^InvalidChangeSetStatusException: ChangeSet \[\S+\] cannot be executed in its current status of \[CREATE_IN_PROGRESS\]$/);
    await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: Id }));
    cfn.describesInProgress = 1;
    // Only outputs change: CREATE_COMPLETE, executable, with no Changes.
    expect(await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: 'mastodon-cfn', StackName: 'app' }))).to.deep.include({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', Changes: [] });
    expect(await sent(cfn, create({ ClientToken: 'two' }))).to.equal('AlreadyExistsException: ChangeSet mastodon-cfn cannot be created due to a mismatch with existing attribute ClientToken');
    expect((await cfn.send(create({ ClientToken: 'one' }))).Id).to.equal(Id);
    expect(await sent(cfn, new CreateChangeSetCommand({ StackName: 'app', ChangeSetName: 'mastodon_cfn', ChangeSetType: 'UPDATE' }))).to.match(/^ValidationError: .*failed to satisfy constraint/);
    await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: Id, ClientRequestToken: 'run-1' }));
    // Executed: gone, with every other change set of the stack.
    expect(await sent(cfn, new DescribeChangeSetCommand({ ChangeSetName: Id }))).to.equal(`ChangeSetNotFoundException: ChangeSet [${Id}] does not exist`);

    // The same template and parameters again: FAILED with the documented reason, and not executable.
    cfn.stacks.get('app')!.status = 'UPDATE_COMPLETE';
    const same = await cfn.send(create({ ClientToken: 'three' }));
    await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: same.Id }));
    expect(await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: same.Id }))).to.deep.include({ Status: 'FAILED', ExecutionStatus: 'UNAVAILABLE', StatusReason: NO_CHANGES_REASON });
    expect(await sent(cfn, new ExecuteChangeSetCommand({ ChangeSetName: same.Id }))).to.match(/^InvalidChangeSetStatusException: ChangeSet \[\S+\] cannot be executed in its current status of \[FAILED\]$/);

    for (const status of ['DELETE_FAILED', 'IMPORT_ROLLBACK_FAILED', 'CREATE_FAILED', 'ROLLBACK_COMPLETE', 'UPDATE_IN_PROGRESS']) {
      cfn.stacks.set('stuck', { status });
      expect(await sent(cfn, new CreateChangeSetCommand({ StackName: 'stuck', ChangeSetName: 'mastodon-cfn', ChangeSetType: 'UPDATE', TemplateBody: '{}' }))).to.match(new RegExp(`^ValidationError: Stack:\\S+ is in ${status} state and can not be updated\\.$`));
    }
    expect(await sent(cfn, new CreateChangeSetCommand({ StackName: 'app', ChangeSetName: 'other', ChangeSetType: 'CREATE', TemplateBody: '{}' }))).to.equal('ValidationError: Stack [app] already exists and cannot be created again with the changeSet [other].');
  });

  it('executes a change set that changes only outputs; "no changes" is only the FAILED no-changes answer, whose change set is deleted', async () => {
    const cfn = new FakeCloudFormation();
    cfn.changes = [];
    cfn.stacks.set('outs', { status: 'UPDATE_COMPLETE', outputs: { Old: 'x' } });
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE', outputs: { Topic: 'arn:aws:sns:eu-central-1:123456789012:alerts' } };
    const first = context(cfn);
    await deploy(onePackage('outs'), first.context, options);
    expect(cfn.called('ExecuteChangeSet')).to.have.length(1);
    expect(first.reporter.lines).to.include('Changes to outs: no resource changes (its outputs or other stack settings change)');
    expect(first.reporter.lines).to.include('outs: deployed');
    expect(first.reporter.lines).to.include('Outputs of outs:\n  Topic  arn:aws:sns:eu-central-1:123456789012:alerts');

    const again = context(cfn);
    await deploy(onePackage('outs'), again.context, options);
    expect(again.reporter.lines).to.include('outs (eu-central-1): no changes');
    expect(cfn.called('ExecuteChangeSet')).to.have.length(1);
    expect(cfn.changeSetsOf('outs')).to.deep.equal([]);
  });

  it('diff deletes every change set it makes: outputs only, data loss, no changes, and one CloudFormation rejected', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('look', { status: 'UPDATE_COMPLETE' });
    for (const changes of [[], [{ Action: 'Remove', LogicalResourceId: 'Data', ResourceType: 'AWS::DynamoDB::Table' }]] as const) {
      cfn.changes = [...changes];
      const { reporter, context: ctx } = context(cfn);
      await diff(onePackage('look'), ctx);
      expect(reporter.lines.join('\n')).to.match(changes.length ? /Deploy would refuse look/ : /no resource changes/);
      expect(cfn.changeSetsOf('look')).to.deep.equal([]);
    }
    cfn.changeSetFailure = 'Template error: instance of Fn::GetAtt references undefined resource Nope';
    expect((await failure(diff(onePackage('look'), context(cfn).context))).message).to.equal('look: CloudFormation rejected the change set: Template error: instance of Fn::GetAtt references undefined resource Nope');
    expect(cfn.changeSetsOf('look')).to.deep.equal([]);
    expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);
  });

  it('counts an action Dynamic on a stateful resource as a possible replacement', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('dyn', { status: 'UPDATE_COMPLETE' });
    cfn.changes = [
      { Action: 'Dynamic', LogicalResourceId: 'DatabaseCluster', ResourceType: 'AWS::RDS::DBCluster' },
      { Action: 'Dynamic', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic' },
    ];
    const error = await failure(deploy(onePackage('dyn', { statefulResources: [{ logicalId: 'DatabaseCluster', type: 'AWS::RDS::DBCluster' }] }), context(cfn).context, options));
    expect(error.message).to.include('  DatabaseCluster (AWS::RDS::DBCluster): would possibly replace it\n');
    expect(error.message).to.not.include('Alerts');
    expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);
    expect(cfn.changeSetsOf('dyn')).to.deep.equal([]);
  });

  it('makes one change set per stack, named mastodon-cfn: a failed one is deleted, one an earlier run left is replaced', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('one', { status: 'UPDATE_COMPLETE' });
    cfn.changeSetFailure = 'Parameter values specified for a template which does not require them.';
    await failure(deploy(onePackage('one'), context(cfn).context, options));
    expect(cfn.changeSetsOf('one')).to.deep.equal([]);

    // A run killed at its prompt an hour ago left an executable change set.
    cfn.changeSetFailure = undefined;
    await cfn.send(new CreateChangeSetCommand({ StackName: 'one', ChangeSetName: 'mastodon-cfn', ChangeSetType: 'UPDATE', TemplateBody: '{"left":true}' }));
    cfn.changeSets[0].creationTime = new Date(Date.now() - 60 * 60_000);
    cfn.changeSets[0].describesInProgress = 0;
    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE' };
    await deploy(onePackage('one'), context(cfn).context, options);
    expect(cfn.called('CreateChangeSet').map((c) => c.input.ChangeSetName)).to.deep.equal(['mastodon-cfn', 'mastodon-cfn', 'mastodon-cfn']);
    expect(cfn.called('DeleteChangeSet')).to.have.length(2);
    expect(cfn.called('ExecuteChangeSet')[0].input.ClientRequestToken).to.match(/^mastodon-cfn-[0-9a-f-]{36}$/);
    expect(cfn.called('CreateChangeSet').at(-1)!.input.ClientToken).to.match(/^mastodon-cfn-[0-9a-f-]{36}$/);
  });

  it('refuses, and deletes nothing, while a recent change set may belong to another deploy: on a deployed stack and on a new one under review', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('busy', { status: 'UPDATE_COMPLETE' });
    await cfn.send(new CreateChangeSetCommand({ StackName: 'busy', ChangeSetName: 'mastodon-cfn', ChangeSetType: 'UPDATE', TemplateBody: '{"theirs":true}' }));
    cfn.changeSets[0].describesInProgress = 0;
    const error = await failure(deploy(onePackage('busy'), context(cfn).context, options));
    expect(error.message).to.match(/^busy has change set mastodon-cfn, made 1 minute ago: another deploy or diff of it may still be running \(or waiting for its confirmation\)\. Let it finish, then run this again; if none is running, delete it: aws cloudformation delete-change-set --change-set-name mastodon-cfn --stack-name busy --region eu-central-1$/);
    expect(cfn.changeSetsOf('busy')).to.have.length(1);

    // Another first deploy, waiting at its prompt: its stack is REVIEW_IN_PROGRESS.
    await cfn.send(new CreateChangeSetCommand({ StackName: 'fresh', ChangeSetName: 'mastodon-cfn', ChangeSetType: 'CREATE', TemplateBody: '{"theirs":true}' }));
    cfn.changeSets[1].describesInProgress = 0;
    const racing = await failure(deploy(onePackage('fresh'), context(cfn).context, options));
    expect(racing.message).to.include('if none is running, delete the empty stack: aws cloudformation delete-stack --stack-name fresh --region eu-central-1');
    expect(cfn.called('DeleteStack')).to.deep.equal([]);
    expect(cfn.stacks.get('fresh')!.status).to.equal('REVIEW_IN_PROGRESS');
  });

  for (const [status, advice] of [
    ['DELETE_FAILED', 'a deletion could not delete all its resources, and CloudFormation updates it no more. Its events name what is left (aws cloudformation describe-stack-events --stack-name stuck --region eu-central-1); deal with that, finish the deletion with mastodon-cfn remove, then deploy again.'],
    ['IMPORT_ROLLBACK_FAILED', 'CloudFormation updates a stack in this state no more. Its events name the cause (aws cloudformation describe-stack-events --stack-name stuck --region eu-central-1); bring it back to a stable state, then deploy again.'],
    ['CREATE_FAILED', 'it was deployed with rollback disabled and stopped at a failure. Roll it back first (aws cloudformation rollback-stack --stack-name stuck --region eu-central-1), then deploy again.'],
  ]) {
    it(`says what to do with a ${status} stack instead of sending it an UPDATE change set`, async () => {
      const cfn = new FakeCloudFormation();
      cfn.stacks.set('stuck', { status });
      const error = await failure(deploy(onePackage('stuck'), context(cfn).context, options));
      expect(error.message).to.equal(`stuck is ${status}: ${advice}`);
      expect(cfn.called('CreateChangeSet')).to.deep.equal([]);
    });
  }

  it('follows only the events of its own operation, told by its ClientRequestToken', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('tok', { status: 'UPDATE_COMPLETE' });
    cfn.execution = { events: [event('1', 'Alerts', 'AWS::SNS::Topic', 'UPDATE_COMPLETE'), { ...event('2', 'Other', 'AWS::SNS::Topic', 'CREATE_FAILED', 'not ours'), ClientRequestToken: 'Console-UpdateStack-0a1b' }], finalStatus: 'UPDATE_COMPLETE' };
    const { reporter, context: ctx } = context(cfn);
    await deploy(onePackage('tok'), ctx, options);
    expect(reporter.lines.join('\n')).to.include('UPDATE_COMPLETE  Alerts');
    expect(reporter.lines.join('\n')).to.not.include('not ours');
  });

  it('turns deletion protection on before it fills the generated secrets: a failure there leaves the new database protected', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: { ...createdOutputs, MastodonSecretsArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:m' } };
    const rds = new FakeApi({ ModifyDBCluster: () => ({}) });
    const secrets = new FakeApi({
      GetSecretValue: () => {
        throw Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
      },
    });
    const pkg = onePackage('guarded', {
      deletionProtection: { parameter: 'DatabaseDeletionProtection', clusterOutput: 'DatabaseClusterId' },
      generatedSecrets: { MastodonSecretsArn: 'mastodon-secrets' },
      template: { Parameters: { DatabaseDeletionProtection: { Type: 'String' } }, Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { P: { Value: { Ref: 'DatabaseDeletionProtection' } } } },
    });
    const error = await deploy(pkg, context(cfn, {}, { rds: () => rds, secretsManager: () => secrets }).context, options).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).to.equal('AccessDeniedException');
    expect(rds.calls).to.deep.equal([{ name: 'ModifyDBCluster', input: { DBClusterIdentifier: 'ops-db', DeletionProtection: true, ApplyImmediately: true } }]);
  });
});

describe('Ctrl-C while deploying: exit code 130, and nothing left behind', () => {
  const onePackage = (name: string) => readPackage(writePackage([{ name, region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } } }]));

  for (const deployedBefore of [false, true]) {
    it(`while the change set of a ${deployedBefore ? 'deployed' : 'new'} stack is being made: the change set is deleted once CloudFormation lets it be${deployedBefore ? '' : ', and the empty stack with it'}`, async () => {
      const cfn = new FakeCloudFormation();
      if (deployedBefore) cfn.stacks.set('slow', { status: 'UPDATE_COMPLETE' });
      cfn.describesInProgress = 1_000;
      const interrupt = new AbortController();
      const { context: ctx } = context(cfn, { polling: { initialMs: 5, maxMs: 5, signal: interrupt.signal } });
      setTimeout(() => {
        interrupt.abort();
        // CloudFormation finishes making it a moment later.
        setTimeout(() => (cfn.changeSets[0].describesInProgress = 0), 20);
      }, 30);
      const error = await failure(deploy(onePackage('slow'), ctx, options));
      expect(error.exitCode).to.equal(130);
      expect(error.message).to.equal(`Interrupted: slow ${deployedBefore ? 'was left as it was' : 'was not created'}; no change set is left behind.`);
      expect(cfn.changeSets).to.deep.equal([]);
      expect(cfn.stacks.has('slow')).to.equal(deployedBefore);
      expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);
    });
  }

  it('at the confirmation prompt: the change set and the empty new stack are deleted', async () => {
    const cfn = new FakeCloudFormation();
    const { context: ctx } = context(cfn, {
      confirm: async () => {
        throw new Interrupted();
      },
    });
    const error = await failure(deploy(onePackage('asked'), ctx, options));
    expect(error.exitCode).to.equal(130);
    expect(error.message).to.equal('Interrupted: asked was not created; its change set was deleted.');
    expect(cfn.changeSets).to.deep.equal([]);
    expect(cfn.stacks.has('asked')).to.equal(false);
  });
});

describe('Ctrl-C while removing', () => {
  it('stops following the deletion, says CloudFormation goes on deleting, and exits 130', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('gone', { status: 'UPDATE_COMPLETE' });
    const send = cfn.send.bind(cfn);
    // CloudFormation takes its time: the stack stays DELETE_IN_PROGRESS.
    cfn.send = async (command: object) => (command.constructor.name === 'DeleteStackCommand' ? ((cfn.stacks.get('gone')!.status = 'DELETE_IN_PROGRESS'), {}) : send(command));
    const interrupt = new AbortController();
    setTimeout(() => interrupt.abort(), 30);
    const pkg = readPackage(writePackage([{ name: 'gone', region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } } }]));
    const error = await failure(remove(pkg, context(cfn, { polling: { initialMs: 5, maxMs: 5, signal: interrupt.signal } }).context));
    expect(error.exitCode).to.equal(130);
    expect(error.message).to.match(/^Stopped following gone; CloudFormation goes on deleting it\./);
  });
});

describe('a package the deployer is given: only its own files, each a template', () => {
  const edited = (edit: (manifest: any, directory: string) => void) => {
    const directory = twoRegionPackage('edited');
    const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8'));
    edit(manifest, directory);
    writeFileSync(join(directory, 'manifest.json'), JSON.stringify(manifest));
    return directory;
  };
  const refusal = (read: () => unknown) => {
    try {
      read();
    } catch (error) {
      expect(error).to.be.instanceOf(MastodonCfnError);
      return (error as MastodonCfnError).message;
    }
    throw new Error('the package was taken');
  };

  it('refuses a templateFile outside the package folder, before reading it', () => {
    for (const templateFile of ['../../../../etc/passwd', '/etc/passwd', 'sub/x.template.json', '..']) {
      const directory = edited((manifest) => (manifest.stacks[0].templateFile = templateFile));
      expect(refusal(() => readPackage(directory))).to.include(`templateFile must name a file in the package folder, not ${JSON.stringify(templateFile)}`);
    }
  });

  it('refuses a template that is not JSON, or not an object, naming the file: a user error, not a bug', () => {
    const directory = twoRegionPackage('broken');
    const pkg = readPackage(directory);
    const file = join(directory, pkg.stacks[0].templateFile);
    const original = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, '{broken');
      expect(refusal(() => pkg.template(pkg.stacks[0]))).to.match(/broken-certificates\.template\.json is not valid JSON .*build again/);
      writeFileSync(file, '[]');
      expect(refusal(() => pkg.template(pkg.stacks[0]))).to.include('is not a CloudFormation template');
    } finally {
      // Every package is linted at the end of the run.
      writeFileSync(file, original);
    }
  });

  it('refuses a manifest of another version instead of reading it as one without stacks', () => {
    const directory = edited((manifest) => (manifest.manifestVersion = 99));
    expect(refusal(() => readPackage(directory))).to.include('manifestVersion 99, expected 1');
  });
});
