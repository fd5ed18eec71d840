import type { Config } from '../config/types.js';
import { CONNECTION_DEFAULTS } from './facts.js';
import { deployment, mastodonTasks, maximumCount, type MastodonTask } from './layout.js';

/** The deployer's one-off tasks run one at a time; `mastodon-cfn run` may start one more beside them. */
const ONE_OFF_TASKS = 2;

export interface ConnectionLine {
  task: string;
  /** Tasks at the service's maximum count, during a rolling deploy. */
  tasks: number;
  perTask: number;
  total: number;
  why: string;
}

/**
 * The most connections a task's processes hold: one per thread that uses the database (each Puma
 * worker's MAX_THREADS, Sidekiq's concurrency; the validator refuses a DB_POOL below them, which would
 * leave threads waiting for a connection), and streaming's pool.
 */
function perTask(t: MastodonTask): { connections: number; why: string[] } {
  const parts: { connections: number; why: string }[] = [];
  if (t.processes.includes('web')) {
    const processes = Math.max(1, t.memoryPlan.workers);
    parts.push({ connections: processes * t.threads, why: `web ${processes} Puma worker${processes === 1 ? '' : 's'} × ${t.threads}` });
  }
  if (t.processes.includes('streaming')) {
    parts.push({ connections: CONNECTION_DEFAULTS.streamingPool, why: `streaming ${CONNECTION_DEFAULTS.streamingPool}` });
  }
  if (t.sidekiq) parts.push({ connections: t.sidekiq.concurrency, why: `Sidekiq ${t.sidekiq.concurrency}` });
  return { connections: parts.reduce((sum, p) => sum + p.connections, 0), why: parts.map((p) => p.why) };
}

/** Every process's database connections, each service at its maximum count during a rolling deploy, and the one-off tasks. */
export function connectionLines(config: Config): ConnectionLine[] {
  const lines = mastodonTasks(config).map((t) => {
    const { connections, why } = perTask(t);
    // During a rolling deploy ECS may run a service's new tasks beside its old ones (its MaximumPercent).
    const tasks = Math.ceil((maximumCount(t) * deployment(t).MaximumPercent) / 100);
    return { task: t.name, tasks, perTask: connections, total: tasks * connections, why: why.join(' + ') };
  });
  const oneOff = CONNECTION_DEFAULTS.tootctlConcurrency + 1;
  lines.push({ task: 'one-off', tasks: ONE_OFF_TASKS, perTask: oneOff, total: ONE_OFF_TASKS * oneOff, why: `tootctl's pool of --concurrency ${CONNECTION_DEFAULTS.tootctlConcurrency} + 1` });
  return lines;
}

/** Why the processes could open more connections than the database takes, in numbers; undefined when they fit. */
export function connectionProblem(lines: ConnectionLine[], usable: { connections: number; basis: string }, fix: string): string | undefined {
  const total = lines.reduce((sum, l) => sum + l.total, 0);
  if (total <= usable.connections) return undefined;
  const items = lines.map((l) => `${l.task} ${l.tasks} × ${l.perTask} = ${l.total} (${l.why})`).join('; ');
  return `Mastodon's processes could open ${total} database connections, and the database takes ${usable.connections}: ${usable.basis}. Counted at each service's most tasks during a rolling deploy (old and new side by side): ${items}. ${fix}`;
}
