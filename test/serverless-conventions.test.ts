import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterDeploy, buildWith } from '../src/pipeline.js';
import { runHook } from '../src/plugins.js';
import { failure } from './support/build.js';
import { API_CALL_LOG, lintLater, minimalYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';
import { useMoto } from './support/moto.js';

/**
 * The Serverless Framework's habits, through the CLI: variable sources, stage parameters,
 * CloudFormation's short forms under resources, provider.profile, resources.extensions and plugins.
 */

/** A folder holding mastodon.config.yaml (and whatever other files are given), for one test. */
function project(config: string, files: Record<string, string> = {}): string {
  const folder = tempDir();
  writeFileSync(join(folder, 'mastodon.config.yaml'), config);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(folder, name, '..'), { recursive: true });
    writeFileSync(join(folder, name), text);
  }
  return folder;
}

/** No AWS credentials of any kind: what an offline build must not need. */
const OFFLINE = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' };

function printed(folder: string, args: string[] = [], env: Record<string, string> = OFFLINE): Record<string, any> {
  const result = runCli(['print', '--format', 'json', ...args], { cwd: folder, env });
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout);
}

function built(folder: string, args: string[] = [], env: Record<string, string> = OFFLINE) {
  const result = runCli(['build', ...args], { cwd: folder, env });
  expect(result.status, result.stderr).to.equal(0);
  lintLater(join(folder, '.mastodon-cfn'));
  const template = (name: string) => JSON.parse(readFileSync(join(folder, '.mastodon-cfn', `${name}.template.json`), 'utf8'));
  return { result, main: template('social-prod'), template };
}

function refused(folder: string, args: string[], env: Record<string, string> = OFFLINE) {
  const result = runCli(args, { cwd: folder, env });
  expect(result.status, result.stdout + result.stderr).to.equal(1);
  expect(result.stderr).not.to.match(/\n\s+at /);
  expect(existsSync(join(folder, '.mastodon-cfn')), 'nothing is written').to.equal(false);
  return result.stderr;
}

