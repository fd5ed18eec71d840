import type { MastodonTask } from '../mastodon/layout.js';
import { QUEUE_LATENCY } from '../mastodon/queueLatency.js';
import { Alarm, GetAtt, Join, Ref, ScalableTarget, ScalingPolicy } from './cfn.js';
import { Ids, type MastodonTaskPart, type Names } from './naming.js';

/**
 * Application Auto Scaling of one Mastodon service between its min and max. No RoleARN: Application
 * Auto Scaling uses its service-linked role for ECS (AWSServiceRoleForApplicationAutoScaling_ECSService),
 * creating it on first use.
 */
export function autoscaling(task: MastodonTask, id: (part: MastodonTaskPart) => string, names: Names) {
  const scaling = task.autoscaling!;
  return {
    [id('ScalableTarget')]: new ScalableTarget({
      ServiceNamespace: 'ecs',
      ScalableDimension: 'ecs:service:DesiredCount',
      ResourceId: Join('/', ['service', Ref(Ids.Cluster), GetAtt(id('Service'), 'Name')]),
      MinCapacity: scaling.min,
      MaxCapacity: scaling.max,
    }),
    ...(task.sidekiq ? latencySteps(task, id, names) : targetTracking(task, id, names)),
  };
}

/**
 * Web and streaming track a utilisation that falls as tasks are added (CPU, or load balancer requests
 * per task): out after a minute above the target, in after five below.
 */
function targetTracking(task: MastodonTask, id: (part: MastodonTaskPart) => string, names: Names) {
  const scaling = task.autoscaling!;
  const metric =
    scaling.requestsPerTarget !== undefined
      ? {
          TargetValue: scaling.requestsPerTarget,
          PredefinedMetricSpecification: {
            PredefinedMetricType: 'ALBRequestCountPerTarget',
            // app/<load balancer>/<id>/targetgroup/<target group>/<id>: the two full names joined.
            ResourceLabel: Join('/', [GetAtt(Ids.LoadBalancer, 'LoadBalancerFullName'), GetAtt(Ids.WebTargetGroup, 'TargetGroupFullName')]),
          },
        }
      : { TargetValue: scaling.cpu!, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } };
  return {
    [id('ScalingPolicy')]: new ScalingPolicy({
      PolicyName: `${names.prefix}-${task.name}`,
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: Ref(id('ScalableTarget')),
      TargetTrackingScalingPolicyConfiguration: { ScaleOutCooldown: 60, ScaleInCooldown: 300, ...metric },
    }),
  };
}

/** A new Sidekiq task takes minutes to work (image, migration check, Rails boot): scaling again sooner would overshoot. */
const SIDEKIQ_COOLDOWN = 240;
/** Latency below this share of the target, for this many minutes, means the group keeps up with one task fewer. */
const CAUGHT_UP = { share: 0.1, minutes: 15 } as const;

/**
 * Sidekiq steps on its group's queue latency. Latency does not fall in proportion to the tasks (it
 * is 0 whenever the group keeps up), so target tracking would swing between min and max; instead an
 * alarm above the target for two minutes adds a task (two when far above), and one that has stayed
 * near 0 for a quarter of an hour takes one away. Without data (no reporter running) neither acts.
 */
function latencySteps(task: MastodonTask, id: (part: MastodonTaskPart) => string, names: Names) {
  const target = task.autoscaling!.latency!;
  const latency = {
    Namespace: QUEUE_LATENCY.namespace,
    MetricName: QUEUE_LATENCY.groupMetric,
    Dimensions: [
      { Name: 'Stack', Value: names.prefix },
      { Name: 'Group', Value: task.sidekiq!.group },
    ],
    Statistic: 'Maximum',
    Period: QUEUE_LATENCY.intervalSeconds,
    TreatMissingData: 'missing',
  };
  const step = (part: 'ScaleOutPolicy' | 'ScaleInPolicy', adjustments: { MetricIntervalLowerBound?: number; MetricIntervalUpperBound?: number; ScalingAdjustment: number }[]) =>
    new ScalingPolicy({
      PolicyName: `${names.prefix}-${task.name}-${part === 'ScaleOutPolicy' ? 'out' : 'in'}`,
      PolicyType: 'StepScaling',
      ScalingTargetId: Ref(id('ScalableTarget')),
      StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', Cooldown: SIDEKIQ_COOLDOWN, MetricAggregationType: 'Maximum', StepAdjustments: adjustments },
    });
  return {
    [id('ScaleOutPolicy')]: step('ScaleOutPolicy', [
      { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 4 * target, ScalingAdjustment: 1 },
      { MetricIntervalLowerBound: 4 * target, ScalingAdjustment: 2 },
    ]),
    [id('ScaleInPolicy')]: step('ScaleInPolicy', [{ MetricIntervalUpperBound: 0, ScalingAdjustment: -1 }]),
    [id('LatencyHighAlarm')]: new Alarm({
      AlarmDescription: `Sidekiq group ${task.sidekiq!.group} of ${names.prefix}: queue latency above ${target} s; adds a task`,
      ...latency,
      Threshold: target,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 2,
      AlarmActions: [Ref(id('ScaleOutPolicy'))],
    }),
    [id('LatencyLowAlarm')]: new Alarm({
      AlarmDescription: `Sidekiq group ${task.sidekiq!.group} of ${names.prefix}: queue latency near 0 for ${CAUGHT_UP.minutes} minutes; takes a task away`,
      ...latency,
      Threshold: Number((target * CAUGHT_UP.share).toFixed(3)),
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      EvaluationPeriods: CAUGHT_UP.minutes,
      AlarmActions: [Ref(id('ScaleInPolicy'))],
    }),
  };
}
