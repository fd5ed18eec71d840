import type { Problem } from '../errors.js';
import { databaseEngine, usableConnections } from '../aws/engines.js';
import { connectionLines, connectionProblem } from '../mastodon/connections.js';
import { CONNECTION_DEFAULTS, mastodonFacts, SCHEDULER_QUEUE, seriesOf, type SidekiqQueue } from '../mastodon/facts.js';
import { ALL_QUEUES, mastodonTasks, sidekiqConcurrency, userNumber } from '../mastodon/layout.js';
import { memoryProblem } from '../mastodon/memory.js';
import { fargateSizeProblem } from './fargate.js';
import type { LoadedConfig } from './load.js';
import { dotted, isPlainObject, type ConfigPath } from './path.js';
import type { Autoscaling, Capacity, Config, ProcessConfig, SidekiqGroup, Size } from './types.js';

type Locate = LoadedConfig['locate'];
type Shape = { cpu: number; memory: number; count?: number; autoscaling?: Autoscaling };

/**
 * What each size decides when the config does not (documented with each key in the schema).
 * small: 0.5 vCPU and 2 GB hold one Puma worker beside Sidekiq and streaming (mastodon/memory.ts); ARM64 on
 * Spot is fine: FARGATE_SPOT runs ARM64 Linux tasks on platform 1.4.0 (ECS API reference, CapacityProviderStrategyItem).
 * standard and large keep one web (and streaming) task on on-demand Fargate: Spot can take several tasks back
 * in the same two minutes, and the on-demand one is what makes "no downtime" a promise rather than a likelihood.
 */
const SIZES = {
  small: { nodeType: 'cache.t4g.micro', task: { cpu: 512, memory: 2048 } },
  standard: {
    nodeType: 'cache.t3.micro',
    database: { minCapacity: 0.5, maxCapacity: 1 },
    web: { count: 2, cpu: 1024, memory: 2048 },
    sidekiq: { count: 1, cpu: 512, memory: 1024 },
  },
  large: {
    nodeType: 'cache.t4g.small',
    database: { minCapacity: 0.5, maxCapacity: 4 },
    web: { autoscaling: { min: 2, max: 6, cpu: 60 }, cpu: 2048, memory: 4096 },
    streaming: { autoscaling: { min: 2, max: 4, cpu: 60 }, cpu: 512, memory: 1024 },
    sidekiq: { cpu: 1024, memory: 2048 },
  },
} as const satisfies Record<Size, object>;

/**
 * Size large's Sidekiq groups: the scheduler alone in one small task, every other queue in `main`,
 * autoscaled and with one task on on-demand Fargate (push, ingress and pull delivery never stop with a
 * Spot interruption). mastodon.sidekiq's own count, autoscaling, cpu, memory and capacity size `main`.
 */
function largeGroups(config: Config, sidekiq: Partial<SidekiqGroup> | undefined): Record<string, Partial<SidekiqGroup>> {
  const queues = releaseQueues(config).filter((q) => q.name !== SCHEDULER_QUEUE);
  const scaling = sidekiq?.count !== undefined || sidekiq?.autoscaling !== undefined ? {} : { autoscaling: { min: 1, max: 4, latency: DEFAULT_LATENCY_TARGET } };
  const capacity = sidekiq?.capacity ?? (config.mastodon.capacity as Capacity | undefined) ?? 'mixed';
  return {
    scheduler: { queues: { [SCHEDULER_QUEUE]: 1 }, count: 1, cpu: 512, memory: 1024 },
    main: { queues: queueWeights(queues), ...scaling, ...sidekiq, capacity },
  };
}

const releaseQueues = (config: Config) => mastodonFacts(config.mastodon.version).sidekiqQueues;
/** Queues as a group lists them: each name with its weight. */
const queueWeights = (queues: readonly SidekiqQueue[]) => Object.fromEntries(queues.map((q) => [q.name, q.weight]));
const DEFAULT_CPU_TARGET = 60;
const DEFAULT_LATENCY_TARGET = 10;
/** Processes that serve the load balancer: at sizes standard and large at least two tasks of each. */
const MINIMUM_SERVING_TASKS = 2;

