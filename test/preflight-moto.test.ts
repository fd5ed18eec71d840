import { ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { expect } from 'chai';
import { join } from 'node:path';
import { sdkClients } from '../src/deployer/aws.js';
import { runCli, tempDir } from './support/build.js';
import { useMoto } from './support/moto.js';
import { twoRegionPackage } from './support/packages.js';

describe('deploy preflight against moto_server (real STS and CloudFormation APIs)', function () {
  const moto = useMoto();
  const cli = (...args: string[]) => runCli(args, { env: { ...moto.env, AWS_REGION: undefined } });
  const stacks = async (region: string) => ((await sdkClients().cloudFormation(region).send(new ListStacksCommand({}))).StackSummaries ?? []).map((s: { StackName: string }) => s.StackName);

  it("refuses the placeholder domain of init --yes, and no stack exists afterwards", async () => {
    const config = join(tempDir(), 'mastodon.config.yaml');
    const init = runCli(['init', '--config', config, '--yes', '--region', 'eu-central-1']);
    expect(init.status, init.stderr).to.equal(0);
    // build takes it: it works offline, and the tests and the shipped config build example.com.
    expect(runCli(['build', '--config', config, '--out', join(tempDir(), 'out')]).status).to.equal(0);
    const result = cli('deploy', '--config', config, '--out', join(tempDir(), 'deployed'), '--yes');
    expect(result.status, result.stderr).to.equal(1);
    expect(result.stderr).to.match(/^Refusing to deploy social-prod: social\.example\.com, media\.social\.example\.com are names reserved for examples and tests \(RFC 2606, RFC 6761\)/);
    expect(result.stderr).to.not.match(/\n\s+at /);
    expect(await stacks('eu-central-1')).to.deep.equal([]);
    expect(await stacks('us-east-1')).to.deep.equal([]);
  });

  it('starts with the account, the caller and the regions it changes', () => {
    const result = cli('deploy', '--package', twoRegionPackage('preflight-test', { wired: false }), '--yes');
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout.split('\n')[0]).to.equal('Deploying to AWS account 123456789012 as arn:aws:sts::123456789012:user/moto, in us-east-1 and eu-central-1');
  });
});
