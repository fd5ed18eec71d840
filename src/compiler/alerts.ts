import type { AlertThresholds, Config } from '../config/types.js';
import { mastodonTasks, type MastodonTask } from '../mastodon/layout.js';
import { QUEUE_LATENCY } from '../mastodon/queueLatency.js';
import { Alarm, GetAtt, Ref, SnsSubscription, SnsTopic, Sub, type Resource, type Value } from './cfn.js';
import { isSleeping } from './compute.js';
import type { AlertsTarget, CompileStep } from './fragment.js';
import { Ids, OutputIds, type Names } from './naming.js';

/** Requests in a 5-minute period below which the error rate is not judged: one failed request of two is not an outage. */
const MINIMUM_REQUESTS = 20;
/** Bytes in a GiB, for RDS's FreeStorageSpace (bytes). */
const GIB = 1024 ** 3;

type AlarmProps = ConstructorParameters<typeof Alarm>[0];

/** Where alarms are sent: the given topic, or the stack's own. */
function topicArn(config: Config): Value<string> {
  return config.alerts!.topic ?? Ref(Ids.AlertsTopic);
}

/** The addresses the stack's topic mails, as the config lists them. */
export function alertEmails(config: Config): string[] {
  return config.alerts?.email === undefined ? [] : [config.alerts.email].flat();
}

/** One alarm, named for the mails' subjects, notifying when it fires and when it is OK again. */
function alarm(config: Config, names: Names, what: string, description: string, props: Omit<AlarmProps, 'AlarmName' | 'AlarmDescription'>): [string, Resource] {
  const actions = [topicArn(config)];
  return [Ids.alarm(what), new Alarm({ AlarmName: names.alarmName(what), AlarmDescription: description, ActionsEnabled: true, AlarmActions: actions, OKActions: actions, ...props })];
}

const loadBalancer = { Name: 'LoadBalancer', Value: GetAtt(Ids.LoadBalancer, 'LoadBalancerFullName') };

/** A load balancer metric, summed over 5 minutes, for the error rate's expression. */
function loadBalancerSum(id: string, metric: string) {
  return { Id: id, ReturnData: false, MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: metric, Dimensions: [loadBalancer] }, Period: 300, Stat: 'Sum' } };
}

/**
 * The share of requests answered with a 5xx. RequestCount counts only requests the load balancer
 * found a target for (Application Load Balancer guide, "CloudWatch metrics"): the 503s it answers
 * itself when no target is healthy are added to it, or a dead instance would have an error rate of 0.
 */
function errorRate(config: Config, names: Names, thresholds: AlertThresholds) {
  return alarm(config, names, 'error-rate', `More than ${thresholds.errorRatePercent}% of the requests to ${config.domain} were answered with a 5xx for 10 minutes. Look at mastodon-cfn status and mastodon-cfn logs web.`, {
    Metrics: [
      loadBalancerSum('elb', 'HTTPCode_ELB_5XX_Count'),
      loadBalancerSum('target', 'HTTPCode_Target_5XX_Count'),
      loadBalancerSum('requests', 'RequestCount'),
      {
        Id: 'rate',
        Label: '5xx answers (percent of requests)',
        ReturnData: true,
        Expression: `IF(FILL(requests, 0) + FILL(elb, 0) >= ${MINIMUM_REQUESTS}, 100 * (FILL(elb, 0) + FILL(target, 0)) / (FILL(requests, 0) + FILL(elb, 0)), 0)`,
      },
    ],
    Threshold: thresholds.errorRatePercent,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 2,
    DatapointsToAlarm: 2,
    TreatMissingData: 'notBreaching',
  });
}

/** A target group's unhealthy targets, and fewer healthy ones than its service runs. */
function targetAlarms(config: Config, names: Names, thresholds: AlertThresholds, target: { what: string; label: string; logs: string; targetGroupId: string; expected: number; condition?: string }) {
  const metric = (name: string, statistic: string) => ({
    Namespace: 'AWS/ApplicationELB',
    MetricName: name,
    Dimensions: [{ Name: 'TargetGroup', Value: GetAtt(target.targetGroupId, 'TargetGroupFullName') }, loadBalancer],
    Statistic: statistic,
    Period: 60,
    EvaluationPeriods: thresholds.targetMinutes,
  });
  const minutes = `${thresholds.targetMinutes} minute${thresholds.targetMinutes === 1 ? '' : 's'}`;
  const alarms = [
    alarm(config, names, `${target.what}-unhealthy-targets`, `A ${target.label} task has failed its load balancer health check for ${minutes}. Look at mastodon-cfn logs ${target.logs}.`, {
      ...metric('UnHealthyHostCount', 'Maximum'),
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    }),
    // No data is no healthy target: the load balancer reports none for a group it cannot reach.
    alarm(config, names, `${target.what}-too-few-targets`, `Fewer than ${target.expected} healthy ${target.label} task${target.expected === 1 ? '' : 's'} for ${minutes}: ECS cannot keep the service running. Look at mastodon-cfn status.`, {
      ...metric('HealthyHostCount', 'Minimum'),
      Threshold: target.expected,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    }),
  ];
  return target.condition ? alarms.map(([id, resource]) => [id, Object.assign(resource, { Condition: target.condition })] as [string, Resource]) : alarms;
}