/** The smallest memory Fargate pairs with `cpu`, when `preferred` is not valid with it. */
function memoryFor(cpu: number, preferred: number): number {
  return fargateSizeProblem(cpu, preferred) ? cpu * 2 : preferred;
}

/**
 * Fills what the size decides, and refuses what does not fit it: keys of another size, a web or
 * streaming service that could lose its last task, a scheduler queue in more than one process, a
 * queue no process serves, and tasks their processes do not fit in.
 */
export function sizeProblems(config: Config, locate: Locate): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });
  const size = config.size;
  const m = config.mastodon;
  if (!(size in SIZES) || !isPlainObject(m)) return problems;
  const given = (key: string) => (m as unknown as Record<string, unknown>)[key] !== undefined;

  if (isPlainObject(config.cache)) config.cache.nodeType ??= SIZES[size].nodeType;
  if (isPlainObject(config.database)) {
    if ('database' in SIZES[size]) {
      const defaults = (SIZES[size] as { database: { minCapacity: number; maxCapacity: number } }).database;
      config.database.minCapacity ??= defaults.minCapacity;
      config.database.maxCapacity ??= defaults.maxCapacity;
    } else {
      for (const key of ['minCapacity', 'maxCapacity'] as const) {
        if (config.database[key] !== undefined) report(['database', key], 'size', `${key} sets Aurora's capacity; size small runs RDS for PostgreSQL db.t4g.micro instead: remove it, or use size standard`);
      }
    }
  }

  if (size === 'small') {
    for (const key of ['web', 'streaming', 'sidekiq']) {
      if (given(key)) report(['mastodon', key], 'size', `size small runs web, streaming and Sidekiq in one task, sized by mastodon.cpu and mastodon.memory: remove mastodon.${key}, or choose size standard`);
    }
  } else {
    for (const key of ['cpu', 'memory']) {
      if (given(key)) report(['mastodon', key], 'size', `at size ${size} each process has its own tasks: set mastodon.web.${key} or mastodon.sidekiq.${key} instead of mastodon.${key}`);
    }
    if (size === 'standard' && given('streaming')) report(['mastodon', 'streaming'], 'size', 'size standard runs streaming in the web tasks: size them with mastodon.web, or choose size large to give streaming its own');
  }
  if (!seriesOf(String(m.version))) return problems;

  const capacityOf = (own: unknown, serving: boolean): Capacity => (own as Capacity | undefined) ?? (given('capacity') ? m.capacity : size !== 'small' && serving ? 'mixed' : 'spot');
  /** A process's size: the user's keys over the size's defaults; `count` and `autoscaling` exclude each other. */
  const fill = (path: ConfigPath, user: Partial<ProcessConfig> | undefined, defaults: Shape, serving: boolean, target: 'cpu' | 'latency'): ProcessConfig => {
    const own = isPlainObject(user) ? user : {};
    if (own.count !== undefined && own.autoscaling !== undefined) report([...path, 'count'], 'autoscaling', `count and autoscaling exclude each other: autoscaling.min is the count the service starts at`);
    const cpu = own.cpu ?? defaults.cpu;
    const scaling = own.count !== undefined ? undefined : (own.autoscaling ?? defaults.autoscaling);
    const autoscaling = scaling && { ...scaling, ...(target === 'latency' ? { latency: scaling.latency ?? DEFAULT_LATENCY_TARGET } : scaling.requestsPerTarget === undefined ? { cpu: scaling.cpu ?? DEFAULT_CPU_TARGET } : {}) };
    if (autoscaling && autoscaling.min > autoscaling.max) report([...path, 'autoscaling', 'min'], 'autoscaling', `autoscaling.min ${autoscaling.min} is greater than autoscaling.max ${autoscaling.max}`);
    if (own.autoscaling?.cpu !== undefined && own.autoscaling.requestsPerTarget !== undefined) {
      report([...path, 'autoscaling', 'requestsPerTarget'], 'autoscaling', 'cpu and requestsPerTarget exclude each other: the service tracks one target, CPU or the load balancer\'s requests per task');
    }
    return { cpu, memory: own.memory ?? memoryFor(cpu, defaults.memory), capacity: capacityOf(own.capacity, serving), count: autoscaling ? autoscaling.min : (own.count ?? defaults.count ?? 1), autoscaling };
  };
  const atLeastTwo = (path: ConfigPath, name: string, p: ProcessConfig) => {
    const fewest = p.autoscaling?.min ?? p.count;
    if (fewest < MINIMUM_SERVING_TASKS) {
      report([...path, p.autoscaling ? 'autoscaling' : 'count'], 'servingTasks', `size ${size} keeps at least ${MINIMUM_SERVING_TASKS} ${name} tasks, so that a Spot interruption or a rolling deploy never takes the last one away; got ${fewest}: raise it, or choose size small (one task, down for a few minutes when Spot takes it back)`);
    }
  };

  const sidekiqUser = isPlainObject(m.sidekiq) ? (m.sidekiq as unknown as Partial<SidekiqGroup> & { groups?: Record<string, Partial<SidekiqGroup>> }) : undefined;
  if (size === 'small') {
    const task = SIZES.small.task;
    m.cpu ??= task.cpu;
    m.memory ??= task.memory;
    m.capacity ??= 'spot';
    // Mastodon's default threads: Sidekiq shares the task's CPU with web and streaming.
    m.sidekiq = { groups: { [ALL_QUEUES]: { queues: queueWeights(releaseQueues(config)), count: 1, cpu: m.cpu, memory: m.memory, capacity: m.capacity, concurrency: CONNECTION_DEFAULTS.sidekiqConcurrency } } };
  } else {
    const defaults = SIZES[size];
    m.web = fill(['mastodon', 'web'], m.web, defaults.web, true, 'cpu');
    atLeastTwo(['mastodon', 'web'], 'web', m.web);
    if (size === 'large') {
      m.streaming = fill(['mastodon', 'streaming'], m.streaming, SIZES.large.streaming, true, 'cpu');
      atLeastTwo(['mastodon', 'streaming'], 'streaming', m.streaming);
    }
    const base = fill(['mastodon', 'sidekiq'], sidekiqUser, { count: 1, ...defaults.sidekiq }, false, 'latency');
    const userGroups = isPlainObject(sidekiqUser?.groups) ? sidekiqUser.groups : undefined;
    if (userGroups) {
      for (const key of ['count', 'autoscaling'] as const) {
        if (sidekiqUser?.[key] !== undefined) report(['mastodon', 'sidekiq', key], 'sidekiqGroups', `with groups, set ${key} on each group: the one that serves ${SCHEDULER_QUEUE} runs exactly one process`);
      }
    }
    const { groups: _, ...sidekiqKeys } = sidekiqUser ?? {};
    const groupsGiven = userGroups ?? (size === 'large' ? largeGroups(config, sidekiqUser && sidekiqKeys) : undefined);
    const groups: Record<string, SidekiqGroup> = {};
    if (groupsGiven) {
      for (const [name, group] of Object.entries(groupsGiven)) {
        if (!isPlainObject(group)) continue;
        const g = group as Partial<SidekiqGroup>;
        const own = fill(['mastodon', 'sidekiq', 'groups', name], { ...g, capacity: g.capacity ?? base.capacity }, { cpu: base.cpu, memory: base.memory, count: 1 }, false, 'latency');
        groups[name] = { ...own, queues: isPlainObject(g.queues) ? (g.queues as Record<string, number>) : {}, concurrency: g.concurrency ?? sidekiqUser?.concurrency ?? sidekiqConcurrency(own.cpu) };
      }
    } else {
      groups[ALL_QUEUES] = { ...base, queues: queueWeights(releaseQueues(config)), concurrency: sidekiqUser?.concurrency ?? sidekiqConcurrency(base.cpu) };
    }
    m.sidekiq = { groups };
    m.capacity ??= 'spot';
    problems.push(...queueProblems(config, locate, userGroups !== undefined));
  }
  problems.push(...taskSizeProblems(config, locate));
  problems.push(...poolProblems(config, locate));
  return problems;
}

