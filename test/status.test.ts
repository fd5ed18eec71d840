import { expect } from 'chai';
import type { Clients } from '../src/deployer/aws.js';
import { inMemoryPackage, type DeployPackage } from '../src/deployer/manifest.js';
import { createServer } from 'node:http';
import { formatStatus, httpProbe, status, type Check, type ProbeAnswer } from '../src/deployer/status.js';
import { buildConfig, minimalYaml } from './support/build.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { awsError } from './support/fakeCloudFormation.js';
import { MASTODON, OUTSIDE_SCOPES_ERROR } from '../src/mastodon/facts.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-central-1';

/** The physical id CloudFormation reports for a resource of each type, as the AWS docs give them (Ref's value). */
function physicalId(stack: string, logicalId: string, type: string, region: string): string {
  switch (type) {
    case 'AWS::ECS::Service':
      return `arn:aws:ecs:${region}:${ACCOUNT}:service/${stack}-Cluster/${stack}-${logicalId}`;
    case 'AWS::ECS::Cluster':
      return `${stack}-Cluster`;
    case 'AWS::ElasticLoadBalancingV2::TargetGroup':
      return `arn:aws:elasticloadbalancing:${region}:${ACCOUNT}:targetgroup/${logicalId}/0123456789abcdef`;
    case 'AWS::CertificateManager::Certificate':
      return `arn:aws:acm:${region}:${ACCOUNT}:certificate/${logicalId}`;
    case 'AWS::CloudFront::Distribution':
      return 'E2EXAMPLE';
    case 'AWS::SES::EmailIdentity':
      return 'social.example.com';
    default:
      return `${stack}-${logicalId}`.toLowerCase();
  }
}

/**
 * A deployed instance as AWS would describe it, healthy unless a test changes it: CloudFormation
 * lists the template's resources, and each service's API answers with its documented shapes.
 */
