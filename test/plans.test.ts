import { DescribeStacksCommand, ListChangeSetsCommand } from '@aws-sdk/client-cloudformation';
import { expect } from 'chai';
import { parseDocument } from 'yaml';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iamActionOf } from '../src/aws/iam.js';
import { sdkClients } from '../src/deployer/aws.js';
import { deploy, plan, type DeployerContext } from '../src/deployer/commands.js';
import { readPackage } from '../src/deployer/manifest.js';
import type { Plan } from '../src/deployer/plan.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { API_CALL_LOG, buildConfig, REPO_ROOT, runCli, tempDir } from './support/build.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { FakeCloudFormation } from './support/fakeCloudFormation.js';
import { useMoto } from './support/moto.js';
import { twoRegionPackage } from './support/packages.js';
import { EVERYTHING } from './support/policy-hooks.js';

const ESTIMATE = { total: 12.34, currency: 'USD', region: 'eu-central-1', date: '2026-11-25', incomplete: false, priced: true };

/** A package of twoRegionPackage's stacks whose manifest carries the monthly estimate a build writes. */
function billedPackage(options: Parameters<typeof twoRegionPackage>[1] = {}): string {
  const directory = twoRegionPackage('plan-ci', { wired: false, ...options });
  const manifest = join(directory, 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), estimate: ESTIMATE }, null, 2));
  return directory;
}

const add = (logicalId: string, type: string) => ({ action: 'Add', logicalId, type, replacement: '', policyAction: '' });