/** Every queue of the release served, none unknown, and the scheduler's by exactly one process. */
function queueProblems(config: Config, locate: Locate, groupsGiven: boolean): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });
  const version = config.mastodon.version;
  const known = releaseQueues(config).map((q) => q.name);
  const groups = config.mastodon.sidekiq.groups;
  const groupPath = (name: string) => (groupsGiven ? ['mastodon', 'sidekiq', 'groups', name] : ['mastodon', 'sidekiq']);
  const schedulers: string[] = [];
  for (const [name, group] of Object.entries(groups)) {
    for (const queue of Object.keys(group.queues)) {
      if (!known.includes(queue)) report([...groupPath(name), 'queues', queue], 'sidekiqQueue', `Mastodon ${version} has no Sidekiq queue "${queue}": config/sidekiq.yml at ${version} lists ${known.join(', ')}`);
    }
    if (!(SCHEDULER_QUEUE in group.queues)) continue;
    schedulers.push(name);
    if (schedulers.length > 1) {
      report([...groupPath(name), 'queues', SCHEDULER_QUEUE], 'scheduler', `groups ${schedulers.join(' and ')} both serve the ${SCHEDULER_QUEUE} queue: each process on it runs every scheduled job (Mastodon PR #15314); keep it in one group`);
    }
    if (group.autoscaling || group.count > 1) {
      const fix = groupsGiven ? `give group ${name} count 1 and move the queues that need more processes to another group` : `split the queues into mastodon.sidekiq.groups, one of them serving ${SCHEDULER_QUEUE} with count 1`;
      const who = groupsGiven ? `group ${name}` : 'mastodon.sidekiq';
      const why = group.autoscaling
        ? `${who} serves the ${SCHEDULER_QUEUE} queue, which runs in exactly one process: it cannot be autoscaled (each process would run every scheduled job, Mastodon PR #15314)`
        : `${who} serves the ${SCHEDULER_QUEUE} queue, and count ${group.count} would run each scheduled job in as many processes (Mastodon PR #15314)`;
      report([...groupPath(name), group.autoscaling ? 'autoscaling' : 'count'], 'scheduler', `${why}: ${fix}`);
    }
  }
  if (groupsGiven) {
    if (schedulers.length === 0) report(['mastodon', 'sidekiq', 'groups'], 'scheduler', `no group serves the ${SCHEDULER_QUEUE} queue: Mastodon's scheduled jobs (config/sidekiq.yml at ${version}) would never run; add it to exactly one group, with count 1`);
    const served = new Set(Object.values(groups).flatMap((g) => Object.keys(g.queues)));
    const unserved = known.filter((q) => !served.has(q));
    if (unserved.length) report(['mastodon', 'sidekiq', 'groups'], 'sidekiqQueue', `no group serves ${unserved.join(', ')}: jobs on ${unserved.length === 1 ? 'that queue' : 'those queues'} would wait forever; add ${unserved.length === 1 ? 'it' : 'them'} to a group (config/sidekiq.yml at ${version})`);
  }
  return problems;
}

