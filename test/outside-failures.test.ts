import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { minimalYaml, runCliAsync, tempDir, type CliResult } from './support/build.js';

/**
 * Credentials, the network and AWS refusing are the user's to fix: one line that says what
 * failed, where and what to do, exit code 1 (never 70, which is for mastodon-cfn's own bugs),
 * no stack trace. `info` reads the stacks, so it is the first command to meet them.
 */
describe('failures outside mastodon-cfn', () => {
  let project: string;
  const noCredentials = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined };
  const credentials = { ...noCredentials, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_MAX_ATTEMPTS: '1' };
  const info = (env: Record<string, string | undefined>) => runCliAsync(['info'], { cwd: project, env });
  const expectOneLine = (result: CliResult, pattern: RegExp) => {
    expect(result.status, result.stderr).to.equal(1);
    expect(result.stderr.trim().split('\n'), result.stderr).to.have.length(1);
    expect(result.stderr.trim()).to.match(pattern);
    expect(result.stderr).to.not.match(/\n\s+at /);
  };

  /** An endpoint answering every AWS call with one status and error code, in the query protocol's XML; `seen` gets each request. */
  async function answering(status: number, code: string, message: string, seen: (request: IncomingMessage) => void = () => undefined): Promise<{ url: string; server: Server }> {
    const server = createServer((request, response) => {
      seen(request);
      request.resume();
      request.on('end', () => {
        response.writeHead(status, { 'content-type': 'text/xml' });
        response.end(`<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>1</RequestId></ErrorResponse>`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
  }

  before(() => {
    project = tempDir();
    writeFileSync(join(project, 'mastodon.config.yaml'), minimalYaml());
  });

  it('no credentials: says where to set them', async () => {
    expectOneLine(await info({ ...noCredentials, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }), /^CloudFormation DescribeStacks in us-east-1 failed: no AWS credentials were found\. Set AWS_PROFILE/);
  });

  it("credentials that could not be loaded: keeps the SDK's own hint (an SSO session: run aws sso login)", async () => {
    const home = tempDir();
    writeFileSync(join(home, 'config'), '[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n');
    const result = await runCliAsync(['info', '--profile', 'corp'], { cwd: project, env: { ...noCredentials, HOME: home, AWS_CONFIG_FILE: join(home, 'config'), AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expectOneLine(result, /^CloudFormation DescribeStacks in us-east-1 failed: the AWS credentials could not be loaded: The SSO session token associated with profile=corp was not found or is invalid\. To refresh this SSO session run 'aws sso login' with the corresponding profile\.$/);
  });

  it('--debug is taken after the command too, as the internal-error advice says', async () => {
    const result = await runCliAsync(['info', '--debug'], { cwd: project, env: { ...noCredentials, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(/^CloudFormation DescribeStacks in us-east-1 failed: no AWS credentials were found\./);
    // With --debug the stack trace follows the one-line explanation.
    expect(result.stderr).to.match(/\n\s+at /);
  });

  it('an endpoint that cannot be reached: names it and the network error', async () => {
    const closed = await answering(200, 'x', 'x');
    closed.server.close();
    const result = await info({ ...credentials, AWS_ENDPOINT_URL: closed.url });
    expectOneLine(result, new RegExp(`^CloudFormation DescribeStacks in us-east-1 failed: ${closed.url.replace(/\./g, '\\.')} could not be reached \\(ECONNREFUSED\\)\\. Check the network connection and AWS_ENDPOINT_URL`));
  });

  it('access denied: names the operation and what to grant', async () => {
    const { url, server } = await answering(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: cloudformation:DescribeStacks');
    try {
      expectOneLine(await info({ ...credentials, AWS_ENDPOINT_URL: url }), /^CloudFormation DescribeStacks in us-east-1 failed: the credentials in use are not allowed to do this \(AccessDenied: User: .* is not authorized .*\)\. Grant the permission/);
    } finally {
      server.close();
    }
  });

  it('an AWS server error: says it is on AWS\'s side and to try again', async () => {
    const { url, server } = await answering(500, 'InternalFailure', 'oops');
    try {
      expectOneLine(await info({ ...credentials, AWS_ENDPOINT_URL: url }), /^CloudFormation DescribeStacks in us-east-1 failed: AWS answered HTTP 500 \(InternalFailure\), a problem on its side\. Try again in a few minutes\.$/);
    } finally {
      server.close();
    }
  });

  it('--profile picks the credentials of that profile (the request is signed with its key)', async () => {
    const profiles = tempDir();
    writeFileSync(join(profiles, 'config'), '[profile ops]\nregion = eu-west-1\n');
    writeFileSync(join(profiles, 'credentials'), '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = x\n[ops]\naws_access_key_id = AKIDOPSEXAMPLE\naws_secret_access_key = y\n');
    const keys: string[] = [];
    const { url, server } = await answering(400, 'ValidationError', 'Stack with id social-prod does not exist', (request) => keys.push(/Credential=([A-Z0-9]+)\//.exec(request.headers.authorization ?? '')?.[1] ?? 'unsigned'));
    try {
      const env = { ...noCredentials, AWS_CONFIG_FILE: join(profiles, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(profiles, 'credentials'), AWS_ENDPOINT_URL: url };
      const result = await runCliAsync(['info', '--profile', 'ops'], { cwd: project, env });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.include('social-prod (us-east-1): NOT_DEPLOYED');
      expect(new Set(keys)).to.deep.equal(new Set(['AKIDOPSEXAMPLE']));
    } finally {
      server.close();
    }
  });

  it('info, diff and remove write no build unless given --out', () => {
    expect(readdirSync(project)).to.deep.equal(['mastodon.config.yaml']);
  });
});
