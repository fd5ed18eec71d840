import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'chai';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdkClients } from '../src/deployer/aws.js';
import { MastodonCfnError } from '../src/errors.js';
import { MASTODON, MASTODON_SERIES, type MastodonSeries } from '../src/mastodon/facts.js';
import { buildConfig, grantedBy, minimalYaml } from './support/build.js';
import { mastodonStandIn, runRuby } from './support/mastodonStandIn.js';
import { useMoto } from './support/moto.js';

const REGION = 'eu-central-1';
const blog = (mastodon: string, extra = '') => `services:\n  blog:\n    image: registry.gitlab.com/example/blog:1\n    port: 8000\n    host: blog.social.example.com\n    mastodon: ${mastodon}\n${extra}`;
const build = (yaml: string) => buildConfig({ yaml: minimalYaml(yaml) });

/** The problems a config is refused with, as `path line:col message`. */
function refusal(yaml: string): string[] {
  try {
    build(yaml);
  } catch (error) {
    if (error instanceof MastodonCfnError) return error.problems.map((p) => `${p.path} ${p.line}:${p.col} ${p.message}`);
    throw error;
  }
  throw new Error('the config was accepted');
}

describe("a service's Mastodon account and token, in the templates", () => {
  for (const series of MASTODON_SERIES) {
    const { latest, owner } = MASTODON[series];
    it(`${latest}: the service gets its token as an ECS secret only, runs no task until TokenMade names a token, and rolls its tasks on a new one`, () => {
      const built = build(`mastodon: { version: ${latest} }\n${blog('{ account: blog, scopes: [write:statuses] }')}`);
      const main = built.resources();
      const [container] = main.ServiceBlogTaskDefinition.Properties.ContainerDefinitions;
      expect(container.Secrets).to.deep.equal([{ Name: 'MASTODON_TOKEN', ValueFrom: { 'Fn::Join': ['', [{ Ref: 'ServiceBlogMastodonTokenArn' }, ':token::']] } }]);
      expect(container.Environment.map((e: { Name: string }) => e.Name)).to.not.include('MASTODON_TOKEN');
      // The service's execution role reads the token's secret and no other, and only at task start.
      expect(grantedBy(main.ServiceBlogExecutionRole, 'secretsmanager:GetSecretValue')).to.deep.equal([{ Ref: 'ServiceBlogMastodonTokenArn' }]);
      expect(main.ServiceBlogService.Properties.DesiredCount).to.deep.equal({ 'Fn::If': ['ServiceBlogTokenExists', 1, 0] });
      const template = built.template('main');
      expect(template.Conditions!.ServiceBlogTokenExists).to.deep.equal({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ServiceBlogTokenMade' }, ''] }] });
      expect(template.Parameters!.ServiceBlogTokenMade).to.include({ Type: 'String', Default: '' });
      // The date the deployer tags the secret with when the task made the token (new Date().toISOString()).
      expect(new RegExp(template.Parameters!.ServiceBlogTokenMade.AllowedPattern!).test(new Date().toISOString())).to.equal(true);
      expect(new RegExp(template.Parameters!.ServiceBlogTokenMade.AllowedPattern!).test('')).to.equal(true);
      // A new token is a new task definition: the service's tasks start again and read it.
      expect(container.DockerLabels).to.deep.equal({ 'Fn::If': ['ServiceBlogTokenExists', { 'mastodon-cfn.token-made': { Ref: 'ServiceBlogTokenMade' } }, { Ref: 'AWS::NoValue' }] });
      expect(built.manifest.stacks[2].parameters).to.deep.include({ ServiceBlogMastodonTokenArn: { stack: 'social-prod-secrets', output: 'ServiceBlogMastodonTokenArn' } });

      // The account task: the Mastodon image and environment, this release's script, a role that may write that one secret.
      const task = main.ServiceBlogAccountTaskDefinition.Properties;
      expect(task.Family).to.equal('social-prod-blog-account');
      expect(task.ExecutionRoleArn).to.deep.equal({ 'Fn::GetAtt': ['MastodonExecutionRole', 'Arn'] });
      expect(task.TaskRoleArn).to.deep.equal({ 'Fn::GetAtt': ['ServiceBlogAccountTaskRole', 'Arn'] });
      const [account] = task.ContainerDefinitions;
      expect(account.Image).to.equal(`ghcr.io/mastodon/mastodon:${latest}`);
      expect(account.Command.slice(0, 4)).to.deep.equal(['bundle', 'exec', 'rails', 'runner']);
      expect(account.Command[4]).to.include(`${owner.bypassAttribute}: true`);
      const environment = Object.fromEntries(account.Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
      expect(environment).to.deep.include({ SERVICE_ACCOUNT: 'blog', SERVICE_EMAIL: 'blog@social.example.com', SERVICE_SCOPES: 'write:statuses', SERVICE_APPLICATION: 'blog', TOKEN_SECRET_ARN: { Ref: 'ServiceBlogMastodonTokenArn' }, LOCAL_DOMAIN: 'social.example.com' });
      expect(main.ServiceBlogAccountTaskRole.Properties.Policies).to.deep.equal([
        { PolicyName: 'blog-token', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:PutSecretValue', Resource: { Ref: 'ServiceBlogMastodonTokenArn' } }] } },
      ]);
      // Nothing else may write it, and nothing serving users may read it but the service.
      const writers = Object.entries(main).filter(([, resource]) => resource.Type === 'AWS::IAM::Role' && JSON.stringify(resource).includes('PutSecretValue'));
      expect(writers.map(([id]) => id)).to.deep.equal(['ServiceBlogAccountTaskRole']);
      expect(JSON.stringify(main.MastodonExecutionRole)).to.not.include('ServiceBlogMastodonTokenArn');
      expect(JSON.stringify([main.WebTaskDefinition, main.SidekiqAllTaskDefinition])).to.not.include('ServiceBlogMastodonTokenArn');

      expect(built.template('main').Outputs!.ServiceBlogAccountTaskDefinition.Value).to.deep.equal({ Ref: 'ServiceBlogAccountTaskDefinition' });
      expect(built.manifest.stacks[2].serviceTokens).to.deep.equal([
        {
          service: 'blog',
          account: 'blog',
          scopes: ['write:statuses'],
          secret: 'mastodon-cfn/social-prod/blog-token',
          madeParameter: 'ServiceBlogTokenMade',
          instanceUrl: 'https://social.example.com',
          task: {
            outputs: { cluster: 'ClusterName', taskDefinition: 'ServiceBlogAccountTaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
            capacityProvider: 'FARGATE',
            container: 'account',
            description: 'account @blog and token of service blog',
          },
        },
      ]);
    });
  }

  it('keeps the token in a kept secret of the secrets stack, created empty: the account task fills it', () => {
    const built = build(blog('{ account: blog, scopes: [write:statuses] }'));
    const secret = built.resources('secrets').ServiceBlogMastodonToken;
    expect(secret.Properties.Name).to.equal('mastodon-cfn/social-prod/blog-token');
    expect([secret.DeletionPolicy, secret.UpdateReplacePolicy]).to.deep.equal(['Retain', 'Retain']);
    expect(secret.Properties).to.not.have.any.keys('SecretString', 'GenerateSecretString');
    expect(built.manifest.stacks[1].reusableSecrets.map((s) => s.name)).to.include('mastodon-cfn/social-prod/blog-token');
    // No value of any template is the token: it exists only in Secrets Manager.
    for (const role of ['secrets', 'main'] as const) expect(JSON.stringify(built.template(role))).to.not.match(/"token"\s*:/);
  });

  it('gives the token in the variable the config names, next to the service’s own secrets', () => {
    const main = build(blog('{ account: blog, scopes: [write:statuses], variable: BLOG_TOKEN }', '    secrets: { API_KEY: "arn:aws:secretsmanager:eu-central-1:123456789012:secret:api-AbCdEf" }\n')).resources();
    expect(main.ServiceBlogTaskDefinition.Properties.ContainerDefinitions[0].Secrets.map((s: { Name: string }) => s.Name)).to.deep.equal(['API_KEY', 'BLOG_TOKEN']);
    expect(grantedBy(main.ServiceBlogExecutionRole, 'secretsmanager:GetSecretValue')).to.deep.equal(['arn:aws:secretsmanager:eu-central-1:123456789012:secret:api-AbCdEf', { Ref: 'ServiceBlogMastodonTokenArn' }]);
  });

  it('in maintenance and debug runs no account task: the service runs as its token allows; a service without an account starts as before', () => {
    for (const mode of ['maintenance', 'debug']) {
      const built = build(`mastodon: { mode: ${mode} }\n${blog('{ account: blog, scopes: [write:statuses] }')}`);
      expect(built.resources()).to.not.have.any.keys('ServiceBlogAccountTaskDefinition', 'ServiceBlogAccountTaskRole');
      expect(built.manifest.stacks[2].serviceTokens).to.deep.equal([
        { service: 'blog', account: 'blog', scopes: ['write:statuses'], secret: 'mastodon-cfn/social-prod/blog-token', madeParameter: 'ServiceBlogTokenMade', instanceUrl: 'https://social.example.com' },
      ]);
      expect(built.resources().ServiceBlogService.Properties.DesiredCount).to.deep.equal({ 'Fn::If': ['ServiceBlogTokenExists', 1, 0] });
      expect(built.resources('secrets')).to.have.property('ServiceBlogMastodonToken');
    }
    const plain = build('services:\n  blog: { image: registry.gitlab.com/example/blog:1, port: 8000, host: blog.social.example.com, desiredCount: 2 }\n');
    expect(plain.resources().ServiceBlogService.Properties.DesiredCount).to.equal(2);
    expect(plain.template('main').Parameters).to.not.have.property('ServiceBlogTokenMade');
  });
});

describe("a service's Mastodon account, refused by build with the key's position", () => {
  it('a scope the release does not have, with the closest it has', () => {
    expect(refusal(blog('{ account: blog, scopes: [write:statuses, write:status] }'))).to.deep.equal([
      `services.blog.mastodon.scopes.1 8:57 Mastodon v4.5.2 has no OAuth scope "write:status" (config/initializers/doorkeeper.rb) (did you mean "write:statuses"?)`,
    ]);
    // Doorkeeper's three-part admin scopes are scopes like any other.
    expect(() => build(blog('{ account: blog, scopes: [admin:read:accounts, profile] }'))).to.not.throw();
  });

  it('a username the release reserves where the script cannot bypass the check (4.3), not where it can (4.5)', () => {
    expect(refusal(`mastodon: { version: ${MASTODON['4.3'].latest} }\n${blog('{ account: Admin, scopes: [read] }')}`)).to.deep.equal([
      `services.blog.mastodon.account 9:26 Mastodon ${MASTODON['4.3'].latest} reserves the username "Admin" (reserved_usernames in config/settings.yml at v4.3.0): choose another`,
    ]);
    expect(() => build(`mastodon: { version: ${MASTODON['4.5'].latest} }\n${blog('{ account: admin, scopes: [read] }')}`)).to.not.throw();
  });

  it("the owner's account, or another service's", () => {
    expect(refusal(`mastodon: { owner: { username: Alice, email: alice@example.com } }\n${blog('{ account: alice, scopes: [read] }')}`)).to.deep.equal([
      'services.blog.mastodon.account 9:26 @alice is the owner account (mastodon.owner.username): a service needs an account of its own, which its token alone can act as',
    ]);
    const two = `${blog('{ account: blog, scopes: [read] }')}  news:\n    image: registry.gitlab.com/example/news:1\n    port: 8001\n    host: news.social.example.com\n    mastodon: { account: Blog, scopes: [read] }\n`;
    expect(refusal(two)).to.deep.equal(['services.news.mastodon.account 13:26 @Blog is already the account of service "blog": each service needs an account of its own (rotating one\'s token would break the other\'s)']);
  });

  it('a variable the service already sets, in its environment, its secrets or by mastodon-cfn', () => {
    expect(refusal(blog('{ account: blog, scopes: [read] }', '    environment: { MASTODON_TOKEN: abc }\n'))).to.deep.equal([
      'services.blog.environment.MASTODON_TOKEN 9:36 MASTODON_TOKEN is the variable the service\'s Mastodon token is given in (services.blog.mastodon.variable): remove it here, or set mastodon.variable to another name',
    ]);
    expect(refusal(blog('{ account: blog, scopes: [read], variable: API }', '    secrets: { API: /blog/api }\n'))[0]).to.match(/^services\.blog\.secrets\.API 9:21 API is the variable/);
    expect(refusal(blog('{ account: blog, scopes: [read], variable: PORT }'))).to.deep.equal(['services.blog.mastodon.variable 8:58 PORT is set by mastodon-cfn for the service itself: choose another variable for the token']);
  });
});

// ---------------------------------------------------------------------------------------------
// The script, in real Ruby against stand-ins of each release, storing the token in a real moto_server

/** Node's SHA-256 in the shape @smithy/signature-v4 takes (the SDK's own hash package is not a dependency here). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData) => (typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
class Sha256 {
  private hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

const TASK_ROLE = { AccessKeyId: 'ASIATASKROLEEXAMPLE', SecretAccessKey: 'task/role/secret/access/key/example0000', Token: 'task-role-session-token' };

/** What the ECS container credentials endpoint serves; counts the requests. */
function credentialsEndpoint(): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((_request, response) => {
    requests++;
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ ...TASK_ROLE, RoleArn: 'arn:aws:iam::123456789012:role/blog-token', Expiration: new Date(Date.now() + 3_600_000).toISOString() }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v2/credentials/task`, requests: () => requests })));
}

interface SignedRequest {
  target: string;
  accessKeyId: string;
  securityToken: string;
  /** Whether the Authorization header is the SigV4 signature of this very request with the task role's keys. */
  signatureValid: boolean;
  body: string;
}

/** Forwards to moto_server (which does not check signatures), after checking each request's SigV4 signature with the AWS SDK's own signer. */
function verifyingProxy(target: () => string): Promise<{ server: Server; url: string; requests: SignedRequest[] }> {
  const requests: SignedRequest[] = [];
  const read = (request: IncomingMessage) => new Promise<string>((resolve) => {
    let body = '';
    request.on('data', (chunk) => (body += String(chunk)));
    request.on('end', () => resolve(body));
  });
  const server = createServer(async (request, response) => {
    const body = await read(request);
    const authorization = String(request.headers.authorization ?? '');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1].split(';') ?? [];
    const date = String(request.headers['x-amz-date']);
    const signer = new SignatureV4({ service: 'secretsmanager', region: REGION, credentials: { accessKeyId: TASK_ROLE.AccessKeyId, secretAccessKey: TASK_ROLE.SecretAccessKey, sessionToken: TASK_ROLE.Token }, sha256: Sha256 });
    const [host, port] = String(request.headers.host).split(':');
    const signed = await signer.sign(
      { method: request.method!, protocol: 'http:', hostname: host, port: Number(port), path: request.url!, headers: Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])])), body },
      { signingDate: new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`) },
    );
    requests.push({
      target: String(request.headers['x-amz-target']),
      accessKeyId: /Credential=([^/]+)/.exec(authorization)?.[1] ?? '',
      securityToken: String(request.headers['x-amz-security-token']),
      signatureValid: signed.headers.authorization === authorization,
      body,
    });
    const forwarded = await fetch(`${target()}${request.url}`, { method: request.method, headers: { 'content-type': String(request.headers['content-type']), 'x-amz-target': String(request.headers['x-amz-target']), authorization }, body });
    response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' });
    response.end(await forwarded.text());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests })));
}