/**
 * A DB_POOL below the threads that use it: each of MAX_THREADS (per Puma worker) and of Sidekiq's
 * threads holds a connection while it works, and the others would wait for one and fail
 * (ActiveRecord::ConnectionTimeoutError). Unset, config/database.yml sizes the pool by them.
 */
function poolProblems(config: Config, locate: Locate): Problem[] {
  const pool = userNumber(config, 'DB_POOL');
  if (pool === undefined || !Number.isInteger(pool)) return [];
  const needs = mastodonTasks(config).flatMap((t) => [
    ...(t.processes.includes('web') ? [{ threads: t.threads, what: `MAX_THREADS ${t.threads} of ${t.name}'s Puma` }] : []),
    ...(t.sidekiq ? [{ threads: t.sidekiq.concurrency, what: `Sidekiq's ${t.sidekiq.concurrency} threads in ${t.name}` }] : []),
  ]);
  const short = needs.filter((n) => n.threads > pool);
  if (short.length === 0) return [];
  const path = ['mastodon', 'environment', 'DB_POOL'];
  const message = `DB_POOL ${pool} is below the threads that use it (${short.map((n) => n.what).join('; ')}): each working thread holds a connection, and the others would wait and fail (ActiveRecord::ConnectionTimeoutError). Leave DB_POOL unset (config/database.yml then takes each process's threads), or lower the threads`;
  return [{ code: 'semantic.dbPool', path: dotted(path), message, ...locate(path) }];
}

