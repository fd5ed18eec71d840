/**
 * What Mastodon's processes need, in MiB, as mastodon-cfn sizes them: figures of running 4.x
 * instances, not from Mastodon's source. A Puma process (the preloaded master, and each worker it
 * forks) holds the whole Rails application, about 250 to 300 MiB; Sidekiq with its threads and
 * the media tools it starts, about 400 to 500; the Node streaming server, 100 to 200; the
 * queue-latency reporter (Ruby with Sidekiq's API, no Rails), about 50.
 */
const PUMA_PROCESS = 320;
const NEEDS = { sidekiq: 512, streaming: 256, metrics: 96 } as const;

/** A long-running container of a Mastodon task; `metrics` is the queue-latency reporter beside the scheduler's Sidekiq. */
export type MastodonProcess = 'web' | 'streaming' | 'sidekiq' | 'metrics';

export interface MemoryPlan {
  /** MemoryReservation (soft): what each container is sure to have. */
  reservation: Partial<Record<MastodonProcess, number>>;
  /** Memory (hard): the task's memory less what the others reserved; above it the container is killed and restarted alone. */
  limit: Partial<Record<MastodonProcess, number>>;
  /** Puma's workers (0: single mode), when the task runs web. */
  workers: number;
}

/**
 * Puma's workers for a task's CPU and memory: one per vCPU (more do not run Ruby any faster), fewer
 * when the memory cannot hold them beside the task's other processes. Where only one would run,
 * Puma's single mode (0): one process serves as well, without a preloaded master beside it (whose
 * memory a lone worker wastes, and which Puma warns about: single_worker_warning in lib/puma/cluster.rb).
 * A WEB_CONCURRENCY of the user's counts as given.
 */
export function pumaWorkers(cpu: number, memory: number, others: readonly MastodonProcess[], webConcurrency?: number): number {
  if (webConcurrency !== undefined) return webConcurrency;
  const othersNeed = others.reduce((sum, name) => sum + (name === 'web' ? 0 : NEEDS[name]), 0);
  const fitting = Math.floor((memory - othersNeed) / PUMA_PROCESS) - 1;
  const workers = Math.min(Math.floor(cpu / 1024), fitting);
  return workers >= 2 ? workers : 0;
}

/**
 * Shares a task's memory between its processes. Whatever the reservations leave free, any process
 * may use: a burst of one never pushes another below its reservation.
 */
export function memoryPlan(cpu: number, memory: number, processes: readonly MastodonProcess[], webConcurrency?: number): MemoryPlan {
  const workers = processes.includes('web') ? pumaWorkers(cpu, memory, processes, webConcurrency) : 0;
  // WEB_CONCURRENCY=0 is Puma's single mode: one process, no master.
  const need = (name: MastodonProcess) => (name === 'web' ? PUMA_PROCESS * (workers === 0 ? 1 : workers + 1) : NEEDS[name]);
  const reservation = Object.fromEntries(processes.map((name) => [name, need(name)]));
  const reserved = processes.reduce((sum, name) => sum + need(name), 0);
  const limit = Object.fromEntries(processes.map((name) => [name, memory - (reserved - need(name))]));
  return { reservation, limit, workers };
}

/** Why the processes do not fit the task's memory, or undefined when they do. */
export function memoryProblem(cpu: number, memory: number, processes: readonly MastodonProcess[], webConcurrency?: number): string | undefined {
  const plan = memoryPlan(cpu, memory, processes, webConcurrency);
  const reserved = Object.values(plan.reservation).reduce((sum, n) => sum + n, 0);
  if (reserved <= memory) return undefined;
  const needs = processes
    .map((name) => (name === 'web' ? `web ${plan.reservation.web} MiB (${webConcurrency === undefined ? '' : `WEB_CONCURRENCY ${webConcurrency}: `}${PUMA_PROCESS} per Puma process)` : `${name} ${plan.reservation[name]}`))
    .join(', ');
  const fix = webConcurrency === undefined ? 'use' : 'lower WEB_CONCURRENCY or use';
  return processes.length === 1
    ? `memory ${memory} MiB cannot hold ${needs}: ${fix} more memory`
    : `memory ${memory} MiB cannot hold the task's processes, which need ${reserved} MiB together (${needs}): ${fix} more memory`;
}