describe('the account-and-token script, in Ruby against stand-ins of each release, storing the token in moto_server', function () {
  const moto = useMoto();
  let credentials: Awaited<ReturnType<typeof credentialsEndpoint>>;
  let proxy: Awaited<ReturnType<typeof verifyingProxy>>;
  let stateDir: string;
  before(async () => {
    credentials = await credentialsEndpoint();
    proxy = await verifyingProxy(() => moto.endpoint);
    stateDir = mkdtempSync(join(tmpdir(), 'mastodon-standin-'));
  });
  after(() => {
    credentials.server.close();
    proxy.server.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const secrets = () => sdkClients().secretsManager(REGION);
  let secretCount = 0;
  /** A new, empty secret, as the secrets stack creates it. */
  async function emptySecret(): Promise<string> {
    const created = await secrets().send(new CreateSecretCommand({ Name: `mastodon-cfn/social-prod/blog-${++secretCount}-token` }));
    return created.ARN as string;
  }
  const storedToken = async (arn: string) => JSON.parse((await secrets().send(new GetSecretValueCommand({ SecretId: arn }))).SecretString as string) as { token: string };

  /** The script a build of this version and scopes puts in the account task. */
  const compiledScript = (version: string, scopes = '[write:statuses]') =>
    build(`mastodon: { version: ${version} }\n${blog(`{ account: blog, scopes: ${scopes} }`)}`).resources().ServiceBlogAccountTaskDefinition.Properties.ContainerDefinitions[0].Command[4] as string;

  /** Runs `script` against the stand-in of `series` whose records live in `state`; `inspect` runs after the script (also after an abort). */
  function run(series: MastodonSeries, script: string, options: { state: string; secretArn: string; scopes?: string; rotate?: boolean; inspect?: string }) {
    const inspect = options.inspect ? `at_exit { ${options.inspect} }\n` : '';
    return runRuby(`${mastodonStandIn(series)}\n${inspect}${script}`, {
      STANDIN_STATE: options.state,
      SERVICE_ACCOUNT: 'blog',
      SERVICE_EMAIL: 'blog@social.example.com',
      SERVICE_SCOPES: options.scopes ?? 'write:statuses',
      SERVICE_APPLICATION: 'blog',
      TOKEN_SECRET_ARN: options.secretArn,
      ...(options.rotate ? { ROTATE_TOKEN: 'true' } : {}),
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: credentials.url,
    });
  }
  /** What the stand-in holds, printed as JSON to stderr by the inspecting at_exit. */
  const RECORDS = 'u = $db[:users]["blog"]; STDERR.puts "RECORDS " + JSON.generate(users: $db[:users].size, approved: u&.approved?, confirmed: u&.confirmed?, password: u&.attributes&.dig(:password), mails: $db[:mails], applications: $db[:applications].map { |a| [a.name, a.scopes.to_s, a.owner.id == u&.id] }, tokens: $db[:tokens].map { |t| [t.token, t.scopes.to_s] })';
  type Records = { users: number; approved: boolean; confirmed: boolean; password: string; mails: unknown[]; applications: [string, string, boolean][]; tokens: [string, string][] };
  const records = (stderr: string) => JSON.parse(/RECORDS (.*)/.exec(stderr)![1]) as Records;

  for (const series of MASTODON_SERIES) {
    const { latest } = MASTODON[series];
    it(`${latest}: creates @blog confirmed and approved with no mail, registers its application and stores a token of exactly its scopes, signed with the task role's credentials; nothing secret is printed`, async () => {
      const state = join(stateDir, `${series}-create`);
      const arn = await emptySecret();
      const before = proxy.requests.length;
      const result = await run(series, compiledScript(latest, '[write:statuses, read:accounts]'), { state, secretArn: arn, scopes: 'write:statuses read:accounts', inspect: RECORDS });
      expect(result.status, result.stderr).to.equal(0);
      const held = records(result.stderr);
      expect(held).to.deep.include({ users: 1, approved: true, confirmed: true, mails: [], applications: [['blog', 'write:statuses read:accounts', true]] });
      expect(held.tokens).to.have.length(1);
      const [[token, scopes]] = held.tokens;
      expect(scopes).to.equal('write:statuses read:accounts');
      expect(await storedToken(arn)).to.deep.equal({ token });
      expect(result.stdout).to.equal(
        [
          'Account @blog created (confirmed and approved, no mail sent)',
          'Application blog registered for @blog with scopes write:statuses read:accounts',
          `Token of @blog (write:statuses read:accounts) stored in ${arn}`,
          '',
        ].join('\n'),
      );
      const printed = result.stdout + result.stderr.replace(/RECORDS .*/, '');
      expect(printed).to.not.include(token);
      expect(printed).to.not.include(held.password);
      expect(held.password).to.have.length(64);
      // One PutSecretValue, signed (SigV4, with the session token) with the keys from the container credentials endpoint.
      const sent = proxy.requests.slice(before);
      expect(sent.map((r) => [r.target, r.accessKeyId, r.securityToken, r.signatureValid])).to.deep.equal([['secretsmanager.PutSecretValue', TASK_ROLE.AccessKeyId, TASK_ROLE.Token, true]]);
      expect(credentials.requests()).to.be.greaterThan(0);
    });
  }

  it('the signature check of the proxy tells a request signed with other keys from one signed with the task role', async () => {
    const send = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => new SecretsManagerClient({ region: REGION, endpoint: proxy.url, credentials }).send(new ListSecretsCommand({}));
    const before = proxy.requests.length;
    await send({ accessKeyId: TASK_ROLE.AccessKeyId, secretAccessKey: TASK_ROLE.SecretAccessKey, sessionToken: TASK_ROLE.Token });
    await send({ accessKeyId: TASK_ROLE.AccessKeyId, secretAccessKey: 'another/secret/access/key/example00000', sessionToken: TASK_ROLE.Token });
    expect(proxy.requests.slice(before).map((r) => r.signatureValid)).to.deep.equal([true, false]);
  });

  it('a second run leaves the account and the token as they are; a rotating one replaces the token and destroys the old one', async () => {
    const state = join(stateDir, 'rotation');
    const arn = await emptySecret();
    const script = compiledScript(MASTODON['4.5'].latest);
    const first = await run('4.5', script, { state, secretArn: arn, inspect: RECORDS });
    const [[token]] = records(first.stderr).tokens;

    const second = await run('4.5', script, { state, secretArn: arn, inspect: RECORDS });
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.equal(`Account @blog already exists: left as it is\nToken of @blog (write:statuses) stored in ${arn}\n`);
    expect(records(second.stderr)).to.deep.include({ users: 1, tokens: [[token, 'write:statuses']] });
    expect(await storedToken(arn)).to.deep.equal({ token });

    const rotated = await run('4.5', script, { state, secretArn: arn, rotate: true, inspect: RECORDS });
    expect(rotated.status, rotated.stderr).to.equal(0);
    expect(rotated.stdout).to.include('Token of blog replaced: the earlier one is destroyed\n');
    const after = records(rotated.stderr);
    expect(after.users).to.equal(1);
    expect(after.tokens).to.have.length(1);
    const [[newToken]] = after.tokens;
    expect(newToken).to.not.equal(token);
    expect(await storedToken(arn)).to.deep.equal({ token: newToken });
    expect(rotated.stdout + rotated.stderr.replace(/RECORDS .*/, '')).to.not.include(newToken);

    // A token revoked in Mastodon (Settings, Authorized apps) cannot act: the next run replaces it, rotation or not.
    await runRuby(`${mastodonStandIn('4.5')}\n$db[:tokens].each(&:revoke)`, { STANDIN_STATE: state });
    const afterRevocation = await run('4.5', script, { state, secretArn: arn, inspect: RECORDS });
    expect(afterRevocation.stdout).to.include('Token of blog replaced: the earlier one is destroyed\n');
    const [[replacement]] = records(afterRevocation.stderr).tokens;
    expect(replacement).to.not.equal(newToken);
    expect(await storedToken(arn)).to.deep.equal({ token: replacement });
  });

  it('uses an account that exists as it is, and warns when Mastodon would refuse its token (pending approval)', async () => {
    const state = join(stateDir, 'pending');
    const arn = await emptySecret();
    // Signed up by hand while registrations need approval: confirmed, not approved.
    await runRuby(`${mastodonStandIn('4.4')}\nu = User.new(email: "me@example.com", password: "x" * 10, agreement: true, confirmed_at: Time.now.utc); u.account = Account.new(username: "blog"); u.save`, { STANDIN_STATE: state });
    const result = await run('4.4', compiledScript(MASTODON['4.4'].latest), { state, secretArn: arn, inspect: RECORDS });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^Account @blog already exists: left as it is\n/);
    expect(result.stderr).to.include('Account @blog is not confirmed, approved and enabled: Mastodon refuses its token until an administrator sees to it (Moderation, Accounts)');
    expect(records(result.stderr)).to.deep.include({ users: 1, approved: false });
    expect(await storedToken(arn)).to.deep.equal({ token: records(result.stderr).tokens[0][0] });
  });

  it('changed scopes are saved on the application, and the token is made again with them, as Mastodon does when an application is edited', async () => {
    const state = join(stateDir, 'rescope');
    const arn = await emptySecret();
    const first = await run('4.4', compiledScript(MASTODON['4.4'].latest), { state, secretArn: arn, inspect: RECORDS });
    const [[token]] = records(first.stderr).tokens;
    const changed = await run('4.4', compiledScript(MASTODON['4.4'].latest, '[write:statuses, write:media]'), { state, secretArn: arn, scopes: 'write:statuses write:media', inspect: RECORDS });
    expect(changed.status, changed.stderr).to.equal(0);
    expect(changed.stdout).to.include('Application blog: scopes are now write:statuses write:media; its earlier token is destroyed\n');
    const after = records(changed.stderr);
    expect(after.applications).to.deep.equal([['blog', 'write:statuses write:media', true]]);
    expect(after.tokens.map(([, scopes]) => scopes)).to.deep.equal(['write:statuses write:media']);
    expect(after.tokens[0][0]).to.not.equal(token);
    expect(await storedToken(arn)).to.deep.equal({ token: after.tokens[0][0] });
  });

  it('refuses a scope the release does not have before changing anything, and stores nothing', async () => {
    const state = join(stateDir, 'unknown-scope');
    const arn = await emptySecret();
    const before = proxy.requests.length;
    const result = await run('4.3', compiledScript(MASTODON['4.3'].latest), { state, secretArn: arn, scopes: 'write:statuses write:everything', inspect: RECORDS });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include(`Mastodon ${MASTODON['4.3'].latest.slice(1)} has no OAuth scope write:everything (config/initializers/doorkeeper.rb): no token was made`);
    expect(records(result.stderr)).to.deep.include({ users: 0, applications: [], tokens: [] });
    expect(proxy.requests.length).to.equal(before);
    expect((await secrets().send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ?? {}).to.deep.equal({});
  });

  it("fails with Secrets Manager's reason when it refuses the token, without printing it", async () => {
    const state = join(stateDir, 'refused');
    const missing = `arn:aws:secretsmanager:${REGION}:123456789012:secret:mastodon-cfn/social-prod/gone-token-AbCdEf`;
    const result = await run('4.5', compiledScript(MASTODON['4.5'].latest), { state, secretArn: missing, inspect: RECORDS });
    expect(result.status).to.equal(1);
    // moto answers 404 where Secrets Manager answers 400: the reason is what matters.
    expect(result.stderr).to.match(/Secrets Manager refused to store the token in arn:aws:secretsmanager:.*gone-token-AbCdEf: HTTP \d+ ResourceNotFoundException /);
    const [[token]] = records(result.stderr).tokens;
    expect(result.stdout + result.stderr.replace(/RECORDS .*/, '')).to.not.include(token);
  });

  it('the stand-ins refuse what their release refuses: the other series’ bypass attribute, a method no release has, a scope outside doorkeeper.rb, a reserved username', async () => {
    const options = (name: string) => ({ state: join(stateDir, name), secretArn: 'arn:unused', inspect: RECORDS });
    const on43 = await run('4.3', compiledScript(MASTODON['4.4'].latest), options('43-refuses'));
    expect(on43.status).to.not.equal(0);
    expect(on43.stderr).to.include("unknown attribute 'bypass_registration_checks' for User. (ActiveModel::UnknownAttributeError)");
    for (const series of ['4.4', '4.5'] as const) {
      const refused = await run(series, compiledScript(MASTODON['4.3'].latest), options(`${series}-refuses`));
      expect(refused.stderr, series).to.include("unknown attribute 'bypass_invite_request_check' for User. (ActiveModel::UnknownAttributeError)");
    }
    for (const series of MASTODON_SERIES) {
      const missing = await runRuby(`${mastodonStandIn(series)}\nUser.new(email: "a@b.c").confirm!`, {});
      expect(missing.stderr, series).to.match(/undefined method [`']confirm!' for .*User/);
      const scope = await runRuby(`${mastodonStandIn(series)}\nu = User.new(email: "a@b.c"); app = u.applications.build(name: "x", redirect_uri: "urn:ietf:wg:oauth:2.0:oob", scopes: "write:everything"); puts app.save, app.errors.full_messages`, {});
      expect(scope.stdout, series).to.equal("false\nScopes doesn't match configured on the server.\n");
      const unknown = await runRuby(`${mastodonStandIn(series)}\nUser.new(email: "a@b.c").applications.build(name: "x", superapp: true)`, {});
      expect(unknown.stderr, series).to.include("unknown attribute 'superapp' for Doorkeeper::Application.");
    }
    // Mastodon's own confirmation and approval steps send mail, which is why the script does not take them.
    const mails = await runRuby(`${mastodonStandIn('4.5')}\nrequire "json"\nu = User.new(email: "a@b.c", password: "x" * 10, agreement: true); u.account = Account.new(username: "a"); u.save; u.mark_email_as_confirmed!; u.approve!; puts JSON.generate($db[:mails])`, {});
    expect(mails.stdout).to.equal('[["confirmation_instructions","a@b.c"],["welcome","a@b.c"]]\n');
    const reserved = await runRuby(`${mastodonStandIn('4.3')}\n${compiledScript(MASTODON['4.3'].latest)}`, { SERVICE_ACCOUNT: 'admin', SERVICE_EMAIL: 'admin@social.example.com', SERVICE_SCOPES: 'read', SERVICE_APPLICATION: 'blog', TOKEN_SECRET_ARN: 'arn:unused' });
    expect(reserved.status).to.equal(1);
    expect(reserved.stderr).to.include('Could not create @admin: Username is reserved');
  });
});
