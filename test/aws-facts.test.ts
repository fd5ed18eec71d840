import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { NAME_LIMITS, type NameKind } from '../src/aws/limits.js';
import { REGIONS } from '../src/aws/regions.js';
import { derivedNames } from '../src/config/validate.js';
import type { MastodonCfnError } from '../src/errors.js';
import { buildConfig, minimalYaml, runCli, tempDir, type TestBuild } from './support/build.js';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';

/** Configs that together make every resource type and every derived name the compiler has. */
const LONG_SERVICE = 'a-forty-character-service-name-for-test';
const maximal = () =>
  buildConfig({
    yaml: [
      `service: ${LONG_SERVICE}`,
      'domain: social.example.com',
      // 39 + 1 + 18 + "-media": 64, the longest origin access control name CloudFront takes.
      'provider: { stage: a-eighteen-chr-stg }',
      'dns: { route53: true }',
      'mastodon: { owner: { username: alice, email: alice@example.com } }',
      'services:',
      '  a-thirty-two-character-svc-name1:',
      '    image: ghcr.io/example/blog:1',
      '    port: 8000',
      '    healthCheck: /',
      '    host: blog.social.example.com',
      '    table: true',
      '',
    ].join('\n'),
  });
const small = () => buildConfig({ yaml: minimalYaml('size: small\n') });

function resourcesOf(built: TestBuild) {
  return built.stacks.flatMap((stack) => Object.values(built.template(stack.role).Resources ?? {}) as { Type: string; Properties?: any }[]);
}

/** Where each kind of derived name sits in the templates. */
const NAME_PROPERTIES: Record<string, [NameKind, (properties: any) => unknown]> = {
  'AWS::CloudFront::OriginAccessControl': ['originAccessControlName', (p) => p.OriginAccessControlConfig.Name],
  'AWS::CloudFront::ResponseHeadersPolicy': ['responseHeadersPolicyName', (p) => p.ResponseHeadersPolicyConfig.Name],
  'AWS::ECS::Cluster': ['clusterName', (p) => p.ClusterName],
  'AWS::ECS::TaskDefinition': ['taskFamily', (p) => p.Family],
  'AWS::Logs::LogGroup': ['logGroupName', (p) => p.LogGroupName],
  'AWS::SecretsManager::Secret': ['secretName', (p) => p.Name],
  'AWS::CertificateManager::Certificate': ['certificateDomain', (p) => p.DomainName],
  'AWS::CloudFront::Distribution': ['distributionComment', (p) => p.DistributionConfig.Comment],
};

describe('AWS facts: the table of regions', () => {
  it('is what cfn-lint (E3006) knows of every region for every resource type the stacks use', function () {
    this.timeout(60_000);
    const types = [...new Set([...resourcesOf(maximal()), ...resourcesOf(small())].map((resource) => resource.Type))].sort();
    // The per-region resource specifications cfn-lint's E3006 reads: cfnlint/data/schemas/providers/<region>.py.
    const script = [
      'import importlib, json, pkgutil, re, sys',
      'import cfnlint.data.schemas.providers as providers',
      'types = json.loads(sys.argv[1])',
      'out = {}',
      'for module in pkgutil.iter_modules(providers.__path__):',
      '    region = module.name.replace("_", "-")',
      '    if not re.match(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region): continue',
      '    known = importlib.import_module(providers.__name__ + "." + module.name).types',
      '    out[region] = [t for t in types if t not in known]',
      'print(json.dumps(out))',
    ].join('\n');
    const result = spawnSync('python3', ['-c', script, JSON.stringify(types)], { encoding: 'utf8' });
    expect(result.status, result.stderr).to.equal(0);
    const fromCfnLint = JSON.parse(result.stdout) as Record<string, string[]>;
    const table = Object.fromEntries(Object.entries(REGIONS).map(([region, facts]) => [region, [...facts.missingTypes].sort()]));
    expect(table).to.deep.equal(Object.fromEntries(Object.entries(fromCfnLint).map(([region, missing]) => [region, missing.sort()])));
  });

  it('accepts a region where every resource exists and names the missing service elsewhere', () => {
    expect(buildConfig({ yaml: minimalYaml('provider: { region: eu-south-1 }\n') }).config.provider.region).to.equal('eu-south-1');
    expect(() => buildConfig({ yaml: minimalYaml('provider: { region: eu-south-2 }\n') })).to.throw(/CloudFormation cannot create AWS::SES::EmailIdentity in eu-south-2/);
    expect(() => buildConfig({ yaml: minimalYaml('provider: { region: cn-north-1 }\n') })).to.throw(/cn-north-1 is in the aws-cn partition/);
  });
});

