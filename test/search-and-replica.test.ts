import { expect } from 'chai';
import { readPackage } from '../src/deployer/manifest.js';
import { preflight } from '../src/deployer/preflight.js';
import { buildSearchIndexOnce } from '../src/deployer/search.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { SEARCH_DEPLOY_COMMAND } from '../src/mastodon/facts.js';
import { buildConfig, minimalYaml, problemsOf } from './support/build.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { writePackage } from './support/packages.js';

type Resources = Record<string, any>;
/** Every Rails container of the Mastodon services (web and Sidekiq) and of the one-off tasks. */
const railsContainers = (main: Resources) =>
  Object.values(main)
    .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
    .flatMap((r) => r.Properties.ContainerDefinitions as any[])
    .filter((c) => c.Image.startsWith('ghcr.io/mastodon/mastodon:') && c.Name !== 'metrics');
const environmentOf = (c: any) => Object.fromEntries(c.Environment.map((e: any) => [e.Name, e.Value]));

describe('database.readReplica: reads on a replica, through Mastodon\'s own replica settings', () => {
  it('adds a second Aurora Serverless v2 instance and sends Rails its reader endpoint (REPLICA_DB_*, config/database.yml)', () => {
    const built = buildConfig({ yaml: minimalYaml('database: { readReplica: true }\n') });
    const main = built.resources();
    // No data of its own: deleted and replaced like compute, and not among the resources the deployer guards.
    expect(main.DatabaseReaderInstance).to.deep.include({ Type: 'AWS::RDS::DBInstance', DependsOn: 'DatabaseInstance', DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.include('DatabaseCluster').and.not.include('DatabaseReaderInstance');
    expect(main.DatabaseReaderInstance.Properties).to.deep.include({ DBClusterIdentifier: { Ref: 'DatabaseCluster' }, DBInstanceClass: 'db.serverless', PubliclyAccessible: false, PromotionTier: 1 });
    for (const container of railsContainers(main)) {
      expect(environmentOf(container), container.Name).to.deep.include({
        REPLICA_DB_NAME: 'mastodon',
        REPLICA_DB_HOST: { 'Fn::GetAtt': ['DatabaseCluster', 'ReadEndpoint.Address'] },
        REPLICA_DB_PORT: { 'Fn::GetAtt': ['DatabaseCluster', 'Endpoint.Port'] },
      });
      // User and password fall back to DB_USER and DB_PASS: no second secret.
      expect(environmentOf(container), container.Name).to.not.have.any.keys('REPLICA_DB_USER', 'REPLICA_DB_PASS');
    }
    // Each Serverless v2 instance bills its own ACUs.
    expect(built.estimate.lines.find((l) => l.resource === 'DatabaseCluster')).to.deep.include({ item: 'Aurora Serverless v2 at its minimum capacity (2 instances)', quantity: 730 });
  });

  it('at size small, an RDS read replica of the instance, priced as an instance with its storage', () => {
    const built = buildConfig({ yaml: minimalYaml('size: small\ndatabase: { readReplica: true }\n') });
    const main = built.resources();
    expect(main.PostgresReplica.Properties).to.deep.include({ SourceDBInstanceIdentifier: { Ref: 'PostgresInstance' }, DBInstanceClass: 'db.t4g.micro', StorageType: 'gp3', PubliclyAccessible: false, VPCSecurityGroups: [{ Ref: 'DatabaseSecurityGroup' }] });
    expect(main.PostgresReplica.Properties).to.not.have.any.keys('MasterUserPassword', 'DBName', 'MasterUsername', 'DBSubnetGroupName');
    // RDS takes no final snapshot of a replica: it is deleted with the rest.
    expect([main.PostgresReplica.DeletionPolicy, main.PostgresReplica.UpdateReplacePolicy]).to.deep.equal(['Delete', 'Delete']);
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.include('PostgresInstance').and.not.include('PostgresReplica');
    expect(environmentOf(railsContainers(main)[0])).to.deep.include({ REPLICA_DB_HOST: { 'Fn::GetAtt': ['PostgresReplica', 'Endpoint.Address'] } });
    expect(built.estimate.lines.filter((l) => l.resource === 'PostgresReplica').map((l) => l.item)).to.deep.equal(['RDS for PostgreSQL db.t4g.micro read replica, single-AZ', 'gp3 storage']);
  });

  it('sets nothing of the replica without the key', () => {
    const main = buildConfig({ yaml: minimalYaml() }).resources();
    expect(main).to.not.have.any.keys('DatabaseReaderInstance', 'PostgresReplica');
    for (const container of railsContainers(main)) expect(Object.keys(environmentOf(container)).filter((name) => name.startsWith('REPLICA_'))).to.deep.equal([]);
  });
});

describe('search: an OpenSearch domain in the VPC, for Mastodon\'s full-text search', () => {
  it('is reachable on HTTPS from the Mastodon tasks only, encrypted, with its master password in a kept secret and never in a template', () => {
    const built = buildConfig({ yaml: minimalYaml('search: {}\n') });
    const main = built.resources();
    const domain = main.SearchDomain.Properties;
    expect(domain).to.deep.include({
      EngineVersion: 'OpenSearch_2.19',
      ClusterConfig: { InstanceType: 't3.small.search', InstanceCount: 1, ZoneAwarenessEnabled: false },
      EBSOptions: { EBSEnabled: true, VolumeType: 'gp3', VolumeSize: 10 },
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
      VPCOptions: { SubnetIds: [{ Ref: 'PublicSubnet1' }], SecurityGroupIds: [{ Ref: 'SearchSecurityGroup' }] },
    });
    expect(domain.AdvancedSecurityOptions.MasterUserOptions.MasterUserPassword).to.deep.equal({ 'Fn::Sub': '{{resolve:secretsmanager:${SearchCredentialsArn}:SecretString:password}}' });
    expect(main.SearchSecurityGroup.Properties.SecurityGroupIngress).to.deep.equal([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourceSecurityGroupId: { Ref: 'TaskSecurityGroup' }, Description: 'HTTPS from the Mastodon tasks' }]);
    const secret = built.template('secrets').Resources!.SearchCredentials as any;
    expect([secret.DeletionPolicy, secret.Properties.Name]).to.deep.equal(['Retain', 'mastodon-cfn/social-prod/search']);
    expect(secret.Properties.GenerateSecretString).to.deep.include({ GenerateStringKey: 'password', RequireEachIncludedType: true });
    for (const container of railsContainers(main)) {
      expect(environmentOf(container), container.Name).to.deep.include({ ES_ENABLED: 'true', ES_HOST: { 'Fn::Sub': 'https://${SearchDomain.DomainEndpoint}' }, ES_PORT: '443', ES_USER: 'mastodon', ES_PRESET: 'single_node_cluster' });
      expect(container.Secrets.find((s: any) => s.Name === 'ES_PASS').ValueFrom, container.Name).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'SearchCredentialsArn' }, ':password::']] });
    }
    expect(JSON.stringify(main.MastodonExecutionRole.Properties.Policies)).to.include('"Ref":"SearchCredentialsArn"');
    expect(built.manifest.stacks[2].searchIndex).to.deep.equal({ description: 'search index (tootctl search deploy)', command: [...SEARCH_DEPLOY_COMMAND], domainOutput: 'SearchDomainArn', credentialsSecret: 'mastodon-cfn/social-prod/search', mastodonVersion: 'v4.5.2' });
  });

  it('spreads an even count of nodes over two availability zones, each index with a replica (ES_PRESET small_cluster)', () => {
    const main = buildConfig({ yaml: minimalYaml('search: { instanceCount: 2, volumeGb: 20, instanceType: m6g.large.search }\n') }).resources();
    expect(main.SearchDomain.Properties.ClusterConfig).to.deep.equal({ InstanceType: 'm6g.large.search', InstanceCount: 2, ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } });
    expect(main.SearchDomain.Properties.VPCOptions.SubnetIds).to.deep.equal([{ Ref: 'PublicSubnet1' }, { Ref: 'PublicSubnet2' }]);
    expect(environmentOf(railsContainers(main)[0])).to.include({ ES_PRESET: 'small_cluster' });
    // Two zones take an even count of nodes: 3 would fail to create.
    expect(problemsOf('search: { instanceCount: 3 }\n')).to.deep.equal(['search.instanceCount: must be one of 1, 2, 4, 6; got 3']);
  });

  it('without the key, Mastodon gets no ES_* setting and no domain is made', () => {
    const built = buildConfig({ yaml: minimalYaml() });
    expect(built.resources()).to.not.have.any.keys('SearchDomain', 'SearchSecurityGroup');
    for (const container of railsContainers(built.resources())) expect(Object.keys(environmentOf(container)).filter((name) => name.startsWith('ES_'))).to.deep.equal([]);
    expect(built.manifest.stacks[2]).to.not.have.property('searchIndex');
  });

  describe('the deployer', () => {
    const oneOffTask = { outputs: { cluster: 'ClusterName', taskDefinition: 'PostDeploymentMigrationTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' }, capacityProvider: 'FARGATE', container: 'migrate' };
    const search = { description: 'search index (tootctl search deploy)', command: [...SEARCH_DEPLOY_COMMAND], domainOutput: 'SearchDomainArn', credentialsSecret: 'mastodon-cfn/ops/search', mastodonVersion: 'v4.3.23' };
    const outputs = (domain: string) => ({ ClusterName: 'ops', PostDeploymentMigrationTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/ops-migrations:3', TaskSubnets: 'subnet-1', TaskSecurityGroup: 'sg-1', MastodonLogGroup: '/mastodon-cfn/ops/mastodon', SearchDomainArn: domain });
    const taskArn = 'arn:aws:ecs:eu-central-1:123456789012:task/ops/0a1b2c3d4e5f';
    const ecs = (exitCode: number) =>
      new FakeApi({
        RunTask: () => ({ tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] }),
        DescribeTasks: () => ({ tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'migrate', exitCode }] }] }),
      });
    const secretsManager = () => {
      const tags = new Map<string, string>();
      return new FakeApi({
        DescribeSecret: () => ({ Name: search.credentialsSecret, Tags: [...tags].map(([Key, Value]) => ({ Key, Value })) }),
        TagResource: ({ Tags }: { Tags: { Key: string; Value: string }[] }) => {
          for (const tag of Tags) tags.set(tag.Key, tag.Value);
          return {};
        },
      });
    };
    const here = { name: 'ops', region: 'eu-central-1' };
    const polling = { initialMs: 1, maxMs: 1 };
    const DOMAIN = 'arn:aws:es:eu-central-1:123456789012:domain/search-ops-a1b2c3';

    it('builds the index once for each domain and release with tootctl search deploy in the one-off task, and marks it on the secret', async () => {
      const secrets = secretsManager();
      const tasks = ecs(0);
      await buildSearchIndexOnce({ ecs: tasks, secretsManager: secrets }, search, oneOffTask, outputs(DOMAIN), here, recordingReporter(), polling);
      const runs = tasks.calls.filter((c) => c.name === 'RunTask');
      expect(runs.map((c) => c.input.overrides.containerOverrides)).to.deep.equal([[{ name: 'migrate', command: ['bin/tootctl', 'search', 'deploy'] }]]);
      expect(runs[0].input.taskDefinition).to.equal(outputs(DOMAIN).PostDeploymentMigrationTaskDefinition);
      // Later deploys leave the index to Mastodon.
      await buildSearchIndexOnce({ ecs: tasks, secretsManager: secrets }, search, oneOffTask, outputs(DOMAIN), here, recordingReporter(), polling);
      expect(tasks.calls.filter((c) => c.name === 'RunTask')).to.have.length(1);
      // An upgrade may change an index's definition (4.4's accounts index): tootctl rebuilds what changed.
      await buildSearchIndexOnce({ ecs: tasks, secretsManager: secrets }, { ...search, mastodonVersion: 'v4.4.22' }, oneOffTask, outputs(DOMAIN), here, recordingReporter(), polling);
      expect(tasks.calls.filter((c) => c.name === 'RunTask')).to.have.length(2);
      // A domain made anew is empty: it is indexed again.
      await buildSearchIndexOnce({ ecs: tasks, secretsManager: secrets }, { ...search, mastodonVersion: 'v4.4.22' }, oneOffTask, outputs(`${DOMAIN}-new`), here, recordingReporter(), polling);
      expect(tasks.calls.filter((c) => c.name === 'RunTask')).to.have.length(3);
    });

    it('a failed run says where its log is and is not marked, so the next deploy runs it again', async () => {
      const secrets = secretsManager();
      const error = await buildSearchIndexOnce({ ecs: ecs(1), secretsManager: secrets }, search, oneOffTask, outputs(DOMAIN), here, recordingReporter(), polling).then(
        () => undefined,
        (e: MastodonCfnError) => e,
      );
      expect(error?.message).to.include('the search index (tootctl search deploy) failed: migrate exited with code 1');
      expect(secrets.calls.map((c) => c.name)).to.deep.equal(['DescribeSecret']);
    });

    it("makes OpenSearch's service-linked role before the first change set when the account has none, and takes IAM's \"has been taken\" as there", async () => {
      const pkg = readPackage(writePackage([{ name: 'ops', region: 'eu-central-1', dependsOn: [], template: { Resources: { Topic: { Type: 'AWS::SNS::Topic' } } }, searchIndex: search } as never]));
      const sts = new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ops' }) });
      const taken = Object.assign(new Error('Service role name AWSServiceRoleForAmazonOpenSearchService has been taken in this account, please try a different suffix.'), { name: 'InvalidInputException' });
      for (const [answer, expected] of [
        [() => ({ Role: { RoleName: 'AWSServiceRoleForAmazonOpenSearchService' } }), 'Created the service-linked role of opensearchservice.amazonaws.com in the account (a search domain in a VPC needs it)'],
        [() => Promise.reject(taken), undefined],
      ] as const) {
        const iam = new FakeApi({ CreateServiceLinkedRole: answer });
        const reporter = recordingReporter();
        await preflight(pkg, fakeClients({ sts: () => sts, iam: () => iam }), reporter);
        expect(iam.calls).to.deep.equal([{ name: 'CreateServiceLinkedRole', input: { AWSServiceName: 'opensearchservice.amazonaws.com' } }]);
        expect(reporter.lines.filter((line) => line.includes('service-linked'))).to.deep.equal(expected ? [expected] : []);
      }
      // Any other refusal is the user's to fix: it is not swallowed.
      const denied = Object.assign(new Error('User is not authorized to perform: iam:CreateServiceLinkedRole'), { name: 'AccessDenied' });
      const refused = await preflight(pkg, fakeClients({ sts: () => sts, iam: () => new FakeApi({ CreateServiceLinkedRole: () => Promise.reject(denied) }) }), recordingReporter()).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(refused).to.equal(denied);
    });
  });
});
