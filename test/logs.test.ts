import { expect } from 'chai';
import type { Clients } from '../src/deployer/aws.js';
import type { DeployerContext } from '../src/deployer/commands.js';
import { LATE_EVENTS_MS, parseSince, PrintedEvents, showLogs } from '../src/deployer/logs.js';
import { readPackage } from '../src/deployer/manifest.js';
import { runCommand } from '../src/deployer/tasks.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { MastodonCfnError } from '../src/errors.js';
import { CloudWatchLogsStandIn } from './support/cloudWatchLogs.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { runCli } from './support/build.js';
import { writePackage } from './support/packages.js';

const GROUP = '/mastodon-cfn/follow/mastodon';
const base = Date.parse('2026-11-25T08:00:00Z');

const refusedWith = async (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => [error.name, error.message]);

describe('the CloudWatch Logs stand-in answers as the API reference says', () => {
  it('refuses an unknown log group or stream, a token of another stream, and stream names with a prefix', async () => {
    const logs = new CloudWatchLogsStandIn();
    logs.put(GROUP, 'web/web/t1', [{ timestamp: base, message: 'one' }]);
    logs.put(GROUP, 'web/web/t2', [{ timestamp: base, message: 'two' }]);
    const { FilterLogEventsCommand, GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
    expect(await refusedWith(logs.send(new FilterLogEventsCommand({ logGroupName: '/nope' })))).to.deep.equal(['ResourceNotFoundException', 'The specified log group does not exist.']);
    expect(await refusedWith(logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'web/web/t9' })))).to.deep.equal(['ResourceNotFoundException', 'The specified log stream does not exist.']);
    const first = await logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'web/web/t1', startFromHead: true }));
    expect((await refusedWith(logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'web/web/t2', nextToken: first.nextForwardToken }))))?.[0]).to.equal('InvalidParameterException');
    expect((await refusedWith(logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, logStreamNames: ['web/web/t1'], logStreamNamePrefix: 'web/' }))))?.[0]).to.equal('InvalidParameterException');
  });

  it('gives an empty page with a new token before the events, and the token it was sent at the end', async () => {
    const logs = new CloudWatchLogsStandIn({ emptyPages: true });
    logs.put(GROUP, 'web/web/t1', [{ timestamp: base, message: 'one' }]);
    const { GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
    const read = (nextToken?: string) => logs.send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: 'web/web/t1', startFromHead: true, nextToken }));
    const empty = await read();
    expect(empty.events).to.deep.equal([]);
    const full = await read(empty.nextForwardToken);
    expect(full.nextForwardToken).to.not.equal(empty.nextForwardToken);
    expect(full.events.map((e: { message: string }) => e.message)).to.deep.equal(['one']);
    const end = await read(full.nextForwardToken);
    expect([end.events, end.nextForwardToken]).to.deep.equal([[], full.nextForwardToken]);
  });
});

