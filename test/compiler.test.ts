import { expect } from 'chai';
import { join } from 'node:path';
import { readConfig as readPostblogConfig } from '../postblog/src/config.js';
import { MASTODON_SECRET_KEYS } from '../src/compiler/secrets.js';
import { buildConfig, grantedBy, minimalYaml, REPO_ROOT, type TestBuild } from './support/build.js';

type Resources = ReturnType<TestBuild['resources']>;
const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
/** The ECS services of Mastodon's own processes (side services are Service<Name>Service). */
const mastodonServices = (resources: Resources) => Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::ECS::Service' && !id.startsWith('Service')).map(([, r]) => r);
/** Every container of the Mastodon services' tasks, whatever the size lays them out in. */
const containers = (resources: Resources) => mastodonServices(resources).flatMap((service) => resources[service.Properties.TaskDefinition.Ref].Properties.ContainerDefinitions as any[]);
const container = (resources: Resources, name: string) => containers(resources).find((c) => c.Name === name);

describe('compiler: the reference configuration', () => {
  let built: TestBuild;
  let main: Resources;
  before(() => {
    built = buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });
    main = built.resources('main');
  });

  it('writes three stacks in deploy order: certificates in us-east-1, secrets and main in the home region', () => {
    expect(built.manifest.stacks.map((s) => [s.name, s.region])).to.deep.equal([
      ['social-prod-certificates', 'us-east-1'],
      ['social-prod-secrets', 'eu-central-1'],
      ['social-prod', 'eu-central-1'],
    ]);
    const mainEntry = built.manifest.stacks[2];
    expect(mainEntry.dependsOn).to.deep.equal(['social-prod-certificates', 'social-prod-secrets']);
    expect(mainEntry.parameters.MediaCertificateArn).to.deep.equal({ stack: 'social-prod-certificates', output: 'MediaCertificateArn' });
    expect(mainEntry.mastodonVersion).to.equal('v4.5.2');
    expect(mainEntry.tags).to.include({ owner: 'ops@example.com', 'mastodon-cfn:stage': 'prod' });
  });

  it('routes web to :3000 /health and streaming to :4000, for /api/v1/streaming and everything below it', () => {
    expect(main.WebTargetGroup.Properties).to.include({ Port: 3000, HealthCheckPath: '/health', TargetType: 'ip' });
    expect(main.StreamingTargetGroup.Properties).to.include({ Port: 4000, HealthCheckPath: '/api/v1/streaming/health' });
    const rule = main.StreamingListenerRule.Properties;
    expect(rule.Conditions[0].PathPatternConfig.Values).to.have.members(['/api/v1/streaming', '/api/v1/streaming/*']);
    expect(rule.Actions[0].TargetGroupArn).to.deep.equal({ Ref: 'StreamingTargetGroup' });
  });

  it('redirects HTTP to HTTPS with a 301 and serves HTTPS with TLS 1.2+ and the instance certificate', () => {
    const http = main.HttpListener.Properties;
    expect(http.Port).to.equal(80);
    expect(http.DefaultActions[0].RedirectConfig).to.deep.equal({ Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' });
    const https = main.HttpsListener.Properties;
    expect(https).to.include({ Port: 443, Protocol: 'HTTPS', SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' });
    expect(https.Certificates).to.deep.equal([{ CertificateArn: { Ref: 'InstanceCertificate' } }]);
    expect(https.DefaultActions[0]).to.deep.equal({ Type: 'forward', TargetGroupArn: { Ref: 'WebTargetGroup' } });
    expect(main.InstanceCertificate.Properties).to.deep.equal({ DomainName: 'social.example.com', ValidationMethod: 'DNS' });
  });

  it('lets each tier reach only the tier behind it', () => {
    const groupRules = (id: string, direction: 'SecurityGroupIngress' | 'SecurityGroupEgress') => main[id].Properties[direction] as any[];
    expect(groupRules('LoadBalancerSecurityGroup', 'SecurityGroupIngress').map((r) => [r.FromPort, r.CidrIp])).to.deep.equal([[80, '0.0.0.0/0'], [443, '0.0.0.0/0']]);
    const taskIngress = groupRules('TaskSecurityGroup', 'SecurityGroupIngress');
    expect(taskIngress.map((r) => r.FromPort)).to.deep.equal([3000, 4000]);
    for (const rule of taskIngress) expect(rule.SourceSecurityGroupId).to.deep.equal({ Ref: 'LoadBalancerSecurityGroup' });
    expect(groupRules('DatabaseSecurityGroup', 'SecurityGroupIngress')).to.deep.equal([{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, SourceSecurityGroupId: { Ref: 'TaskSecurityGroup' }, Description: 'PostgreSQL from the tasks' }]);
    expect(groupRules('CacheSecurityGroup', 'SecurityGroupIngress').map((r) => [r.FromPort, r.SourceSecurityGroupId])).to.deep.equal([[6379, { Ref: 'TaskSecurityGroup' }]]);
    // No tier behind the load balancer may send anywhere it likes; the load balancer sends only to the tasks.
    for (const id of ['LoadBalancerSecurityGroup', 'DatabaseSecurityGroup', 'CacheSecurityGroup']) {
      expect(groupRules(id, 'SecurityGroupEgress').every((r) => r.CidrIp === '255.255.255.255/32'), id).to.equal(true);
    }
    const balancerEgress = ofType(main, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) => r.Properties.GroupId.Ref === 'LoadBalancerSecurityGroup');
    expect(balancerEgress.map(([, r]) => [r.Properties.FromPort, r.Properties.DestinationSecurityGroupId.Ref])).to.have.deep.members([[3000, 'TaskSecurityGroup'], [4000, 'TaskSecurityGroup'], [8000, 'ServicePostblogSecurityGroup']]);
    // The tasks reach every TCP port (federation on any port), the database and the cache among them.
    expect(groupRules('TaskSecurityGroup', 'SecurityGroupEgress')).to.deep.equal([{ IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, CidrIp: '0.0.0.0/0', Description: 'Any TCP port: federation, link previews, the database, the cache, SES' }]);
  });

  it('creates a VPC with public subnets and no NAT gateway', () => {
    expect(main.Vpc).to.exist;
    expect(ofType(main, 'AWS::EC2::Subnet')).to.have.length(2);
    expect(ofType(main, 'AWS::EC2::NatGateway')).to.have.length(0);
    for (const service of mastodonServices(main)) expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).to.equal('ENABLED');
  });

  it('runs Aurora Serverless v2 with the configured capacity, encrypted, protected and snapshotted', () => {
    const cluster = main.DatabaseCluster;
    expect(cluster.Properties).to.include({ Engine: 'aurora-postgresql', StorageEncrypted: true });
    expect(cluster.Properties.ServerlessV2ScalingConfiguration).to.deep.equal({ MinCapacity: 0.5, MaxCapacity: 1 });
    expect([cluster.DeletionPolicy, cluster.UpdateReplacePolicy]).to.deep.equal(['Snapshot', 'Snapshot']);
    expect(main.DatabaseInstance.Properties.DBInstanceClass).to.equal('db.serverless');
  });

  it('keeps the data of every stateful resource on delete and on replacement', () => {
    const expected: Record<string, string> = { DatabaseCluster: 'Snapshot', Cache: 'Snapshot', MediaBucket: 'Retain' };
    for (const [id, policy] of Object.entries(expected)) expect([main[id].DeletionPolicy, main[id].UpdateReplacePolicy], id).to.deep.equal([policy, policy]);
    // Secrets with values of their own are kept; secrets derived from other resources are made again with them.
    const secrets = built.resources('secrets');
    for (const id of ['MastodonSecrets', 'DatabaseCredentials', 'ServicePostblogMastodonToken']) expect([secrets[id].DeletionPolicy, secrets[id].UpdateReplacePolicy], id).to.deep.equal(['Retain', 'Retain']);
    for (const id of ['SmtpCredentials', 'CacheAuthToken']) expect([secrets[id].DeletionPolicy, secrets[id].Properties.Name], id).to.deep.equal(['Delete', undefined]);
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.have.members(['DatabaseCluster', 'DatabaseInstance', 'Cache', 'MediaBucket', 'ServicePostblogTable']);
    expect(built.manifest.stacks[1].statefulResources.map((r) => r.logicalId)).to.have.members(['MastodonSecrets', 'DatabaseCredentials', 'ServicePostblogMastodonToken']);
  });

  it('runs the cache on the configured node, with snapshots and encryption', () => {
    expect(main.Cache.Properties).to.include({ CacheNodeType: 'cache.t3.micro', AtRestEncryptionEnabled: true, TransitEncryptionEnabled: true, SnapshotRetentionLimit: 1 });
    expect(main.Cache.Properties.AuthToken).to.deep.equal({ 'Fn::Sub': '{{resolve:secretsmanager:${CacheAuthTokenArn}:SecretString:token}}' });
  });

  it('puts every task on FARGATE_SPOT as the config asks (capacity: spot), with both capacity providers on the cluster', () => {
    expect(main.ClusterCapacityProviders.Properties.CapacityProviders).to.have.members(['FARGATE', 'FARGATE_SPOT']);
    for (const service of mastodonServices(main)) expect(service.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    // Without it, size standard keeps one web task on on-demand Fargate and the rest (Sidekiq all) on Spot.
    const defaults = buildConfig({ yaml: minimalYaml() }).resources();
    expect(defaults.WebService.Properties.CapacityProviderStrategy).to.deep.equal([
      { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
    expect(defaults.SidekiqAllService.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    for (const service of mastodonServices(main)) {
      expect(service.Properties).to.not.have.property('LaunchType');
      expect(service.DependsOn).to.include('ClusterCapacityProviders');
    }
  });

  it('migrates the database before web and sidekiq start, and rolls failed deployments back', () => {
    expect(container(main, 'migrate')).to.include({ Essential: false });
    expect(container(main, 'migrate').Command.slice(0, 4)).to.deep.equal(['bundle', 'exec', 'ruby', '-e']);
    expect(container(main, 'migrate').Command[4]).to.include('system("bundle", "exec", "rails", "db:prepare")');
    for (const name of ['web', 'sidekiq']) expect(container(main, name).DependsOn).to.deep.equal([{ ContainerName: 'migrate', Condition: 'SUCCESS' }]);
    expect(container(main, 'streaming').Image).to.equal('ghcr.io/mastodon/mastodon-streaming:v4.5.2');
    expect(container(main, 'web').Image).to.equal('ghcr.io/mastodon/mastodon:v4.5.2');
    for (const service of mastodonServices(main)) expect(service.Properties.DeploymentConfiguration.DeploymentCircuitBreaker).to.deep.equal({ Enable: true, Rollback: true });
    expect(main.MastodonLogGroup.Properties.RetentionInDays).to.equal(14);
  });

  it('keeps ECS Exec off and adds no postgres container in production', () => {
    for (const service of mastodonServices(main)) expect(service.Properties.EnableExecuteCommand).to.equal(false);
    expect(container(main, 'postgres')).to.equal(undefined);
    expect(JSON.stringify(main.MastodonTaskRole)).to.not.include('ssmmessages');
  });

  it('hands every secret to the containers through ECS Secrets, never through the environment', () => {
    for (const definition of containers(main)) {
      const environmentNames = (definition.Environment as { Name: string }[]).map((e) => e.Name);
      const secretNames = ((definition.Secrets ?? []) as { Name: string }[]).map((s) => s.Name);
      for (const name of environmentNames) expect(name).to.not.match(/PASS|SECRET|PRIVATE_KEY|ENCRYPTION|SMTP_LOGIN/);
      if (definition.Name !== 'streaming' && definition.Name !== 'metrics') {
        expect(secretNames).to.include.members([...MASTODON_SECRET_KEYS, 'SMTP_LOGIN', 'SMTP_PASSWORD', 'REDIS_URL']);
      } else {
        // Streaming reads the database and Redis; the queue-latency reporter only Redis.
        expect(secretNames).to.have.members(definition.Name === 'metrics' ? ['REDIS_URL'] : ['DB_PASS', 'REDIS_URL']);
      }
    }
    const web = container(main, 'web');
    expect(web.Secrets.find((s: any) => s.Name === 'SECRET_KEY_BASE').ValueFrom).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'MastodonSecretsArn' }, ':SECRET_KEY_BASE::']] });
    // The templates hold no secret value: the Mastodon secret is created empty and filled by the deployer.
    expect(built.resources('secrets').MastodonSecrets.Properties).to.not.have.any.keys('SecretString', 'GenerateSecretString');
    expect(built.manifest.stacks[1].generatedSecrets).to.deep.equal({ SmtpCredentialsArn: 'ses-smtp-password', MastodonSecretsArn: 'mastodon-secrets' });
    // CloudFormation generates the database password and the cache token itself: the template holds only the recipe.
    expect(built.resources('secrets').DatabaseCredentials.Properties).to.not.have.property('SecretString');
    expect(built.resources('secrets').DatabaseCredentials.Properties.GenerateSecretString).to.include({ GenerateStringKey: 'password', ExcludePunctuation: true, SecretStringTemplate: '{"username":"mastodon"}' });
  });

  it('gives Mastodon the environment it requires, with S3 ACLs off', () => {
    const environment = Object.fromEntries(container(main, 'web').Environment.map((e: any) => [e.Name, e.Value]));
    expect(environment).to.include({ LOCAL_DOMAIN: 'social.example.com', RAILS_ENV: 'production', S3_ENABLED: 'true', S3_ALIAS_HOST: 'mastodonmedia.example.com', S3_PERMISSION: '', RAILS_SERVE_STATIC_FILES: 'true', SMTP_FROM_ADDRESS: 'notifications@social.example.com', BIND: '0.0.0.0', PORT: '3000' });
    expect(environment).to.include.keys('DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'S3_BUCKET', 'S3_REGION', 'SMTP_SERVER', 'SMTP_PORT');
    const streaming = Object.fromEntries(container(main, 'streaming').Environment.map((e: any) => [e.Name, e.Value]));
    expect(Object.keys(streaming).filter((k) => !/^(DB_|REDIS_)/.test(k))).to.have.members(['NODE_ENV', 'BIND', 'PORT']);
    // 4.5 reads OTP_SECRET only to carry the two-factor secrets of a database from before 4.3 over (an import):
    // a secret of the Rails containers, never a plain variable.
    for (const definition of containers(main)) expect((definition.Environment as { Name: string }[]).map((e) => e.Name)).to.not.include('OTP_SECRET');
    expect(((container(main, 'web').Secrets ?? []) as { Name: string }[]).map((s) => s.Name)).to.include('OTP_SECRET');
  });

  it('keeps media in a private bucket read only by its CloudFront distribution', () => {
    const bucket = main.MediaBucket.Properties;
    expect(bucket.PublicAccessBlockConfiguration).to.deep.equal({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.OwnershipControls.Rules[0].ObjectOwnership).to.equal('BucketOwnerEnforced');
    const [allow] = main.MediaBucketPolicy.Properties.PolicyDocument.Statement;
    expect(allow.Principal).to.deep.equal({ Service: 'cloudfront.amazonaws.com' });
    expect(allow.Condition.StringEquals).to.have.key('AWS:SourceArn');
    const distribution = main.MediaDistribution.Properties.DistributionConfig;
    expect(distribution.Aliases).to.deep.equal(['mastodonmedia.example.com']);
    expect(distribution.PriceClass).to.equal('PriceClass_100');
    expect(distribution.DefaultCacheBehavior).to.include({ ViewerProtocolPolicy: 'redirect-to-https', Compress: true });
    expect(distribution.Origins[0].OriginAccessControlId).to.deep.equal({ 'Fn::GetAtt': ['MediaOriginAccessControl', 'Id'] });
    expect(distribution.ViewerCertificate.AcmCertificateArn).to.deep.equal({ Ref: 'MediaCertificateArn' });
    expect(ofType(main, 'AWS::IAM::User')).to.have.length(0);
    expect(JSON.stringify(main.MastodonTaskRole.Properties)).to.include('s3:PutObject');
    expect(built.resources('certificates').MediaCertificate.Properties.DomainName).to.equal('mastodonmedia.example.com');
  });

  it('gives postblog its own service, target group, host rule, certificate and log group', () => {
    expect(main.ServicePostblogTargetGroup.Properties).to.include({ Port: 8000, HealthCheckPath: '/status' });
    const rule = main.ServicePostblogListenerRule.Properties;
    expect(rule.Conditions).to.deep.equal([{ Field: 'host-header', HostHeaderConfig: { Values: ['comments.example.com'] } }]);
    expect(main.ServicePostblogCertificate.Properties.DomainName).to.equal('comments.example.com');
    expect(main.ServicePostblogListenerCertificate).to.exist;
    expect(main.ServicePostblogLogGroup.Properties.LogGroupName).to.equal('/mastodon-cfn/social-prod/postblog');
    const [definition] = main.ServicePostblogTaskDefinition.Properties.ContainerDefinitions;
    expect(definition.Environment).to.deep.include({ Name: 'MASTODON_USER', Value: 'blog' });
    // Built by deploy from ./postblog and named by digest: an unchanged build changes nothing in the template.
    expect(definition.Image).to.deep.equal({ Ref: 'ServicePostblogImage' });
    expect(built.template('main').Parameters!.ServicePostblogImage.AllowedPattern).to.equal('^[^@\\s]+@sha256:[0-9a-f]{64}$');
    const repository = built.resources('secrets').ServicePostblogRepository;
    expect(repository.Properties).to.deep.include({ RepositoryName: 'mastodon-cfn/social-prod/postblog', ImageTagMutability: 'IMMUTABLE', ImageScanningConfiguration: { ScanOnPush: true }, EmptyOnDelete: true });
    expect(JSON.parse(repository.Properties.LifecyclePolicy.LifecyclePolicyText).rules[0].selection).to.deep.equal({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 30 });
    expect(built.manifest.stacks[2].images).to.deep.equal([
      { service: 'postblog', folder: join(REPO_ROOT, 'postblog'), repository: { stack: 'secrets', output: 'ServicePostblogRepositoryUri' }, parameter: 'ServicePostblogImage', platform: 'linux/amd64', port: 8000, healthCheck: '/status' },
    ]);
  });

  it("gives postblog its store, a DynamoDB table only its task role may use, and its token from Secrets Manager", () => {
    const table = main.ServicePostblogTable;
    expect(table.Type).to.equal('AWS::DynamoDB::Table');
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).to.deep.equal(['Retain', 'Retain']);
    expect(table.Properties).to.deep.include({ BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] });
    expect(table.Properties.PointInTimeRecoverySpecification).to.deep.equal({ PointInTimeRecoveryEnabled: true });
    const [statement] = main.ServicePostblogTaskRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statement.Resource).to.deep.equal({ 'Fn::GetAtt': ['ServicePostblogTable', 'Arn'] });
    expect(statement.Action).to.include.members(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable']);
    expect(main.ServicePostblogTaskDefinition.Properties.TaskRoleArn).to.deep.equal({ 'Fn::GetAtt': ['ServicePostblogTaskRole', 'Arn'] });
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.include('ServicePostblogTable');
    const [definition] = main.ServicePostblogTaskDefinition.Properties.ContainerDefinitions;
    expect(definition.Environment.map((e: { Name: string }) => e.Name)).to.not.include('MASTODON_TOKEN');
    // @blog's token, made by the deploy (test/service-account.test.ts).
    expect(definition.Secrets).to.deep.equal([{ Name: 'MASTODON_TOKEN', ValueFrom: { 'Fn::Join': ['', [{ Ref: 'ServicePostblogMastodonTokenArn' }, ':token::']] } }]);

    // What the container gets is what postblog needs: its own settings reader accepts it.
    const environment: Record<string, string> = Object.fromEntries(definition.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, typeof e.Value === 'string' ? e.Value : 'resolved-by-cloudformation']));
    for (const secret of definition.Secrets) environment[secret.Name] = 'from-secrets-manager';
    const postblog = readPostblogConfig(environment);
    expect(postblog).to.deep.include({ port: 8000, mastodonHost: 'social.example.com', blogHost: 'blog.example.com', tableName: 'resolved-by-cloudformation' });
    expect(postblog.blogPostPattern.test('https://blog.example.com/posts/hello-world')).to.equal(true);
  });

  it('sets up SES with DKIM and SMTP credentials that never appear in a template', () => {
    expect(main.MailIdentity.Properties).to.deep.equal({ EmailIdentity: 'social.example.com', DkimSigningAttributes: { NextSigningKeyLength: 'RSA_2048_BIT' } });
    const secrets = built.resources('secrets');
    expect(secrets.SmtpAccessKey.Properties.UserName).to.deep.equal({ Ref: 'SmtpUser' });
    expect(JSON.stringify(secrets.SmtpCredentials.Properties.SecretString)).to.include('"Fn::GetAtt":["SmtpAccessKey","SecretAccessKey"]');
  });
});

