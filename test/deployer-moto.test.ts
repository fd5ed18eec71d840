import { ListChangeSetsCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateHostedZoneCommand, ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sdkClients } from '../src/deployer/aws.js';
import { fillGeneratedSecrets } from '../src/deployer/secrets.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { REPO_ROOT, runCli } from './support/build.js';
import { useMoto } from './support/moto.js';
import { twoRegionPackage, writePackage } from './support/packages.js';

describe('deployer against moto_server (a real CloudFormation API)', function () {
  const moto = useMoto();
  const cli = (...args: string[]) => runCli(args, { env: moto.env });
  const status = async (name: string, region: string) => {
    try {
      return (await sdkClients().cloudFormation(region).send(new DescribeStacksCommand({ StackName: name }))).Stacks[0].StackStatus as string;
    } catch {
      return 'NONE';
    }
  };
  // Change sets waiting to be executed (moto, unlike CloudFormation, also lists executed ones).
  const changeSets = async (name: string, region: string) => ((await sdkClients().cloudFormation(region).send(new ListChangeSetsCommand({ StackName: name }))).Summaries ?? []).filter((c: { ExecutionStatus: string }) => c.ExecutionStatus !== 'EXECUTE_COMPLETE');


  const pkg = () => twoRegionPackage('social-test', { wired: false });

  it('deploys the certificate stack in us-east-1 first, then the main stack in its own region', async () => {
    const result = cli('deploy', '--package', pkg(), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout.indexOf('social-test-certificates: deployed')).to.be.below(result.stdout.indexOf('social-test: deployed'));
    expect(result.stdout).to.match(/Add\s+MediaBucket\s+AWS::S3::Bucket/);
    expect(await status('social-test-certificates', 'us-east-1')).to.equal('CREATE_COMPLETE');
    expect(await status('social-test', 'eu-central-1')).to.equal('CREATE_COMPLETE');
    expect(await status('social-test', 'us-east-1')).to.equal('NONE');
  });

  it('a redeploy with no change says so, succeeds and leaves no change set', async () => {
    const result = cli('deploy', '--package', pkg(), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include('social-test (eu-central-1): no changes');
    expect(await changeSets('social-test', 'eu-central-1')).to.deep.equal([]);
  });

  it('refuses to deploy without a terminal or --yes, and changes nothing', async () => {
    const result = cli('deploy', '--package', twoRegionPackage('social-test', { wired: false, extraTopic: true }));
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include('there is no terminal to confirm on');
    expect(result.stdout).to.match(/Add\s+MoreAlerts/);
    expect(await changeSets('social-test', 'eu-central-1')).to.deep.equal([]);
    expect(await status('social-test', 'eu-central-1')).to.equal('CREATE_COMPLETE');
  });

  it('diff prints the change set and changes nothing', async () => {
    const result = cli('diff', '--package', twoRegionPackage('social-test', { wired: false, extraTopic: true }));
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/Changes to social-test:[\s\S]*Add\s+MoreAlerts\s+AWS::SNS::Topic/);
    expect(await changeSets('social-test', 'eu-central-1')).to.deep.equal([]);
    expect(await status('social-test', 'eu-central-1')).to.equal('CREATE_COMPLETE');
  });

  it('diff and deploy say what the change does to the monthly cost, line by line, from the deployed template (GetTemplate) and the new one', async () => {
    const table = JSON.parse(readFileSync(join(REPO_ROOT, 'src/cost/prices.json'), 'utf8'));
    // Templates without a Size output are priced with size standard's usage.
    const logsMonthly = Math.round(table.usage.standard.logsIngestedGb * table.regions['eu-central-1'].logsIngestionGb * 100) / 100;
    const billed = (moreLogs: boolean) =>
      writePackage(
        [
          {
            name: 'social-billed',
            region: 'eu-central-1',
            dependsOn: [],
            template: {
              Resources: {
                Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14 } },
                ...(moreLogs ? { MoreLogs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14 } } } : {}),
              },
            },
          },
        ],
        { estimate: { total: moreLogs ? 2 * logsMonthly : logsMonthly, currency: 'USD', region: 'eu-central-1', date: '2026-11-25', incomplete: false, priced: true } },
      );
    const first = cli('deploy', '--package', billed(false), '--yes');
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.include(`Estimated cost once deployed: $${logsMonthly.toFixed(2)} a month`);

    const planned = cli('diff', '--package', billed(true));
    expect(planned.status, planned.stderr).to.equal(0);
    const lines = planned.stdout.split('\n');
    expect(lines[0]).to.match(new RegExp(`^Monthly cost: \\$${logsMonthly.toFixed(2)} → \\$${(2 * logsMonthly).toFixed(2)} a month \\(estimate, eu-central-1 prices of [0-9-]+\\) \\(\\+\\$${logsMonthly.toFixed(2)}\\)$`));
    expect(lines[1]).to.equal(`  + $${logsMonthly.toFixed(2)}  MoreLogs  CloudWatch Logs ingestion into MoreLogs (assumed)`);

    const deployed = cli('deploy', '--package', billed(true), '--yes');
    expect(deployed.status, deployed.stderr).to.equal(0);
    // After the line naming the account and regions (preflight.ts), the plan diff showed.
    expect(deployed.stdout.split('\n').slice(1, 3)).to.deep.equal(lines.slice(0, 2));
    const [total, change] = cli('diff', '--package', billed(true)).stdout.split('\n');
    expect(total).to.match(new RegExp(`^Monthly cost: \\$${(2 * logsMonthly).toFixed(2)} → \\$${(2 * logsMonthly).toFixed(2)} a month .*\\(±\\$0\\.00\\)$`));
    expect(change).to.equal('  no line changes');
  });

  it('a redeploy with a change applies it, events as plain lines off a terminal', async () => {
    const result = cli('deploy', '--package', twoRegionPackage('social-test', { wired: false, extraTopic: true }), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/UPDATE_COMPLETE\s+social-test\s+AWS::CloudFormation::Stack/);
    expect(await status('social-test', 'eu-central-1')).to.equal('UPDATE_COMPLETE');
  });

  it('refuses a change set that deletes a stateful resource, unless --allow-data-loss', async () => {
    const withoutBucket = twoRegionPackage('social-test', { wired: false, extraTopic: true, withoutBucket: true });
    const refused = cli('deploy', '--package', withoutBucket, '--yes');
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.include('Refusing to deploy social-test');
    expect(refused.stderr).to.include('MediaBucket (AWS::S3::Bucket): would delete it');
    expect(await changeSets('social-test', 'eu-central-1')).to.deep.equal([]);
    expect(await status('social-test', 'eu-central-1')).to.equal('UPDATE_COMPLETE');
  });

  it('info prints every stack with its status, also as JSON', () => {
    const result = cli('info', '--package', pkg(), '--json');
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).map((s: { name: string; status: string }) => [s.name, s.status])).to.deep.equal([
      ['social-test-certificates', 'CREATE_COMPLETE'],
      ['social-test', 'UPDATE_COMPLETE'],
    ]);
  });

  it('sends a template over 51,200 bytes through an artifacts bucket in the stack region', async () => {
    const result = cli('deploy', '--package', twoRegionPackage('social-big', { wired: false, bigTemplate: true }), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    const objects = await sdkClients().s3('eu-central-1').send(new ListObjectsV2Command({ Bucket: 'mastodon-cfn-artifacts-123456789012-eu-central-1' }));
    expect(objects.Contents.map((o: { Key: string }) => o.Key)).to.satisfy((keys: string[]) => keys.some((key) => key.startsWith('social-big/')));
  });

  it('remove refuses without a terminal or --yes, and deletes nothing', async () => {
    const result = cli('remove', '--package', pkg());
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include('Nothing was removed: there is no terminal to confirm on');
    expect(await status('social-test', 'eu-central-1')).to.equal('UPDATE_COMPLETE');
  });

  it('remove deletes the main stack, then the certificate stack, and lists what it left behind', async () => {
    const result = cli('remove', '--package', pkg(), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout.indexOf('social-test: deleted')).to.be.below(result.stdout.indexOf('social-test-certificates: deleted'));
    expect(result.stdout).to.match(/Left behind[\s\S]*AWS::S3::Bucket \S+ \(MediaBucket\): retained/);
    expect(await status('social-test', 'eu-central-1')).to.equal('NONE');
    expect(await status('social-test-certificates', 'us-east-1')).to.equal('NONE');
  });

  it('declining a first deploy leaves no stack behind (no empty REVIEW_IN_PROGRESS stack)', async () => {
    const result = cli('deploy', '--package', twoRegionPackage('social-declined', { wired: false }));
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include('Not deployed: social-declined-certificates was not created');
    expect(await status('social-declined-certificates', 'us-east-1')).to.equal('NONE');
  });

  it('a new stack takes over a kept secret that an earlier remove left, found by its name', async () => {
    const { ARN } = await sdkClients().secretsManager('eu-central-1').send(new CreateSecretCommand({ Name: 'mastodon-cfn/social-kept/mastodon', SecretString: '{"SECRET_KEY_BASE":"kept"}' }));
    const pkg = writePackage([
      {
        name: 'social-kept-secrets',
        region: 'eu-central-1',
        dependsOn: [],
        reusableSecrets: [{ parameter: 'ExistingMastodonSecretsArn', name: 'mastodon-cfn/social-kept/mastodon' }],
        template: { Parameters: { ExistingMastodonSecretsArn: { Type: 'String', Default: '' } }, Resources: { Notices: { Type: 'AWS::SNS::Topic' } }, Outputs: { Reused: { Value: { Ref: 'ExistingMastodonSecretsArn' } } } },
      },
    ]);
    const result = cli('deploy', '--package', pkg, '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include('reusing mastodon-cfn/social-kept/mastodon, kept by an earlier remove');
    const stack = (await sdkClients().cloudFormation('eu-central-1').send(new DescribeStacksCommand({ StackName: 'social-kept-secrets' }))).Stacks[0];
    expect(stack.Parameters).to.deep.include({ ParameterKey: 'ExistingMastodonSecretsArn', ParameterValue: ARN });
  });

  it('logs: the processes\' CloudWatch logs, interleaved by time with their names; one process; a filter; --since', async () => {
    const logs = sdkClients().logs('eu-central-1');
    const now = Date.now();
    const put = async (group: string, stream: string, events: [number, string][]) => {
      await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
      await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: events.map(([ago, message]) => ({ timestamp: now - ago * 60_000, message })) }));
    };
    for (const group of ['/mastodon-cfn/social-logs/mastodon', '/mastodon-cfn/social-logs/postblog']) await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await put('/mastodon-cfn/social-logs/mastodon', 'web/web/task1', [[5, 'Puma starting'], [2, 'GET /health 200']]);
    await put('/mastodon-cfn/social-logs/mastodon', 'sidekiq/sidekiq/task1', [[4, 'Sidekiq booted'], [1, 'ERROR delivery failed']]);
    await put('/mastodon-cfn/social-logs/postblog', 'postblog/postblog/task2', [[3, '{"message":"listening"}']]);
    const pkg = writePackage([
      {
        name: 'social-logs',
        region: 'eu-central-1',
        dependsOn: [],
        logSources: {
          web: { group: '/mastodon-cfn/social-logs/mastodon', streamPrefix: 'web' },
          sidekiq: { group: '/mastodon-cfn/social-logs/mastodon', streamPrefix: 'sidekiq' },
          postblog: { group: '/mastodon-cfn/social-logs/postblog', streamPrefix: 'postblog' },
        },
        template: { Resources: { Notices: { Type: 'AWS::SNS::Topic' } } },
      },
    ]);
    // logs reads the logs of a deployed stack only.
    expect(cli('deploy', '--package', pkg, '--yes').status).to.equal(0);
    const lines = (...args: string[]) => {
      const result = cli('logs', '--package', pkg, ...args);
      expect(result.status, result.stderr).to.equal(0);
      return result.stdout.trim().split('\n').map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  /, ''));
    };
    expect(lines()).to.deep.equal(['web       Puma starting', 'sidekiq   Sidekiq booted', 'postblog  {"message":"listening"}', 'web       GET /health 200', 'sidekiq   ERROR delivery failed']);
    expect(lines('sidekiq')).to.deep.equal(['sidekiq  Sidekiq booted', 'sidekiq  ERROR delivery failed']);
    expect(lines('--filter', 'ERROR')).to.deep.equal(['sidekiq   ERROR delivery failed']);
    expect(lines('--since', '150s')).to.deep.equal(['web       GET /health 200', 'sidekiq   ERROR delivery failed']);
    const unknown = cli('logs', 'nginx', '--package', pkg);
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr.trim()).to.equal('No process or service is called "nginx": choose one of web, sidekiq, postblog.');
  });

  it('generates the Mastodon secrets once; a later deploy keeps them', async () => {
    const secrets = sdkClients().secretsManager('eu-central-1');
    const { ARN } = await secrets.send(new CreateSecretCommand({ Name: 'mastodon-cfn/social-test/mastodon' }));
    const reporter = recordingReporter();
    await fillGeneratedSecrets(secrets, 'eu-central-1', { MastodonSecretsArn: 'mastodon-secrets' }, { MastodonSecretsArn: ARN }, reporter);
    const first = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString);
    expect(first).to.have.all.keys('SECRET_KEY_BASE', 'OTP_SECRET', 'VAPID_PRIVATE_KEY', 'VAPID_PUBLIC_KEY', 'ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY', 'ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT', 'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY');
    expect(reporter.lines.join('\n')).to.not.include(first.SECRET_KEY_BASE);
    await fillGeneratedSecrets(secrets, 'eu-central-1', { MastodonSecretsArn: 'mastodon-secrets' }, { MastodonSecretsArn: ARN }, reporter);
    const second = JSON.parse((await secrets.send(new GetSecretValueCommand({ SecretId: ARN }))).SecretString);
    expect(second).to.deep.equal(first);
    expect(reporter.lines).to.have.length(1);
  });

  it('status asks ECS and Elastic Load Balancing for real: a service still starting is "on the way" and the exit code says not healthy; not deployed is failing', () => {
    const pkg = writePackage([
      {
        name: 'social-status',
        region: 'eu-central-1',
        dependsOn: [],
        template: {
          Resources: {
            Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
            Subnet: { Type: 'AWS::EC2::Subnet', Properties: { VpcId: { Ref: 'Vpc' }, CidrBlock: '10.0.1.0/24' } },
            WebTargetGroup: { Type: 'AWS::ElasticLoadBalancingV2::TargetGroup', Properties: { VpcId: { Ref: 'Vpc' }, Port: 3000, Protocol: 'HTTP', TargetType: 'ip' } },
            Cluster: { Type: 'AWS::ECS::Cluster' },
            TaskDefinition: {
              Type: 'AWS::ECS::TaskDefinition',
              Properties: { Family: 'web', RequiresCompatibilities: ['FARGATE'], NetworkMode: 'awsvpc', Cpu: '256', Memory: '512', ContainerDefinitions: [{ Name: 'web', Image: 'ghcr.io/mastodon/mastodon:v4.5.2', Essential: true }] },
            },
            WebService: {
              Type: 'AWS::ECS::Service',
              Properties: { Cluster: { Ref: 'Cluster' }, TaskDefinition: { Ref: 'TaskDefinition' }, DesiredCount: 1, LaunchType: 'FARGATE', NetworkConfiguration: { AwsvpcConfiguration: { Subnets: [{ Ref: 'Subnet' }] } } },
            },
          },
        },
      },
    ]);
    const before = cli('status', '--package', pkg);
    expect(before.status).to.equal(1);
    expect(before.stdout).to.include('  FAIL  stack social-status: not deployed in eu-central-1\n');
    expect(cli('deploy', '--package', pkg, '--yes').status).to.equal(0);
    const after = cli('status', '--package', pkg, '--json');
    expect(after.status, after.stderr).to.equal(1);
    const report = JSON.parse(after.stdout);
    expect(report.healthy).to.equal(false);
    expect(report.checks.map((c: { kind: string; name: string; health: string; summary: string }) => [c.kind, c.name, c.health, c.summary])).to.deep.equal([
      ['stack', 'social-status', 'ok', 'CREATE_COMPLETE (eu-central-1)'],
      ['ECS service', 'WebService', 'pending', '0/1 running, 1 pending, deployment IN_PROGRESS'],
      ['target group', 'WebTargetGroup', 'ok', 'no targets (nothing is meant to run behind it in this mode)'],
    ]);
  });

  describe('zero-touch DNS: the hosted zone found in Route 53 and checked before anything changes', () => {
    const route53 = () => sdkClients().route53();
    const dnsPackage = (name: string, hostedZone: object) =>
      writePackage([
        {
          name,
          region: 'eu-central-1',
          dependsOn: [],
          hostedZone: { parameter: 'HostedZoneId', domain: 'social.example.com', names: ['social.example.com'], ...hostedZone },
          template: {
            Parameters: { HostedZoneId: { Type: 'AWS::Route53::HostedZone::Id' } },
            Resources: {
              InstanceRecord: { Type: 'AWS::Route53::RecordSet', Properties: { HostedZoneId: { Ref: 'HostedZoneId' }, Name: 'social.example.com', Type: 'A', TTL: '300', ResourceRecords: ['192.0.2.10'] } },
            },
          },
        } as never,
      ]);

    it('writes the records into the public zone whose name is the longest suffix of the domain', async () => {
      const zone = async (name: string, privateZone = false) =>
        (await route53().send(new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${privateZone}`, ...(privateZone ? { HostedZoneConfig: { PrivateZone: true }, VPC: { VPCRegion: 'eu-central-1', VPCId: 'vpc-12345678' } } : {}) }))).HostedZone!.Id!.replace('/hostedzone/', '');
      const parent = await zone('example.com.');
      const publicZone = await zone('social.example.com.');
      await zone('social.example.com.', true);
      const result = cli('deploy', '--package', dnsPackage('social-dns', {}), '--yes');
      expect(result.status, result.stderr).to.equal(0);
      const records = async (id: string) => ((await route53().send(new ListResourceRecordSetsCommand({ HostedZoneId: id }))).ResourceRecordSets ?? []).filter((r: { Type: string }) => r.Type === 'A');
      expect((await records(publicZone)).map((r: { Name: string; ResourceRecords: { Value: string }[] }) => [r.Name.replace(/\.$/, ''), r.ResourceRecords[0].Value])).to.deep.equal([['social.example.com', '192.0.2.10']]);
      expect(await records(parent)).to.deep.equal([]);
    });

    it('refuses a name outside the zone, a zone not in the account and no zone at all, before creating any stack', async () => {
      const outside = cli('deploy', '--package', dnsPackage('social-outside', { names: ['social.example.com', 'media.example.org'] }), '--yes');
      expect(outside.status).to.equal(1);
      expect(outside.stderr, outside.stderr).to.match(/^Refusing to deploy social-outside: media\.example\.org is not in hosted zone social\.example\.com \([A-Z0-9]+\), which holds the records\./);
      const missing = cli('deploy', '--package', dnsPackage('social-missing', { hostedZoneId: 'Z0000000000000000000' }), '--yes');
      expect(missing.status).to.equal(1);
      expect(missing.stderr).to.include('dns.hostedZoneId Z0000000000000000000 is not a hosted zone of this AWS account');
      const none = cli('deploy', '--package', dnsPackage('social-none', { domain: 'social.example.net', names: ['social.example.net'] }), '--yes');
      expect(none.status).to.equal(1);
      expect(none.stderr).to.include('No public Route 53 hosted zone of this account holds social.example.net.');
      for (const name of ['social-outside', 'social-missing', 'social-none']) expect(await status(name, 'eu-central-1')).to.equal('NONE');
    });
  });
});
