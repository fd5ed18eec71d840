import type { Config } from '../config/types.js';
import { CONNECTION_DEFAULTS } from './facts.js';
import { deployment, mastodonTasks, maximumCount, userNumber, type MastodonTask } from './layout.js';


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

/** The most connections one of the task's processes holds: its pool, but never more than the threads that use it. */
function perTask(config: Config, t: MastodonTask): { connections: number; why: string[] } {
  const pool = userNumber(config, 'DB_POOL');
  const parts: { connections: number; why: string }[] = [];
  if (t.processes.includes('web')) {
    const processes = Math.max(1, t.memoryPlan.workers);
    const each = Math.min(pool ?? t.threads, t.threads);
    parts.push({ connections: processes * each, why: `web ${processes} Puma worker${processes === 1 ? '' : 's'} × ${each}` });
  }
  if (t.processes.includes('streaming')) {
    parts.push({ connections: CONNECTION_DEFAULTS.streamingPool, why: `streaming ${CONNECTION_DEFAULTS.streamingPool}` });
  }
  if (t.sidekiq) {
    const each = Math.min(pool ?? t.sidekiq.concurrency, t.sidekiq.concurrency);
    parts.push({ connections: each, why: `Sidekiq ${each}` });
  }
  return { connections: parts.reduce((sum, p) => sum + p.connections, 0), why: parts.map((p) => p.why) };
}

/** Every process's database connections, each service at its maximum count during a rolling deploy, and the one-off tasks. */
export function connectionLines(config: Config): ConnectionLine[] {
  const lines = mastodonTasks(config).map((t) => {
    const { connections, why } = perTask(config, t);
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