describe('compiler: variations', () => {
  it('builds the smallest config with every default', () => {
    const built = buildConfig({ yaml: minimalYaml() });
    expect(built.config.provider).to.deep.include({ region: 'us-east-1', stage: 'prod' });
    expect(built.config.media.domain).to.equal('media.social.example.com');
    expect(built.config.mail.from).to.equal('notifications@social.example.com');
    expect(built.manifest.stacks.map((s) => s.name)).to.deep.equal(['social-prod-certificates', 'social-prod-secrets', 'social-prod']);
  });

  for (const mode of ['maintenance', 'debug'] as const) {
    it(`${mode} mode: containers sleep, a postgres client is added, ECS Exec is on with its role, web and streaming answer 503 with the maintenance message`, () => {
      const built = buildConfig({ yaml: minimalYaml(`mastodon: { mode: ${mode} }\n`) });
      const main = built.resources();
      for (const name of ['web', 'streaming', 'sidekiq']) expect(container(main, name).Command.join(' ')).to.match(/sleep/);
      expect(container(main, 'migrate')).to.equal(undefined);
      const postgres = container(main, 'postgres');
      expect(postgres).to.include({ Essential: false });
      expect(postgres.Secrets.map((s: any) => s.Name)).to.deep.equal(['PGPASSWORD']);
      expect(container(main, 'metrics')).to.equal(undefined);
      for (const service of mastodonServices(main)) {
        expect(service.Properties.EnableExecuteCommand).to.equal(true);
        // An empty list, not a missing property: CloudFormation keeps the old attachments when it is left out.
        expect(service.Properties.LoadBalancers).to.deep.equal([]);
        expect(service.Properties).to.not.have.property('HealthCheckGracePeriodSeconds');
      }
      // No migrations after a deploy while asleep; one-off commands (tootctl) still run.
      expect(built.manifest.stacks[2]).to.not.have.property('afterDeploy');
      expect(built.manifest.stacks[2].oneOffTask?.container).to.equal('migrate');
      const policy = JSON.stringify(main.MastodonTaskRole.Properties.Policies);
      for (const action of ['CreateControlChannel', 'CreateDataChannel', 'OpenControlChannel', 'OpenDataChannel']) expect(policy).to.include(`ssmmessages:${action}`);
      const maintenance = { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'social.example.com is down for maintenance.' };
      expect(main.HttpsListener.Properties.DefaultActions[0].FixedResponseConfig).to.deep.equal(maintenance);
      // The streaming paths too: forwarded, they would meet a target group without targets.
      expect(main.StreamingListenerRule.Properties.Actions).to.deep.equal([{ Type: 'fixed-response', FixedResponseConfig: maintenance }]);
      const environment = container(main, 'web').Environment.map((e: any) => e.Name);
      expect(environment.includes('RAILS_LOG_LEVEL')).to.equal(mode === 'debug');
    });
  }

  it('on-demand capacity, Redis and x86 run where asked', () => {
    const main = buildConfig({ yaml: minimalYaml('mastodon: { capacity: on-demand, architecture: x86_64, web: { cpu: 2048, memory: 4096 } }\ncache: { engine: redis }\n') }).resources();
    for (const service of mastodonServices(main)) expect(service.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    expect(main.WebTaskDefinition.Properties).to.include({ Cpu: '2048', Memory: '4096' });
    expect(main.WebTaskDefinition.Properties.RuntimePlatform.CpuArchitecture).to.equal('X86_64');
    expect(main.Cache.Properties.Engine).to.equal('redis');
  });

  it('uses an existing VPC and its subnets instead of creating one', () => {
    const main = buildConfig({ yaml: minimalYaml('network: { vpcId: vpc-0a1b2c3d, subnetIds: [subnet-0a1b2c3d, subnet-4e5f6a7b] }\n') }).resources();
    expect(main).to.not.have.any.keys('Vpc', 'PublicSubnet1', 'InternetGateway');
    expect(main.LoadBalancer.Properties.Subnets).to.deep.equal(['subnet-0a1b2c3d', 'subnet-4e5f6a7b']);
    expect(main.TaskSecurityGroup.Properties.VpcId).to.equal('vpc-0a1b2c3d');
  });

  it('uses given certificates: no certificate stack, the ARNs go straight into the main stack', () => {
    const media = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
    const instance = 'arn:aws:acm:us-east-1:123456789012:certificate/1a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
    const built = buildConfig({ yaml: minimalYaml(`certificates: { media: '${media}', instance: '${instance}' }\n`) });
    expect(built.manifest.stacks.map((s) => s.role)).to.deep.equal(['secrets', 'main']);
    const main = built.template('main');
    expect(main.Parameters).to.not.have.property('MediaCertificateArn');
    expect(main.Resources).to.not.have.property('InstanceCertificate');
    expect(JSON.stringify(main.Resources!.MediaDistribution)).to.include(media);
    expect(JSON.stringify(main.Resources!.HttpsListener)).to.include(instance);
  });

  it('uses a given SMTP secret: no SMTP user, key or secret is created', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mastodon/smtp-AbCdEf';
    const built = buildConfig({ yaml: minimalYaml(`mail: { smtpSecretArn: '${arn}' }\n`) });
    expect(built.resources('secrets')).to.have.all.keys('MastodonSecrets', 'DatabaseCredentials', 'CacheAuthToken');
    expect(built.template('main').Parameters).to.not.have.property('SmtpCredentialsArn');
    expect(JSON.stringify(container(built.resources(), 'web').Secrets)).to.include(`${arn}`);
  });

  it('passes service secrets by reference and lets the execution role read exactly those', () => {
    const main = buildConfig({
      yaml: minimalYaml(`services:
  blog:
    image: example/blog:1
    port: 8080
    path: /blog/*
    secrets:
      TOKEN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:blog/token-AbCdEf:token::'
      API_KEY: /blog/api-key
`),
    }).resources();
    const [definition] = main.ServiceBlogTaskDefinition.Properties.ContainerDefinitions;
    expect(definition.Secrets).to.deep.equal([
      { Name: 'API_KEY', ValueFrom: '/blog/api-key' },
      { Name: 'TOKEN', ValueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:blog/token-AbCdEf:token::' },
    ]);
    expect(grantedBy(main.ServiceBlogExecutionRole, 'secretsmanager:GetSecretValue')).to.deep.equal(['arn:aws:secretsmanager:us-east-1:123456789012:secret:blog/token-AbCdEf']);
    expect(JSON.stringify(grantedBy(main.ServiceBlogExecutionRole, 'ssm:GetParameters'))).to.include(':parameter/blog/api-key');
    expect(main.ServiceBlogListenerRule.Properties.Conditions).to.deep.equal([{ Field: 'path-pattern', PathPatternConfig: { Values: ['/blog/*'] } }]);
    expect(main).to.not.have.property('ServiceBlogCertificate');
  });

  it('gives mastodon.secrets to every Rails process as ECS secrets, and lets the execution role read exactly those', () => {
    const oidc = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:mastodon/oidc-AbCdEf:client_secret::';
    const built = buildConfig({ yaml: minimalYaml(`size: standard\nmastodon:\n  secrets: { OIDC_CLIENT_SECRET: '${oidc}', DEEPL_API_KEY: /mastodon/deepl, LIBRE_TRANSLATE_API_KEY: 'arn:aws:ssm:eu-central-1:123456789012:parameter/mastodon/libre' }\n`) });
    const main = built.resources();
    const migrate = main.PostDeploymentMigrationTaskDefinition.Properties.ContainerDefinitions[0];
    for (const rails of [container(main, 'web'), container(main, 'sidekiq'), migrate]) {
      const secrets = Object.fromEntries(rails.Secrets.map((s: { Name: string; ValueFrom: unknown }) => [s.Name, s.ValueFrom]));
      expect(secrets).to.include({ OIDC_CLIENT_SECRET: oidc, DEEPL_API_KEY: '/mastodon/deepl', LIBRE_TRANSLATE_API_KEY: 'arn:aws:ssm:eu-central-1:123456789012:parameter/mastodon/libre' });
      expect(rails.Environment.map((e: { Name: string }) => e.Name)).to.not.include.members(['OIDC_CLIENT_SECRET', 'DEEPL_API_KEY']);
    }
    // Node's streaming server reads none of Rails' settings.
    expect(JSON.stringify(container(main, 'streaming'))).to.not.include('OIDC_CLIENT_SECRET');
    // The whole secret (not its JSON key), and each parameter by its ARN.
    expect(grantedBy(main.MastodonExecutionRole, 'secretsmanager:GetSecretValue')).to.include('arn:aws:secretsmanager:eu-central-1:123456789012:secret:mastodon/oidc-AbCdEf');
    expect(grantedBy(main.MastodonExecutionRole, 'ssm:GetParameters')).to.deep.equal([
      { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mastodon/deepl' },
      'arn:aws:ssm:eu-central-1:123456789012:parameter/mastodon/libre',
    ]);
    expect(grantedBy(buildConfig({ yaml: minimalYaml() }).resources().MastodonExecutionRole, 'ssm:GetParameters')).to.deep.equal([]);
  });

  it('gives every execution role a policy of its own: its log group, its image repositories and its secrets, nothing on "*" but the ECR token', () => {
    const main = buildConfig({
      yaml: minimalYaml(`mastodon: { image: 123456789012.dkr.ecr.eu-central-1.amazonaws.com/mirror/mastodon }
services:
  blog: { build: ${join(REPO_ROOT, 'postblog')}, port: 8000, path: /blog/* }
  shop: { image: 'public.ecr.aws/nginx/nginx:1', port: 8080, path: /shop/* }
`),
    }).resources();
    const roles = Object.entries(main).filter(([id, resource]) => resource.Type === 'AWS::IAM::Role' && id.endsWith('ExecutionRole'));
    expect(roles.map(([id]) => id).sort()).to.deep.equal(['MastodonExecutionRole', 'ServiceBlogExecutionRole', 'ServiceShopExecutionRole']);
    for (const [, role] of roles) expect(role.Properties).to.not.have.property('ManagedPolicyArns');
    const logs = (role: string, action: string) => grantedBy(main[role], action).map((arn) => (arn as { 'Fn::Sub': string })['Fn::Sub']);
    const group = 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/mastodon-cfn/social-prod';
    expect(logs('MastodonExecutionRole', 'logs:CreateLogStream')).to.deep.equal([`${group}/mastodon`]);
    expect(logs('MastodonExecutionRole', 'logs:PutLogEvents')).to.deep.equal([`${group}/mastodon:log-stream:*`]);
    expect(logs('ServiceShopExecutionRole', 'logs:PutLogEvents')).to.deep.equal([`${group}/shop:log-stream:*`]);
    // A mirror of Mastodon's image in a private registry is pulled with its repository's ARN.
    expect(grantedBy(main.MastodonExecutionRole, 'ecr:BatchGetImage')).to.deep.equal(['arn:aws:ecr:eu-central-1:123456789012:repository/mirror/mastodon']);
    expect(grantedBy(main.ServiceBlogExecutionRole, 'ecr:GetDownloadUrlForLayer')).to.deep.equal([{ 'Fn::Sub': 'arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/mastodon-cfn/social-prod/blog' }]);
    expect(grantedBy(main.ServiceBlogExecutionRole, 'ecr:GetAuthorizationToken')).to.deep.equal(['*']);
    // ECR Public needs no IAM at all.
    expect(JSON.stringify(main.ServiceShopExecutionRole)).to.not.include('ecr:');
    for (const [, role] of roles) {
      const wildcards = role.Properties.Policies.flatMap((p: { PolicyDocument: { Statement: { Action: string; Resource: unknown }[] } }) => p.PolicyDocument.Statement).filter((s: { Resource: unknown }) => [s.Resource].flat().includes('*'));
      expect(wildcards.map((s: { Action: string }) => s.Action)).to.deep.equal(role === main.ServiceShopExecutionRole ? [] : ['ecr:GetAuthorizationToken']);
    }
  });

  it('merges the escape hatch into the main stack', () => {
    const built = buildConfig({ yaml: minimalYaml('resources:\n  Resources:\n    Alerts: { Type: AWS::SNS::Topic }\n  Outputs:\n    AlertsTopic: { Value: { Ref: Alerts } }\n') });
    expect(built.resources().Alerts).to.deep.equal({ Type: 'AWS::SNS::Topic' });
    expect(built.template('main').Outputs!.AlertsTopic).to.deep.equal({ Value: { Ref: 'Alerts' } });
  });

  it('keeps listener rule priorities of existing services when services are added or reordered', () => {
    const priorities = (yaml: string) => {
      const main = buildConfig({ yaml: minimalYaml(yaml) }).resources();
      return Object.fromEntries(Object.entries(main).filter(([id]) => id.endsWith('ListenerRule') && id.startsWith('Service')).map(([id, r]) => [id, r.Properties.Priority]));
    };
    const one = priorities('services:\n  alpha: { image: a:1, port: 8001, host: a.example.com }\n');
    const two = priorities('services:\n  beta: { image: b:1, port: 8002, host: b.example.com }\n  alpha: { image: a:1, port: 8001, host: a.example.com }\n');
    expect(two.ServiceAlphaListenerRule).to.equal(one.ServiceAlphaListenerRule);
    expect(two.ServiceBetaListenerRule).to.not.equal(two.ServiceAlphaListenerRule);
  });
});

describe('compiler: Mastodon on AWS really runs', () => {
  let built: TestBuild;
  let main: Resources;
  const environment = (name: string, resources = main) => Object.fromEntries(container(resources, name).Environment.map((e: any) => [e.Name, e.Value]));
  const secrets = (name: string, resources = main) => Object.fromEntries((container(resources, name).Secrets ?? []).map((s: any) => [s.Name, s.ValueFrom]));
  const migrationTask = () => main.PostDeploymentMigrationTaskDefinition.Properties.ContainerDefinitions as any[];
  before(() => {
    built = buildConfig({ file: join(REPO_ROOT, 'mastodon.config.yaml') });
    main = built.resources('main');
  });

  it('Rails uses the Ruby Redis driver, since hiredis has no TLS (REDIS_DRIVER, lib/mastodon/redis_configuration.rb)', () => {
    for (const name of ['web', 'sidekiq', 'migrate']) expect(environment(name).REDIS_DRIVER, name).to.equal('ruby');
    expect(migrationTask()[0].Environment).to.deep.include({ Name: 'REDIS_DRIVER', Value: 'ruby' });
  });

  it('gives Rails and streaming the AUTH token inside their REDIS_URL secret (both ignore REDIS_PASSWORD when REDIS_URL is set: lib/mastodon/redis_configuration.rb, streaming/redis.js)', () => {
    for (const process of ['web', 'streaming']) {
      expect(environment(process)).to.not.have.any.keys('REDIS_URL', 'REDIS_HOST', 'REDIS_PORT');
      expect(secrets(process).REDIS_URL).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'CacheConnection' }, ':url::']] });
      expect(secrets(process)).to.not.have.property('REDIS_PASSWORD');
    }
    const composed = main.CacheConnection.Properties.SecretString['Fn::Sub'];
    expect(composed).to.equal('{"url":"rediss://:{{resolve:secretsmanager:${CacheAuthTokenArn}:SecretString:token}}@${Cache.PrimaryEndPoint.Address}:${Cache.PrimaryEndPoint.Port}"}');
    expect(built.resources('secrets').CacheAuthToken.Properties.GenerateSecretString).to.include({ GenerateStringKey: 'token', PasswordLength: 64, ExcludePunctuation: true });
    expect(built.manifest.stacks[2].parameters.CacheAuthTokenArn).to.deep.equal({ stack: 'social-prod-secrets', output: 'CacheAuthTokenArn' });
    const readable = JSON.stringify(main.MastodonExecutionRole.Properties.Policies);
    for (const secret of ['CacheConnection', 'DatabaseCredentialsArn']) expect(readable).to.include(`{"Ref":"${secret}"}`);
    // The token alone is read only by CloudFormation, to set up the cache: no container needs it.
    expect(readable).to.not.include('{"Ref":"CacheAuthTokenArn"}');
  });

  it('uses a database password of its own, never rotated, for both RDS and DB_PASS', () => {
    const cluster = main.DatabaseCluster.Properties;
    expect(cluster).to.not.have.property('ManageMasterUserPassword');
    expect(cluster.MasterUserPassword).to.deep.equal({ 'Fn::Sub': '{{resolve:secretsmanager:${DatabaseCredentialsArn}:SecretString:password}}' });
    for (const name of ['web', 'sidekiq', 'migrate', 'streaming']) expect(secrets(name).DB_PASS, name).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'DatabaseCredentialsArn' }, ':password::']] });
    expect(built.manifest.stacks[2].parameters.DatabaseCredentialsArn).to.deep.equal({ stack: 'social-prod-secrets', output: 'DatabaseCredentialsArn' });
    expect(JSON.stringify(built.resources('secrets'))).to.not.include('RotationSchedule');
  });

  it('encrypts database connections: DB_SSLMODE require for Rails, no-verify for node-pg in streaming (streaming/database.js)', () => {
    for (const name of ['web', 'sidekiq', 'migrate']) expect(environment(name).DB_SSLMODE, name).to.equal('require');
    expect(environment('streaming').DB_SSLMODE).to.equal('no-verify');
  });

  it('runs only pre-deployment migrations in the task (SKIP_POST_DEPLOYMENT_MIGRATIONS), and all of them in the one-off task the deployer runs', () => {
    expect(environment('migrate').SKIP_POST_DEPLOYMENT_MIGRATIONS).to.equal('true');
    // Mastodon tests the variable for presence (config/initializers/0_post_deployment_migrations.rb): not even "false" may be set elsewhere.
    for (const name of ['web', 'sidekiq']) expect(environment(name), name).to.not.have.property('SKIP_POST_DEPLOYMENT_MIGRATIONS');
    const [migrate] = migrationTask();
    expect(migrationTask()).to.have.length(1);
    expect(migrate.Environment.map((e: any) => e.Name)).to.not.include('SKIP_POST_DEPLOYMENT_MIGRATIONS');
    expect(migrate.Command[4]).to.include('system("bundle", "exec", "rails", "db:migrate")');
    expect(built.manifest.stacks[2].afterDeploy).to.deep.equal({
      description: 'post-deployment migrations (rails db:migrate) and content retention',
      outputs: { cluster: 'ClusterName', taskDefinition: 'PostDeploymentMigrationTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
      capacityProvider: 'FARGATE',
      container: 'migrate',
    });
    expect(built.template('main').Outputs).to.include.keys('ClusterName', 'PostDeploymentMigrationTaskDefinition', 'TaskSubnets', 'TaskSecurityGroup');
  });

  it('never lets two starting tasks migrate at once: both migrations take one PostgreSQL advisory lock', () => {
    const lock = /pg_advisory_lock\((\d+)\)/;
    const [task, deploy] = [container(main, 'migrate').Command[4], migrationTask()[0].Command[4]];
    expect(lock.exec(task)?.[1]).to.equal(lock.exec(deploy)?.[1]);
    expect(task).to.match(/^require "pg"; c = PG\.connect\(.*sslmode: ENV\.fetch\("DB_SSLMODE", "prefer"\)\); c\.exec/);
  });

  it('serves media with CORS for every origin, nosniff and a restrictive CSP (response headers policy)', () => {
    const policy = main.MediaResponseHeadersPolicy.Properties.ResponseHeadersPolicyConfig;
    expect(policy.CorsConfig).to.deep.include({ AccessControlAllowOrigins: { Items: ['*'] }, AccessControlAllowMethods: { Items: ['GET', 'HEAD'] }, OriginOverride: true, AccessControlAllowCredentials: false });
    expect(policy.SecurityHeadersConfig.ContentTypeOptions).to.deep.equal({ Override: true });
    expect(policy.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy).to.equal("default-src 'none'; form-action 'none'");
    expect(main.MediaDistribution.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId).to.deep.equal({ Ref: 'MediaResponseHeadersPolicy' });
  });

  it('keeps side services away from the database and the cache, in security groups of their own', () => {
    const group = main.ServicePostblogSecurityGroup.Properties;
    expect(group.SecurityGroupIngress).to.deep.equal([{ IpProtocol: 'tcp', FromPort: 8000, ToPort: 8000, SourceSecurityGroupId: { Ref: 'LoadBalancerSecurityGroup' }, Description: 'Port 8000 from the load balancer' }]);
    expect(group.SecurityGroupEgress.map((r: any) => [r.FromPort, r.CidrIp])).to.deep.equal([[443, '0.0.0.0/0'], [80, '0.0.0.0/0']]);
    expect(main.ServicePostblogService.Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups).to.deep.equal([{ Ref: 'ServicePostblogSecurityGroup' }]);
    // Nothing opens the database or the cache to the service's group.
    const rulesToData = ofType(main, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) => ['DatabaseSecurityGroup', 'CacheSecurityGroup'].includes(r.Properties.DestinationSecurityGroupId?.Ref));
    expect(rulesToData).to.deep.equal([]);
    for (const id of ['DatabaseSecurityGroup', 'CacheSecurityGroup']) expect(JSON.stringify(main[id].Properties.SecurityGroupIngress)).to.not.include('ServicePostblog');
  });

  it('restarts each process alone, so one out-of-memory process does not stop the task', () => {
    for (const name of ['web', 'sidekiq', 'streaming']) expect(container(main, name).RestartPolicy, name).to.deep.equal({ Enabled: true, RestartAttemptPeriod: 60 });
    // The one-shot migration must not be restarted after it succeeded.
    expect(container(main, 'migrate')).to.not.have.property('RestartPolicy');
  });

  it('keeps deleted media 7 days by default and removes expired delete markers', () => {
    const rules = main.MediaBucket.Properties.LifecycleConfiguration.Rules;
    expect(rules[0].NoncurrentVersionExpiration).to.deep.equal({ NoncurrentDays: 7 });
    expect(rules[1]).to.deep.equal({ Id: 'remove-expired-delete-markers', Status: 'Enabled', ExpiredObjectDeleteMarker: true });
    const shorter = buildConfig({ yaml: minimalYaml('media: { keepDeletedDays: 1 }\n') }).resources();
    expect(shorter.MediaBucket.Properties.LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration).to.deep.equal({ NoncurrentDays: 1 });
  });

  it('creates the database without deletion protection, for the deployer to turn on after the first successful create', () => {
    expect(main.DatabaseCluster.Properties.DeletionProtection).to.deep.equal({ Ref: 'DatabaseDeletionProtection' });
    expect(built.template('main').Parameters!.DatabaseDeletionProtection).to.deep.include({ Type: 'String', AllowedValues: ['true', 'false'], Default: 'true' });
    expect(built.manifest.stacks[2].deletionProtection).to.deep.equal({ parameter: 'DatabaseDeletionProtection', clusterOutput: 'DatabaseClusterId' });
  });

  it('reuses kept secrets a remove left behind instead of failing with "already exists"', () => {
    const template = built.template('secrets');
    for (const id of ['MastodonSecrets', 'DatabaseCredentials', 'ServicePostblogMastodonToken']) {
      expect(template.Parameters![`Existing${id}Arn`]).to.deep.include({ Type: 'String', Default: '' });
      expect(template.Conditions![`Create${id}`]).to.deep.equal({ 'Fn::Equals': [{ Ref: `Existing${id}Arn` }, ''] });
      expect(template.Resources![id].Condition).to.equal(`Create${id}`);
    }
    expect(template.Outputs!.MastodonSecretsArn.Value).to.deep.equal({ 'Fn::If': ['CreateMastodonSecrets', { Ref: 'MastodonSecrets' }, { Ref: 'ExistingMastodonSecretsArn' }] });
    expect(built.manifest.stacks[1].reusableSecrets).to.deep.equal([
      { parameter: 'ExistingDatabaseCredentialsArn', name: 'mastodon-cfn/social-prod/database' },
      { parameter: 'ExistingMastodonSecretsArn', name: 'mastodon-cfn/social-prod/mastodon' },
      { parameter: 'ExistingServicePostblogMastodonTokenArn', name: 'mastodon-cfn/social-prod/postblog-token' },
    ]);
  });

  it('names where every process logs, for mastodon-cfn logs: the containers of the Mastodon task and each service', () => {
    expect(built.manifest.stacks[2].logSources).to.deep.equal({
      web: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'web' },
      streaming: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'streaming' },
      sidekiq: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'sidekiq' },
      metrics: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'metrics' },
      migrate: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'migrate' },
      postgres: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'postgres' },
      fetch: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'fetch' },
      restore: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'restore' },
      dump: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'dump' },
      upload: { group: '/mastodon-cfn/social-prod/mastodon', streamPrefix: 'upload' },
      postblog: { group: '/mastodon-cfn/social-prod/postblog', streamPrefix: 'postblog' },
    });
    // The stream prefixes are what the containers' awslogs configuration writes.
    for (const name of ['web', 'sidekiq', 'streaming', 'metrics', 'migrate']) expect(container(main, name).LogConfiguration.Options['awslogs-stream-prefix'], name).to.equal(name);
    expect(main.ServicePostblogTaskDefinition.Properties.ContainerDefinitions[0].LogConfiguration.Options['awslogs-stream-prefix']).to.equal('postblog');
    for (const [task, names] of [['ImportTaskDefinition', ['fetch', 'restore']], ['ExportTaskDefinition', ['dump', 'upload']]] as const) {
      expect(main[task].Properties.ContainerDefinitions.map((c: any) => [c.Name, c.LogConfiguration.Options['awslogs-stream-prefix']])).to.deep.equal(names.map((name) => [name, name]));
    }
  });

  it('mixed capacity keeps one on-demand task as the base and runs the rest on Spot', () => {
    const mixed = buildConfig({ yaml: minimalYaml('mastodon: { capacity: mixed, web: { count: 3 } }\n') }).resources();
    expect(mixed.WebService.Properties.DesiredCount).to.equal(3);
    expect(mixed.SidekiqAllService.Properties.CapacityProviderStrategy).to.deep.equal([
      { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
  });

  it('lets users tune Mastodon with variables the compiler does not own (DB_POOL, MAX_THREADS)', () => {
    const tuned = buildConfig({ yaml: minimalYaml('mastodon:\n  environment: { DB_POOL: 10, MAX_THREADS: 10 }\n') }).resources();
    expect(environment('web', tuned)).to.include({ DB_POOL: '10', MAX_THREADS: '10' });
  });
});

describe('compiler: zero-touch DNS in Route 53', () => {
  const services = `services:\n  postblog: { image: example/postblog:1, port: 8000, host: comments.example.com }\n`;
  const withDns = (dns: string) => buildConfig({ yaml: minimalYaml(`media: { domain: media.example.com }\nmail: { from: notifications@example.com }\n${services}dns: ${dns}\n`) });

  it('validates every certificate through the zone the deployer passes in, in both regions', () => {
    const built = withDns('{ route53: true }');
    for (const role of ['main', 'certificates'] as const) {
      expect(built.template(role).Parameters!.HostedZoneId, role).to.deep.include({ Type: 'AWS::Route53::HostedZone::Id' });
    }
    const certificates = { ...built.resources('main'), ...built.resources('certificates') };
    for (const [id, domain] of [['InstanceCertificate', 'social.example.com'], ['ServicePostblogCertificate', 'comments.example.com'], ['MediaCertificate', 'media.example.com']]) {
      expect(certificates[id].Properties.DomainValidationOptions, id).to.deep.equal([{ DomainName: domain, HostedZoneId: { Ref: 'HostedZoneId' } }]);
    }
    // The manifest tells the deployer which zone to find and which names must be in it.
    expect(built.manifest.stacks.map((stack) => stack.hostedZone)).to.deep.equal([
      { parameter: 'HostedZoneId', domain: 'social.example.com', names: ['media.example.com'] },
      undefined,
      { parameter: 'HostedZoneId', domain: 'social.example.com', names: ['social.example.com', 'media.example.com', 'comments.example.com', 'example.com', 'bounce.example.com'] },
    ]);
  });

  it('points the domain and every service host at the load balancer, and the media domain (IPv4 and IPv6) at CloudFront', () => {
    const main = withDns('{ route53: true }').resources();
    const alias = (id: string) => ({ name: main[id].Properties.Name, type: main[id].Properties.Type, target: main[id].Properties.AliasTarget });
    const loadBalancer = { DNSName: { 'Fn::GetAtt': ['LoadBalancer', 'DNSName'] }, HostedZoneId: { 'Fn::GetAtt': ['LoadBalancer', 'CanonicalHostedZoneID'] }, EvaluateTargetHealth: false };
    // Z2FDTNDATAQYW2: CloudFront's hosted zone for every alias to a distribution (AWS::Route53::RecordSet AliasTarget).
    const cloudFront = { DNSName: { 'Fn::GetAtt': ['MediaDistribution', 'DomainName'] }, HostedZoneId: 'Z2FDTNDATAQYW2', EvaluateTargetHealth: false };
    expect(alias('InstanceAliasRecord')).to.deep.equal({ name: 'social.example.com', type: 'A', target: loadBalancer });
    expect(alias('ServicePostblogAliasRecord')).to.deep.equal({ name: 'comments.example.com', type: 'A', target: loadBalancer });
    expect(alias('MediaAliasRecord')).to.deep.equal({ name: 'media.example.com', type: 'A', target: cloudFront });
    expect(alias('MediaAliasRecordIpv6')).to.deep.equal({ name: 'media.example.com', type: 'AAAA', target: cloudFront });
    for (const [id, record] of Object.entries(main).filter(([, r]) => r.Type === 'AWS::Route53::RecordSet')) expect(record.Properties.HostedZoneId, id).to.deep.equal({ Ref: 'HostedZoneId' });
  });

  it('publishes SES DKIM, a MAIL FROM domain with its MX and SPF, and DMARC; the DKIM outputs to copy by hand are gone', () => {
    const built = withDns('{ hostedZoneId: Z0123456789ABCDEFGHIJ }');
    const main = built.resources();
    const record = (id: string) => [main[id].Properties.Name, main[id].Properties.Type, main[id].Properties.ResourceRecords];
    expect(record('MailDkimRecord2')).to.deep.equal([{ 'Fn::GetAtt': ['MailIdentity', 'DkimDNSTokenName2'] }, 'CNAME', [{ 'Fn::GetAtt': ['MailIdentity', 'DkimDNSTokenValue2'] }]]);
    // SES Developer Guide, custom MAIL FROM: MX "10 feedback-smtp.<region>.amazonses.com" and SPF "v=spf1 include:amazonses.com ~all".
    expect(main.MailIdentity.Properties.MailFromAttributes).to.deep.equal({ MailFromDomain: 'bounce.example.com', BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' });
    expect(record('MailFromMxRecord')).to.deep.equal(['bounce.example.com', 'MX', [{ 'Fn::Sub': '10 feedback-smtp.${AWS::Region}.amazonses.com' }]]);
    expect(record('MailFromSpfRecord')).to.deep.equal(['bounce.example.com', 'TXT', ['"v=spf1 include:amazonses.com ~all"']]);
    expect(record('DmarcRecord')).to.deep.equal(['_dmarc.example.com', 'TXT', ['"v=DMARC1; p=none;"']]);
    expect(Object.keys(built.template('main').Outputs!)).to.not.include('DkimRecord1');
    expect(built.manifest.stacks[2].hostedZone).to.include({ hostedZoneId: 'Z0123456789ABCDEFGHIJ' });
  });

  it('takes the DMARC policy from the config, or publishes none when the zone has its own', () => {
    expect(withDns('{ route53: true, dmarc: quarantine }').resources().DmarcRecord.Properties.ResourceRecords).to.deep.equal(['"v=DMARC1; p=quarantine;"']);
    expect(withDns('{ route53: true, dmarc: off }').resources()).to.not.have.property('DmarcRecord');
  });

  it('without dns, writes no record and leaves the records to the user, as before', () => {
    const built = buildConfig({ yaml: minimalYaml() });
    expect(Object.values(built.resources()).filter((r) => r.Type === 'AWS::Route53::RecordSet')).to.deep.equal([]);
    expect(built.resources().InstanceCertificate.Properties).to.not.have.property('DomainValidationOptions');
    expect(built.manifest.stacks.every((stack) => !stack.hostedZone)).to.equal(true);
    expect(Object.keys(built.template('main').Outputs!)).to.include('DkimRecord1');
  });
});

describe('compiler: size small', () => {
  const small = () => buildConfig({ yaml: minimalYaml('size: small\n') });

  it('runs RDS for PostgreSQL db.t4g.micro in one zone on gp3, encrypted, backed up, snapshotted and protected like Aurora', () => {
    const built = small();
    const main = built.resources();
    expect(main).to.not.have.property('DatabaseCluster');
    const instance = main.PostgresInstance;
    expect(instance.Properties).to.deep.include({
      Engine: 'postgres',
      EngineVersion: '16.11',
      DBInstanceClass: 'db.t4g.micro',
      DBName: 'mastodon',
      Port: '5432',
      AllocatedStorage: '20',
      MaxAllocatedStorage: 100,
      StorageType: 'gp3',
      MultiAZ: false,
      PubliclyAccessible: false,
      StorageEncrypted: true,
      CopyTagsToSnapshot: true,
      BackupRetentionPeriod: 7,
      DeletionProtection: { Ref: 'DatabaseDeletionProtection' },
      VPCSecurityGroups: [{ Ref: 'DatabaseSecurityGroup' }],
    });
    expect([instance.DeletionPolicy, instance.UpdateReplacePolicy]).to.deep.equal(['Snapshot', 'Snapshot']);
    expect(built.manifest.stacks[2].deletionProtection).to.deep.equal({ parameter: 'DatabaseDeletionProtection', instanceOutput: 'DatabaseInstanceId' });
    expect(built.manifest.stacks[2].statefulResources).to.deep.include({ logicalId: 'PostgresInstance', type: 'AWS::RDS::DBInstance' });
    const web = containers(main).find((c) => c.Name === 'web');
    expect(web.Environment).to.deep.include({ Name: 'DB_HOST', Value: { 'Fn::GetAtt': ['PostgresInstance', 'Endpoint.Address'] } });
  });

  it('puts the cache on cache.t4g.micro valkey and Mastodon in one 0.5 vCPU / 2 GB ARM task on Spot, unless the config says otherwise', () => {
    const main = small().resources();
    expect(main.Cache.Properties).to.deep.include({ CacheNodeType: 'cache.t4g.micro', Engine: 'valkey', AtRestEncryptionEnabled: true, TransitEncryptionEnabled: true });
    expect(main.MastodonTaskDefinition.Properties).to.deep.include({ Cpu: '512', Memory: '2048', RuntimePlatform: { OperatingSystemFamily: 'LINUX', CpuArchitecture: 'ARM64' } });
    expect(main.MastodonService.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    const chosen = buildConfig({ yaml: minimalYaml('size: small\ncache: { nodeType: cache.t3.small }\nmastodon: { cpu: 1024 }\n') }).resources();
    expect([chosen.Cache.Properties.CacheNodeType, chosen.MastodonTaskDefinition.Properties.Cpu]).to.deep.equal(['cache.t3.small', '1024']);
  });

  it('size standard: Aurora, cache.t3.micro, 1 vCPU web tasks; each stack says its size', () => {
    const built = buildConfig({ yaml: minimalYaml() });
    const main = built.resources();
    expect(main.DatabaseCluster.Properties.ServerlessV2ScalingConfiguration).to.deep.equal({ MinCapacity: 0.5, MaxCapacity: 1 });
    expect([main.Cache.Properties.CacheNodeType, main.WebTaskDefinition.Properties.Cpu]).to.deep.equal(['cache.t3.micro', '1024']);
    expect(built.template('main').Outputs!.Size).to.deep.include({ Value: 'standard' });
    expect(built.manifest.stacks[2].size).to.equal('standard');
    expect(small().manifest.stacks[2].size).to.equal('small');
  });
});