describe('Serverless Framework conventions: variable sources', () => {
  it('${sls:stage} and ${aws:region} are the stage and region the build takes, from the flags, the config or the defaults', () => {
    const folder = project(minimalYaml('custom:\n  stage: ${sls:stage}\n  region: ${aws:region}\n'));
    expect(printed(folder).custom).to.deep.equal({ stage: 'prod', region: 'us-east-1' });
    expect(printed(folder, ['--stage', 'dev', '--region', 'eu-west-1']).custom).to.deep.equal({ stage: 'dev', region: 'eu-west-1' });
    expect(printed(folder, [], { ...OFFLINE, AWS_REGION: 'eu-north-1' }).custom.region).to.equal('eu-north-1');
    const inConfig = project(minimalYaml("provider: { stage: '${opt:stage, \"qa\"}', region: ap-southeast-2 }\ncustom:\n  stage: ${sls:stage}\n  region: ${aws:region}\n"));
    expect(printed(inConfig).custom).to.deep.equal({ stage: 'qa', region: 'ap-southeast-2' });
  });

  it('${param:name} takes --param, then params.<stage>, then params.default, and is typed as written', () => {
    const folder = project(minimalYaml('params:\n  default: { webCount: 1, host: default.example.com }\n  prod: { webCount: 2 }\ncustom:\n  count: ${param:webCount}\n  host: ${param:host}\n'));
    expect(printed(folder).custom).to.deep.equal({ count: 2, host: 'default.example.com' });
    expect(printed(folder, ['--stage', 'dev']).custom).to.deep.equal({ count: 1, host: 'default.example.com' });
    expect(printed(folder, ['--param', 'host=cli.example.com']).custom).to.deep.equal({ count: 2, host: 'cli.example.com' });
    const missing = refused(project(minimalYaml('custom:\n  x: ${param:nothing}\n')), ['build']);
    expect(missing).to.include('mastodon.config.yaml:4:6  custom.x  ${param:nothing} cannot be resolved: no --param nothing=VALUE was given, and neither params.prod.nothing nor params.default.nothing is in this config');
    expect(runCli(['build', '--param', 'novalue'], { cwd: folder, env: OFFLINE })).to.include({ status: 2 });
  });

  it('text from the command line or the environment is read as the number or boolean the schema takes there', () => {
    const folder = project(minimalYaml("params:\n  default: { webCount: 1 }\nmastodon:\n  web: { count: '${param:webCount}' }\ndatabase:\n  readReplica: ${env:REPLICA, false}\n"));
    const config = printed(folder, ['--param', 'webCount=3'], { ...OFFLINE, REPLICA: 'true' });
    expect([config.mastodon.web.count, config.database.readReplica]).to.deep.equal([3, true]);
    expect(refused(folder, ['build', '--param', 'webCount=three'])).to.include('mastodon.web.count');
  });

  it('${file(./x.yml)} and ${file(./x.yml):a.b} read YAML or JSON beside the config, with its own variables; a missing file takes the default', () => {
    const folder = project(minimalYaml("custom:\n  all: ${file(./values.yml)}\n  one: ${file(./values.yml):nested.port}\n  json: ${file(./more.json):list}\n  fallback: ${file(./absent.yml):x, 'kept'}\n  staged: ${file(./${sls:stage}.yml):size}\n"), {
      'values.yml': 'nested:\n  port: 8000\nservice: ${self:service}\n',
      'more.json': '{"list": [1, 2]}',
      'prod.yml': 'size: 3\n',
    });
    expect(printed(folder).custom).to.deep.equal({ all: { nested: { port: 8000 }, service: 'social' }, one: 8000, json: [1, 2], fallback: 'kept', staged: 3 });
  });

  it('${file(./x.yml):a.b} goes through a value of the file that is itself a variable, as ${self:} does', () => {
    const folder = project(minimalYaml('custom:\n  port: ${file(./outer.yml):inner.port}\n'), { 'outer.yml': 'inner: ${file(./inner.yml)}\n', 'inner.yml': 'port: 8000\n' });
    expect(printed(folder).custom.port).to.equal(8000);
  });

  it("a file's problems are reported where they are in that file; a missing file or key without a default is refused", () => {
    const folder = project(minimalYaml('custom:\n  a: ${file(./broken.yml)}\n  b: ${file(./values.yml):k}\n  c: ${file(./values.yml):nope}\n  d: ${file(./absent.yml)}\n'), {
      'broken.yml': 'x: [unclosed\n',
      'values.yml': 'k: ${env:NOT_SET_ANYWHERE}\n',
    });
    const stderr = refused(folder, ['build']);
    expect(stderr).to.match(/^broken\.yml:\d+:\d+  custom\.a  in \.\/broken\.yml: YAML: /m);
    expect(stderr).to.include('values.yml:1:4  file(values.yml):k  ${env:NOT_SET_ANYWHERE} cannot be resolved: environment variable NOT_SET_ANYWHERE is not set');
    expect(stderr).to.include('mastodon.config.yaml:6:6  custom.c  ${file(./values.yml):nope} cannot be resolved: ./values.yml has no key nope');
    expect(stderr).to.include('mastodon.config.yaml:7:6  custom.d  ${file(./absent.yml)} cannot be resolved: there is no file ./absent.yml');
  });

  it('refuses files that include themselves, or too many files, where it happens', () => {
    const cyclic = refused(project(minimalYaml('custom:\n  a: ${file(./x.yml)}\n'), { 'x.yml': 'again: ${file(./x.yml)}\n' }), ['build']);
    expect(cyclic).to.include('x.yml:1:8  file(x.yml):again  circular reference: file(x.yml):again → file(x.yml):again');
    const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`f${i}.yml`, `v: ${i}\n`]));
    const list = Array.from({ length: 70 }, (_, i) => `k${i}: \${file(./f${i}.yml)}`).join('\n');
    expect(refused(project(minimalYaml('custom:\n  a: ${file(./list.yml)}\n'), { ...many, 'list.yml': `${list}\n` }), ['build'])).to.include('file(list.yml):k63  the config reads more than 64 files with ${file(...)}; refused');
  });

  it('reads a file that is neither YAML nor JSON as text, and refuses a script, a device and a FIFO', () => {
    const folder = project(minimalYaml('custom:\n  text: ${file(./motd.txt)}\n'), { 'motd.txt': 'Welcome' });
    expect(printed(folder).custom.text).to.equal('Welcome');
    expect(refused(project(minimalYaml('custom:\n  a: ${file(./values.js)}\n'), { 'values.js': 'module.exports = {}' }), ['build'])).to.include('${file(./values.js)}: mastodon-cfn reads YAML, JSON or text files, and runs no script');
    expect(refused(project(minimalYaml('custom:\n  a: ${file(/dev/zero)}\n')), ['build'])).to.include('${file(/dev/zero)}: /dev/zero is not a regular file (a device, a FIFO or a socket)');
    expect(refused(project(minimalYaml('custom:\n  a: ${file(./motd.txt):key}\n'), { 'motd.txt': 'Welcome' }), ['build'])).to.include('./motd.txt is read as text (it is no .yml, .yaml or .json file), which has no keys');
  });

  it('${strToBool(…)} reads "true", "1", "false" and "0" as the Serverless Framework does, and refuses anything else', () => {
    const folder = project(minimalYaml("custom:\n  a: ${strToBool(true)}\n  b: ${strToBool(${env:FLAG})}\n  c: ${strToBool(' False ')}\n  d: ${strToBool(0)}\n"));
    expect(printed(folder, [], { ...OFFLINE, FLAG: '1' }).custom).to.deep.equal({ a: true, b: true, c: false, d: false });
    expect(refused(project(minimalYaml('custom:\n  a: ${strToBool(yes)}\n')), ['build'])).to.include('${strToBool(yes)}: expected "true", "false", "0" or "1", got "yes"');
  });

  it('builds offline: no AWS call and no credentials for a config whose variables need none', () => {
    const folder = project(minimalYaml('custom:\n  stage: ${sls:stage}\n  file: ${file(./x.yml)}\n'), { 'x.yml': 'a: 1\n' });
    const calls = join(folder, 'calls.jsonl');
    const { result } = built(folder, [], { ...OFFLINE, MASTODON_CFN_API_LOG: calls });
    expect(result.stderr).not.to.include('from AWS');
    expect(existsSync(calls), 'no AWS call was made').to.equal(false);
  });
});

