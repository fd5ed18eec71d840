import type { MastodonTask } from '../mastodon/layout.js';
import { QUEUE_LATENCY } from '../mastodon/queueLatency.js';
import { GetAtt, Join, Ref, ScalableTarget, ScalingPolicy } from './cfn.js';
import { Ids, type MastodonTaskPart, type Names } from './naming.js';

/** Scale out after a minute above the target, in after five below: a burst is met fast, and a lull does not drop tasks at once. */
const COOLDOWN = { ScaleOutCooldown: 60, ScaleInCooldown: 300 } as const;

/**
 * Application Auto Scaling of one Mastodon service between its min and max (target tracking): web on
 * CPU or on load balancer requests per task, streaming on CPU, Sidekiq on its group's queue latency.
 * No RoleARN: Application Auto Scaling uses its service-linked role for ECS
 * (AWSServiceRoleForApplicationAutoScaling_ECSService), creating it on first use.
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
    [id('ScalingPolicy')]: new ScalingPolicy({
      PolicyName: `${names.prefix}-${task.name}`,
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: Ref(id('ScalableTarget')),
      TargetTrackingScalingPolicyConfiguration: { ...COOLDOWN, ...target(task, names) },
    }),
  };
}

function target(task: MastodonTask, names: Names) {
  const scaling = task.autoscaling!;
  if (task.sidekiq) {
    return {
      TargetValue: scaling.latency!,
      CustomizedMetricSpecification: {
        Namespace: QUEUE_LATENCY.namespace,
        MetricName: QUEUE_LATENCY.groupMetric,
        Dimensions: [
          { Name: 'Stack', Value: names.prefix },
          { Name: 'Group', Value: task.sidekiq.group },
        ],
        Statistic: 'Maximum',
        Unit: QUEUE_LATENCY.unit,
      },
    };
  }
  if (scaling.requestsPerTarget !== undefined) {
    return {
      TargetValue: scaling.requestsPerTarget,
      PredefinedMetricSpecification: {
        PredefinedMetricType: 'ALBRequestCountPerTarget',
        // app/<load balancer>/<id>/targetgroup/<target group>/<id>: the two full names joined.
        ResourceLabel: Join('/', [GetAtt(Ids.LoadBalancer, 'LoadBalancerFullName'), GetAtt(Ids.WebTargetGroup, 'TargetGroupFullName')]),
      },
    };
  }
  return { TargetValue: scaling.cpu!, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } };
}
