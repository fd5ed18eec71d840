import { expect } from 'chai';
import type { ServiceImage, ServiceToken } from '../src/compiler/fragment.js';
import type { AwsClient } from '../src/deployer/aws.js';
import { deploy, diff, type DeployerContext } from '../src/deployer/commands.js';
import { readPackage } from '../src/deployer/manifest.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { FakeCloudFormation } from './support/fakeCloudFormation.js';
import { writePackage } from './support/packages.js';

/**
 * The order a deploy of a built service with a Mastodon account keeps, against fakes of every API
 * (the image build and push itself is tested against a real registry in image.test.ts, the account
 * script against Mastodon stand-ins in service-account.test.ts): the repository and the token's secret
 * first, then the image pushed, then the main stack with the service at zero tasks, the migrations,
 * the account and its token, and last the service started on its token.
 */
const REGION = 'eu-central-1';
const REPOSITORY = '123456789012.dkr.ecr.eu-central-1.amazonaws.com/mastodon-cfn/svc/blog';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const TOKEN_SECRET = 'mastodon-cfn/svc/blog-token';
const task = (taskDefinition: string, description: string, container: string) => ({
  outputs: { cluster: 'ClusterName', taskDefinition, subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
  capacityProvider: 'FARGATE',
  container,
  description,
});
const image: ServiceImage = { service: 'blog', folder: '/nowhere/blog', repository: { stack: 'secrets', output: 'ServiceBlogRepositoryUri' }, parameter: 'ServiceBlogImage', platform: 'linux/amd64', port: 8000, healthCheck: '/status' };
const token: ServiceToken = {
  service: 'blog',
  account: 'blog',
  scopes: ['write:statuses'],
  secret: TOKEN_SECRET,
  madeParameter: 'ServiceBlogTokenMade',
  instanceUrl: 'https://social.example.org',
  task: task('ServiceBlogAccountTaskDefinition', 'account @blog and token of service blog', 'account'),
};
const OUTPUTS = {
  ServiceBlogRepositoryUri: REPOSITORY,
  ServiceBlogMastodonTokenArn: `arn:aws:secretsmanager:${REGION}:123456789012:secret:${TOKEN_SECRET}-AbCdEf`,
  ClusterName: 'svc',
  PostDeploymentMigrationTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/svc-migrations:1',
  ServiceBlogAccountTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/svc-blog-account:1',
  TaskSubnets: 'subnet-1',
  TaskSecurityGroup: 'sg-1',
  MastodonLogGroup: '/mastodon-cfn/svc/mastodon',
};

function servicePackage(tokens: ServiceToken[] = [token]) {
  return readPackage(
    writePackage([
      {
        name: 'svc-secrets',
        region: REGION,
        role: 'secrets',
        dependsOn: [],
        template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } }, Outputs: { ServiceBlogRepositoryUri: { Value: REPOSITORY } } },
      },
      {
        name: 'svc',
        region: REGION,
        role: 'main',
        dependsOn: ['svc-secrets'],
        parameters: { ServiceBlogMastodonTokenArn: { stack: 'svc-secrets', output: 'ServiceBlogMastodonTokenArn' } },
        images: [image],
        serviceTokens: tokens,
        afterDeploy: task('PostDeploymentMigrationTaskDefinition', 'post-deployment migrations (rails db:migrate) and content retention', 'migrate'),
        template: {
          Parameters: { ServiceBlogImage: { Type: 'String' }, ServiceBlogTokenMade: { Type: 'String', Default: '' }, ServiceBlogMastodonTokenArn: { Type: 'String' } },
          Resources: { Alerts: { Type: 'AWS::SNS::Topic' } },
          Outputs: { Image: { Value: { Ref: 'ServiceBlogImage' } }, Made: { Value: { Ref: 'ServiceBlogTokenMade' } }, Token: { Value: { Ref: 'ServiceBlogMastodonTokenArn' } } },
        },
      },
    ]),
  );
}