describe('Serverless Framework conventions: CloudFormation under resources', () => {
  const config = minimalYaml(`resources:
  Conditions:
    IsHome: !Equals [!Ref 'AWS::Region', '\${aws:region}']
  Resources:
    Alerts:
      Type: AWS::SNS::Topic
      Properties:
        TopicName: !Sub '\${AWS::StackName}-alerts-\${sls:stage}'
        DisplayName: !If [IsHome, !Join [' ', [Mastodon, !Ref 'AWS::Region']], !Select [0, !GetAZs '']]
  Outputs:
    AlertsArn:
      Value: !GetAtt Alerts.TopicArn
    AlertsName:
      Value: !GetAtt [Alerts, TopicName]
    LoadBalancerDns:
      Value: !GetAtt LoadBalancer.DNSName
    Region:
      Value: !Sub '\${AWS::Region}-\${!Literal}-\${Alerts.TopicName}'
`);

  it("reads CloudFormation's short forms as their long forms, and leaves Fn::Sub's own ${…} to CloudFormation", () => {
    const { main } = built(project(config));
    expect(main.Conditions.IsHome).to.deep.equal({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
    expect(main.Resources.Alerts.Properties).to.deep.equal({
      TopicName: { 'Fn::Sub': '${AWS::StackName}-alerts-prod' },
      DisplayName: { 'Fn::If': ['IsHome', { 'Fn::Join': [' ', ['Mastodon', { Ref: 'AWS::Region' }]] }, { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }] },
    });
    expect(main.Outputs.AlertsArn.Value).to.deep.equal({ 'Fn::GetAtt': ['Alerts', 'TopicArn'] });
    expect(main.Outputs.AlertsName.Value).to.deep.equal({ 'Fn::GetAtt': ['Alerts', 'TopicName'] });
    expect(main.Outputs.LoadBalancerDns.Value).to.deep.equal({ 'Fn::GetAtt': ['LoadBalancer', 'DNSName'] });
    expect(main.Outputs.Region.Value).to.deep.equal({ 'Fn::Sub': '${AWS::Region}-${!Literal}-${Alerts.TopicName}' });
  });

  it('refuses a reference to a logical id no stack defines, where it is written', () => {
    const stderr = refused(project(minimalYaml("resources:\n  Outputs:\n    Typo:\n      Value: !GetAtt LoadBalancr.DNSName\n    Sub:\n      Value: !Sub ['${Name}-${Nope}', { Name: x }]\n  Resources:\n    Topic:\n      Type: AWS::SNS::Topic\n      Condition: IsProdd\n      DependsOn: [NoSuchResource]\n")), ['build']);
    expect(stderr).to.include('resources.Resources.Topic  Resources.Topic of the social-prod stack refers to IsProdd, which that stack does not define as a condition');
    expect(stderr).to.include('resources.Resources.Topic  Resources.Topic of the social-prod stack refers to NoSuchResource, which that stack does not define as a resource');
    expect(stderr).to.include('mastodon.config.yaml:5:5  resources.Outputs.Typo  Outputs.Typo of the social-prod stack refers to LoadBalancr, which that stack does not define');
    expect(stderr).to.include('resources.Outputs.Sub  Outputs.Sub of the social-prod stack refers to Nope,');
    expect(stderr).not.to.include('refers to Name,');
  });

  it('refuses the short forms and Fn::Sub syntax outside resources, where they would change a setting', () => {
    const stderr = refused(project(minimalYaml('custom:\n  a: !GetAtt Cluster.Arn\n')), ['build']);
    expect(stderr).to.include("mastodon.config.yaml:4:14  custom.a  YAML: the tag !GetAtt would change or drop this value; CloudFormation's short forms are read only under resources:");
    const sub = refused(project(minimalYaml('custom:\n  a: ${AWS::Region}-x\n')), ['build']);
    expect(sub).to.include("custom.a  ${AWS::Region} is CloudFormation's Fn::Sub syntax, which is read only under resources: (here, ${aws:region} is the region and ${aws:accountId} the account)");
  });
});

describe('Serverless Framework conventions: variables read from AWS', function () {
  const moto = useMoto();
  const env = () => ({ ...moto.env, MASTODON_CFN_API_LOG: API_CALL_LOG });

  before(async () => {
    for (const region of ['us-east-1', 'eu-west-1']) {
      const cfn = new CloudFormationClient({ region, endpoint: moto.endpoint });
      await cfn.send(new CreateStackCommand({
        StackName: 'shared-network',
        TemplateBody: JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } }, Outputs: { Host: { Value: `blog.${region}.example.com` } } }),
      }));
    }
  });

  it('reads ${cf:stack.Output}, ${cf(region):stack.Output} and ${aws:accountId}, saying what it reads; a missing stack takes the default', () => {
    const folder = project(minimalYaml("custom:\n  home: ${cf:shared-network.Host}\n  other: ${cf(eu-west-1):shared-network.Host}\n  account: ${aws:accountId}\n  absent: ${cf:no-such-stack.Host, 'none'}\n  bucket: media-${aws:accountId}-${aws:region}\n"));
    const result = runCli(['print', '--format', 'json'], { cwd: folder, env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).custom).to.deep.equal({ home: 'blog.us-east-1.example.com', other: 'blog.eu-west-1.example.com', account: '123456789012', absent: 'none', bucket: 'media-123456789012-us-east-1' });
    expect(result.stderr).to.match(/^Reading .*\$\{cf:shared-network\.Host\}.* from AWS/m);
    expect(result.stderr).to.include('${aws:accountId}');
  });

  it('a missing stack or output without a default is refused, naming the outputs there are', () => {
    const folder = project(minimalYaml('custom:\n  a: ${cf:no-such-stack.Host}\n  b: ${cf:shared-network.Nope}\n'));
    const stderr = refused(folder, ['build'], env());
    expect(stderr).to.include('custom.a  ${cf:no-such-stack.Host} cannot be resolved: there is no stack no-such-stack in us-east-1');
    expect(stderr).to.include('custom.b  ${cf:shared-network.Nope} cannot be resolved: stack shared-network in us-east-1 has no output Nope (its outputs: Host)');
  });

  it('records the stacks it read in the manifest, and policy lets the deployer describe them', () => {
    const folder = project(minimalYaml('custom:\n  home: ${cf(eu-west-1):shared-network.Host}\n'));
    built(folder, [], env());
    const manifest = JSON.parse(readFileSync(join(folder, '.mastodon-cfn', 'manifest.json'), 'utf8'));
    expect(manifest.variableStacks).to.deep.equal([{ region: 'eu-west-1', name: 'shared-network' }]);
    const policy = runCli(['policy', '--package', join(folder, '.mastodon-cfn')], { cwd: folder, env: OFFLINE });
    const statements = (JSON.parse(policy.stdout) as { Statement: { Sid: string; Resource: unknown }[] }[]).flatMap((document) => document.Statement);
    expect(statements.find((statement) => statement.Sid === 'VariableStackOutputs')?.Resource).to.deep.equal(['arn:aws:cloudformation:eu-west-1:*:stack/shared-network/*']);
  });

  it('says what is wrong offline first, before anything is asked of AWS', () => {
    const stderr = refused(project(minimalYaml('custom:\n  a: ${aws:accountId}\n  b: ${env:NOT_SET_HERE}\n')), ['build'], { ...OFFLINE, AWS_ENDPOINT_URL: moto.endpoint });
    expect(stderr).to.include('custom.b  ${env:NOT_SET_HERE} cannot be resolved');
    expect(stderr).not.to.include('from AWS');
  });

  it('without credentials, says which variables needed AWS, where, and what failed, exit 1', () => {
    const stderr = refused(project(minimalYaml('custom:\n  a: ${aws:accountId}\n  b: ${cf(eu-west-1):shared-network.Host}\n')), ['build'], { ...OFFLINE, AWS_ENDPOINT_URL: moto.endpoint });
    expect(stderr).to.include('mastodon.config.yaml:4:6  custom.a  ${aws:accountId} is read from AWS: STS GetCallerIdentity in us-east-1 failed: no AWS credentials were found.');
    expect(stderr).to.include('mastodon.config.yaml:5:6  custom.b  ${cf(eu-west-1):shared-network.Host} is read from AWS: CloudFormation DescribeStacks in eu-west-1 failed: no AWS credentials were found.');
  });

  it('provider.profile names the credentials; --profile wins; keys in the environment win over provider.profile', () => {
    /** An AWS config file whose profiles' credential_process each leave a mark: which profile the SDK used. */
    const profiles = () => {
      const folder = tempDir();
      const profile = (name: string) => `[profile ${name}]\ncredential_process = /bin/sh -c 'touch ${join(folder, `${name}.used`)}; echo "{\\"Version\\": 1, \\"AccessKeyId\\": \\"testing\\", \\"SecretAccessKey\\": \\"testing\\"}"'\n`;
      writeFileSync(join(folder, 'aws-config'), `${profile('configured')}${profile('flagged')}`);
      return { file: join(folder, 'aws-config'), used: () => ['configured', 'flagged'].filter((name) => existsSync(join(folder, `${name}.used`))) };
    };
    const folder = project(minimalYaml('provider: { profile: configured }\ncustom:\n  account: ${aws:accountId}\n'));
    const noKeys = (file: string) => ({ ...OFFLINE, AWS_ENDPOINT_URL: moto.endpoint, AWS_CONFIG_FILE: file });

    const fromConfig = profiles();
    expect(runCli(['print'], { cwd: folder, env: noKeys(fromConfig.file) }).status).to.equal(0);
    expect(fromConfig.used()).to.deep.equal(['configured']);

    const fromFlag = profiles();
    const info = runCli(['info', '--profile', 'flagged'], { cwd: folder, env: noKeys(fromFlag.file) });
    expect(info.status, info.stderr).to.equal(0);
    expect(fromFlag.used()).to.deep.equal(['flagged']);

    const fromEnvironment = profiles();
    const result = runCli(['print'], { cwd: folder, env: { ...moto.env, AWS_CONFIG_FILE: fromEnvironment.file, AWS_PROFILE: '' } });
    expect(result.status, result.stderr).to.equal(0);
    expect(fromEnvironment.used(), "the environment's keys were used").to.deep.equal([]);
  });
});

