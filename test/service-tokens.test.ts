import { CreateSecretCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { expect } from 'chai';
import type { ServiceToken } from '../src/compiler/fragment.js';
import { sdkClients, type AwsClient } from '../src/deployer/aws.js';
import { checkRotation, makeServiceTokens, tokenParameters } from '../src/deployer/serviceTokens.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { MASTODON } from '../src/mastodon/facts.js';
import { FakeApi } from './support/fakes.js';
import { useMoto } from './support/moto.js';

const REGION = 'eu-central-1';
const STACK = { name: 'social-prod', region: REGION, id: 'arn:aws:cloudformation:eu-central-1:123456789012:stack/social-prod/0a1b2c3d-0000-4000-8000-000000000001' };
/** The same stack created anew after a remove: a new StackId, a new database. */
const STACK_AGAIN = { ...STACK, id: 'arn:aws:cloudformation:eu-central-1:123456789012:stack/social-prod/0a1b2c3d-0000-4000-8000-000000000002' };
const POLLING = { initialMs: 1, maxMs: 1 };
const taskArn = 'arn:aws:ecs:eu-central-1:123456789012:task/social-prod/0a1b2c3d4e5f';
const outputs = {
  ClusterName: 'social-prod',
  ServiceBlogAccountTaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/social-prod-blog-account:1',
  TaskSubnets: 'subnet-1,subnet-2',
  TaskSecurityGroup: 'sg-1',
  MastodonLogGroup: '/mastodon-cfn/social-prod/mastodon',
};

let secretCount = 0;
/** The manifest's entry for a service `blog` whose secret is `secret`. */
const blogToken = (secret: string, overrides: Partial<ServiceToken> = {}): ServiceToken => ({
  service: 'blog',
  account: 'blog',
  scopes: ['write:statuses'],
  secret,
  madeParameter: 'ServiceBlogTokenMade',
  instanceUrl: 'https://social.example.com',
  task: {
    outputs: { cluster: 'ClusterName', taskDefinition: 'ServiceBlogAccountTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
    capacityProvider: 'FARGATE',
    container: 'account',
    description: 'account @blog and token of service blog',
  },
  ...overrides,
});

/** The TokenMade parameter the deployer passes for a token: when it was made, or '' while there is none for its account and scopes. */
const madeOf = async (sm: AwsClient, token: ServiceToken) => (await tokenParameters(sm, [token], STACK.id)).ServiceBlogTokenMade;

/** ECS running each account task to the exit code given, in turn. */
function accountTasks(...exitCodes: number[]) {
  let runs = 0;
  let polls = 0;
  return new FakeApi({
    RunTask: () => (runs++, (polls = 0), { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] }),
    DescribeTasks: () => ({
      tasks: [polls++ === 0 ? { taskArn, lastStatus: 'RUNNING' } : { taskArn, lastStatus: 'STOPPED', stoppedReason: 'Essential container in task exited', containers: [{ name: 'account', exitCode: exitCodes[runs - 1] }] }],
    }),
  });
}

const runTasks = (ecs: FakeApi) => ecs.calls.filter((call) => call.name === 'RunTask').map((call) => call.input);

describe('service tokens in the deploy: made once, tagged, ready only for the account and scopes of the manifest', function () {
  useMoto();
  /** moto's Secrets Manager, recording which operations the deployer sends. */
  const secretsManager = () => {
    const real = sdkClients().secretsManager(REGION);
    const calls: string[] = [];
    const client: AwsClient & { calls: string[] } = { calls, send: (command: object) => (calls.push(command.constructor.name.replace(/Command$/, '')), real.send(command)) };
    return client;
  };
  const emptySecret = async () => {
    const name = `mastodon-cfn/social-prod/blog-${++secretCount}-token`;
    await sdkClients().secretsManager(REGION).send(new CreateSecretCommand({ Name: name }));
    return name;
  };
  const tags = async (secret: string) => Object.fromEntries(((await sdkClients().secretsManager(REGION).send(new DescribeSecretCommand({ SecretId: secret }))).Tags ?? []).map((t: { Key: string; Value: string }) => [t.Key, t.Value]));

  it('runs the account task of a token not made yet, tags the secret, and leaves it to later deploys; the token never passes through the deployer', async () => {
    const secret = await emptySecret();
    const token = blogToken(secret);
    const sm = secretsManager();
    expect(await madeOf(sm, token)).to.equal('');

    const ecs = accountTasks(0);
    const reporter = recordingReporter();
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [token], outputs, STACK, reporter, POLLING, { rotate: [] })).to.deep.equal(['blog']);
    expect(runTasks(ecs)).to.have.length(1);
    expect(runTasks(ecs)[0]).to.deep.include({ cluster: 'social-prod', taskDefinition: outputs.ServiceBlogAccountTaskDefinition, capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] });
    expect(runTasks(ecs)[0].overrides).to.deep.equal({ containerOverrides: [{ name: 'account', environment: [{ name: 'ROTATE_TOKEN', value: 'false' }] }] });
    expect(await tags(secret)).to.deep.include({ 'mastodon-cfn:token-account': 'blog', 'mastodon-cfn:token-scopes': 'write:statuses', 'mastodon-cfn:token-stack': STACK.id });
    expect(new Date((await tags(secret))['mastodon-cfn:token-made']).getTime()).to.be.closeTo(Date.now(), 60_000);
    expect(reporter.lines.at(-1)).to.equal('Service blog: its token for @blog (write:statuses) is stored in Secrets Manager (mastodon-cfn/social-prod/blog-1-token); the service reads it as an ECS secret, and it is never printed.');
    expect(await madeOf(sm, token)).to.equal((await tags(secret))['mastodon-cfn:token-made']);
    expect(sm.calls).to.not.include('GetSecretValue');

    const again = recordingReporter();
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [token], outputs, STACK, again, POLLING, { rotate: [] })).to.deep.equal([]);
    expect(runTasks(ecs)).to.have.length(1);
    expect(again.lines).to.deep.equal(['Service blog: its token for @blog (write:statuses) is in mastodon-cfn/social-prod/blog-1-token, left as it is (deploy --rotate-token blog makes a new one).']);
  });

  it('makes a new token when the account or the scopes change, or when asked to rotate it', async () => {
    const secret = await emptySecret();
    const sm = secretsManager();
    await makeServiceTokens({ ecs: accountTasks(0), secretsManager: sm }, [blogToken(secret)], outputs, STACK, recordingReporter(), POLLING, { rotate: [] });
    const rescoped = blogToken(secret, { scopes: ['write:statuses', 'write:media'] });
    const renamed = blogToken(secret, { account: 'news' });
    expect(await madeOf(sm, rescoped)).to.equal('');
    expect(await madeOf(sm, renamed)).to.equal('');
    // The scopes' order is the config's, not the token's.
    expect(await madeOf(sm, blogToken(secret, { scopes: ['write:statuses'] }))).to.equal((await tags(secret))['mastodon-cfn:token-made']);

    const ecs = accountTasks(0, 0);
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [rescoped], outputs, STACK, recordingReporter(), POLLING, { rotate: [] })).to.deep.equal(['blog']);
    expect(await madeOf(sm, blogToken(secret, { scopes: ['write:media', 'write:statuses'] }))).to.equal((await tags(secret))['mastodon-cfn:token-made']);
    const rotating = recordingReporter();
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [rescoped], outputs, STACK, rotating, POLLING, { rotate: ['blog'] })).to.deep.equal(['blog']);
    expect(runTasks(ecs).map((input) => input.overrides.containerOverrides[0].environment)).to.deep.equal([[{ name: 'ROTATE_TOKEN', value: 'false' }], [{ name: 'ROTATE_TOKEN', value: 'true' }]]);
    expect(rotating.lines.at(-1)).to.equal('Service blog: a new token for @blog (write:statuses write:media) is stored in Secrets Manager (mastodon-cfn/social-prod/blog-2-token); the service reads it as an ECS secret, and it is never printed.');
  });

  it('on a main stack created anew (a new database), a token tagged for the stack before is not ready: the account task runs again', async () => {
    const secret = await emptySecret();
    const sm = secretsManager();
    await makeServiceTokens({ ecs: accountTasks(0), secretsManager: sm }, [blogToken(secret)], outputs, STACK, recordingReporter(), POLLING, { rotate: [] });
    const before = (await tags(secret))['mastodon-cfn:token-made'];
    expect(await madeOf(sm, blogToken(secret))).to.equal(before);
    expect((await tokenParameters(sm, [blogToken(secret)], STACK_AGAIN.id)).ServiceBlogTokenMade).to.equal('');
    // Before the stack is created, there is no StackId: no token is ready.
    expect((await tokenParameters(sm, [blogToken(secret)], undefined)).ServiceBlogTokenMade).to.equal('');

    const ecs = accountTasks(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [blogToken(secret)], outputs, STACK_AGAIN, recordingReporter(), POLLING, { rotate: [] })).to.deep.equal(['blog']);
    expect(runTasks(ecs).map((input) => input.overrides.containerOverrides[0].environment)).to.deep.equal([[{ name: 'ROTATE_TOKEN', value: 'false' }]]);
    expect((await tags(secret))['mastodon-cfn:token-made']).to.not.equal(before);
    expect((await tags(secret))['mastodon-cfn:token-stack']).to.equal(STACK_AGAIN.id);
    expect((await tokenParameters(sm, [blogToken(secret)], STACK_AGAIN.id)).ServiceBlogTokenMade).to.equal((await tags(secret))['mastodon-cfn:token-made']);
  });

  it('a failed rotation leaves the token not ready, so that the next deploy makes one again; the failure names the log stream', async () => {
    const secret = await emptySecret();
    const sm = secretsManager();
    await makeServiceTokens({ ecs: accountTasks(0), secretsManager: sm }, [blogToken(secret)], outputs, STACK, recordingReporter(), POLLING, { rotate: [] });
    let error: unknown;
    try {
      await makeServiceTokens({ ecs: accountTasks(1), secretsManager: sm }, [blogToken(secret)], outputs, STACK, recordingReporter(), POLLING, { rotate: ['blog'] });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(MastodonCfnError);
    expect((error as Error).message).to.include('the account @blog and token of service blog failed: account exited with code 1');
    expect((error as Error).message).to.include('stream account/account/0a1b2c3d4e5f');
    expect(await tags(secret)).to.not.have.any.keys('mastodon-cfn:token-made', 'mastodon-cfn:token-account', 'mastodon-cfn:token-scopes', 'mastodon-cfn:token-stack');
    expect(await madeOf(sm, blogToken(secret))).to.equal('');
  });

  it('tags a scope list longer than a tag value takes by its digest, and still knows it', async () => {
    const secret = await emptySecret();
    const sm = secretsManager();
    const every = blogToken(secret, { scopes: [...MASTODON['4.5'].oauth.scopes] });
    await makeServiceTokens({ ecs: accountTasks(0), secretsManager: sm }, [every], outputs, STACK, recordingReporter(), POLLING, { rotate: [] });
    expect((await tags(secret))['mastodon-cfn:token-scopes']).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(await madeOf(sm, every)).to.equal((await tags(secret))['mastodon-cfn:token-made']);
    expect(await madeOf(sm, blogToken(secret, { scopes: every.scopes.slice(1) }))).to.equal('');
  });

  it('a secret not there yet is not ready; a rotation asked for a service without a token is refused before any task runs', async () => {
    const sm = secretsManager();
    expect(await madeOf(sm, blogToken('mastodon-cfn/social-prod/never-made-token'))).to.equal('');
    const ecs = accountTasks(0);
    let error: unknown;
    try {
      await makeServiceTokens({ ecs, secretsManager: sm }, [blogToken(await emptySecret())], outputs, STACK, recordingReporter(), POLLING, { rotate: ['news'] });
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).to.equal('--rotate-token news: only blog has a Mastodon token (services.<name>.mastodon)');
    expect(runTasks(ecs)).to.deep.equal([]);
  });

  it('in maintenance or debug (no account task): a token is kept and passed as made, none is made, and a rotation is refused before anything is deployed', async () => {
    const secret = await emptySecret();
    const sm = secretsManager();
    await makeServiceTokens({ ecs: accountTasks(0), secretsManager: sm }, [blogToken(secret)], outputs, STACK, recordingReporter(), POLLING, { rotate: [] });
    const asleep = blogToken(secret, { task: undefined });
    // The service keeps running on its token while Mastodon sleeps.
    expect(await madeOf(sm, asleep)).to.equal((await tags(secret))['mastodon-cfn:token-made']);
    const ecs = accountTasks();
    expect(await makeServiceTokens({ ecs, secretsManager: sm }, [blogToken(await emptySecret(), { task: undefined })], outputs, STACK, recordingReporter(), POLLING, { rotate: [] })).to.deep.equal([]);
    expect(runTasks(ecs)).to.deep.equal([]);
    expect(() => checkRotation([asleep], ['blog'])).to.throw(MastodonCfnError, '--rotate-token blog: Mastodon is in maintenance or debug mode, where no task can make a token; deploy in production mode to rotate it');
  });
});
