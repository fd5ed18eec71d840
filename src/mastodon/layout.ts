import type { Autoscaling, Capacity, Config } from '../config/types.js';
import { CONNECTION_DEFAULTS, PUMA_DEFAULTS, SCHEDULER_QUEUE, type SidekiqQueue } from './facts.js';
import { memoryPlan, type MastodonProcess, type MemoryPlan } from './memory.js';

/**
 * How a size lays Mastodon's processes out into ECS services: size small runs web, streaming and
 * Sidekiq in one task; standard runs web and streaming together in at least two tasks, and Sidekiq
 * apart; large runs each on its own. Every Sidekiq queue group is a service of its own. The compiler
 * builds the services from this, and the validator budgets their database connections from it.
 */
export interface MastodonTask {
  /** `mastodon`, `web`, `streaming` or `sidekiq-<group>`: names the task family and the logical ids. */
  name: string;
  /** The long-running containers, in this order. */
  processes: MastodonProcess[];
  cpu: number;
  memory: number;
  capacity: Capacity;
  /** Fixed task count; with autoscaling, the count it starts at (its minimum). */
  count: number;
  autoscaling?: Autoscaling;
  /** Sidekiq's queues (by weight) and threads, when the task runs Sidekiq. */
  sidekiq?: { group: string; queues: SidekiqQueue[]; concurrency: number };
  memoryPlan: MemoryPlan;
  /** Puma's threads per worker (MAX_THREADS), when the task runs web. */
  threads: number;
}

/** The variables of the user's environment that name a number, as the processes read them. */
export function userNumber(config: Config, name: string): number | undefined {
  const value = (config.mastodon.environment as Record<string, unknown>)[name];
  return value === undefined ? undefined : Number(value);
}

/**
 * Sidekiq's threads for a task's CPU: 5 (Mastodon's default) per half vCPU, at most 25. Its jobs
 * mostly wait on other servers and the database, so more threads than cores pay off; beyond that
 * they contend for Ruby's global lock.
 */
export function sidekiqConcurrency(cpu: number): number {
  return Math.min(25, Math.max(CONNECTION_DEFAULTS.sidekiqConcurrency, 5 * Math.floor(cpu / 512)));
}

function task(config: Config, name: string, processes: MastodonProcess[], size: { cpu: number; memory: number; capacity: Capacity; count: number; autoscaling?: Autoscaling }, sidekiq?: MastodonTask['sidekiq']): MastodonTask {
  return {
    name,
    processes,
    cpu: size.cpu,
    memory: size.memory,
    capacity: size.capacity,
    count: size.autoscaling ? size.autoscaling.min : size.count,
    autoscaling: size.autoscaling,
    sidekiq,
    memoryPlan: memoryPlan(size.cpu, size.memory, processes, userNumber(config, 'WEB_CONCURRENCY')),
    threads: userNumber(config, 'MAX_THREADS') ?? PUMA_DEFAULTS.MAX_THREADS,
  };
}

export function mastodonTasks(config: Config): MastodonTask[] {
  const m = config.mastodon;
  const sidekiqTasks = (withWeb: boolean) =>
    Object.entries(m.sidekiq.groups).map(([group, g]) => {
      const queues = Object.entries(g.queues).map(([queue, weight]) => ({ name: queue, weight }));
      const processes: MastodonProcess[] = withWeb ? ['web', 'streaming', 'sidekiq', 'metrics'] : ['sidekiq'];
      const concurrency = userNumber(config, 'SIDEKIQ_CONCURRENCY') ?? g.concurrency;
      return task(config, withWeb ? 'mastodon' : `sidekiq-${group}`, processes, g, { group, queues, concurrency });
    });
  switch (config.size) {
    case 'small':
      return sidekiqTasks(true);
    // The queue-latency reporter runs in the web tasks: at least two, one of them on-demand, so the metric Sidekiq
    // scales on does not stop with a Spot interruption or a deploy of the scheduler's task.
    case 'standard':
      return [task(config, 'web', ['web', 'streaming', 'metrics'], m.web!), ...sidekiqTasks(false)];
    case 'large':
      return [task(config, 'web', ['web', 'metrics'], m.web!), task(config, 'streaming', ['streaming'], m.streaming!), ...sidekiqTasks(false)];
  }
}

/**
 * How ECS replaces a service's tasks on a deploy. New tasks start and pass their health checks before
 * old ones stop (MinimumHealthyPercent 100, MaximumPercent 200), so web and streaming never lose their
 * last healthy task; except for a Sidekiq service that holds the scheduler, whose old task stops first
 * (0 and 100), so that two schedulers never run side by side. Size small's one task holds web too and
 * overlaps for a minute: Mastodon's scheduled jobs take a unique lock (`lock: :until_executed`,
 * app/workers/scheduler/*.rb), so they do not run twice.
 */
export function deployment(task: MastodonTask): { MinimumHealthyPercent: number; MaximumPercent: number } {
  const schedulerOnly = task.sidekiq?.queues.some((q) => q.name === SCHEDULER_QUEUE) && !task.processes.includes('web');
  return schedulerOnly ? { MinimumHealthyPercent: 0, MaximumPercent: 100 } : { MinimumHealthyPercent: 100, MaximumPercent: 200 };
}

/** The group that serves every queue of the release, when the config names no groups. */
export const ALL_QUEUES = 'all';

/** The most tasks a service runs: its fixed count, or its autoscaling maximum. */
export const maximumCount = (t: MastodonTask) => t.autoscaling?.max ?? t.count;