describe('resources.extensions', () => {
  it('changes generated resources by logical id: a DB parameter group, load balancer attributes, a CloudFront behaviour', () => {
    const folder = project(minimalYaml(`resources:
  Resources:
    DatabaseParameters:
      Type: AWS::RDS::DBClusterParameterGroup
      Properties:
        Description: Mastodon's cluster parameters
        Family: aurora-postgresql16
        Parameters: { log_min_duration_statement: '1000' }
  extensions:
    DatabaseCluster:
      Properties:
        DBClusterParameterGroupName: !Ref DatabaseParameters
    LoadBalancer:
      Properties:
        LoadBalancerAttributes:
          - { Key: idle_timeout.timeout_seconds, Value: '120' }
    MediaDistribution:
      Properties:
        DistributionConfig.DefaultCacheBehavior.Compress: false
        DistributionConfig.Origins.0.ConnectionAttempts: 2
      DependsOn: [DatabaseParameters]
`));
    const plain = built(project(minimalYaml())).main.Resources;
    const { main } = built(folder);
    const resources = main.Resources;
    expect(resources.DatabaseCluster.Properties.DBClusterParameterGroupName).to.deep.equal({ Ref: 'DatabaseParameters' });
    expect(resources.MediaDistribution.DependsOn).to.deep.equal([...[plain.MediaDistribution.DependsOn ?? []].flat(), 'DatabaseParameters']);
    expect(resources.DatabaseCluster.Properties.MasterUserPassword).to.deep.equal(plain.DatabaseCluster.Properties.MasterUserPassword);
    // Merged by Key: the generated attributes stay (drop_invalid_header_fields among them).
    expect(plain.LoadBalancer.Properties.LoadBalancerAttributes.map((a: { Key: string }) => a.Key)).to.include('routing.http.drop_invalid_header_fields.enabled').and.not.include('idle_timeout.timeout_seconds');
    expect(resources.LoadBalancer.Properties.LoadBalancerAttributes).to.deep.equal([...plain.LoadBalancer.Properties.LoadBalancerAttributes, { Key: 'idle_timeout.timeout_seconds', Value: '120' }]);
    // Value null removes the generated entry of its Key.
    const removed = built(project(minimalYaml('resources:\n  extensions:\n    LoadBalancer:\n      Properties:\n        LoadBalancerAttributes: [{ Key: routing.http.drop_invalid_header_fields.enabled, Value: null }]\n'))).main;
    expect(removed.Resources.LoadBalancer.Properties.LoadBalancerAttributes).to.deep.equal([]);
    const distribution = resources.MediaDistribution.Properties.DistributionConfig;
    expect(distribution.DefaultCacheBehavior).to.deep.equal({ ...plain.MediaDistribution.Properties.DistributionConfig.DefaultCacheBehavior, Compress: false });
    expect(distribution.Origins[0]).to.deep.equal({ ...plain.MediaDistribution.Properties.DistributionConfig.Origins[0], ConnectionAttempts: 2 });
  });

  it('an unknown logical id is refused, naming the nearest; a stateful resource cannot be made deletable; a path must exist', () => {
    const stderr = refused(project(minimalYaml(`resources:
  extensions:
    DatabaseClustr:
      Properties: { Port: 5433 }
    MediaBucket:
      DeletionPolicy: Delete
      UpdateReplacePolicy: Delete
    DatabaseCluster:
      Properties: { DeletionProtection: false }
    LoadBalancer:
      Properties:
        LoadBalancerAttributes.5.Key: x
        Scheme.Inner: y
`)), ['build']);
    expect(stderr).to.include('mastodon.config.yaml:5:5  resources.extensions.DatabaseClustr  the main stack has no generated resource DatabaseClustr; the nearest is DatabaseCluster');
    expect(stderr).to.include('resources.extensions.MediaBucket.DeletionPolicy  DeletionPolicy "Delete" would let CloudFormation delete the data of this AWS::S3::Bucket (mastodon-cfn gives it Retain); refused');
    expect(stderr).to.include('resources.extensions.MediaBucket.UpdateReplacePolicy  UpdateReplacePolicy "Delete" would');
    expect(stderr).to.include('resources.extensions.DatabaseCluster.Properties.DeletionProtection  DeletionProtection is mastodon-cfn\'s to switch');
    expect(stderr).to.include('mastodon.config.yaml:14:9  resources.extensions.LoadBalancer.Properties.LoadBalancerAttributes.5.Key  the list has 1 item; "5" is none of them (count from 0)');
    expect(stderr).to.include('mastodon.config.yaml:15:9  resources.extensions.LoadBalancer.Properties.Scheme.Inner  Scheme is "internet-facing", not a mapping or list to go into');
  });
});