/** Every API the deploy uses, each call written to one timeline in the order it was made. */
function world() {
  const timeline: string[] = [];
  const tags = new Map<string, string>();
  const cfn = new FakeCloudFormation();
  cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: OUTPUTS };
  const sendToCloudFormation = cfn.send.bind(cfn);
  cfn.send = async (command: object) => {
    const input = (command as { input: any }).input;
    const name = command.constructor.name.replace(/Command$/, '');
    if (name === 'CreateChangeSet') {
      const parameters = Object.fromEntries((input.Parameters ?? []).filter((p: any) => p.ParameterKey.startsWith('ServiceBlog') && p.ParameterKey !== 'ServiceBlogMastodonTokenArn').map((p: any) => [p.ParameterKey, p.ParameterValue]));
      timeline.push(`change set ${input.StackName} ${JSON.stringify(parameters)}`);
    }
    if (name === 'ExecuteChangeSet') timeline.push(`execute ${input.StackName}`);
    return sendToCloudFormation(command);
  };
  let polls = 0;
  /** Task definitions whose next run fails (exit 1), once. */
  const failing = new Set<string>();
  let failsNow = false;
  const ecs = new FakeApi({
    RunTask: (input) => {
      polls = 0;
      failsNow = failing.delete(input.taskDefinition.split('/').pop());
      timeline.push(`task ${input.taskDefinition.split('/').pop()}${input.overrides ? ` ${JSON.stringify(input.overrides.containerOverrides[0].environment)}` : ''}`);
      return { tasks: [{ taskArn: 'arn:aws:ecs:eu-central-1:123456789012:task/svc/0a1b2c3d4e5f', lastStatus: 'PROVISIONING' }], failures: [] };
    },
    DescribeTasks: (input) => ({ tasks: [polls++ === 0 ? { lastStatus: 'RUNNING' } : { taskArn: input.tasks[0], lastStatus: 'STOPPED', containers: ['migrate', 'account'].map((name) => ({ name, exitCode: failsNow ? 1 : 0 })) }] }),
  });
  const secretsManager = new FakeApi({
    DescribeSecret: ({ SecretId }) => ({ Name: SecretId, Tags: [...tags].map(([Key, Value]) => ({ Key, Value })) }),
    TagResource: ({ Tags }) => {
      for (const tag of Tags) tags.set(tag.Key, tag.Value);
      timeline.push(`tag ${Object.keys(Object.fromEntries(tags)).join(' ')}`);
      return {};
    },
    UntagResource: ({ TagKeys }) => {
      for (const key of TagKeys) tags.delete(key);
      return {};
    },
  });
  const sts = new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/test', UserId: 'AIDATEST' }) });
  const ecr = new FakeApi({});
  const reporter = recordingReporter();
  const confirmations: string[] = [];
  const pushed: { images: ServiceImage[]; outputs: object; ecr: AwsClient }[] = [];
  const context: DeployerContext = {
    clients: fakeClients({ cloudFormation: () => cfn, ecs: () => ecs, secretsManager: () => secretsManager, sts: () => sts, ecr: () => ecr }),
    reporter,
    confirm: async (question) => (confirmations.push(question), true),
    polling: { initialMs: 1, maxMs: 1 },
    pushImages: async (images, outputs, client) => {
      pushed.push({ images, outputs, ecr: client });
      timeline.push(`push ${images.map((i) => i.service).join(' ')} to ${(outputs.secrets ?? {}).ServiceBlogRepositoryUri}`);
      return { ServiceBlogImage: `${REPOSITORY}@${DIGEST}` };
    },
  };
  return { timeline, tags, failing, cfn, ecs, ecr, reporter, confirmations, pushed, context };
}

const options = { allowDataLoss: false, forceVersion: false };
const IMAGE = `${REPOSITORY}@${DIGEST}`;

