import { expect } from 'chai';
import { join } from 'node:path';
import { readConfig as readPostblogConfig } from '../postblog/src/config.js';
import { MASTODON_SECRET_KEYS } from '../src/compiler/secrets.js';
import { buildConfig, minimalYaml, REPO_ROOT, type TestBuild } from './support/build.js';

type Resources = ReturnType<TestBuild['resources']>;
const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const containers = (resources: Resources) => resources.MastodonTaskDefinition.Properties.ContainerDefinitions as any[];
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
    expect(taskIngress.map((r) => r.FromPort)).to.deep.equal([3000, 4000, 8000]);
    for (const rule of taskIngress) expect(rule.SourceSecurityGroupId).to.deep.equal({ Ref: 'LoadBalancerSecurityGroup' });
    expect(groupRules('DatabaseSecurityGroup', 'SecurityGroupIngress')).to.deep.equal([{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, SourceSecurityGroupId: { Ref: 'TaskSecurityGroup' }, Description: 'PostgreSQL from the tasks' }]);
    expect(groupRules('CacheSecurityGroup', 'SecurityGroupIngress').map((r) => [r.FromPort, r.SourceSecurityGroupId])).to.deep.equal([[6379, { Ref: 'TaskSecurityGroup' }]]);
    // No tier behind the load balancer may send anywhere it likes; the load balancer sends only to the tasks.
    for (const id of ['LoadBalancerSecurityGroup', 'DatabaseSecurityGroup', 'CacheSecurityGroup']) {
      expect(groupRules(id, 'SecurityGroupEgress').every((r) => r.CidrIp === '255.255.255.255/32'), id).to.equal(true);
    }
    const balancerEgress = ofType(main, 'AWS::EC2::SecurityGroupEgress').filter(([, r]) => r.Properties.GroupId.Ref === 'LoadBalancerSecurityGroup');
    expect(balancerEgress.map(([, r]) => [r.Properties.FromPort, r.Properties.DestinationSecurityGroupId.Ref])).to.deep.equal([[3000, 'TaskSecurityGroup'], [4000, 'TaskSecurityGroup'], [8000, 'TaskSecurityGroup']]);
    expect(main.TaskEgressToDatabase.Properties).to.include({ FromPort: 5432 });
    expect(main.TaskEgressToDatabase.Properties.DestinationSecurityGroupId).to.deep.equal({ Ref: 'DatabaseSecurityGroup' });
  });

  it('creates a VPC with public subnets and no NAT gateway', () => {
    expect(main.Vpc).to.exist;
    expect(ofType(main, 'AWS::EC2::Subnet')).to.have.length(2);
    expect(ofType(main, 'AWS::EC2::NatGateway')).to.have.length(0);
    expect(main.MastodonService.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).to.equal('ENABLED');
  });

  it('runs Aurora Serverless v2 with the configured capacity, encrypted, protected and snapshotted', () => {
    const cluster = main.DatabaseCluster;
    expect(cluster.Properties).to.include({ Engine: 'aurora-postgresql', StorageEncrypted: true, DeletionProtection: true, ManageMasterUserPassword: true });
    expect(cluster.Properties.ServerlessV2ScalingConfiguration).to.deep.equal({ MinCapacity: 0.5, MaxCapacity: 1 });
    expect(cluster.Properties).to.not.have.property('MasterUserPassword');
    expect([cluster.DeletionPolicy, cluster.UpdateReplacePolicy]).to.deep.equal(['Snapshot', 'Snapshot']);
    expect(main.DatabaseInstance.Properties.DBInstanceClass).to.equal('db.serverless');
  });

  it('keeps the data of every stateful resource on delete and on replacement', () => {
    const expected: Record<string, string> = { DatabaseCluster: 'Snapshot', Cache: 'Snapshot', MediaBucket: 'Retain' };
    for (const [id, policy] of Object.entries(expected)) expect([main[id].DeletionPolicy, main[id].UpdateReplacePolicy], id).to.deep.equal([policy, policy]);
    for (const [id, secret] of Object.entries(built.resources('secrets')).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')) {
      expect([secret.DeletionPolicy, secret.UpdateReplacePolicy], id).to.deep.equal(['Retain', 'Retain']);
    }
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.have.members(['DatabaseCluster', 'DatabaseInstance', 'Cache', 'MediaBucket', 'ServicePostblogTable']);
  });

  it('runs the cache on the configured node, with snapshots and encryption', () => {
    expect(main.Cache.Properties).to.include({ CacheNodeType: 'cache.t3.micro', AtRestEncryptionEnabled: true, TransitEncryptionEnabled: true, SnapshotRetentionLimit: 1 });
  });

  it('puts the tasks on FARGATE_SPOT, with both capacity providers on the cluster', () => {
    expect(main.ClusterCapacityProviders.Properties.CapacityProviders).to.have.members(['FARGATE', 'FARGATE_SPOT']);
    expect(main.MastodonService.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(main.MastodonService.Properties).to.not.have.property('LaunchType');
    expect(main.MastodonService.DependsOn).to.include('ClusterCapacityProviders');
  });

  it('migrates the database before web and sidekiq start, and rolls failed deployments back', () => {
    expect(container(main, 'migrate')).to.include({ Essential: false });
    expect(container(main, 'migrate').Command).to.deep.equal(['bundle', 'exec', 'rails', 'db:prepare']);
    for (const name of ['web', 'sidekiq']) expect(container(main, name).DependsOn).to.deep.equal([{ ContainerName: 'migrate', Condition: 'SUCCESS' }]);
    expect(container(main, 'streaming').Image).to.equal('ghcr.io/mastodon/mastodon-streaming:v4.5.2');
    expect(container(main, 'web').Image).to.equal('ghcr.io/mastodon/mastodon:v4.5.2');
    expect(main.MastodonService.Properties.DeploymentConfiguration.DeploymentCircuitBreaker).to.deep.equal({ Enable: true, Rollback: true });
    expect(main.MastodonLogGroup.Properties.RetentionInDays).to.equal(14);
  });

  it('keeps ECS Exec off and adds no postgres container in production', () => {
    expect(main.MastodonService.Properties.EnableExecuteCommand).to.equal(false);
    expect(container(main, 'postgres')).to.equal(undefined);
    expect(JSON.stringify(main.MastodonTaskRole)).to.not.include('ssmmessages');
  });

  it('hands every secret to the containers through ECS Secrets, never through the environment', () => {
    for (const definition of containers(main)) {
      const environmentNames = (definition.Environment as { Name: string }[]).map((e) => e.Name);
      const secretNames = ((definition.Secrets ?? []) as { Name: string }[]).map((s) => s.Name);
      for (const name of environmentNames) expect(name).to.not.match(/PASS|SECRET|PRIVATE_KEY|ENCRYPTION|SMTP_LOGIN/);
      expect(secretNames).to.include('DB_PASS');
      if (definition.Name !== 'streaming') {
        expect(secretNames).to.include.members([...MASTODON_SECRET_KEYS, 'SMTP_LOGIN', 'SMTP_PASSWORD']);
      }
    }
    const web = container(main, 'web');
    expect(web.Secrets.find((s: any) => s.Name === 'SECRET_KEY_BASE').ValueFrom).to.deep.equal({ 'Fn::Join': ['', [{ Ref: 'MastodonSecretsArn' }, ':SECRET_KEY_BASE::']] });
    // The templates hold no secret value: the Mastodon secret is created empty and filled by the deployer.
    expect(built.resources('secrets').MastodonSecrets.Properties).to.not.have.any.keys('SecretString', 'GenerateSecretString');
    expect(built.manifest.stacks[1].generatedSecrets).to.deep.equal({ SmtpCredentialsArn: 'ses-smtp-password', MastodonSecretsArn: 'mastodon-secrets' });
  });

  it('gives Mastodon the environment it requires, with S3 ACLs off', () => {
    const environment = Object.fromEntries(container(main, 'web').Environment.map((e: any) => [e.Name, e.Value]));
    expect(environment).to.include({ LOCAL_DOMAIN: 'social.example.com', RAILS_ENV: 'production', S3_ENABLED: 'true', S3_ALIAS_HOST: 'mastodonmedia.example.com', S3_PERMISSION: '', RAILS_SERVE_STATIC_FILES: 'true', SMTP_FROM_ADDRESS: 'notifications@social.example.com', BIND: '0.0.0.0', PORT: '3000' });
    expect(environment).to.include.keys('DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'REDIS_HOST', 'REDIS_PORT', 'S3_BUCKET', 'S3_REGION', 'SMTP_SERVER', 'SMTP_PORT');
    const streaming = Object.fromEntries(container(main, 'streaming').Environment.map((e: any) => [e.Name, e.Value]));
    expect(Object.keys(streaming).filter((k) => !/^(DB_|REDIS_)/.test(k))).to.have.members(['NODE_ENV', 'BIND', 'PORT']);
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
    expect(definition.Image).to.equal('ghcr.io/example/postblog:latest');
  });

  it("gives postblog its store, a DynamoDB table only its task role may use, and its token from Secrets Manager", () => {
    const table = main.ServicePostblogTable;
    expect(table.Type).to.equal('AWS::DynamoDB::Table');
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).to.deep.equal(['Retain', 'Retain']);
    expect(table.Properties).to.deep.include({ BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] });
    expect(table.Properties.PointInTimeRecoverySpecification).to.deep.equal({ PointInTimeRecoveryEnabled: true });
    const [statement] = main.ServicePostblogTaskRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statement.Resource).to.deep.equal({ 'Fn::GetAtt': ['ServicePostblogTable', 'Arn'] });
    expect(statement.Action).to.include.members(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']);
    expect(main.ServicePostblogTaskDefinition.Properties.TaskRoleArn).to.deep.equal({ 'Fn::GetAtt': ['ServicePostblogTaskRole', 'Arn'] });
    expect(built.manifest.stacks[2].statefulResources.map((r) => r.logicalId)).to.include('ServicePostblogTable');
    const [definition] = main.ServicePostblogTaskDefinition.Properties.ContainerDefinitions;
    expect(definition.Environment.map((e: { Name: string }) => e.Name)).to.not.include('MASTODON_TOKEN');
    expect(definition.Secrets).to.deep.equal([{ Name: 'MASTODON_TOKEN', ValueFrom: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:postblog/mastodon-token' }]);

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
    it(`${mode} mode: containers sleep, a postgres client is added, ECS Exec is on with its role, web answers 503`, () => {
      const main = buildConfig({ yaml: minimalYaml(`mastodon: { mode: ${mode} }\n`) }).resources();
      for (const name of ['web', 'streaming', 'sidekiq']) expect(container(main, name).Command.join(' ')).to.match(/sleep/);
      expect(container(main, 'migrate')).to.equal(undefined);
      const postgres = container(main, 'postgres');
      expect(postgres).to.include({ Essential: false });
      expect(postgres.Secrets.map((s: any) => s.Name)).to.deep.equal(['PGPASSWORD']);
      expect(main.MastodonService.Properties.EnableExecuteCommand).to.equal(true);
      expect(main.MastodonService.Properties).to.not.have.property('LoadBalancers');
      const policy = JSON.stringify(main.MastodonTaskRole.Properties.Policies);
      for (const action of ['CreateControlChannel', 'CreateDataChannel', 'OpenControlChannel', 'OpenDataChannel']) expect(policy).to.include(`ssmmessages:${action}`);
      expect(main.HttpsListener.Properties.DefaultActions[0].FixedResponseConfig.StatusCode).to.equal('503');
      const environment = container(main, 'web').Environment.map((e: any) => e.Name);
      expect(environment.includes('RAILS_LOG_LEVEL')).to.equal(mode === 'debug');
    });
  }

  it('on-demand capacity, Redis and x86 run where asked', () => {
    const main = buildConfig({ yaml: minimalYaml('mastodon: { capacity: on-demand, architecture: x86_64, cpu: 2048, memory: 4096 }\ncache: { engine: redis }\n') }).resources();
    expect(main.MastodonService.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    expect(main.MastodonTaskDefinition.Properties).to.include({ Cpu: '2048', Memory: '4096' });
    expect(main.MastodonTaskDefinition.Properties.RuntimePlatform.CpuArchitecture).to.equal('X86_64');
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
    expect(built.resources('secrets')).to.have.all.keys('MastodonSecrets');
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
    const statements = main.ServiceBlogExecutionRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements[0]).to.deep.equal({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:blog/token-AbCdEf'] });
    expect(JSON.stringify(statements[1])).to.include(':parameter/blog/api-key');
    expect(main.ServiceBlogListenerRule.Properties.Conditions).to.deep.equal([{ Field: 'path-pattern', PathPatternConfig: { Values: ['/blog/*'] } }]);
    expect(main).to.not.have.property('ServiceBlogCertificate');
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