describe('mastodon-cfn logs', () => {
  const pkg = () =>
    readPackage(
      writePackage([
        {
          name: 'follow',
          region: 'eu-central-1',
          dependsOn: [],
          logSources: { web: { group: GROUP, streamPrefix: 'web' }, sidekiq: { group: GROUP, streamPrefix: 'sidekiq' } },
          template: { Resources: { Notices: { Type: 'AWS::SNS::Topic' } } },
        },
      ]),
    );
  const deployed = new FakeApi({ DescribeStacks: () => ({ Stacks: [{ StackName: 'follow', StackStatus: 'CREATE_COMPLETE' }] }) });
  const context = (logs: CloudWatchLogsStandIn, cloudFormation = deployed, signal?: AbortSignal): DeployerContext => ({
    clients: fakeClients({ cloudFormation: () => cloudFormation, logs: () => logs } as Partial<Clients>),
    reporter: recordingReporter(),
    confirm: async () => true,
    polling: { initialMs: 2, maxMs: 2, signal },
  });

  it('--follow prints a line that reaches CloudWatch late, from another stream, once; and reads only a bounded window back', async () => {
    const logs = new CloudWatchLogsStandIn({ emptyPages: true, pageSize: 1 });
    logs.put(GROUP, 'web/web/t', [{ timestamp: base, message: 'first' }]);
    const written: string[] = [];
    const interrupt = new AbortController();
    const write = (text: string) => {
      written.push(text);
      if (written.length === 1) {
        // sidekiq's batch written half a second before web's line arrives after it, with a newer web line.
        logs.put(GROUP, 'web/web/t', [{ timestamp: base + 1000, message: 'second' }]);
        logs.put(GROUP, 'sidekiq/sidekiq/t', [{ timestamp: base - 500, message: 'late\n' }]);
        setTimeout(() => interrupt.abort(), 40);
      }
    };
    await showLogs(pkg(), context(logs, deployed, interrupt.signal), { since: base - 3_600_000, follow: true }, write);
    expect(written).to.deep.equal(['2026-11-25 08:00:00  web      first\n', '2026-11-25 07:59:59  sidekiq  late\n', '2026-11-25 08:00:01  web      second\n']);
    const starts = logs.calls.map((c) => c.input.startTime);
    expect(starts.at(-1)).to.equal(base + 1000 - LATE_EVENTS_MS);
    expect(Math.min(...starts.slice(1).filter((start) => start !== starts[0]))).to.be.at.least(base - LATE_EVENTS_MS);
  });

  it('forgets printed events once no read reaches back to them', () => {
    const printed = new PrintedEvents();
    expect([printed.add('1', base), printed.add('2', base + 10), printed.add('1', base)]).to.deep.equal([true, true, false]);
    printed.forgetBefore(base + 5);
    expect(printed.size).to.equal(1);
    expect(printed.add('2', base + 10)).to.equal(false);
  });

  it('with nothing deployed says so and fails (exit 1), as run does', async () => {
    const notDeployed = new FakeApi({ DescribeStacks: () => Promise.reject(new Error('Stack with id follow does not exist')) });
    const error = await showLogs(pkg(), context(new CloudWatchLogsStandIn(), notDeployed), { since: base, follow: false }, () => undefined).then(
      () => undefined,
      (e) => e as MastodonCfnError,
    );
    expect(error?.message).to.equal('follow is not deployed in eu-central-1: there are no logs to show. Run mastodon-cfn deploy first.');
    expect(error?.exitCode).to.equal(1);
  });

  it('the command line refuses --since 90 with exit 2 before reaching AWS', () => {
    const result = runCli(['logs', '--package', writePackage([{ name: 'follow', region: 'eu-central-1', dependsOn: [], template: { Resources: { Notices: { Type: 'AWS::SNS::Topic' } } } }]), '--since', '90'], { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
    expect(result.status).to.equal(2);
    expect(result.stderr).to.match(/^--since "90" has no unit: give a duration such as 90s/);
  });

  it('--since takes a duration or an ISO 8601 date (UTC unless an offset is given), never a bare number', () => {
    const now = base;
    expect(parseSince('90s', now)).to.equal(now - 90_000);
    expect(parseSince('30m', now)).to.equal(now - 1_800_000);
    expect(parseSince('2d', now)).to.equal(now - 2 * 86_400_000);
    expect(parseSince('2026-11-24T08:00:00Z', now)).to.equal(now - 86_400_000);
    expect(parseSince('2026-11-24 08:00:00', now)).to.equal(now - 86_400_000);
    expect(parseSince('2026-11-24T09:00:00+01:00', now)).to.equal(now - 86_400_000);
    expect(parseSince('2026-11-25', now)).to.equal(now - 8 * 3_600_000);
    for (const [text, why] of [
      ['90', 'has no unit'],
      ['1', 'has no unit'],
      ['yesterday', 'is neither a duration nor a date'],
      ['Dec 5', 'is neither a duration nor a date'],
      ['2026-02-30', 'is not a date that exists'],
      ['2026-11-24T25:00', 'is not a date that exists'],
    ]) {
      let error: MastodonCfnError | undefined;
      try {
        parseSince(text, now);
      } catch (e) {
        error = e as MastodonCfnError;
      }
      expect(error?.message, text).to.match(new RegExp(`^--since "${text}" ${why}: give a duration such as 90s, 30m, 1h or 2d, or a date and time in UTC`));
      expect(error?.exitCode).to.equal(2);
    }
  });
});

describe('mastodon-cfn run: the whole output', () => {
  it('reads on past an empty page with a new token, so the end of the output is printed after the task stopped', async () => {
    const taskArn = 'arn:aws:ecs:eu-central-1:123456789012:task/ops/0a1b2c3d4e5f';
    const logs = new CloudWatchLogsStandIn({ emptyPages: true, pageSize: 1 });
    logs.createGroup('/mastodon-cfn/ops/mastodon');
    const stream = 'migrate/migrate/0a1b2c3d4e5f';
    let described = 0;
    const ecs = new FakeApi({
      RunTask: () => ({ tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] }),
      DescribeTasks: () => {
        described++;
        if (described === 1) {
          logs.put('/mastodon-cfn/ops/mastodon', stream, [{ timestamp: base, message: 'Creating account alice' }]);
          return { tasks: [{ taskArn, lastStatus: 'RUNNING' }] };
        }
        logs.put('/mastodon-cfn/ops/mastodon', stream, [
          { timestamp: base + 1, message: 'OK' },
          { timestamp: base + 2, message: 'New password: f9a0b1c2' },
        ]);
        return { tasks: [{ taskArn, lastStatus: 'STOPPED', containers: [{ name: 'migrate', exitCode: 0 }] }] };
      },
    });
    const task = {
      outputs: { cluster: 'ClusterName', taskDefinition: 'TaskDefinition', subnets: 'TaskSubnets', securityGroup: 'TaskSecurityGroup', logGroup: 'MastodonLogGroup' },
      capacityProvider: 'FARGATE',
      container: 'migrate',
    };
    const outputs = { ClusterName: 'ops', TaskDefinition: 'arn:aws:ecs:eu-central-1:123456789012:task-definition/ops-migrations:3', TaskSubnets: 'subnet-1', TaskSecurityGroup: 'sg-1', MastodonLogGroup: '/mastodon-cfn/ops/mastodon' };
    const written: string[] = [];
    const code = await runCommand({ ecs, logs }, task, outputs, { name: 'ops', region: 'eu-central-1' }, ['bin/tootctl', 'accounts', 'create', 'alice'], recordingReporter(), (text) => written.push(text), { initialMs: 1, maxMs: 2 });
    expect(code).to.equal(0);
    expect(written.join('')).to.equal('Creating account alice\nOK\nNew password: f9a0b1c2\n');
  });
});