function world(pkg: DeployPackage) {
  const templates = new Map(pkg.stacks.map((stack) => [stack.name, JSON.parse(pkg.template(stack)) as { Resources: Record<string, { Type: string }> }]));
  const state = {
    stackStatus: new Map(pkg.stacks.map((stack) => [stack.name, 'UPDATE_COMPLETE'])),
    service: (_name: string): Record<string, unknown> => ({ desiredCount: 1, runningCount: 1, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] }),
    /** The target groups each service registers its tasks in, as compiled for production. */
    targetGroups: (service: string): string[] => (service.endsWith('WebService') ? ['WebTargetGroup', 'StreamingTargetGroup'] : service.endsWith('ServicePostblogService') ? ['ServicePostblogTargetGroup'] : []),
    stoppedTasks: [] as object[],
    targets: (_arn: string): object[] => [{ Target: { Id: '10.0.1.5', Port: 3000 }, TargetHealth: { State: 'healthy' } }],
    certificate: (arn: string): Record<string, unknown> => ({ CertificateArn: arn, DomainName: 'social.example.com', Status: 'ISSUED' }),
    identity: { VerifiedForSendingStatus: true, DkimAttributes: { Status: 'SUCCESS', Tokens: ['tok1', 'tok2', 'tok3'] } } as Record<string, unknown>,
    account: { SendingEnabled: true, ProductionAccessEnabled: true } as Record<string, unknown>,
    answers: new Map<string, number>(),
    probed: [] as string[],
    /** Each service token's secret value, by the secret's name (absent: no token made yet). */
    tokenSecrets: new Map([['mastodon-cfn/social-prod/postblog-token', 'blog-token-0123456789abcdef0123456789abcdef0123']]),
    /** The access tokens Mastodon knows, with their scopes (oauth_access_tokens). */
    tokens: new Map([['blog-token-0123456789abcdef0123456789abcdef0123', ['write:statuses']]]),
    /** The account behind the token is suspended or disabled (require_user! in app/controllers/api/base_controller.rb). */
    accountDisabled: false,
  };
  const cfn = (region: string) =>
    new FakeApi({
      DescribeStacks: ({ StackName }) => {
        const stack = pkg.stacks.find((s) => s.name === StackName && s.region === region);
        const status = state.stackStatus.get(StackName);
        if (!stack || !status) throw new Error(`Stack with id ${StackName} does not exist`);
        return { Stacks: [{ StackName, StackStatus: status }] };
      },
      ListStackResources: ({ StackName }) => ({
        StackResourceSummaries: Object.entries(templates.get(StackName)!.Resources).map(([LogicalResourceId, { Type }]) => ({
          LogicalResourceId,
          ResourceType: Type,
          PhysicalResourceId: physicalId(StackName, LogicalResourceId, Type, region),
          ResourceStatus: 'CREATE_COMPLETE',
        })),
      }),
    });
  const ecs = new FakeApi({
    DescribeServices: ({ services }) => ({
      services: services.map((arn: string) => {
        const serviceName = arn.split('/').pop()!;
        const loadBalancers = state.targetGroups(serviceName).map((group) => ({ targetGroupArn: physicalId('', group, 'AWS::ElasticLoadBalancingV2::TargetGroup', REGION) }));
        return { serviceArn: arn, serviceName, loadBalancers, events: [], ...state.service(serviceName) };
      }),
      failures: [],
    }),
    ListTasks: () => ({ taskArns: state.stoppedTasks.map((_, i) => `arn:aws:ecs:${REGION}:${ACCOUNT}:task/c/${i}`) }),
    DescribeTasks: () => ({ tasks: state.stoppedTasks }),
  });
  const clients: Clients = fakeClients({
    cloudFormation: cfn,
    ecs: () => ecs,
    loadBalancing: () => new FakeApi({ DescribeTargetHealth: ({ TargetGroupArn }) => ({ TargetHealthDescriptions: state.targets(TargetGroupArn) }) }),
    rds: () => new FakeApi({ DescribeDBClusters: () => ({ DBClusters: [{ Status: 'available' }] }), DescribeDBInstances: () => ({ DBInstances: [{ DBInstanceStatus: 'available' }] }) }),
    elastiCache: () => new FakeApi({ DescribeReplicationGroups: () => ({ ReplicationGroups: [{ Status: 'available' }] }) }),
    cloudFront: () => new FakeApi({ GetDistribution: () => ({ Distribution: { Status: 'Deployed', DomainName: 'd111111abcdef8.cloudfront.net', DistributionConfig: { Enabled: true } } }) }),
    acm: () => new FakeApi({ DescribeCertificate: ({ CertificateArn }) => ({ Certificate: state.certificate(CertificateArn) }) }),
    ses: () => new FakeApi({ GetEmailIdentity: () => state.identity, GetAccount: () => state.account }),
    secretsManager: () =>
      new FakeApi({
        GetSecretValue: ({ SecretId }) => {
          // A secret created empty has no version yet (Secrets Manager's answer to GetSecretValue on it).
          if (!state.tokenSecrets.has(SecretId)) throw awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT");
          return { Name: SecretId, SecretString: JSON.stringify({ token: state.tokenSecrets.get(SecretId) }) };
        },
      }),
  });
  /**
   * Mastodon's verify_credentials as Api::BaseController answers it: 401 for a token it does not know,
   * 403 for one whose scopes do not reach the account (the scopes of app/controllers/api/v1/accounts/credentials_controller.rb), else 200.
   */
  const verifyCredentials = (bearer: string | undefined): ProbeAnswer => {
    const scopes = bearer === undefined ? undefined : state.tokens.get(bearer);
    if (!scopes) return { status: 401, error: 'The access token is invalid' };
    if (!scopes.some((scope) => MASTODON['4.5'].oauth.verifyCredentialsScopes.includes(scope))) return { status: 403, error: OUTSIDE_SCOPES_ERROR };
    return state.accountDisabled ? { status: 403, error: 'Your login is currently disabled' } : { status: 200 };
  };
  const probe = async (url: string, bearer?: string): Promise<ProbeAnswer> => {
    state.probed.push(url);
    if (url.endsWith('/api/v1/accounts/verify_credentials')) return verifyCredentials(bearer);
    const answer = state.answers.get(url) ?? 200;
    if (answer < 0) throw new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } });
    return { status: answer };
  };
  return { state, clients, probe };
}

