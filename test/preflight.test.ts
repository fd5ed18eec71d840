import { expect } from 'chai';
import type { Clients } from '../src/deployer/aws.js';
import { deploy } from '../src/deployer/commands.js';
import { readPackage, type DeployPackage } from '../src/deployer/manifest.js';
import { registryHost, reservedDomain } from '../src/domains.js';
import { preflight } from '../src/deployer/preflight.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { writePackage } from './support/packages.js';
import { fakeRds, postgresCatalog } from './support/rds.js';

const identity = () => new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/alice', UserId: 'AIDAEXAMPLE' }) });
/** CloudFormation with no stack deployed yet (DescribeStacks answers as it does for an unknown stack). */
const noStacks = () =>
  new FakeApi({
    DescribeStacks: (input: { StackName: string }) => {
      throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), { name: 'ValidationError' });
    },
  });

function mainStack(extra: object = {}): DeployPackage {
  return readPackage(
    writePackage([
      { name: 'social-prod', region: 'eu-central-1', dependsOn: [], template: { Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } }, ...extra },
    ]),
  );
}

async function refusal(promise: Promise<unknown>): Promise<MastodonCfnError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MastodonCfnError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('deploy preflight: names reserved for examples', () => {
  it('knows the names of RFC 2606 and RFC 6761 and no others', () => {
    for (const name of ['social.example.com', 'example.org', 'media.social.example.net', 'social.test', 'a.example', 'mastodon.invalid', 'x.localhost', 'printer.local']) expect(reservedDomain(name), name).to.be.a('string');
    for (const name of ['social.example.de', 'myexample.com', 'example.com.au', 'test.social', 'social.testing', 'contest']) expect(reservedDomain(name), name).to.equal(undefined);
  });

  it("reads an image's registry host as Docker does: the first component only when it has a dot or a port, or is localhost", () => {
    const hosts = ['node:20', 'library/node:20', 'example/postblog:latest', 'ghcr.io/example/postblog:1', 'registry.example.com:5000/blog', 'localhost:5000/blog', '123456789012.dkr.ecr.eu-central-1.amazonaws.com/a@sha256:00'].map(registryHost);
    expect(hosts).to.deep.equal(['docker.io', 'docker.io', 'docker.io', 'ghcr.io', 'registry.example.com', 'localhost', '123456789012.dkr.ecr.eu-central-1.amazonaws.com']);
  });

  it("refuses init --yes's placeholder before any AWS call: no stack is touched, no identity asked", async () => {
    // Every client of fakeClients fails the test when it is called.
    const context = { clients: fakeClients({}), reporter: recordingReporter(), confirm: async () => true, polling: { initialMs: 1, maxMs: 2 } };
    const error = await refusal(deploy(mainStack({ publicNames: ['social.example.com', 'media.social.example.com', 'notify.social.org'] }), context, { allowDataLoss: false, forceVersion: false }));
    expect(error.problems[0].code).to.equal('deploy.reservedDomain');
    expect(error.message).to.match(/^Refusing to deploy social-prod: social\.example\.com, media\.social\.example\.com are names reserved for examples and tests \(RFC 2606, RFC 6761\)/);
    expect(error.message).to.not.include('notify.social.org');
  });
});

describe('deploy preflight: the account and regions', () => {
  it('prints the account, the caller and every region before anything else', async () => {
    const reporter = recordingReporter();
    const sts = identity();
    const pkg = readPackage(
      writePackage([
        { name: 'social-prod-certificates', region: 'us-east-1', dependsOn: [], template: { Resources: { A: { Type: 'AWS::SNS::Topic' } } } },
        { name: 'social-prod', region: 'eu-central-1', dependsOn: ['social-prod-certificates'], publicNames: ['social.example.de'], template: { Resources: { B: { Type: 'AWS::SNS::Topic' } } } },
      ]),
    );
    await preflight(pkg, fakeClients({ sts: () => sts }), reporter);
    expect(reporter.lines).to.deep.equal(['Deploying to AWS account 123456789012 as arn:aws:iam::123456789012:user/alice, in us-east-1 and eu-central-1']);
    expect(sts.calls.map((call) => call.name)).to.deep.equal(['GetCallerIdentity']);
  });
});

describe('deploy preflight: the database engine version', () => {
  const clients = (rds: FakeApi, cloudFormation: FakeApi = noStacks()): Clients => fakeClients({ sts: () => identity(), rds: () => rds, cloudFormation: () => cloudFormation });

  it('the RDS stand-in refuses as RDS does: a retired version is not listed without IncludeAll, pages stop at MaxRecords', async () => {
    const rds = fakeRds(postgresCatalog());
    const { DescribeDBEngineVersionsCommand } = await import('@aws-sdk/client-rds');
    expect((await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres', EngineVersion: '16.6' }))).DBEngineVersions).to.deep.equal([]);
    expect((await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres', EngineVersion: '16.6', IncludeAll: true }))).DBEngineVersions[0].Status).to.equal('deprecated');
    const first = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres' }));
    expect(first.DBEngineVersions).to.have.length(100);
    expect(first.Marker).to.be.a('string');
    await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres', MaxRecords: 5 })).then(
      () => expect.fail('MaxRecords 5 must be refused'),
      (error: Error) => expect(error.name).to.equal('InvalidParameterValue'),
    );
  });

  it('refuses a version RDS no longer creates before any change set, naming the versions of its major it creates (all pages)', async () => {
    const rds = fakeRds(postgresCatalog());
    const error = await refusal(preflight(mainStack({ database: { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.6' } }), clients(rds), recordingReporter()));
    expect(error.problems[0].code).to.equal('deploy.engineVersion');
    const created = Array.from({ length: 14 }, (_, i) => `16.${i + 9}`).join(', ');
    expect(error.message).to.equal(
      `Refusing to deploy social-prod: RDS does not create postgres 16.6 databases in eu-central-1 (DescribeDBEngineVersions). It creates ${created}: set database.engineVersion to one of them, build and deploy again.`,
    );
    // The listing went past the first page of 100.
    expect(rds.calls.filter((call) => call.name === 'DescribeDBEngineVersions').map((call) => call.input.Marker)).to.deep.equal([undefined, undefined, '100']);
  });

  it('takes a version RDS creates', async () => {
    const rds = fakeRds(postgresCatalog());
    await preflight(mainStack({ database: { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.11' } }), clients(rds), recordingReporter());
    expect(rds.calls).to.have.length(1);
  });

  it('asks nothing when the deployed template already has the database at this version: CloudFormation does not create it again', async () => {
    const rds = fakeRds(postgresCatalog());
    const template = JSON.stringify({ Resources: { PostgresInstance: { Type: 'AWS::RDS::DBInstance', Properties: { Engine: 'postgres', EngineVersion: '16.6' } } } });
    const cloudFormation = new FakeApi({
      DescribeStacks: (input: { StackName: string }) => ({ Stacks: [{ StackName: input.StackName, StackId: `id/${input.StackName}`, StackStatus: 'UPDATE_COMPLETE' }] }),
      GetTemplate: () => ({ TemplateBody: template, StagesAvailable: ['Original', 'Processed'] }),
    });
    await preflight(mainStack({ database: { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.6' } }), clients(rds, cloudFormation), recordingReporter());
    expect(rds.calls).to.deep.equal([]);
    // A change of version is checked.
    const changed = await refusal(preflight(mainStack({ database: { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.7' } }), clients(rds, cloudFormation), recordingReporter()));
    expect(changed.message).to.include('RDS does not create postgres 16.7 databases');
  });
});
