import { expect } from 'chai';
import { diff, type DeployerContext } from '../src/deployer/commands.js';
import { detectDrift, formatDrift } from '../src/deployer/drift.js';
import { readPackage } from '../src/deployer/manifest.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { fakeClients } from './support/fakes.js';
import { FakeCloudFormation } from './support/fakeCloudFormation.js';
import { twoRegionPackage } from './support/packages.js';

const polling = { initialMs: 1, maxMs: 2 };

describe('drift: what was changed outside mastodon-cfn (CloudFormation drift detection, against a stand-in: moto has none)', () => {
  function drifted() {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('social-certificates', { status: 'CREATE_COMPLETE' });
    cfn.stacks.set('social', { status: 'UPDATE_COMPLETE', template: JSON.stringify({ Resources: { Alerts: { Type: 'AWS::SNS::Topic' } } }) });
    cfn.driftPageSize = 2;
    cfn.resourceDrifts.set('social', [
      { StackId: 's', LogicalResourceId: 'WebService', ResourceType: 'AWS::ECS::Service', PhysicalResourceId: 'arn:aws:ecs:eu-central-1:123456789012:service/social/web', StackResourceDriftStatus: 'MODIFIED', Timestamp: new Date(), PropertyDifferences: [{ PropertyPath: '/DesiredCount', ExpectedValue: '2', ActualValue: '5', DifferenceType: 'NOT_EQUAL' }] },
      { StackId: 's', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic', PhysicalResourceId: 'arn:aws:sns:eu-central-1:123456789012:alerts', StackResourceDriftStatus: 'DELETED', Timestamp: new Date() },
      { StackId: 's', LogicalResourceId: 'Logs', ResourceType: 'AWS::Logs::LogGroup', StackResourceDriftStatus: 'IN_SYNC', Timestamp: new Date() },
      { StackId: 's', LogicalResourceId: 'Cache', ResourceType: 'AWS::ElastiCache::ReplicationGroup', PhysicalResourceId: 'social-cache', StackResourceDriftStatus: 'MODIFIED', Timestamp: new Date(), PropertyDifferences: [{ PropertyPath: '/SnapshotRetentionLimit', ExpectedValue: '7', DifferenceType: 'REMOVE' } as never] },
    ]);
    return cfn;
  }

  it('detects drift on every stack, waits for it, reads every page, and lists each changed resource with its properties, template against actual', async () => {
    const cfn = drifted();
    const drifts = await detectDrift(readPackage(twoRegionPackage('social')), fakeClients({ cloudFormation: () => cfn }), polling);
    expect(drifts.map((d) => [d.stack, d.status, d.resources.length])).to.deep.equal([
      ['social-certificates', 'IN_SYNC', 0],
      ['social', 'DRIFTED', 3],
    ]);
    // Only the changed ones are asked for, in pages.
    expect(cfn.called('DescribeStackResourceDrifts').filter((c) => c.input.StackName === 'social').map((c) => [c.input.StackResourceDriftStatusFilters, c.input.NextToken])).to.deep.equal([
      [['MODIFIED', 'DELETED'], undefined],
      [['MODIFIED', 'DELETED'], '2'],
    ]);
    expect(formatDrift(drifts)).to.equal(
      [
        'social-certificates (us-east-1): in sync with its template',
        'social (eu-central-1): DRIFTED, 3 changed outside mastodon-cfn:',
        '  DELETED   Alerts (AWS::SNS::Topic) arn:aws:sns:eu-central-1:123456789012:alerts',
        '  MODIFIED  Cache (AWS::ElastiCache::ReplicationGroup) social-cache',
        '            /SnapshotRetentionLimit: removed, template 7, actual (none)',
        '  MODIFIED  WebService (AWS::ECS::Service) arn:aws:ecs:eu-central-1:123456789012:service/social/web',
        '            /DesiredCount: changed, template 2, actual 5',
        'The next deploy that updates one of these resources sets it back to its template, and the change made outside is gone;',
        'a deleted one is not made again until its template changes. To keep a change, make it in mastodon.config.yaml.',
        '',
      ].join('\n'),
    );
  });

  it('says when detection failed for some resources, with its reason; a stack not deployed is said so', async () => {
    const cfn = drifted();
    cfn.driftFailure = 'Failed to detect drift on resource [Cache]: Internal Failure';
    cfn.stacks.delete('social-certificates');
    const drifts = await detectDrift(readPackage(twoRegionPackage('social')), fakeClients({ cloudFormation: () => cfn }), polling);
    expect(drifts.map((d) => d.status)).to.deep.equal(['NOT_DEPLOYED', 'FAILED']);
    expect(formatDrift(drifts)).to.match(/^social-certificates \(us-east-1\): not deployed\nsocial \(eu-central-1\): drift detection failed for some resources \(Failed to detect drift on resource \[Cache\]: Internal Failure\), 3 changed/);
  });

  it('the stand-in refuses what CloudFormation refuses: an unknown stack, a drift status the API does not have', async () => {
    const cfn = drifted();
    const { DetectStackDriftCommand, DescribeStackResourceDriftsCommand } = await import('@aws-sdk/client-cloudformation');
    await cfn.send(new DetectStackDriftCommand({ StackName: 'nope' })).then(
      () => expect.fail('accepted'),
      (error: Error) => expect(error.message).to.equal('Stack with id nope does not exist'),
    );
    await cfn.send(new DescribeStackResourceDriftsCommand({ StackName: 'social', StackResourceDriftStatusFilters: ['CHANGED' as never] })).then(
      () => expect.fail('accepted'),
      (error: Error) => expect(error.message).to.match(/Member must satisfy enum value set: \[IN_SYNC, MODIFIED, DELETED, NOT_CHECKED\]/),
    );
  });

  it('diff says a stack has drifted when the last detection found so, before its change set', async () => {
    const cfn = drifted();
    await detectDrift(readPackage(twoRegionPackage('social')), fakeClients({ cloudFormation: () => cfn }), polling);
    const reporter = recordingReporter();
    const context: DeployerContext = { clients: fakeClients({ cloudFormation: () => cfn }), reporter, confirm: async () => true, polling };
    await diff(readPackage(twoRegionPackage('social', { wired: false })), context);
    const notice = reporter.lines.findIndex((line) => /^social has drifted: drift detection on \d{4}-\d\d-\d\d \d\d:\d\d UTC found resources changed outside mastodon-cfn\. A change below to one of them sets it back to its template; mastodon-cfn drift lists what changed\.$/.test(line));
    expect(notice, reporter.lines.join('\n')).to.be.at.least(0);
    expect(reporter.lines.some((line) => line.startsWith('social-certificates has drifted'))).to.equal(false);
  });
});