describe('plugins', () => {
  const plugin = (body: string) => `export default class {\n  hooks = {\n${body}\n  };\n}\n`;

  it('the example plugin puts a rate-limiting web ACL in front of the load balancer; the templates it leaves are linted', () => {
    const folder = project(minimalYaml(`plugins: [${join(REPO_ROOT, 'examples/plugins/rate-limit.mjs')}]\ncustom:\n  rateLimit: { requestsPer5Minutes: 1200 }\n`));
    const { main, result } = built(folder);
    expect(main.Resources.RateLimitWebAcl.Properties.Rules[0].Statement).to.deep.equal({ RateBasedStatement: { Limit: 1200, AggregateKeyType: 'IP' } });
    expect(main.Resources.RateLimitWebAclAssociation.Properties.ResourceArn).to.deep.equal({ Ref: 'LoadBalancer' });
    expect(result.stderr).to.include(`${join(REPO_ROOT, 'examples/plugins/rate-limit.mjs')}: rate limit of 1200 requests per address per 5 minutes on LoadBalancer`);
    // WAF is not in the price table: the web ACL is an unknown line and the total a lower bound; the association costs nothing.
    const cost = JSON.parse(runCli(['cost', '--json'], { cwd: folder, env: OFFLINE }).stdout) as { incomplete: boolean; lines: { resource: string; monthly?: number }[] };
    expect(cost.incomplete).to.equal(true);
    expect(cost.lines.filter((line) => line.resource.startsWith('RateLimit')).map((line) => [line.resource, line.monthly ?? null])).to.deep.equal([['RateLimitWebAcl', null]]);
  });

  it('loads a path relative to the config and a package beside it, CommonJS or ESM, in order; their templates are priced', () => {
    const folder = project(minimalYaml('plugins: [./plugins/first.mjs, second-plugin]\n'), {
      'plugins/first.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Resources.PluginSecret = { Type: 'AWS::SecretsManager::Secret', Properties: { Description: 'from a plugin' } }; },"),
      'node_modules/second-plugin/package.json': '{ "name": "second-plugin", "main": "index.js" }',
      'node_modules/second-plugin/index.js': "module.exports = class { constructor(config, options) { this.hooks = { 'after:compile': ({ templates, log }) => { console.log('printed by a plugin'); log(`${options.command} ${options.stage} sees ${Boolean(templates.main.Resources.PluginSecret)}`); log('two lines \\u001b[31m\\nand a second'); templates.main.Outputs.PluginOutput = { Value: config.domain }; } }; } };\n",
    });
    const { main, result } = built(folder);
    expect(result.stdout).not.to.include('printed by');
    expect(result.stderr).to.include('printed by a plugin\nsecond-plugin: build prod sees true\nsecond-plugin: two lines \\u001b[31m');
    expect(main.Resources.PluginSecret.Type).to.equal('AWS::SecretsManager::Secret');
    expect(main.Outputs.PluginOutput).to.deep.equal({ Value: 'social.example.com' });
    expect(result.stderr).to.include('second-plugin: build prod sees true');
    const cost = (dir: string) => JSON.parse(runCli(['cost', '--json'], { cwd: dir, env: OFFLINE }).stdout) as { lines: { resource?: string; monthly?: number }[]; total: number };
    const withPlugin = cost(folder);
    const without = cost(project(minimalYaml()));
    expect(withPlugin.total).to.be.above(without.total);
  });

  it('a failing plugin is named, exit 1, and nothing is written', () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'p.mjs': plugin("    'after:compile': () => { throw new Error('no region for this'); },") }, 'plugin ./p.mjs: its after:compile hook failed: no region for this'],
      [{ 'p.mjs': plugin("    'after:compile': async () => { await Promise.reject(new TypeError('bad')); },") }, 'plugin ./p.mjs: its after:compile hook failed: TypeError: bad'],
      [{ 'p.mjs': 'export const notAClass = 1;\n' }, 'plugin ./p.mjs: the module exports no class'],
      [{ 'p.mjs': plugin("    'before:build': () => {},") }, 'plugin ./p.mjs: it has a hook "before:build", which mastodon-cfn never calls (it calls after:compile, before:deploy, after:deploy)'],
      [{ 'p.mjs': 'export default class { constructor() { throw new Error("needs custom.x"); } }\n' }, 'plugin ./p.mjs: its constructor failed: needs custom.x'],
      [{}, `plugin ./p.mjs: there is no module`],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Resources.MediaBucket.DeletionPolicy = 'Delete'; },") }, 'templates.main.Resources.MediaBucket.DeletionPolicy  DeletionPolicy "Delete" would let CloudFormation delete the data of this AWS::S3::Bucket'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { for (let i = 0; i < 500; i++) templates.main.Resources[`Topic${i}`] = { Type: 'AWS::SNS::Topic' }; },") }, 'resources; CloudFormation allows 500'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { delete templates.main; },") }, './p.mjs  templates.main  templates.main is no template with Resources'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { delete templates.main.Resources.MediaBucket.DeletionPolicy; },") }, 'without DeletionPolicy, CloudFormation would delete the data of this AWS::S3::Bucket (mastodon-cfn gives it Retain); refused'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { const r = { Type: 'AWS::SNS::Topic', Properties: {} }; r.Properties.self = r; templates.main.Resources.Loop = r; },") }, 'templates.main.Resources.Loop.Properties.self.Properties.self.Properties.self'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Resources['bad-id!'] = { Type: 'AWS::SNS::Topic' }; templates.main.Resources.NoType = {}; },") }, '"bad-id!" is no CloudFormation logical id'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Outputs.Dangling = { Value: { Ref: 'NoSuchThing' } }; },") }, 'Outputs.Dangling of the social-prod stack refers to NoSuchThing, which that stack does not define'],
      [{ 'p.mjs': plugin("    'after:compile': () => new Promise(() => undefined),") }, 'plugin ./p.mjs: its after:compile hook returned a promise that never settles'],
      [{ 'p.mjs': plugin("    'after:compile': () => { process.exit(0); },") }, 'plugin ./p.mjs: its after:compile hook called process.exit(0); a plugin throws an Error to stop the command'],
      [{ 'p.mjs': plugin("    'after:compile': async () => { Promise.reject(new Error('forgotten')); await new Promise((resolve) => setTimeout(resolve, 50)); },") }, 'plugin ./p.mjs: its after:compile hook left an error unhandled: forgotten'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Resources.Topic = { Type: 'AWS::SNS::Topic', Condition: 'Nope', DependsOn: ['Gone'] }; },") }, './p.mjs  templates.main.Resources.Topic  Resources.Topic of the social-prod stack refers to Nope, which that stack does not define as a condition'],
      [{ 'p.mjs': plugin("    'after:compile': ({ templates }) => { templates.main.Resources.Topic = { Type: 'AWS::SNS::Topic', Properties: { DisplayName: NaN } }; },") }, './p.mjs  templates.main.Resources.Topic.Properties.DisplayName  templates.main.Resources.Topic.Properties.DisplayName is NaN, which a template cannot hold'],
    ];
    for (const [files, message] of cases) {
      const stderr = refused(project(minimalYaml('plugins: [./p.mjs]\n'), files), ['build']);
      expect(stderr, JSON.stringify(files)).to.include(message);
    }
    expect(refused(project(minimalYaml('plugins: [not-installed-anywhere]\n')), ['build'])).to.include('plugin not-installed-anywhere: no package not-installed-anywhere is installed where the config is');
  });

  it('a hook that never finishes is given up on, named, instead of waiting for ever', async () => {
    const stuck = { name: './stuck.mjs', instance: { hooks: { 'after:compile': () => new Promise<void>(() => undefined) } } };
    const started = Date.now();
    const error = await failure(runHook([stuck], 'after:compile', { config: {} as never, templates: {} }, () => undefined, { timeoutMs: 50 }));
    expect(error.message).to.equal('plugin ./stuck.mjs: its after:compile hook did not finish within 0.05 seconds');
    expect(Date.now() - started).to.be.below(5_000);
  });

  it("after:deploy gets the templates as deployed and every stack's outputs", async () => {
    const folder = project(minimalYaml('plugins: [./p.mjs]\n'), {
      'p.mjs': plugin("    'after:deploy': ({ templates, outputs, log }) => { log(`${Object.keys(templates).join(' ')}: ${JSON.stringify(outputs)}`); templates.main.Resources = {}; },"),
    });
    const noAws = async () => {
      throw new Error('no AWS here');
    };
    const build = await buildWith({ configFile: join(folder, 'mastodon.config.yaml'), options: {}, env: {} }, { command: 'deploy', hooks: ['after:compile', 'before:deploy'], write: () => undefined, readAws: noAws });
    const lines: string[] = [];
    await afterDeploy(build, { 'social-prod': { MastodonVersion: 'v4.5.2' } }, (line) => lines.push(line));
    expect(lines).to.deep.equal([`./p.mjs: ${build.stacks.map((stack) => stack.role).join(' ')}: {"social-prod":{"MastodonVersion":"v4.5.2"}}`]);
    expect(Object.keys(JSON.parse(build.files.get('social-prod.template.json')!).Resources)).not.to.be.empty;
  });

  it("before:deploy runs for deploy only, and its changes are what deploy writes and sends; deploy --package says it runs none", () => {
    const folder = project(minimalYaml('plugins: [./p.mjs]\n'), {
      'p.mjs': plugin("    'before:deploy': ({ templates }) => { templates.main.Outputs.DeployedBy = { Value: 'plugin' }; },\n    'after:compile': () => {},"),
    });
    expect(built(folder).main.Outputs.DeployedBy).to.equal(undefined);
    // No terminal and no --yes: deploy builds, writes the build and refuses before any change set (no AWS here).
    const deploy = runCli(['deploy'], { cwd: folder, env: OFFLINE });
    expect(deploy.status).to.equal(1);
    expect(JSON.parse(readFileSync(join(folder, '.mastodon-cfn', 'social-prod.template.json'), 'utf8')).Outputs.DeployedBy).to.deep.equal({ Value: 'plugin' });
    const fromPackage = runCli(['deploy', '--package', join(folder, '.mastodon-cfn')], { cwd: folder, env: OFFLINE });
    expect(fromPackage.stderr).to.include('was built with plugins (./p.mjs): deploy --package runs none of their hooks');
  });
});