describe('plans in CI: diff --json and --exit-code, deploy --outputs-file (against moto_server)', function () {
  const moto = useMoto();
  const cli = (...args: string[]) => runCli(args, { env: moto.env });
  // The AWS calls of the diffs alone: docs/ci.md's plan role must be denied none of them.
  const diffCalls = join(tempDir(), 'diff-calls.jsonl');
  const diff = (...args: string[]) => runCli(['diff', ...args], { env: { ...moto.env, MASTODON_CFN_API_LOG: diffCalls } });
  /** diff --json: stdout must be one JSON document and nothing else. */
  const planOf = (...args: string[]) => {
    const result = diff('--json', ...args);
    return { ...result, plan: JSON.parse(result.stdout) as Plan };
  };
  const status = async (name: string, region: string) => {
    try {
      return (await sdkClients().cloudFormation(region).send(new DescribeStacksCommand({ StackName: name }))).Stacks![0].StackStatus;
    } catch {
      return 'NONE';
    }
  };
  // Change sets waiting to be executed (moto, unlike CloudFormation, also lists executed ones).
  const pendingChangeSets = async () => ((await sdkClients().cloudFormation('eu-central-1').send(new ListChangeSetsCommand({ StackName: 'plan-ci' }))).Summaries ?? []).filter((c: { ExecutionStatus?: string }) => c.ExecutionStatus !== 'EXECUTE_COMPLETE');
  const deployedOutputs = () => {
    const info = cli('info', '--json', '--package', billedPackage());
    expect(info.status, info.stderr).to.equal(0);
    return Object.fromEntries((JSON.parse(info.stdout) as { name: string; outputs: Record<string, string> }[]).map((stack) => [stack.name, stack.outputs]));
  };

  it('with nothing deployed: every stack NOT_DEPLOYED with its resources as Adds, the estimate as the cost, exit 2 with --exit-code, and nothing made', async () => {
    const { status: code, stderr, plan } = planOf('--exit-code', '--package', billedPackage());
    expect(code, stderr).to.equal(2);
    expect(plan).to.deep.include({ formatVersion: 1, changes: true, dataLoss: false, cost: { kind: 'estimate', currency: 'USD', region: 'eu-central-1', date: '2026-11-25', total: 12.34, incomplete: false } });
    expect(plan.stacks.map((stack) => [stack.name, stack.region, stack.status])).to.deep.equal([
      ['plan-ci-certificates', 'us-east-1', 'NOT_DEPLOYED'],
      ['plan-ci', 'eu-central-1', 'NOT_DEPLOYED'],
    ]);
    expect(plan.stacks[1]).to.deep.include({ rows: [add('MediaBucket', 'AWS::S3::Bucket'), add('Alerts', 'AWS::SNS::Topic'), add('Logs', 'AWS::Logs::LogGroup')], replacements: [], dataLoss: null });
    // Without --exit-code, a plan with changes is a success like any other.
    expect(diff('--json', '--package', billedPackage()).status).to.equal(0);
    expect(await status('plan-ci', 'eu-central-1')).to.equal('NONE');
    expect(await status('plan-ci-certificates', 'us-east-1')).to.equal('NONE');
  });

  it('deploy --outputs-file writes the outputs of every stack as info --json has them, and nothing else beside it', () => {
    const folder = tempDir();
    const file = join(folder, 'outputs.json');
    const result = cli('deploy', '--yes', '--package', billedPackage(), '--outputs-file', file);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include(`Outputs written to ${file}`);
    const written = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(written)).to.deep.equal(['plan-ci-certificates', 'plan-ci']);
    expect(written).to.deep.equal(deployedOutputs());
    expect(readdirSync(folder)).to.deep.equal(['outputs.json']);
  });

  it('after a deploy and no change: every stack NO_CHANGES, changes false, exit 0, the cost compared with the deployed templates, no change set left', async () => {
    const { status: code, stderr, plan } = planOf('--exit-code', '--package', billedPackage());
    expect(code, stderr).to.equal(0);
    expect(plan).to.deep.include({ changes: false, dataLoss: false });
    expect(plan.stacks.map((stack) => [stack.status, stack.rows])).to.deep.equal([
      ['NO_CHANGES', []],
      ['NO_CHANGES', []],
    ]);
    expect(plan.cost).to.deep.include({ kind: 'change', currency: 'USD', region: 'eu-central-1', delta: 0, lines: [] });
    const text = diff('--exit-code', '--package', billedPackage());
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.include('plan-ci (eu-central-1): no changes');
    expect(await pendingChangeSets()).to.deep.equal([]);
  });

  it("after a change of config: the change set's rows, exit 2, in JSON as in text, and the stack left as it was", async () => {
    const changed = billedPackage({ extraTopic: true });
    const { status: code, stderr, plan } = planOf('--exit-code', '--package', changed);
    expect(code, stderr).to.equal(2);
    expect(plan).to.deep.include({ changes: true, dataLoss: false });
    expect(plan.stacks[0].status).to.equal('NO_CHANGES');
    expect(plan.stacks[1]).to.deep.include({ status: 'CHANGES', replacements: [], dataLoss: null });
    expect(plan.stacks[1].rows).to.deep.include(add('MoreAlerts', 'AWS::SNS::Topic'));
    const cost = plan.cost as Extract<Plan['cost'], { kind: 'change' }>;
    expect(cost.kind).to.equal('change');
    expect(cost.delta).to.equal(Math.round((cost.after.total - cost.before.total) * 100) / 100);
    const text = diff('--exit-code', '--package', changed);
    expect(text.status, text.stderr).to.equal(2);
    expect(text.stdout.split('\n')[0]).to.match(/^Monthly cost: \$/);
    expect(text.stdout).to.match(/Changes to plan-ci:[\s\S]*Add\s+MoreAlerts\s+AWS::SNS::Topic/);
    expect(await pendingChangeSets()).to.deep.equal([]);
    expect(await status('plan-ci', 'eu-central-1')).to.equal('CREATE_COMPLETE');
  });

  it('a change set that deletes a stateful resource: dataLoss, with the refusal deploy would give', () => {
    const { status: code, stderr, plan } = planOf('--exit-code', '--package', billedPackage({ withoutBucket: true }));
    expect(code, stderr).to.equal(2);
    expect(plan).to.deep.include({ changes: true, dataLoss: true });
    const removed = { action: 'Remove', logicalId: 'MediaBucket', type: 'AWS::S3::Bucket', replacement: '', policyAction: '' };
    expect(plan.stacks[1].dataLoss?.resources).to.deep.equal([removed]);
    expect(plan.stacks[1].dataLoss?.message.split('\n').slice(0, 2)).to.deep.equal(['Deploy would refuse plan-ci: the change set would destroy or replace stateful resources:', '  MediaBucket (AWS::S3::Bucket): would delete it']);
    expect(plan.stacks[0].dataLoss).to.equal(null);
  });

  it('an error is exit 1 with --exit-code, and nothing on stdout', () => {
    const config = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(config, 'service: social\n');
    const broken = cli('diff', '--json', '--exit-code', '--config', config);
    expect(broken.status).to.equal(1);
    expect(broken.stdout).to.equal('');
    expect(broken.stderr).to.include('domain');
    const missing = cli('diff', '--json', '--exit-code', '--package', join(tempDir(), 'nothing-here'));
    expect(missing.status).to.equal(1);
    expect(missing.stdout).to.equal('');
    expect(missing.stderr).to.include('cannot read');
  });

  it('deploy --outputs-file refuses a file it did not write before deploying anything, and leaves it as it is', async () => {
    const changed = billedPackage({ extraTopic: true });
    for (const foreign of ['{"apiUrl": "https://example.com"}\n', '{"social-prod": {"MastodonUrl": "https://social.example.com"}}\n', 'not json\n']) {
      const file = join(tempDir(), 'outputs.json');
      writeFileSync(file, foreign);
      const refused = cli('deploy', '--yes', '--package', changed, '--outputs-file', file);
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.include(`${file} already exists and is not an outputs file of plan-ci-certificates, plan-ci (what deploy --outputs-file writes): it is left as it is.`);
      expect(readFileSync(file, 'utf8')).to.equal(foreign);
    }
    expect(await status('plan-ci', 'eu-central-1')).to.equal('CREATE_COMPLETE');
  });

  it('deploy --outputs-file replaces its own earlier file', async () => {
    const file = join(tempDir(), 'outputs.json');
    writeFileSync(file, JSON.stringify({ 'plan-ci': { Gone: 'an output of an earlier deploy' } }));
    const result = cli('deploy', '--yes', '--package', billedPackage({ extraTopic: true }), '--outputs-file', file);
    expect(result.status, result.stderr).to.equal(0);
    expect(await status('plan-ci', 'eu-central-1')).to.equal('UPDATE_COMPLETE');
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal(deployedOutputs());
  });

  it("docs/ci.md's workflow is a valid GitHub Actions file: YAML that parses, a plan job on pull requests that fails on data loss, a deploy job on pushes", () => {
    const guide = readFileSync(join(REPO_ROOT, 'docs/ci.md'), 'utf8');
    const document = parseDocument(/```yaml\n([\s\S]*?)\n```/.exec(guide)![1]);
    expect(document.errors.map((error) => error.message)).to.deep.equal([]);
    const workflow = document.toJS() as { on: Record<string, unknown>; jobs: Record<string, { if: string; permissions: Record<string, string>; steps: { name?: string; run?: string; uses?: string }[] }> };
    expect(Object.keys(workflow.on)).to.have.members(['pull_request', 'push']);
    expect(workflow.jobs.plan.permissions['id-token']).to.equal('write');
    expect(workflow.jobs.plan.steps.find((step) => step.name === 'Refuse a plan that loses data')?.run).to.match(/dataLoss \? 1 : 0/);
    expect(workflow.jobs.deploy.steps.some((step) => step.run?.includes('mastodon-cfn deploy --yes --outputs-file outputs.json'))).to.equal(true);
  });

  it("docs/ci.md's plan role is denied executing change sets and deleting stacks, and none of the calls diff made", () => {
    const guide = readFileSync(join(REPO_ROOT, 'docs/ci.md'), 'utf8');
    const statements = (JSON.parse(/cat > plan-only\.json <<'EOF'\n([\s\S]*?)\nEOF/.exec(guide)![1]) as { Statement: { Effect: string; Action: string[]; Resource: string | string[] }[] }).Statement;
    // A deny on every resource would refuse any such call diff makes; one on some resources keeps the plan role from the data.
    const denied = statements.flatMap((statement) => (statement.Effect === 'Deny' && statement.Resource === '*' ? statement.Action : []));
    const dataDenied = statements.find((statement) => statement.Effect === 'Deny' && statement.Resource !== '*');
    expect(dataDenied?.Action).to.have.members(['s3:GetObject', 's3:PutObject']);
    expect(dataDenied?.Resource).to.have.members(['arn:aws:s3:::mastodon-cfn-artifacts-*/*/transfer/*', 'arn:aws:s3:::*-mediabucket-*/*']);
    const logged = readFileSync(diffCalls, 'utf8');
    // The policy hook checks these calls too.
    appendFileSync(API_CALL_LOG, logged);
    const actions = new Set(logged.trim().split('\n').map((line) => {
      const { service, operation } = JSON.parse(line) as { service: string; operation: string };
      return iamActionOf(service, operation);
    }));
    expect(actions).to.include.members(['cloudformation:CreateChangeSet', 'cloudformation:DeleteChangeSet']);
    expect(denied.filter((action) => actions.has(action))).to.deep.equal([]);
    expect(denied).to.include.members(['cloudformation:ExecuteChangeSet', 'cloudformation:DeleteStack']);
  });
});