describe('AWS facts: names against their limits', () => {
  it('checks every physical name the templates carry, and the longest names build', () => {
    const built = maximal();
    const derived = derivedNames(built.config);
    let checked = 0;
    for (const resource of resourcesOf(built)) {
      const property = NAME_PROPERTIES[resource.Type];
      if (!property) continue;
      const [kind, read] = property;
      const value = read(resource.Properties ?? {});
      if (typeof value !== 'string') continue; // a name CloudFormation generates
      checked++;
      expect(derived.some((name) => name.kind === kind && name.value === value), `${resource.Type} ${value} is checked as a ${kind}`).to.equal(true);
      expect(value.length).to.be.at.most(NAME_LIMITS[kind].max);
    }
    expect(checked).to.be.at.least(15);
  });

  it('refuses one character more than CloudFront takes for the origin access control name', () => {
    expect(() => buildConfig({ yaml: `service: ${LONG_SERVICE}x\ndomain: social.example.com\nprovider: { stage: a-eighteen-chr-stg }\n` })).to.throw(
      /CloudFront origin access control name "a-forty-character-service-name-for-testx-a-eighteen-chr-stg-media" has 65 characters; AWS allows at most 64/,
    );
  });

  it('takes a media domain of exactly 64 characters, and a long domain with its own certificates', () => {
    const domain = `${'a'.repeat(52)}.example.com`; // media.<domain> has 70
    const media = `m${'b'.repeat(51)}.example.com`; // 64
    expect(domain.length).to.equal(64);
    expect(media.length).to.equal(64);
    expect(buildConfig({ yaml: `service: social\ndomain: ${domain}\nmedia: { domain: ${media} }\n` }).config.media.domain).to.equal(media);
    expect(() => buildConfig({ yaml: `service: social\ndomain: ${domain}\n` })).to.throw(/has 70 characters; AWS allows at most 64/);
  });

  it('with a certificate of its own a media domain may be longer than 64, but not past the distribution comment CloudFront takes', () => {
    const certificate = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
    const tooLong = `${'m'.repeat(63)}.${'n'.repeat(40)}.example.com`; // 116: "social-prod media (…)" has 136
    const refused = (() => {
      try {
        buildConfig({ yaml: `service: social\ndomain: social.example.com\nmedia: { domain: ${tooLong} }\ncertificates: { media: '${certificate}' }\n` });
      } catch (error) {
        return (error as MastodonCfnError).problems;
      }
      throw new Error('expected a refusal');
    })();
    expect(refused.map((problem) => [problem.path, problem.line])).to.deep.equal([['media.domain', 3]]);
    expect(refused[0].message).to.match(/^the CloudFront distribution comment "social-prod media \(m+… \(136 characters\)" has 136 characters; AWS allows at most 128/);
    const shorter = `${'m'.repeat(63)}.${'n'.repeat(32)}.example.com`; // the comment has 128
    expect(buildConfig({ yaml: `service: social\ndomain: social.example.com\nmedia: { domain: ${shorter} }\ncertificates: { media: '${certificate}' }\n` }).config.media.domain).to.equal(shorter);
  });
});

describe('AWS facts: engine versions', () => {
  it('defaults each size to a version AWS creates, and writes it to the template and the manifest', () => {
    const standard = buildConfig({ yaml: minimalYaml() });
    expect(standard.resources().DatabaseCluster.Properties).to.deep.include({ Engine: 'aurora-postgresql', EngineVersion: '16.10' });
    expect(standard.manifest.stacks.find((stack) => stack.role === 'main')!.database).to.deep.equal({ logicalId: 'DatabaseCluster', engine: 'aurora-postgresql', engineVersion: '16.10', masterUsername: 'mastodon' });
    const rds = small();
    expect(rds.resources().PostgresInstance.Properties).to.deep.include({ Engine: 'postgres', EngineVersion: '16.11' });
    expect(rds.manifest.stacks.find((stack) => stack.role === 'main')!.database).to.deep.equal({ logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.11', masterUsername: 'mastodon', maxStorageGb: 100 });
  });

  it('takes a minor version newer than the table, for deploy to ask RDS about', () => {
    expect(buildConfig({ yaml: minimalYaml('size: small\ndatabase: { engineVersion: "17.9" }\n') }).resources().PostgresInstance.Properties.EngineVersion).to.equal('17.9');
  });
});

describe('a wrong value from the command line or the environment', () => {
  const config = (yaml: string) => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(file, yaml);
    return file;
  };
  const build = (file: string, args: string[], env: Record<string, string | undefined> = {}) => runCli(['build', '--config', file, '--out', join(tempDir(), 'out'), ...args], { env: { AWS_REGION: undefined, ...env } });

  it('is reported as the flag\'s or the variable\'s, not as a line of the file', () => {
    const file = config(minimalYaml());
    const flag = build(file, ['--region', 'eu-centrl-1']);
    expect(flag.status).to.equal(1);
    expect(flag.stderr.split('\n')[0]).to.equal('--region  provider.region  eu-centrl-1 is not an AWS region (did you mean eu-central-1 or eu-central-2?)');
    const variable = build(file, [], { AWS_REGION: 'ap-southeast-7' });
    expect(variable.stderr.split('\n')[0]).to.equal('AWS_REGION  provider.region  CloudFormation cannot create AWS::SES::EmailIdentity in ap-southeast-7 (the service is not offered there): choose another region, such as eu-central-1');
    const stage = build(file, ['--stage', 'Prod']);
    expect(stage.stderr.split('\n')[0]).to.match(/^--stage  provider\.stage  must be lower-case letters/);
  });

  it('is the file\'s when the file has the value (AWS_REGION does not override it)', () => {
    const file = config(minimalYaml('provider:\n  region: eu-centrl-1\n'));
    const result = build(file, [], { AWS_REGION: 'eu-central-1' });
    expect(result.stderr.split('\n')[0]).to.equal(`${file}:4:11  provider.region  eu-centrl-1 is not an AWS region (did you mean eu-central-1 or eu-central-2?)`);
  });
});