function minimumCount(task: MastodonTask): number {
  return task.autoscaling ? task.autoscaling.min : task.count;
}

/** The Mastodon processes' own alarms: the load balancer's view of web and streaming, and each Sidekiq group's queues and processes. */
function mastodonAlarms(config: Config, names: Names, thresholds: AlertThresholds): [string, Resource][] {
  const tasks = mastodonTasks(config);
  const serving = (process: 'web' | 'streaming') => tasks.find((task) => task.processes.includes(process))!;
  const sidekiqMetric = (name: string, group: string) => ({
    Namespace: QUEUE_LATENCY.namespace,
    MetricName: name,
    Dimensions: [
      { Name: 'Stack', Value: names.prefix },
      { Name: 'Group', Value: group },
    ],
    Statistic: 'Maximum',
    Period: QUEUE_LATENCY.intervalSeconds,
  });
  return [
    errorRate(config, names, thresholds),
    ...targetAlarms(config, names, thresholds, { what: 'web', label: 'web', logs: 'web', targetGroupId: Ids.WebTargetGroup, expected: minimumCount(serving('web')) }),
    ...targetAlarms(config, names, thresholds, { what: 'streaming', label: 'streaming', logs: 'streaming', targetGroupId: Ids.StreamingTargetGroup, expected: minimumCount(serving('streaming')) }),
    ...tasks.flatMap((task) => {
      if (!task.sidekiq) return [];
      const group = task.sidekiq.group;
      const expected = minimumCount(task);
      return [
        alarm(config, names, `sidekiq-${group}-latency`, `Jobs have waited more than ${thresholds.sidekiqLatencySeconds} s in the queues of Sidekiq group ${group} for 15 minutes: it does not keep up. Look at mastodon-cfn logs sidekiq, and consider more tasks or threads for the group.`, {
          ...sidekiqMetric(QUEUE_LATENCY.groupMetric, group),
          EvaluationPeriods: 15,
          Threshold: thresholds.sidekiqLatencySeconds,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        }),
        // Read by the reporter in the web tasks: without them there is no data, and web's own alarm fires.
        alarm(config, names, `sidekiq-${group}-processes`, `Fewer than ${expected} Sidekiq process${expected === 1 ? '' : 'es'} of group ${group} running for ${thresholds.targetMinutes} minutes: its jobs wait. Look at mastodon-cfn status and mastodon-cfn logs sidekiq.`, {
          ...sidekiqMetric(QUEUE_LATENCY.processMetric, group),
          EvaluationPeriods: thresholds.targetMinutes,
          Threshold: expected,
          ComparisonOperator: 'LessThanThreshold',
          TreatMissingData: 'notBreaching',
        }),
      ];
    }),
  ];
}

function databaseAlarms(config: Config, names: Names, thresholds: AlertThresholds): [string, Resource][] {
  const aurora = config.size !== 'small';
  const dimension = aurora ? { Name: 'DBClusterIdentifier', Value: Ref(Ids.DatabaseCluster) } : { Name: 'DBInstanceIdentifier', Value: Ref(Ids.PostgresInstance) };
  const metric = (name: string, statistic: string, period: number) => ({ Namespace: 'AWS/RDS', MetricName: name, Dimensions: [dimension], Statistic: statistic, Period: period });
  return [
    alarm(config, names, 'database-cpu', `The database's CPU has been above ${thresholds.databaseCpuPercent}% for 15 minutes. Look at Performance Insights or pg_stat_statements (mastodon-cfn run -- psql) for the queries, and at the database's size.`, {
      ...metric('CPUUtilization', 'Average', 300),
      EvaluationPeriods: 3,
      Threshold: thresholds.databaseCpuPercent,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    }),
    aurora
      ? alarm(config, names, 'database-at-max-capacity', `Aurora has run at its maximum of ${config.database.maxCapacity} ACU for ${thresholds.databaseCapacityMinutes} minutes: it cannot grow, and queries wait. Raise database.maxCapacity.`, {
          ...metric('ServerlessDatabaseCapacity', 'Minimum', 60),
          EvaluationPeriods: thresholds.databaseCapacityMinutes,
          Threshold: config.database.maxCapacity!,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
        })
      : alarm(config, names, 'database-free-storage', `The database has less than ${thresholds.databaseFreeStorageGiB} GiB of storage free, and storage autoscaling has not added any: at its maximum, or within 6 hours of its last growth. Free space (mastodon-cfn tootctl media remove, statuses remove) or move to size standard.`, {
          ...metric('FreeStorageSpace', 'Minimum', 300),
          EvaluationPeriods: 1,
          Threshold: thresholds.databaseFreeStorageGiB * GIB,
          ComparisonOperator: 'LessThanThreshold',
          TreatMissingData: 'notBreaching',
        }),
  ];
}