describe('deploy of a built service with a Mastodon account: in order, and the first deploy ends with it running', () => {
  it('first deploy: repository, image pushed, main stack with the service at zero tasks, migrations, account and token, then the service started', async () => {
    const w = world();
    await deploy(servicePackage(), w.context, options);
    const made = w.tags.get('mastodon-cfn:token-made')!;
    expect(made).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(w.timeline).to.deep.equal([
      'change set svc-secrets {}',
      'execute svc-secrets',
      `push blog to ${REPOSITORY}`,
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":""}`,
      'execute svc',
      'task svc-migrations:1',
      'task svc-blog-account:1 [{"name":"ROTATE_TOKEN","value":"false"}]',
      'tag mastodon-cfn:token-made mastodon-cfn:token-account mastodon-cfn:token-scopes mastodon-cfn:token-stack',
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${made}"}`,
      'execute svc',
    ]);
    // The image goes to the repository the secrets stack made, with the ECR client of the stack's region.
    expect(w.pushed[0].ecr).to.equal(w.ecr);
    // The second change set is part of the deploy the user confirmed: it is shown, not asked again.
    expect(w.confirmations).to.deep.equal(['Deploy these changes to svc-secrets?', 'Deploy these changes to svc?']);
    expect(w.reporter.lines).to.include('svc: starting blog with its new token');
    expect(w.reporter.lines.join('\n')).to.not.match(/ServiceBlogMastodonToken.*:token/);
  });

  it('Ctrl-C while the images are built: the deploy stops once the push is done, before the main stack is touched (exit 130)', async () => {
    const w = world();
    const controller = new AbortController();
    w.context.polling = { initialMs: 1, maxMs: 1, signal: controller.signal };
    const push = w.context.pushImages!;
    w.context.pushImages = async (...args) => {
      controller.abort();
      return push(...args);
    };
    let error: unknown;
    try {
      await deploy(servicePackage(), w.context, options);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect((error as MastodonCfnError).exitCode).to.equal(130);
    expect((error as Error).message).to.equal('Interrupted: svc was left as it was; the images pushed stay in its ECR repository.');
    expect(w.timeline).to.deep.equal(['change set svc-secrets {}', 'execute svc-secrets', `push blog to ${REPOSITORY}`]);
  });

  it('a later deploy keeps the token: one change set of the main stack, passing when it was made, and no account task', async () => {
    const w = world();
    await deploy(servicePackage(), w.context, options);
    const made = w.tags.get('mastodon-cfn:token-made')!;
    w.timeline.length = 0;
    await deploy(servicePackage(), w.context, options);
    expect(w.timeline.filter((line) => line.startsWith('change set svc {'))).to.deep.equal([`change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${made}"}`]);
    expect(w.timeline.filter((line) => line.startsWith('task'))).to.deep.equal(['task svc-migrations:1']);
    expect(w.reporter.lines).to.include('Service blog: its token for @blog (write:statuses) is in mastodon-cfn/svc/blog-token, left as it is (deploy --rotate-token blog makes a new one).');
  });

  it('after a remove, the kept secret still tagged: the main stack created anew keeps the service at zero tasks until a deploy makes its token there', async () => {
    const w = world();
    // What a deploy before the remove left on the kept secret, for a database that is gone.
    const removed = 'arn:aws:cloudformation:eu-central-1:123456789012:stack/svc/0a1b2c3d-0000-4000-8000-00000000dead';
    for (const [key, value] of Object.entries({ 'mastodon-cfn:token-made': '2026-01-01T00:00:00.000Z', 'mastodon-cfn:token-account': 'blog', 'mastodon-cfn:token-scopes': 'write:statuses', 'mastodon-cfn:token-stack': removed })) w.tags.set(key, value);
    // The first deploy of the new stack stops at the migrations; the next one, on the stack it created, still makes the token.
    w.failing.add('svc-migrations:1');
    const failed = await deploy(servicePackage(), w.context, options).then(() => undefined, (error: unknown) => error);
    expect(failed).to.be.instanceOf(MastodonCfnError);
    expect(w.timeline.filter((line) => line.startsWith('task'))).to.deep.equal(['task svc-migrations:1']);
    w.timeline.length = 0;
    await deploy(servicePackage(), w.context, options);
    const made = w.tags.get('mastodon-cfn:token-made')!;
    expect(made).to.not.equal('2026-01-01T00:00:00.000Z');
    expect(w.tags.get('mastodon-cfn:token-stack')).to.not.equal(removed);
    expect(w.timeline.filter((line) => line.startsWith('change set svc {') || line.startsWith('task'))).to.deep.equal([
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":""}`,
      'task svc-migrations:1',
      'task svc-blog-account:1 [{"name":"ROTATE_TOKEN","value":"false"}]',
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${made}"}`,
    ]);
  });

  it('--rotate-token makes a new token and rolls the service onto it with a second change set', async () => {
    const w = world();
    await deploy(servicePackage(), w.context, options);
    const first = w.tags.get('mastodon-cfn:token-made')!;
    await new Promise((resolve) => setTimeout(resolve, 5));
    w.timeline.length = 0;
    await deploy(servicePackage(), w.context, { ...options, rotateTokens: ['blog'] });
    const second = w.tags.get('mastodon-cfn:token-made')!;
    expect(second).to.not.equal(first);
    expect(w.timeline.filter((line) => !line.startsWith('execute') && !line.startsWith('change set svc-secrets') && !line.startsWith('push'))).to.deep.equal([
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${first}"}`,
      'task svc-migrations:1',
      'task svc-blog-account:1 [{"name":"ROTATE_TOKEN","value":"true"}]',
      'tag mastodon-cfn:token-made mastodon-cfn:token-account mastodon-cfn:token-scopes mastodon-cfn:token-stack',
      `change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${second}"}`,
    ]);
  });

  it('refuses --rotate-token for a service without a token, and in maintenance mode, before it changes anything (exit 2)', async () => {
    for (const [tokens, message] of [
      [[token], '--rotate-token news: only blog has a Mastodon token (services.<name>.mastodon)'],
      [[{ ...token, task: undefined }], '--rotate-token blog: Mastodon is in maintenance or debug mode, where no task can make a token; deploy in production mode to rotate it'],
    ] as const) {
      const w = world();
      let error: unknown;
      try {
        await deploy(servicePackage([...tokens]), w.context, { ...options, rotateTokens: [message.includes('news') ? 'news' : 'blog'] });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(MastodonCfnError);
      expect((error as Error).message).to.equal(message);
      // A command line the manifest cannot carry out: the usage exit code, as for other wrong flags.
      expect((error as MastodonCfnError).exitCode).to.equal(2);
      expect(w.timeline).to.deep.equal([]);
    }
  });

  it('in maintenance mode the service runs on the token it has: no account task, no second change set', async () => {
    const w = world();
    await deploy(servicePackage(), w.context, options);
    const made = w.tags.get('mastodon-cfn:token-made')!;
    w.timeline.length = 0;
    const asleep = servicePackage([{ ...token, task: undefined }]);
    await deploy(asleep, w.context, options);
    expect(w.timeline.filter((line) => line.startsWith('change set svc {') || line.startsWith('task svc-blog'))).to.deep.equal([`change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"${made}"}`]);
  });

  it('diff builds and pushes nothing: it compares the image and the token as deployed, and says so', async () => {
    const w = world();
    await deploy(servicePackage(), w.context, options);
    w.cfn.stacks.set('svc', { ...w.cfn.stacks.get('svc')!, parameters: { ServiceBlogImage: IMAGE, ServiceBlogTokenMade: '2026-12-01T10:00:00.000Z' } });
    w.timeline.length = 0;
    w.pushed.length = 0;
    await diff(servicePackage(), w.context);
    expect(w.pushed).to.deep.equal([]);
    expect(w.timeline).to.include(`change set svc {"ServiceBlogImage":"${IMAGE}","ServiceBlogTokenMade":"2026-12-01T10:00:00.000Z"}`);
    expect(w.reporter.lines).to.include('svc: diff compares the image of blog as deployed; deploy builds it from source and rolls out a changed one.');
  });
});