const referencePackage = () => inMemoryPackage(buildConfig({ file: 'mastodon.config.yaml' }).files);
const find = (checks: Check[], kind: string, name: string) => {
  const found = checks.find((c) => c.kind === kind && c.name === name);
  if (!found) throw new Error(`no ${kind} ${name} check in ${checks.map((c) => `${c.kind} ${c.name}`).join(', ')}`);
  return found;
};

describe('mastodon-cfn status', () => {
  it('healthy: every service, target group, database, cache, distribution, certificate, the mail identity and the URLs are checked, and all are ok', async () => {
    const pkg = referencePackage();
    const { clients, probe, state } = world(pkg);
    const report = await status(pkg, clients, probe);
    expect(report.healthy, formatStatus(report)).to.equal(true);
    const looked = new Set(report.checks.map((c) => `${c.kind} ${c.name}`));
    for (const expected of [
      'stack social-prod-certificates',
      'stack social-prod',
      'ECS service WebService',
      'ECS service SidekiqAllService',
      'ECS service ServicePostblogService',
      'target group WebTargetGroup',
      'target group StreamingTargetGroup',
      'database cluster DatabaseCluster',
      'database instance DatabaseInstance',
      'cache Cache',
      'CloudFront distribution MediaDistribution',
      'certificate MediaCertificate',
      'certificate InstanceCertificate',
      'certificate ServicePostblogCertificate',
      'mail identity MailIdentity',
      'SES account eu-central-1',
      'Mastodon token postblog (@blog)',
    ]) {
      expect(looked, expected).to.include(expected);
    }
    // Mastodon's health routes (config/routes.rb `/health`, streaming's `/api/v1/streaming/health`) and the service's own, through the public names.
    expect(state.probed.sort()).to.deep.equal(['https://comments.example.com/status', 'https://social.example.com/api/v1/accounts/verify_credentials', 'https://social.example.com/api/v1/streaming/health', 'https://social.example.com/health']);
    expect(formatStatus(report)).to.match(/Healthy\.\n$/);
  });

  it('lists the alert alarms in ALARM with what each says to look at, and the addresses that have not confirmed their subscription', async () => {
    const pkg = inMemoryPackage(buildConfig({ yaml: minimalYaml('provider: { region: eu-central-1 }\nalerts: { email: [ops@example.com, oncall@example.com] }\n') }).files);
    const { clients, probe } = world(pkg);
    const topic = 'arn:aws:sns:eu-central-1:123456789012:mastodon-cfn-social-prod-alerts';
    let firing: object[] = [];
    const cloudWatch = new FakeApi({ DescribeAlarms: ({ AlarmNamePrefix, StateValue }) => ({ MetricAlarms: AlarmNamePrefix === 'mastodon-cfn/social-prod/' && StateValue === 'ALARM' ? firing : [] }) });
    const sns = new FakeApi({ ListSubscriptionsByTopic: ({ TopicArn }) => ({ Subscriptions: TopicArn === topic ? [{ Protocol: 'email', Endpoint: 'ops@example.com', SubscriptionArn: `${topic}:1` }, { Protocol: 'email', Endpoint: 'oncall@example.com', SubscriptionArn: 'PendingConfirmation' }] : [] }) });
    const cfn = clients.cloudFormation;
    Object.assign(clients, {
      cloudWatch: () => cloudWatch,
      sns: () => sns,
      // The main stack's outputs name its topic.
      cloudFormation: (region: string) => {
        const inner = cfn(region);
        return { send: async (command: { constructor: { name: string } }) => { const answer = await inner.send(command); if (command.constructor.name === 'DescribeStacksCommand' && answer.Stacks[0].StackName === 'social-prod') answer.Stacks[0].Outputs = [{ OutputKey: 'AlertsTopicArn', OutputValue: topic }]; return answer; } };
      },
    });
    const quiet = await status(pkg, clients, probe);
    expect(find(quiet.checks, 'alarms', 'mastodon-cfn/social-prod/').health).to.equal('ok');
    expect(find(quiet.checks, 'alert subscription', 'oncall@example.com')).to.include({ health: 'pending', summary: 'not confirmed: no alarm is mailed there yet' });
    firing = [{ AlarmName: 'mastodon-cfn/social-prod/web-too-few-targets', StateValue: 'ALARM', StateReason: 'Threshold Crossed: 5 datapoints were less than the threshold (2.0).', StateUpdatedTimestamp: new Date('2026-12-03T04:05:00Z'), AlarmDescription: 'Fewer than 2 healthy web tasks for 5 minutes: ECS cannot keep the service running. Look at mastodon-cfn status.' }];
    const report = await status(pkg, clients, probe);
    expect(report.healthy).to.equal(false);
    expect(find(report.checks, 'alarm', 'web-too-few-targets')).to.include({ health: 'failing', summary: 'in ALARM since 2026-12-03 04:05: Threshold Crossed: 5 datapoints were less than the threshold (2.0).' });
    expect(formatStatus(report)).to.include('FAIL  alarm web-too-few-targets: in ALARM since 2026-12-03 04:05: Threshold Crossed: 5 datapoints were less than the threshold (2.0).\n          Fewer than 2 healthy web tasks for 5 minutes');
  });

  it('says what is wrong and what to do: a crashing service with its stop reasons and exit codes, unhealthy targets, a certificate waiting for DNS, the SES sandbox, a URL not answering', async () => {
    const pkg = referencePackage();
    const { clients, probe, state } = world(pkg);
    state.service = (name) =>
      name.endsWith('WebService')
        ? { desiredCount: 2, runningCount: 1, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }], events: [{ message: '(service x) was unable to place a task.' }] }
        : { desiredCount: 1, runningCount: 1, pendingCount: 0, deployments: [{ status: 'PRIMARY', rolloutState: 'COMPLETED' }] };
    state.stoppedTasks = [
      { stoppedAt: new Date('2026-11-25T10:00:00Z'), stoppedReason: 'Essential container in task exited', stopCode: 'EssentialContainerExited', containers: [{ name: 'web', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }] },
      { stoppedAt: new Date('2026-11-25T10:05:00Z'), stoppedReason: 'Task failed ELB health checks in (target-group x)', containers: [{ name: 'web', exitCode: 1 }] },
    ];
    state.targets = (arn) => (arn.includes('/WebTargetGroup/') ? [{ Target: { Id: '10.0.1.5', Port: 3000 }, TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [500]' } }] : [{ Target: { Id: '10.0.1.6', Port: 4000 }, TargetHealth: { State: 'healthy' } }]);
    state.certificate = (arn) =>
      arn.includes('MediaCertificate')
        ? { DomainName: 'mastodonmedia.example.com', Status: 'PENDING_VALIDATION', DomainValidationOptions: [{ DomainName: 'mastodonmedia.example.com', ValidationStatus: 'PENDING_VALIDATION', ResourceRecord: { Name: '_x1.mastodonmedia.example.com.', Type: 'CNAME', Value: '_x2.acm-validations.aws.' } }] }
        : { DomainName: 'social.example.com', Status: 'ISSUED' };
    state.account = { SendingEnabled: true, ProductionAccessEnabled: false };
    state.answers.set('https://social.example.com/health', 502);
    state.answers.set('https://comments.example.com/status', -1);

    const report = await status(pkg, clients, probe);
    expect(report.healthy).to.equal(false);
    const web = find(report.checks, 'ECS service', 'WebService');
    expect(web.health).to.equal('failing');
    expect(web.summary).to.equal('1/2 running');
    // Newest first, each with its reason and every container's exit code.
    expect(web.details).to.deep.equal([
      'latest event: (service x) was unable to place a task.',
      'stopped 2026-11-25 10:05:00: Task failed ELB health checks in (target-group x); web exit 1',
      'stopped 2026-11-25 10:00:00: Essential container in task exited; web exit 137 (OutOfMemoryError: Container killed due to memory usage)',
    ]);
    const targets = find(report.checks, 'target group', 'WebTargetGroup');
    expect([targets.health, targets.summary, targets.details]).to.deep.equal(['failing', '0 of 1 target healthy', ['10.0.1.5:3000 unhealthy Target.ResponseCodeMismatch: Health checks failed with these codes: [500]']]);
    const certificate = find(report.checks, 'certificate', 'MediaCertificate');
    expect(certificate.health).to.equal('pending');
    expect(certificate.stack).to.equal('social-prod-certificates');
    expect(certificate.details).to.deep.equal(['create this DNS record (it can stay forever): _x1.mastodonmedia.example.com. CNAME _x2.acm-validations.aws.']);
    const sandbox = find(report.checks, 'SES account', REGION);
    expect(sandbox.health).to.equal('failing');
    expect(sandbox.details[0]).to.include('aws sesv2 put-account-details --region eu-central-1 --production-access-enabled');
    expect(find(report.checks, 'URL', 'https://social.example.com/health').summary).to.equal('mastodon answers HTTP 502');
    expect(find(report.checks, 'URL', 'https://comments.example.com/status').summary).to.equal('postblog does not answer: ENOTFOUND');

    const screen = formatStatus(report);
    expect(screen).to.include('  FAIL  ECS service WebService: 1/2 running\n');
    expect(screen).to.include('  wait  certificate MediaCertificate: mastodonmedia.example.com PENDING_VALIDATION\n');
    expect(screen).to.include('  ok    cache Cache: available\n');
    expect(screen).to.match(/Not healthy: 5 failing, 1 on the way\.\n$/);
  });

  it('a deployment under way and a DKIM still verifying are "on the way", with the DKIM CNAMEs to create', async () => {
    const pkg = referencePackage();
    const { clients, probe, state } = world(pkg);
    state.service = () => ({ desiredCount: 1, runningCount: 0, pendingCount: 1, deployments: [{ status: 'PRIMARY', rolloutState: 'IN_PROGRESS' }] });
    state.targets = () => [{ Target: { Id: '10.0.1.7', Port: 3000 }, TargetHealth: { State: 'initial', Reason: 'Elb.RegistrationInProgress' } }];
    state.identity = { VerifiedForSendingStatus: false, DkimAttributes: { Status: 'PENDING', Tokens: ['abc', 'def', 'ghi'] } };
    const report = await status(pkg, clients, probe);
    expect(report.healthy).to.equal(false);
    expect(report.checks.filter((c) => c.health === 'failing').map((c) => `${c.kind} ${c.name}`)).to.deep.equal([]);
    expect(find(report.checks, 'ECS service', 'WebService').summary).to.equal('0/1 running, 1 pending, deployment IN_PROGRESS');
    const mail = find(report.checks, 'mail identity', 'MailIdentity');
    expect(mail.health).to.equal('pending');
    expect(mail.details).to.deep.equal(['abc', 'def', 'ghi'].map((token) => `create this DNS record: ${token}._domainkey.social.example.com CNAME ${token}.dkim.amazonses.com`));
  });

  it('in maintenance mode, target groups without targets are expected (the tasks sleep outside them)', async () => {
    const pkg = inMemoryPackage(buildConfig({ yaml: minimalYaml('mastodon: { mode: maintenance }\n') }).files);
    const { clients, probe, state } = world(pkg);
    // As compiled for maintenance: the Mastodon service has no load balancers.
    state.targetGroups = () => [];
    state.targets = () => [];
    const report = await status(pkg, clients, probe);
    expect(find(report.checks, 'target group', 'WebTargetGroup')).to.include({ health: 'ok', summary: 'no targets (nothing is meant to run behind it in this mode)' });
  });

  it('a check that cannot be made says why and the rest of the report is still there', async () => {
    const pkg = referencePackage();
    const { clients, probe } = world(pkg);
    clients.elastiCache = () => new FakeApi({});
    const report = await status(pkg, clients, probe);
    expect(find(report.checks, 'AWS::ElastiCache::ReplicationGroup', 'Cache')).to.include({ health: 'failing', summary: 'could not be checked: the fake does not know DescribeReplicationGroups' });
    expect(find(report.checks, 'database cluster', 'DatabaseCluster').health).to.equal('ok');
  });

  it('a stack that is not deployed is failing, and its URLs are not asked', async () => {
    const pkg = referencePackage();
    const { clients, probe, state } = world(pkg);
    state.stackStatus.delete('social-prod');
    const report = await status(pkg, clients, probe);
    expect(find(report.checks, 'stack', 'social-prod')).to.include({ health: 'failing', summary: 'not deployed in eu-central-1' });
    expect(state.probed).to.deep.equal([]);
    expect(report.healthy).to.equal(false);
  });

  it("asks Mastodon whether each service's token works, through the instance's public URL, and never shows the token", async () => {
    const pkg = referencePackage();
    const { clients, probe, state } = world(pkg);
    const token = find((await status(pkg, clients, probe)).checks, 'Mastodon token', 'postblog (@blog)');
    // write:statuses alone does not reach the account: Mastodon's 403 still says it knows the token.
    expect(token).to.deep.include({ health: 'ok', summary: 'Mastodon accepts it; its scopes (write:statuses) do not include reading its own account, so /api/v1/accounts/verify_credentials answers 403 "This action is outside the authorized scopes"' });

    state.tokens.set('blog-token-0123456789abcdef0123456789abcdef0123', ['write:statuses', 'profile']);
    expect(find((await status(pkg, clients, probe)).checks, 'Mastodon token', 'postblog (@blog)').summary).to.equal('Mastodon accepts it (https://social.example.com/api/v1/accounts/verify_credentials answers 200)');
    // A 403 for the account, not the scopes: the account was suspended or disabled.
    state.accountDisabled = true;
    expect(find((await status(pkg, clients, probe)).checks, 'Mastodon token', 'postblog (@blog)')).to.deep.include({ health: 'failing', summary: 'Mastodon knows the token but refuses its account @blog: "Your login is currently disabled"' });

    state.tokens.clear();
    const revoked = await status(pkg, clients, probe);
    expect(revoked.healthy).to.equal(false);
    expect(find(revoked.checks, 'Mastodon token', 'postblog (@blog)')).to.deep.include({
      health: 'failing',
      summary: 'Mastodon refuses it (https://social.example.com/api/v1/accounts/verify_credentials answers 401): it was revoked, or the database no longer has it',
      details: ['make a new one: mastodon-cfn deploy --rotate-token postblog'],
    });

    state.tokenSecrets.clear();
    const none = await status(pkg, clients, probe);
    expect(find(none.checks, 'Mastodon token', 'postblog (@blog)')).to.deep.include({ health: 'failing', summary: 'no token in mastodon-cfn/social-prod/postblog-token yet' });
    for (const report of [revoked, none]) {
      expect(formatStatus(report)).to.not.include('blog-token-0123');
      expect(JSON.stringify(report)).to.not.include('blog-token-0123');
    }
  });

  it('the real probe sends the token as a bearer token only when asked, follows no redirect, and gives the HTTP status with the words of an API error', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers.authorization);
      if (request.url === '/moved') response.writeHead(302, { location: '/elsewhere' }).end();
      else if (request.url === '/api/v1/accounts/verify_credentials') response.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: OUTSIDE_SCOPES_ERROR }));
      else response.writeHead(401).end('not JSON');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect(await httpProbe(`${base}/api/v1/accounts/verify_credentials`, 'abc')).to.deep.equal({ status: 403, error: OUTSIDE_SCOPES_ERROR });
      expect(await httpProbe(`${base}/health`)).to.deep.equal({ status: 401 });
      expect(await httpProbe(`${base}/health`, 'abc')).to.deep.equal({ status: 401 });
      expect(await httpProbe(`${base}/moved`)).to.deep.equal({ status: 302 });
      expect(seen).to.deep.equal(['Bearer abc', undefined, 'Bearer abc', undefined]);
    } finally {
      server.close();
    }
  });
});