/** The cache has one node, `<replication group>-001`: ElastiCache names the clusters of a group so and reports each. */
function cacheAlarm(config: Config, names: Names, thresholds: AlertThresholds): [string, Resource] {
  return alarm(config, names, 'cache-memory', `The cache has used more than ${thresholds.cacheMemoryPercent}% of its memory for 15 minutes. Sidekiq's queues are there: when it is full, new jobs are refused. Look at the queues (mastodon-cfn status), then at cache.nodeType.`, {
    Namespace: 'AWS/ElastiCache',
    MetricName: 'DatabaseMemoryUsagePercentage',
    Dimensions: [{ Name: 'CacheClusterId', Value: Sub(`\${${Ids.Cache}}-001`) }],
    Statistic: 'Average',
    Period: 300,
    EvaluationPeriods: 3,
    Threshold: thresholds.cacheMemoryPercent,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
  });
}

/** SES's reputation metrics are rates (0.05 is 5%) of the whole account in the region, with no dimension (SES Developer Guide, "Reputation metrics"). */
function mailAlarms(config: Config, names: Names, thresholds: AlertThresholds): [string, Resource][] {
  const rate = (what: string, metric: string, percent: number, pause: string) =>
    alarm(config, names, what, `SES's ${metric === 'Reputation.BounceRate' ? 'bounce' : 'complaint'} rate for the account is above ${percent}%; AWS pauses sending near ${pause}. Look at who Mastodon mails (sign-ups from disposable addresses, old accounts) in the SES console's reputation page.`, {
      Namespace: 'AWS/SES',
      MetricName: metric,
      Statistic: 'Maximum',
      Period: 900,
      EvaluationPeriods: 1,
      Threshold: percent / 100,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  return [rate('mail-bounce-rate', 'Reputation.BounceRate', thresholds.sesBounceRatePercent, '10%'), rate('mail-complaint-rate', 'Reputation.ComplaintRate', thresholds.sesComplaintRatePercent, '0.5%')];
}

/** Extra services behind the load balancer: their targets, from the moment a service with a Mastodon token has one. */
function serviceAlarms(config: Config, names: Names, thresholds: AlertThresholds): [string, Resource][] {
  return Object.entries(config.services).flatMap(([name, service]) =>
    targetAlarms(config, names, thresholds, {
      what: `service-${name}`,
      label: `service ${name}`,
      logs: name,
      targetGroupId: Ids.service(name, 'TargetGroup'),
      expected: service.desiredCount,
      condition: service.mastodon ? Ids.service(name, 'TokenExists') : undefined,
    }),
  );
}

export const compileAlerts: CompileStep = (config, names) => {
  const alerts = config.alerts;
  if (!alerts) return {};
  const { thresholds } = alerts;
  const emails = alertEmails(config);
  const target: AlertsTarget = { alarmPrefix: names.alarmPrefix, topicOutput: OutputIds.AlertsTopicArn, emails };
  return {
    main: {
      Resources: {
        ...(alerts.topic
          ? {}
          : {
              // Not encrypted: CloudWatch cannot publish to a topic under the AWS-managed SNS key, and an alarm says nothing secret.
              [Ids.AlertsTopic]: new SnsTopic({ TopicName: names.alertsTopicName, DisplayName: `Mastodon ${config.domain}`.slice(0, 100) }),
              ...Object.fromEntries(emails.map((email) => [Ids.alertsEmail(email), new SnsSubscription({ TopicArn: Ref(Ids.AlertsTopic), Protocol: 'email', Endpoint: email })])),
            }),
        ...Object.fromEntries([
          ...(isSleeping(config.mastodon.mode) ? [] : mastodonAlarms(config, names, thresholds)),
          ...databaseAlarms(config, names, thresholds),
          cacheAlarm(config, names, thresholds),
          ...(config.mail.smtpSecretArn ? [] : mailAlarms(config, names, thresholds)),
          ...serviceAlarms(config, names, thresholds),
        ]),
      },
      Outputs: { [OutputIds.AlertsTopicArn]: { Description: 'SNS topic the alarms publish to', Value: topicArn(config) } },
      alerts: target,
    },
  };
};