/** Each task a valid Fargate size that holds its processes. */
function taskSizeProblems(config: Config, locate: Locate): Problem[] {
  const problems: Problem[] = [];
  const workers = config.mastodon.environment?.WEB_CONCURRENCY;
  // A WEB_CONCURRENCY that is not a number is refused on its own (validate.ts); the tasks cannot be sized without it.
  if (workers !== undefined && !/^\d{1,3}$/.test(String(workers))) return problems;
  const webConcurrency = userNumber(config, 'WEB_CONCURRENCY');
  for (const task of mastodonTasks(config)) {
    const path = taskPath(task.name);
    const fargate = fargateSizeProblem(task.cpu, task.memory);
    const tight = fargate ? undefined : memoryProblem(task.cpu, task.memory, task.processes, task.processes.includes('web') ? webConcurrency : undefined);
    const where = tight && workers !== undefined && task.processes.includes('web') ? ['mastodon', 'environment', 'WEB_CONCURRENCY'] : [...path, 'memory'];
    const message = fargate ?? tight;
    if (message) problems.push({ code: `semantic.${fargate ? 'fargateSize' : 'memory'}`, path: dotted(where), message, ...locate(where) });
  }
  return problems;
}

/** Where in the config a task's size is set (a group of size large's defaults is shown at mastodon.sidekiq, the nearest key in the file). */
function taskPath(task: string): string[] {
  if (task === 'mastodon') return ['mastodon'];
  if (task === 'web' || task === 'streaming') return ['mastodon', task];
  const group = task.slice('sidekiq-'.length);
  return group === ALL_QUEUES ? ['mastodon', 'sidekiq'] : ['mastodon', 'sidekiq', 'groups', group];
}

/** More database connections than the database takes; checked last, on a config without other problems (it counts what they would change). */
export function connectionBudgetProblems(config: Config, locate: Locate): Problem[] {
  const engine = databaseEngine(config.size);
  const usable = usableConnections({ engine, instanceClass: 'db.t4g.micro', minCapacity: config.database.minCapacity, maxCapacity: config.database.maxCapacity });
  const fix = config.size === 'small' ? 'Lower the threads (MAX_THREADS, SIDEKIQ_CONCURRENCY), or choose size standard' : 'Lower a maximum count or the threads, or raise database.maxCapacity';
  const lines = connectionLines(config);
  const problem = connectionProblem(lines, usable, fix);
  if (!problem) return [];
  // Shown at the service that opens the most, where the config sizes it (its count or autoscaling maximum).
  const largest = lines.reduce((a, b) => (b.total > a.total ? b : a));
  const task = mastodonTasks(config).find((t) => t.name === largest.task);
  const path = config.size === 'small' || !task ? ['mastodon'] : [...taskPath(task.name), ...(task.autoscaling ? ['autoscaling', 'max'] : ['count'])];
  return [{ code: 'semantic.connections', path: dotted(path), message: problem, ...locate(path) }];
}
