import { DescribeAlarmsCommand, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { expect } from 'chai';
import { join } from 'node:path';
import { alarmsInAlarm, reportAlertSubscriptions, unconfirmedEmails } from '../src/deployer/alerts.js';
import { sdkClients } from '../src/deployer/aws.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { buildConfig, minimalYaml, problemsOf, REPO_ROOT, runCli } from './support/build.js';
import { FakeApi } from './support/fakes.js';
import { useMoto } from './support/moto.js';
import { writePackage } from './support/packages.js';

type Resources = Record<string, { Type: string; Condition?: string; Properties: Record<string, any> }>;

const alarmsOf = (resources: Resources) => Object.fromEntries(Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.AlarmName).map(([, r]) => [r.Properties.AlarmName.replace('mastodon-cfn/social-prod/', ''), r]));
const build = (extra: string) => buildConfig({ yaml: minimalYaml(extra) }).resources() as Resources;
const postblog = `services:\n  postblog: { build: ${join(REPO_ROOT, 'postblog')}, port: 8000, healthCheck: /status, host: comments.example.com, mastodon: { account: blog, scopes: [write:statuses] } }\n`;

describe('alerts: alarms on what breaks an instance, mailed or sent to a topic', () => {
  it('without alerts: no topic and no alert alarm', () => {
    expect(alarmsOf(build(''))).to.deep.equal({});
    expect(Object.values(build('')).map((r) => r.Type)).to.not.include('AWS::SNS::Topic');
  });

  it('mails every alarm and its return to OK to each address, each through a subscription of its own whose id follows the address', () => {
    const resources = build('alerts: { email: [ops@example.com, oncall@example.com] }\n');
    expect(resources.AlertsTopic.Properties).to.deep.equal({ TopicName: 'mastodon-cfn-social-prod-alerts', DisplayName: 'Mastodon social.example.com' });
    const subscriptions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SNS::Subscription');
    expect(subscriptions.map(([, r]) => r.Properties)).to.deep.equal([
      { TopicArn: { Ref: 'AlertsTopic' }, Protocol: 'email', Endpoint: 'ops@example.com' },
      { TopicArn: { Ref: 'AlertsTopic' }, Protocol: 'email', Endpoint: 'oncall@example.com' },
    ]);
    // Taking the first address away leaves the second one's subscription (and its confirmation) as it is.
    const alone = build('alerts: { email: oncall@example.com }\n');
    expect(Object.keys(alone).filter((id) => alone[id].Type === 'AWS::SNS::Subscription')).to.deep.equal([subscriptions[1][0]]);
    for (const alarm of Object.values(alarmsOf(resources)) as Resources[string][]) {
      expect(alarm.Properties.AlarmActions).to.deep.equal([{ Ref: 'AlertsTopic' }]);
      expect(alarm.Properties.OKActions).to.deep.equal([{ Ref: 'AlertsTopic' }]);
      expect(alarm.Properties.AlarmDescription).to.match(/\. (Look at|Raise|Free|Consider)|Look at /);
    }
  });

  it('size standard: 5xx rate, web and streaming targets, Sidekiq latency and processes, Aurora CPU and capacity, cache memory, SES rates', () => {
    const alarms = alarmsOf(build('alerts: { email: ops@example.com }\n'));
    expect(Object.keys(alarms).sort()).to.deep.equal(
      ['cache-memory', 'database-at-max-capacity', 'database-cpu', 'error-rate', 'mail-bounce-rate', 'mail-complaint-rate', 'sidekiq-all-latency', 'sidekiq-all-processes', 'streaming-too-few-targets', 'streaming-unhealthy-targets', 'web-too-few-targets', 'web-unhealthy-targets'].sort(),
    );
    // The 503s the load balancer answers itself, with no healthy target, are not in RequestCount: they are added to it.
    const rate = alarms['error-rate'].Properties;
    expect(rate.Metrics.map((m: { Id: string; MetricStat?: { Metric: { MetricName: string } } }) => m.MetricStat?.Metric.MetricName ?? m.Id)).to.deep.equal(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount', 'rate']);
    expect(rate.Metrics[3].Expression).to.equal('IF(FILL(requests, 0) + FILL(elb, 0) >= 20, 100 * (FILL(elb, 0) + FILL(target, 0)) / (FILL(requests, 0) + FILL(elb, 0)), 0)');
    expect(rate).to.include({ Threshold: 5, EvaluationPeriods: 2, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    // Web and streaming share the 2 tasks of size standard: fewer than 2 healthy is below what the config runs.
    expect(alarms['web-too-few-targets'].Properties).to.include({ MetricName: 'HealthyHostCount', Statistic: 'Minimum', Threshold: 2, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 5, TreatMissingData: 'breaching' });
    expect(alarms['streaming-too-few-targets'].Properties.Threshold).to.equal(2);
    expect(alarms['web-unhealthy-targets'].Properties.Dimensions).to.deep.equal([
      { Name: 'TargetGroup', Value: { 'Fn::GetAtt': ['WebTargetGroup', 'TargetGroupFullName'] } },
      { Name: 'LoadBalancer', Value: { 'Fn::GetAtt': ['LoadBalancer', 'LoadBalancerFullName'] } },
    ]);
    expect(alarms['database-at-max-capacity'].Properties).to.include({ MetricName: 'ServerlessDatabaseCapacity', Statistic: 'Minimum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Period: 60, EvaluationPeriods: 15 });
    expect(alarms['database-cpu'].Properties.Dimensions).to.deep.equal([{ Name: 'DBClusterIdentifier', Value: { Ref: 'DatabaseCluster' } }]);
    expect(alarms['cache-memory'].Properties.Dimensions).to.deep.equal([{ Name: 'CacheClusterId', Value: { 'Fn::Sub': '${Cache}-001' } }]);
    // SES publishes rates (0.05 is 5%).
    expect(alarms['mail-bounce-rate'].Properties).to.include({ Namespace: 'AWS/SES', MetricName: 'Reputation.BounceRate', Threshold: 0.05 });
    expect(alarms['mail-complaint-rate'].Properties).to.include({ MetricName: 'Reputation.ComplaintRate', Threshold: 0.001 });
    expect(alarms['sidekiq-all-processes'].Properties).to.include({ Namespace: 'MastodonCfn/Sidekiq', MetricName: 'Processes', Threshold: 1, ComparisonOperator: 'LessThanThreshold' });
    expect(alarms['sidekiq-all-latency'].Properties).to.include({ MetricName: 'GroupLatency', Threshold: 300, EvaluationPeriods: 15 });
    expect(alarms['sidekiq-all-latency'].Properties.Dimensions).to.deep.equal([{ Name: 'Stack', Value: 'social-prod' }, { Name: 'Group', Value: 'all' }]);
  });

  it('size small: the RDS instance and its free storage; size large: each Sidekiq group, and autoscaled services at their minimum', () => {
    const small = alarmsOf(build('size: small\nalerts: { email: ops@example.com }\n'));
    expect(small).to.not.have.property('database-at-max-capacity');
    expect(small['database-free-storage'].Properties).to.include({ MetricName: 'FreeStorageSpace', Threshold: 1024 ** 3, ComparisonOperator: 'LessThanThreshold' });
    expect(small['database-cpu'].Properties.Dimensions).to.deep.equal([{ Name: 'DBInstanceIdentifier', Value: { Ref: 'PostgresInstance' } }]);
    expect(small['web-too-few-targets'].Properties.Threshold).to.equal(1);
    const large = alarmsOf(build('size: large\nalerts: { email: ops@example.com }\nmastodon:\n  web: { autoscaling: { min: 3, max: 6 } }\n'));
    expect(large['web-too-few-targets'].Properties.Threshold).to.equal(3);
    expect(large['database-at-max-capacity'].Properties.Threshold).to.equal(4);
    expect(Object.keys(large).filter((name) => name.startsWith('sidekiq-')).sort()).to.deep.equal(['sidekiq-main-latency', 'sidekiq-main-processes', 'sidekiq-scheduler-latency', 'sidekiq-scheduler-processes']);
  });

  it('thresholds are the config’s; a topic of the user’s takes the alarms instead of a topic of the stack’s', () => {
    const topic = 'arn:aws:sns:us-east-1:123456789012:ops';
    const resources = build(`alerts:\n  topic: ${topic}\n  thresholds: { errorRatePercent: 2, targetMinutes: 10, databaseCpuPercent: 90, cacheMemoryPercent: 70, sesBounceRatePercent: 4, sesComplaintRatePercent: 0.08, sidekiqLatencySeconds: 600, databaseCapacityMinutes: 30 }\n`);
    expect(Object.values(resources).map((r) => r.Type)).to.not.include.members(['AWS::SNS::Topic', 'AWS::SNS::Subscription']);
    const alarms = alarmsOf(resources);
    expect(alarms['error-rate'].Properties.AlarmActions).to.deep.equal([topic]);
    expect([alarms['error-rate'], alarms['web-unhealthy-targets'], alarms['database-cpu'], alarms['cache-memory'], alarms['mail-bounce-rate'], alarms['mail-complaint-rate'], alarms['sidekiq-all-latency'], alarms['database-at-max-capacity']].map((a) => a.Properties.Threshold)).to.deep.equal([2, 1, 90, 70, 0.04, 0.0008, 600, 1]);
    expect(alarms['web-unhealthy-targets'].Properties.EvaluationPeriods).to.equal(10);
    expect(alarms['database-at-max-capacity'].Properties.EvaluationPeriods).to.equal(30);
  });

  it('leaves out what cannot fire for a reason: Mastodon’s processes in maintenance (they sleep), SES’s rates with an SMTP server of the user’s; a service with a token is watched once it has one', () => {
    const maintenance = alarmsOf(build('mastodon: { mode: maintenance }\nalerts: { email: ops@example.com }\n'));
    expect(Object.keys(maintenance).sort()).to.deep.equal(['cache-memory', 'database-at-max-capacity', 'database-cpu', 'mail-bounce-rate', 'mail-complaint-rate']);
    const ownSmtp = alarmsOf(build("mail: { smtpSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mastodon/smtp-AbCdEf' }\nalerts: { email: ops@example.com }\n"));
    expect(ownSmtp).to.not.have.property('mail-bounce-rate');
    const withService = build(`alerts: { email: ops@example.com }\n${postblog}`);
    const service = alarmsOf(withService)['service-postblog-too-few-targets'];
    expect(service.Condition).to.equal('ServicePostblogTokenExists');
    expect(service.Properties.Threshold).to.equal(1);
  });

  it('refuses alerts with neither or both of email and topic, a topic in another region, and a threshold out of range, each at its key', () => {
    expect(problemsOf('alerts: { thresholds: { errorRatePercent: 2 } }\n')).to.deep.equal(['alerts: alerts needs email (the addresses alarms are mailed to) or topic (an SNS topic ARN of yours)']);
    expect(problemsOf("alerts: { email: ops@example.com, topic: 'arn:aws:sns:us-east-1:123456789012:ops' }\n")).to.deep.equal(['alerts.topic: give alerts.email or alerts.topic, not both: with a topic of yours, subscribe the addresses to it']);
    expect(problemsOf("provider: { region: eu-central-1 }\nalerts: { topic: 'arn:aws:sns:us-east-1:123456789012:ops' }\n")).to.deep.equal(['alerts.topic: the topic is in us-east-1, the stack in eu-central-1: CloudWatch alarms publish only to a topic in their own region']);
    expect(problemsOf('alerts: { email: ops@example.com, thresholds: { sesComplaintRatePercent: 0.6 } }\n')).to.deep.equal(['alerts.thresholds.sesComplaintRatePercent: must be at most 0.5; got 0.6']);
    expect(problemsOf('alerts: { email: [ops] }\n')).to.deep.equal(['alerts.email.0: must be an e-mail address such as ops@example.com; got "ops"']);
  });
});

describe('alerts in the deployer: unconfirmed subscriptions, and alarms in ALARM', () => {
  const target = { alarmPrefix: 'mastodon-cfn/social-prod/', topicOutput: 'AlertsTopicArn', emails: ['ops@example.com', 'Oncall@example.com'] };
  const topicArn = 'arn:aws:sns:eu-central-1:123456789012:mastodon-cfn-social-prod-alerts';
  /** ListSubscriptionsByTopic as the SNS API reference shows it: an unconfirmed e-mail subscription's ARN is the word PendingConfirmation; pages of up to 100 with a NextToken. */
  const sns = (pending: string[]) =>
    new FakeApi({
      ListSubscriptionsByTopic: ({ TopicArn, NextToken }) => {
        if (TopicArn !== topicArn) throw Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' });
        const all = target.emails.map((email, i) => ({ Endpoint: email.toLowerCase(), Protocol: 'email', TopicArn, Owner: '123456789012', SubscriptionArn: pending.includes(email) ? 'PendingConfirmation' : `${topicArn}:0000000${i}-aaaa-bbbb-cccc-dddddddddddd` }));
        return NextToken ? { Subscriptions: all.slice(1) } : { Subscriptions: all.slice(0, 1), NextToken: 'page2' };
      },
    });

  it('deploy names the addresses that must still follow the confirmation link, reading every page; nothing when all have', async () => {
    const reporter = recordingReporter();
    await reportAlertSubscriptions(sns(['Oncall@example.com']), target, { AlertsTopicArn: topicArn }, reporter);
    expect(reporter.lines).to.deep.equal(['Alerts: AWS has mailed a confirmation link to Oncall@example.com ("AWS Notification - Subscription Confirmation"). No alarm reaches it until the link is followed; mastodon-cfn status lists who has not.']);
    const quiet = recordingReporter();
    await reportAlertSubscriptions(sns([]), target, { AlertsTopicArn: topicArn }, quiet);
    expect(quiet.lines).to.deep.equal([]);
    // A topic of the user's: no addresses of ours to ask about.
    expect(await unconfirmedEmails(sns(['ops@example.com']), { ...target, emails: [] }, { AlertsTopicArn: topicArn })).to.deep.equal([]);
  });

  describe('against moto_server (SNS and CloudWatch)', function () {
    const moto = useMoto();

    it('deploys the topic; the compiled alarms are accepted by CloudWatch, and those in ALARM are found by their prefix, not the autoscaling’s own', async () => {
      const compiled = buildConfig({ yaml: minimalYaml('alerts: { email: ops@example.com }\n') }).resources() as Resources;
      // moto 5.2 creates neither AWS::SNS::Subscription nor AWS::CloudWatch::Alarm through CloudFormation: the topic is
      // deployed, and each alarm is put through CloudWatch's own API with its compiled properties.
      const pkg = writePackage([{ name: 'social-prod', region: 'eu-central-1', dependsOn: [], alerts: target, template: { Resources: { AlertsTopic: compiled.AlertsTopic } } } as never]);
      const deployed = runCli(['deploy', '--package', pkg, '--yes'], { env: moto.env });
      expect(deployed.status, deployed.stderr).to.equal(0);
      const clients = sdkClients();
      const topics = (await clients.sns('eu-central-1').send(new ListTopicsCommand({}))).Topics.map((t: { TopicArn: string }) => t.TopicArn);
      expect(topics).to.include(topicArn);
      // Intrinsic functions as CloudFormation would have resolved them.
      const resolved = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(resolved);
        if (value && typeof value === 'object') {
          const [key, argument] = Object.entries(value)[0] ?? [];
          if (key === 'Ref') return argument === 'AlertsTopic' ? topicArn : `${argument}-id`;
          if (key === 'Fn::GetAtt') return `app/${(argument as string[]).join('-')}`;
          if (key === 'Fn::Sub') return String(argument).replace(/\$\{(\w+)\}/g, '$1-id');
          return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolved(v)]));
        }
        return value;
      };
      const cloudWatch = clients.cloudWatch('eu-central-1');
      const alarms = Object.values(alarmsOf(compiled)) as Resources[string][];
      for (const alarm of alarms) await cloudWatch.send(new PutMetricAlarmCommand(resolved(alarm.Properties) as never));
      const names = (await cloudWatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: target.alarmPrefix }))).MetricAlarms.map((a: { AlarmName: string }) => a.AlarmName);
      expect(names).to.have.length(alarms.length).and.to.include('mastodon-cfn/social-prod/error-rate');
      // A scaling alarm of Application Auto Scaling's, in ALARM too, is not an alert.
      await cloudWatch.send(new PutMetricAlarmCommand({ AlarmName: 'TargetTracking-service/social-prod/web-AlarmHigh', MetricName: 'CPUUtilization', Namespace: 'AWS/ECS', Statistic: 'Average', Period: 60, EvaluationPeriods: 1, Threshold: 60, ComparisonOperator: 'GreaterThanThreshold' }));
      for (const AlarmName of ['TargetTracking-service/social-prod/web-AlarmHigh', 'mastodon-cfn/social-prod/mail-bounce-rate']) {
        await cloudWatch.send(new SetAlarmStateCommand({ AlarmName, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 1 datapoint [0.07] was greater than the threshold (0.05).' }));
      }
      const firing = await alarmsInAlarm(cloudWatch, target);
      expect(firing.map((a) => [a.AlarmName, a.StateValue, a.StateReason, a.AlarmActions])).to.deep.equal([['mastodon-cfn/social-prod/mail-bounce-rate', 'ALARM', 'Threshold Crossed: 1 datapoint [0.07] was greater than the threshold (0.05).', [topicArn]]]);
    });
  });
});
