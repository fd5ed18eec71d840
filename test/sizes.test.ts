import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand, PutScalingPolicyCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { serveUntilDrained, SHUTDOWN_DELAY_SECONDS } from '../src/compiler/compute.js';
import { MastodonCfnError } from '../src/errors.js';
import { MASTODON, SCHEDULER_QUEUE, SIDEKIQ } from '../src/mastodon/facts.js';
import { QUEUE_LATENCY } from '../src/mastodon/queueLatency.js';
import { buildConfig, minimalYaml, problemsOf } from './support/build.js';
import { useMoto } from './support/moto.js';

type Resources = Record<string, any>;

/** The ECS services of Mastodon's own processes, by logical id (side services are Service<Name>Service). */
const mastodonServices = (resources: Resources) => Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::ECS::Service' && !id.startsWith('Service'));
const containersOf = (resources: Resources, service: any) => resources[service.Properties.TaskDefinition.Ref].Properties.ContainerDefinitions as any[];
/** The scalable target of a service, if it scales. */
const scalingOf = (resources: Resources, id: string) => Object.values(resources).find((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && JSON.stringify(r.Properties.ResourceId).includes(`"${id}"`));
/** The fewest and most tasks a service runs. */
const range = (resources: Resources, id: string): [number, number] => {
  const scaling = scalingOf(resources, id);
  return scaling ? [scaling.Properties.MinCapacity, scaling.Properties.MaxCapacity] : [resources[id].Properties.DesiredCount, resources[id].Properties.DesiredCount];
};
/** The queues a Sidekiq container listens on: its -q flags, or with none, every queue of config/sidekiq.yml. */
const queuesOf = (container: any) => {
  const flags = (container.Command as string[]).slice(SIDEKIQ.command.length);
  return flags.length ? flags.filter((_, i) => i % 2 === 1).map((flag) => flag.split(',')[0]) : MASTODON['4.5'].sidekiqQueues.map((q) => q.name);
};

/** What each web- or streaming-serving service promises on a deploy or a Spot interruption. */
function expectZeroDowntime(resources: Resources, id: string) {
  const service = resources[id].Properties;
  expect(service.DeploymentConfiguration, id).to.deep.equal({ DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100, MaximumPercent: 200 });
  expect(range(resources, id)[0], `${id}: fewest tasks`).to.be.at.least(2);
  // One task stays on on-demand Fargate: Spot can take every Spot task back at once.
  expect(service.CapacityProviderStrategy, id).to.deep.equal([
    { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
    { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
  ]);
  // Two subnets in two availability zones: ECS spreads the tasks across them.
  expect(service.NetworkConfiguration.AwsvpcConfiguration.Subnets, id).to.deep.equal([{ Ref: 'PublicSubnet1' }, { Ref: 'PublicSubnet2' }]);
  expect(resources.PublicSubnet1.Properties.AvailabilityZone).to.not.deep.equal(resources.PublicSubnet2.Properties.AvailabilityZone);
  // Web waits for its migration step; streaming runs none.
  expect(service.HealthCheckGracePeriodSeconds, id).to.equal(id === 'StreamingService' ? 120 : 600);
  for (const attachment of service.LoadBalancers) {
    const group = resources[attachment.TargetGroupArn.Ref].Properties;
    // A leaving task finishes its requests, for less time than ECS waits before it stops the task (its 30 s stop timeout starts after).
    expect(group.TargetGroupAttributes, attachment.TargetGroupArn.Ref).to.deep.include({ Key: 'deregistration_delay.timeout_seconds', Value: '30' });
  }
}

describe('a web or streaming process keeps serving after SIGTERM while the load balancer takes its task out (real sh)', () => {
  /** Starts the wrapper around a command that says when it starts and when TERM reaches it. */
  const start = (seconds: number, body: string) => {
    const [command, ...args] = serveUntilDrained(['sh', '-c', body], seconds);
    const child = spawn(command, args);
    const lines: [number, string][] = [];
    const started = Date.now();
    child.stdout.on('data', (chunk) => lines.push(...String(chunk).split('\n').filter(Boolean).map((line): [number, string] => [Date.now() - started, line])));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, lines, exited, started };
  };
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  };

  it('passes TERM on only after the delay, and exits with the command\'s status', async () => {
    const run = start(1, 'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 0.1; done');
    await until(() => run.lines.length > 0);
    const signalled = Date.now() - run.started;
    run.child.kill('SIGTERM');
    const code = await run.exited;
    const term = run.lines.find(([, line]) => line === 'got-term');
    expect(code).to.equal(7);
    // The command heard TERM a second after the wrapper did: it served on meanwhile.
    expect(term![0] - signalled).to.be.within(900, 2500);
  });

  it('ends with the command when it ends on its own, with its status', async () => {
    const run = start(1, 'echo up; exit 3');
    expect(await run.exited).to.equal(3);
    expect(run.lines.map(([, line]) => line)).to.deep.equal(['up']);
  });

  it('wraps web and streaming (not Sidekiq, which no load balancer sends to) in production', () => {
    const main = buildConfig({ yaml: minimalYaml('size: large\n') }).resources();
    const command = (id: string, name: string) => containersOf(main, main[id]).find((c) => c.Name === name).Command;
    expect(command('WebService', 'web').slice(0, 4)).to.deep.equal(serveUntilDrained([]).slice(0, 4));
    expect(command('WebService', 'web')[2]).to.include(`sleep ${SHUTDOWN_DELAY_SECONDS}`);
    expect(command('StreamingService', 'streaming').slice(4)).to.deep.equal(['node', './streaming/index.js']);
    expect(command('SidekiqMainService', 'sidekiq').slice(0, 3)).to.deep.equal(['bundle', 'exec', 'sidekiq']);
  });
});

describe('sizes: from one Spot task to a scaled-out instance', () => {
  it('size small: one task runs web, streaming, Sidekiq (every queue, the scheduler\'s included) and the queue-latency reporter, on Spot', () => {
    const main = buildConfig({ yaml: minimalYaml('size: small\n') }).resources();
    const services = mastodonServices(main);
    expect(services.map(([id]) => id)).to.deep.equal(['MastodonService']);
    const [, service] = services[0];
    expect(service.Properties.DesiredCount).to.equal(1);
    expect(service.Properties.CapacityProviderStrategy).to.deep.equal([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(containersOf(main, service).map((c) => c.Name)).to.deep.equal(['migrate', 'web', 'streaming', 'sidekiq', 'metrics']);
    // New before old: the one task is replaced without a gap on a deploy (not on a Spot interruption, which the README says).
    expect(service.Properties.DeploymentConfiguration).to.include({ MinimumHealthyPercent: 100, MaximumPercent: 200 });
    expect(Object.values(main).filter((r: any) => r.Type.startsWith('AWS::ApplicationAutoScaling'))).to.deep.equal([]);
  });

  it('size standard: at least two web tasks (with streaming) that survive a Spot interruption and a rolling deploy, Sidekiq apart', () => {
    const main = buildConfig({ yaml: minimalYaml() }).resources();
    expect(mastodonServices(main).map(([id]) => id)).to.deep.equal(['WebService', 'SidekiqAllService']);
    // The queue-latency reporter runs in the web tasks (two, one on-demand), not beside a Spot-only scheduler.
    expect(containersOf(main, main.WebService).map((c) => c.Name)).to.deep.equal(['migrate', 'web', 'streaming', 'metrics']);
    expect(main.WebService.Properties.LoadBalancers.map((l: any) => l.TargetGroupArn.Ref)).to.deep.equal(['WebTargetGroup', 'StreamingTargetGroup']);
    expectZeroDowntime(main, 'WebService');
    expect(range(main, 'WebService')).to.deep.equal([2, 2]);
    // A Spot task that stops listening leaves the rotation within 20 s; each process gets Fargate's 120 s to finish.
    expect(main.WebTargetGroup.Properties).to.include({ HealthCheckIntervalSeconds: 10, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 });
    for (const c of containersOf(main, main.WebService).filter((c) => c.Name !== 'migrate')) expect(c.StopTimeout, c.Name).to.equal(120);
    // Puma keeps idle connections longer than the load balancer's 60 s, so it never closes one the load balancer reuses.
    expect(containersOf(main, main.WebService).find((c) => c.Name === 'web').Environment).to.deep.include({ Name: 'PERSISTENT_TIMEOUT', Value: '75' });
    // The one Sidekiq serves the scheduler: its old task stops before the new one starts, so two never overlap.
    expect(containersOf(main, main.SidekiqAllService).map((c) => c.Name)).to.deep.equal(['migrate', 'sidekiq']);
    expect(main.SidekiqAllService.Properties.DeploymentConfiguration).to.include({ MinimumHealthyPercent: 0, MaximumPercent: 100 });
    expect(main.SidekiqAllService.Properties.DesiredCount).to.equal(1);
    expect(main.SidekiqAllService.Properties.LoadBalancers).to.deep.equal([]);
  });

  it('size large: web, streaming and each Sidekiq group as ECS services of their own, autoscaled on CPU and on queue latency', () => {
    const main = buildConfig({ yaml: minimalYaml('size: large\n') }).resources();
    expect(mastodonServices(main).map(([id]) => id)).to.deep.equal(['WebService', 'StreamingService', 'SidekiqSchedulerService', 'SidekiqMainService']);
    for (const id of ['WebService', 'StreamingService']) {
      expectZeroDowntime(main, id);
      // Application Auto Scaling owns the count: a DesiredCount would reset it on every deploy.
      expect(main[id].Properties).to.not.have.property('DesiredCount');
    }
    expect(main.StreamingService.Properties.LoadBalancers.map((l: any) => l.TargetGroupArn.Ref)).to.deep.equal(['StreamingTargetGroup']);
    expect(containersOf(main, main.StreamingService).map((c) => c.Name)).to.deep.equal(['streaming']);
    expect([range(main, 'WebService'), range(main, 'StreamingService'), range(main, 'SidekiqSchedulerService'), range(main, 'SidekiqMainService')]).to.deep.equal([[2, 6], [2, 4], [1, 1], [1, 4]]);
    expect(main.WebScalingPolicy.Properties.TargetTrackingScalingPolicyConfiguration).to.deep.equal({ ScaleOutCooldown: 60, ScaleInCooldown: 300, TargetValue: 60, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } });
    // Sidekiq steps on its group's latency: an alarm above the target for two minutes adds a task (two when far above); near 0 for 15 minutes takes one away.
    const latency = { Namespace: QUEUE_LATENCY.namespace, MetricName: QUEUE_LATENCY.groupMetric, Dimensions: [{ Name: 'Stack', Value: 'social-prod' }, { Name: 'Group', Value: 'main' }], Statistic: 'Maximum', Period: 60, TreatMissingData: 'missing' };
    expect(main.SidekiqMainLatencyHighAlarm.Properties).to.deep.include({ ...latency, Threshold: 10, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 2, AlarmActions: [{ Ref: 'SidekiqMainScaleOutPolicy' }] });
    expect(main.SidekiqMainLatencyLowAlarm.Properties).to.deep.include({ ...latency, Threshold: 1, ComparisonOperator: 'LessThanOrEqualToThreshold', EvaluationPeriods: 15, AlarmActions: [{ Ref: 'SidekiqMainScaleInPolicy' }] });
    expect(main.SidekiqMainScaleOutPolicy.Properties.StepScalingPolicyConfiguration).to.deep.equal({
      AdjustmentType: 'ChangeInCapacity',
      Cooldown: 240,
      MetricAggregationType: 'Maximum',
      StepAdjustments: [
        { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 40, ScalingAdjustment: 1 },
        { MetricIntervalLowerBound: 40, ScalingAdjustment: 2 },
      ],
    });
    expect(main.SidekiqMainScaleInPolicy.Properties.StepScalingPolicyConfiguration.StepAdjustments).to.deep.equal([{ MetricIntervalUpperBound: 0, ScalingAdjustment: -1 }]);
    // main keeps one task on on-demand Fargate; the scheduler's, a single task stopped before its successor starts, on Spot.
    expect(main.SidekiqMainService.Properties.CapacityProviderStrategy[0]).to.deep.equal({ CapacityProvider: 'FARGATE', Base: 1, Weight: 0 });
    // The reporter runs in the web tasks only, and names each group's queues.
    const reporters = mastodonServices(main).filter(([, s]) => containersOf(main, s).some((c) => c.Name === 'metrics'));
    expect(reporters.map(([id]) => id)).to.deep.equal(['WebService']);
    const metrics = containersOf(main, main.WebService).find((c) => c.Name === 'metrics');
    expect(JSON.parse(metrics.Environment.find((e: any) => e.Name === 'SIDEKIQ_GROUPS').Value)).to.deep.equal({ scheduler: ['scheduler'], main: ['default', 'push', 'ingress', 'mailers', 'pull', 'fasp'] });
    expect(metrics).to.include({ Essential: false });
  });

  it('web scales on load balancer requests per task when asked, naming the load balancer and the web target group', () => {
    const main = buildConfig({ yaml: minimalYaml('size: large\nmastodon: { web: { autoscaling: { min: 3, max: 10, requestsPerTarget: 1200 } } }\n') }).resources();
    expect(main.WebScalingPolicy.Properties.TargetTrackingScalingPolicyConfiguration).to.deep.equal({
      ScaleOutCooldown: 60,
      ScaleInCooldown: 300,
      TargetValue: 1200,
      PredefinedMetricSpecification: {
        PredefinedMetricType: 'ALBRequestCountPerTarget',
        ResourceLabel: { 'Fn::Join': ['/', [{ 'Fn::GetAtt': ['LoadBalancer', 'LoadBalancerFullName'] }, { 'Fn::GetAtt': ['WebTargetGroup', 'TargetGroupFullName'] }]] },
      },
    });
    expect(range(main, 'WebService')).to.deep.equal([3, 10]);
  });

  it('runs exactly one process on the scheduler queue in every config it accepts, and refuses every other', () => {
    // Seeded: the same configs every run.
    let seed = 16;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const queues = MASTODON['4.5'].sidekiqQueues.map((q) => q.name);
    let accepted = 0;
    for (let i = 0; i < 60; i++) {
      const groups = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({} as Record<string, number>));
      for (const queue of queues) if (random() < 0.9) pick(groups)[queue] = 1 + Math.floor(random() * 8);
      if (random() < 0.2) pick(groups)[SCHEDULER_QUEUE] = 1;
      const scale = () => pick(['count: 1', 'count: 2', 'autoscaling: { min: 1, max: 3 }']);
      const yaml = `size: ${pick(['standard', 'large'])}\nmastodon:\n  sidekiq:\n    groups:\n${groups.map((g, n) => `      g${n}: { queues: ${JSON.stringify(g)}, ${scale()} }\n`).join('')}`;
      let resources: Resources;
      try {
        resources = buildConfig({ yaml: minimalYaml(yaml) }).resources();
      } catch (error) {
        expect(error, yaml).to.be.instanceOf(MastodonCfnError);
        expect((error as MastodonCfnError).problems.map((p) => p.code), yaml).to.satisfy((codes: string[]) => codes.every((c) => ['semantic.scheduler', 'semantic.sidekiqQueue', 'schema.minProperties'].includes(c)));
        continue;
      }
      accepted++;
      const onScheduler = mastodonServices(resources).filter(([, s]) => containersOf(resources, s).some((c) => c.Name === 'sidekiq' && queuesOf(c).includes(SCHEDULER_QUEUE)));
      expect(onScheduler, yaml).to.have.length(1);
      expect(range(resources, onScheduler[0][0]), yaml).to.deep.equal([1, 1]);
      const served = new Set(mastodonServices(resources).flatMap(([, s]) => containersOf(resources, s).filter((c) => c.Name === 'sidekiq').flatMap((c) => queuesOf(c))));
      expect([...served].sort(), yaml).to.deep.equal([...queues].sort());
    }
    // Both branches ran: some configs built, some were refused.
    expect(accepted).to.be.within(1, 59);
  });

  it('budgets the database connections at the boundary: the last connection fits, one more is refused with every number', () => {
    // Size standard, Aurora up to 1 ACU: 189 max_connections, 5 reserved. Five web tasks (one Puma worker of 5 threads, streaming's pool of 10),
    // twice over during a deploy: 150; the scheduler's Sidekiq, never doubled: its threads; two one-off tasks of 6: 12.
    expect(problemsOf('mastodon: { web: { count: 5 }, sidekiq: { concurrency: 22 } }\n')).to.deep.equal([]);
    expect(problemsOf('mastodon: { web: { count: 5 }, sidekiq: { concurrency: 23 } }\n')).to.deep.equal([
      "mastodon.web.count: Mastodon's processes could open 185 database connections, and the database takes 184: Aurora Serverless v2 at most 1 ACU allows 189 (max_connections), 5 of them reserved. Counted at each service's most tasks during a rolling deploy (old and new side by side): web 10 × 15 = 150 (web 1 Puma worker × 5 + streaming 10); sidekiq-all 1 × 23 = 23 (Sidekiq 23); one-off 2 × 6 = 12 (tootctl's pool of --concurrency 5 + 1). Lower a maximum count or the threads, or raise database.maxCapacity",
    ]);
    // 4 ACU: 823.
    expect(problemsOf('mastodon: { web: { count: 5 }, sidekiq: { concurrency: 23 } }\ndatabase: { maxCapacity: 4 }\n')).to.deep.equal([]);
    // A DB_POOL below the threads would leave threads waiting for a connection: refused, not counted as a saving.
    expect(problemsOf('mastodon: { environment: { DB_POOL: 10, SIDEKIQ_CONCURRENCY: 150 } }\n')).to.deep.equal([
      "mastodon.environment.DB_POOL: DB_POOL 10 is below the threads that use it (Sidekiq's 150 threads in sidekiq-all): each working thread holds a connection, and the others would wait and fail (ActiveRecord::ConnectionTimeoutError). Leave DB_POOL unset (config/database.yml then takes each process's threads), or lower the threads",
    ]);
    expect(problemsOf('size: small\nmastodon: { environment: { MAX_THREADS: 22 } }\n')[0]).to.match(/^mastodon: Mastodon's processes could open 86 database connections, and the database takes 85: RDS db\.t4g\.micro allows about 90/);
    // Autoscaling counts at its maximum.
    expect(problemsOf('size: large\nmastodon: { web: { autoscaling: { min: 2, max: 40 } } }\n')[0]).to.match(/web 80 × 10 = 800/);
    // What each size builds by default fits.
    for (const size of ['small', 'standard', 'large']) expect(problemsOf(`size: ${size}\n`), size).to.deep.equal([]);
  });

  describe('autoscaling registered with Application Auto Scaling (moto_server)', () => {
    useMoto();

    it('registers each scalable target and scaling policy of size large as the template has them, and moto refuses a target of no service', async () => {
      const main = buildConfig({ yaml: minimalYaml('size: large\n') }).resources();
      const region = 'eu-central-1';
      const ecs = new ECSClient({ region });
      const scaling = new ApplicationAutoScalingClient({ region });
      await ecs.send(new CreateClusterCommand({ clusterName: 'social-prod' }));
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'probe', containerDefinitions: [{ name: 'probe', image: 'example/probe', memory: 512 }] }));
      for (const [id, resource] of Object.entries(main).filter(([, r]) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget')) {
        const service = id.replace(/ScalableTarget$/, 'Service');
        await ecs.send(new CreateServiceCommand({ cluster: 'social-prod', serviceName: service, taskDefinition: 'probe', desiredCount: 1 }));
        // Join('/', ['service', Ref(Cluster), GetAtt(<Service>, 'Name')]), resolved as CloudFormation would.
        const [separator, [prefix, cluster, name]] = resource.Properties.ResourceId['Fn::Join'];
        expect([separator, prefix, cluster, name]).to.deep.equal(['/', 'service', { Ref: 'Cluster' }, { 'Fn::GetAtt': [service, 'Name'] }]);
        const ResourceId = `service/social-prod/${service}`;
        await scaling.send(new RegisterScalableTargetCommand({ ...resource.Properties, ResourceId }));
        for (const policy of Object.values(main).filter((r: any) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy' && r.Properties.ScalingTargetId.Ref === id)) {
          const { ScalingTargetId: _, ...props } = policy.Properties;
          await scaling.send(new PutScalingPolicyCommand({ ...props, ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId }));
        }
      }
      const targets = (await scaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets ?? [];
      expect(targets.map((t) => [t.ResourceId, t.MinCapacity, t.MaxCapacity]).sort()).to.deep.equal([
        ['service/social-prod/SidekiqMainService', 1, 4],
        ['service/social-prod/StreamingService', 2, 4],
        ['service/social-prod/WebService', 2, 6],
      ]);
      const policies = (await scaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies ?? [];
      const described = policies.map((p) => [p.PolicyName, p.PolicyType, p.TargetTrackingScalingPolicyConfiguration?.TargetValue ?? p.StepScalingPolicyConfiguration?.StepAdjustments?.map((s) => s.ScalingAdjustment)]);
      expect(described.sort()).to.deep.equal([
        ['social-prod-sidekiq-main-in', 'StepScaling', [-1]],
        ['social-prod-sidekiq-main-out', 'StepScaling', [1, 2]],
        ['social-prod-streaming', 'TargetTrackingScaling', 60],
        ['social-prod-web', 'TargetTrackingScaling', 60],
      ]);
      // The API refuses a target whose service does not exist: the registrations above were checked against the services.
      const refused = await scaling
        .send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: 'service/social-prod/NoSuchService', MinCapacity: 1, MaxCapacity: 2 }))
        .then(() => undefined, (error: Error) => error);
      expect(refused?.name).to.equal('ValidationException');
    });
  });
});