describe('plans in CI: what moto cannot show', () => {
  const context = (cfn: FakeCloudFormation) => {
    const sts = new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ci', UserId: 'AIDATEST' }) });
    return { clients: fakeClients({ cloudFormation: () => cfn, sts: () => sts }), reporter: recordingReporter(), confirm: async () => true, polling: { initialMs: 1, maxMs: 2 } } satisfies DeployerContext;
  };
  const deployed = { status: 'UPDATE_COMPLETE', outputs: { MediaCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', MastodonVersion: 'v4.5.2' } };

  it('a replacement: in replacements, and in dataLoss when the resource is stateful', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('replace-certificates', deployed);
    cfn.stacks.set('replace', deployed);
    cfn.changes = [
      { Action: 'Modify', LogicalResourceId: 'MediaBucket', ResourceType: 'AWS::S3::Bucket', Replacement: 'True', PolicyAction: 'Retain' },
      { Action: 'Modify', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', Replacement: 'Conditional' },
      { Action: 'Modify', LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', Replacement: 'False' },
    ];
    const planned = await plan(readPackage(twoRegionPackage('replace')), context(cfn));
    const main = planned.stacks[1];
    expect(main.rows.map((row) => row.logicalId)).to.deep.equal(['MediaBucket', 'Alerts', 'Logs']);
    expect(main.replacements).to.deep.equal([
      { action: 'Modify', logicalId: 'MediaBucket', type: 'AWS::S3::Bucket', replacement: 'True', policyAction: 'Retain' },
      { action: 'Modify', logicalId: 'Alerts', type: 'AWS::SNS::Topic', replacement: 'Conditional', policyAction: '' },
    ]);
    expect(main.dataLoss?.resources.map((row) => row.logicalId)).to.deep.equal(['MediaBucket']);
    expect(main.dataLoss?.message).to.include('MediaBucket (AWS::S3::Bucket): would replace it; policy action Retain');
    expect(planned.dataLoss).to.equal(true);
    expect(cfn.changeSetsOf('replace')).to.deep.equal([]);
  });

  it('deploy --outputs-file writes the values the stacks output', async () => {
    const cfn = new FakeCloudFormation();
    cfn.execution = { events: [], finalStatus: 'CREATE_COMPLETE', outputs: { MastodonVersion: 'v4.5.2', WiredCertificate: 'not-wired' } };
    const file = join(tempDir(), 'outputs.json');
    await deploy(readPackage(twoRegionPackage('outs', { wired: false })), context(cfn), { allowDataLoss: false, forceVersion: false, outputsFile: { path: file, flag: '--outputs-file' } });
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal({ 'outs-certificates': cfn.execution.outputs, outs: cfn.execution.outputs });
  });

  it('the compiled stacks output no secret value (the outputs file holds them all): ARNs of secrets, never what they hold', () => {
    const built = buildConfig({ yaml: EVERYTHING });
    const leaks: string[] = [];
    for (const stack of built.written) {
      const template = stack.template as { Parameters?: Record<string, { NoEcho?: unknown }>; Outputs?: Record<string, { Value: unknown }> };
      const hidden = new Set(Object.entries(template.Parameters ?? {}).filter(([, parameter]) => parameter.NoEcho === true || parameter.NoEcho === 'true').map(([name]) => name));
      const visit = (output: string, value: unknown): void => {
        if (typeof value === 'string') {
          if (value.includes('{{resolve:')) leaks.push(`${output}: a dynamic reference`);
          for (const [, name] of value.matchAll(/\$\{([^}!]+)\}/g)) if (hidden.has(name) || /\.(SecretAccessKey|SecretString|Password)$/.test(name)) leaks.push(`${output}: \${${name}}`);
        } else if (Array.isArray(value)) {
          value.forEach((item) => visit(output, item));
        } else if (typeof value === 'object' && value !== null) {
          const { Ref: ref, 'Fn::GetAtt': getAtt } = value as { Ref?: string; 'Fn::GetAtt'?: string[] | string };
          if (ref !== undefined && hidden.has(ref)) leaks.push(`${output}: Ref ${ref} (NoEcho)`);
          const attribute = Array.isArray(getAtt) ? getAtt[1] : getAtt?.split('.')[1];
          if (attribute !== undefined && /^(SecretAccessKey|SecretString|Password)$/.test(attribute)) leaks.push(`${output}: GetAtt ${attribute}`);
          Object.values(value).forEach((item) => visit(output, item));
        }
      };
      for (const [name, output] of Object.entries(template.Outputs ?? {})) visit(`${stack.name} ${name}`, output.Value);
    }
    expect(leaks).to.deep.equal([]);
    // What it checks is there: the secrets stack outputs the secrets by their ARNs.
    expect(Object.keys(built.template('secrets').Outputs ?? {})).to.include('MastodonSecretsArn');
  });
});
