import { PUMA_DEFAULTS } from './facts.js';

/**
 * What Mastodon's processes need, in MiB, as mastodon-cfn sizes them: figures of running 4.x
 * instances, not from Mastodon's source. A Puma process (the preloaded master, and each worker it
 * forks) holds the whole Rails application, about 250 to 300 MiB; Sidekiq with its 5 threads and
 * the media tools it starts, about 400 to 500; the Node streaming server, 100 to 200.
 */
const PUMA_PROCESS = 320;
const SIDEKIQ = 512;
const STREAMING = 256;

export type MastodonProcess = 'web' | 'sidekiq' | 'streaming';

export interface MemoryPlan {
  /** MemoryReservation (soft): what each container is sure to have. */
  reservation: Record<MastodonProcess, number>;
  /** Memory (hard): the task's memory less what the other two reserved; above it the container is killed and restarted alone. */
  limit: Record<MastodonProcess, number>;
  /** Puma's workers and threads: the defaults the web container gets unless the config's environment sets them. */
  WEB_CONCURRENCY: number;
  MAX_THREADS: number;
}

/** The smallest task memory the three processes fit in, with a single Puma worker. */
export const MINIMUM_MASTODON_MEMORY = PUMA_PROCESS * 2 + SIDEKIQ + STREAMING;

/**
 * Shares a task's memory between web, sidekiq and streaming. Puma gets one worker per vCPU (at
 * least one; more do not run Ruby any faster), fewer when the memory cannot hold them; a
 * WEB_CONCURRENCY of the user's counts as given. Whatever the reservations leave free, any
 * process may use: a burst of one never pushes another below its reservation.
 */
export function memoryPlan(cpu: number, memory: number, webConcurrency?: number): MemoryPlan {
  const fitting = Math.floor((memory - SIDEKIQ - STREAMING) / PUMA_PROCESS) - 1;
  const workers = webConcurrency ?? Math.max(1, Math.min(Math.floor(cpu / 1024), fitting));
  // WEB_CONCURRENCY=0 is Puma's single mode: one process, no master.
  const reservation = { web: PUMA_PROCESS * (workers === 0 ? 1 : workers + 1), sidekiq: SIDEKIQ, streaming: STREAMING };
  const others = (name: MastodonProcess) => reservation.web + reservation.sidekiq + reservation.streaming - reservation[name];
  return {
    reservation,
    limit: { web: memory - others('web'), sidekiq: memory - others('sidekiq'), streaming: memory - others('streaming') },
    WEB_CONCURRENCY: workers,
    MAX_THREADS: PUMA_DEFAULTS.MAX_THREADS,
  };
}

/** Why the processes do not fit the task's memory, or undefined when they do. */
export function memoryProblem(cpu: number, memory: number, webConcurrency?: number): string | undefined {
  const plan = memoryPlan(cpu, memory, webConcurrency);
  const reserved = plan.reservation.web + plan.reservation.sidekiq + plan.reservation.streaming;
  if (reserved <= memory) return undefined;
  const needs = `web ${plan.reservation.web} MiB (${webConcurrency === undefined ? '' : `WEB_CONCURRENCY ${webConcurrency}: `}${PUMA_PROCESS} per Puma process), sidekiq ${SIDEKIQ}, streaming ${STREAMING}`;
  return `memory ${memory} MiB cannot hold Mastodon's processes, which need ${reserved} MiB together (${needs})${webConcurrency === undefined ? ': use' : ': lower WEB_CONCURRENCY or use'} more memory`;
}
