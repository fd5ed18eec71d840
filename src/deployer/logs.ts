import { FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { LogSource } from '../compiler/fragment.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import type { DeployerContext } from './commands.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { describeStack, Interrupted, isDeployed, poll } from './stacks.js';

export interface LogsRequest {
  /** A process (web, streaming, sidekiq, migrate, postgres) or a service; all of them when absent. */
  source?: string;
  /** Epoch milliseconds of the oldest event shown. */
  since: number;
  follow: boolean;
  /** A CloudWatch Logs filter pattern (a plain word matches lines that contain it). */
  filter?: string;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SINCE_FORMS = 'a duration such as 90s, 30m, 1h or 2d, or a date and time in UTC such as 2026-11-25 or 2026-11-25T08:00:00Z (as logs prints them)';
/** An ISO 8601 date, optionally with a time and an offset; without an offset it is UTC, as the lines are printed. */
const ISO_DATE = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?(Z|[+-]\d\d:\d\d)?)?$/;

/**
 * `--since`: a duration back from now or an ISO 8601 date. Nothing else: Date.parse would read
 * `90` as the year 1990 and `1` as 2001. Times before the epoch are the epoch (CloudWatch's startTime is at least 0).
 */
export function parseSince(text: string, now: number): number {
  const refuse = (why: string) => MastodonCfnError.of('usage.since', `--since ${JSON.stringify(text)} ${why}: give ${SINCE_FORMS}.`, 2);
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) throw refuse('has no unit');
  const duration = /^(\d{1,9})([smhd])$/.exec(trimmed);
  if (duration) return Math.max(0, now - Number(duration[1]) * UNITS[duration[2]]);
  const date = ISO_DATE.exec(trimmed);
  if (!date) throw refuse('is neither a duration nor a date');
  const [, year, month, day, hour = '00', minute = '00', second = '00', millis = '0', offset = 'Z'] = date;
  const utc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), Number(millis.padEnd(3, '0')));
  const parsed = new Date(utc);
  // Date.UTC rolls 2026-02-30 over into March: a date that does not exist is refused.
  if (parsed.getUTCMonth() !== Number(month) - 1 || parsed.getUTCDate() !== Number(day) || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) throw refuse('is not a date that exists');
  const shift = offset === 'Z' ? 0 : (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000;
  return Math.max(0, utc - shift);
}

interface Line {
  timestamp: number;
  id: string;
  source: string;
  message: string;
}

/** The log sources of the package, the one asked for or all; an unknown name lists the known ones. */
function sourcesOf(pkg: DeployPackage, wanted: string | undefined): { stack: DeployStack; sources: Record<string, LogSource> } {
  const stack = pkg.stacks.find((candidate) => candidate.logSources && Object.keys(candidate.logSources).length > 0);
  if (!stack?.logSources) throw MastodonCfnError.of('logs.unsupported', 'This build names no logs: build it again with this version of mastodon-cfn.');
  if (wanted === undefined) return { stack, sources: stack.logSources };
  if (!stack.logSources[wanted]) throw MastodonCfnError.of('logs.unknownSource', `No process or service is called "${wanted}": choose one of ${Object.keys(stack.logSources).join(', ')}.`, 2);
  return { stack, sources: { [wanted]: stack.logSources[wanted] } };
}

/** Every event since `since` of the sources, one query per log group, in time order. */
async function fetchLines(logs: AwsClient, sources: Record<string, LogSource>, since: number, filter: string | undefined): Promise<Line[]> {
  const byGroup = new Map<string, [string, LogSource][]>();
  for (const entry of Object.entries(sources)) byGroup.set(entry[1].group, [...(byGroup.get(entry[1].group) ?? []), entry]);
  const lines: Line[] = [];
  for (const [group, members] of byGroup) {
    const sourceOf = (stream: string) => members.find(([, source]) => stream.startsWith(`${source.streamPrefix}/`))?.[0];
    let token: string | undefined;
    do {
      let page: { events?: FilteredLogEvent[]; nextToken?: string };
      try {
        page = await logs.send(
          new FilterLogEventsCommand({
            logGroupName: group,
            startTime: since,
            ...(members.length === 1 ? { logStreamNamePrefix: `${members[0][1].streamPrefix}/` } : {}),
            ...(filter ? { filterPattern: filter } : {}),
            nextToken: token,
          }),
        );
      } catch (error) {
        // Nothing has been deployed, or nothing has logged yet.
        if ((error as { name?: string }).name === 'ResourceNotFoundException') break;
        throw error;
      }
      for (const event of page.events ?? []) {
        const source = sourceOf(event.logStreamName ?? '');
        if (source) lines.push({ timestamp: event.timestamp ?? 0, id: event.eventId ?? `${event.logStreamName}/${event.timestamp}`, source, message: (event.message ?? '').replace(/\n$/, '') });
      }
      token = page.nextToken;
    } while (token);
  }
  return lines.sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * How late an event may reach CloudWatch and still be printed by `--follow`. FilterLogEvents filters
 * by the event's own time, and events arrive late: Docker's awslogs driver sends a batch every 5 s,
 * each stream on its own, and CloudWatch makes them readable after a delay of its own. Each poll
 * reads again this far behind the newest event seen.
 */
export const LATE_EVENTS_MS = 120_000;

/** Event ids already printed, forgotten once they are older than every time still read, so that following for days stays small. */
export class PrintedEvents {
  private readonly times = new Map<string, number>();

  /** Records an event; false when it was printed already. */
  add(id: string, timestamp: number): boolean {
    if (this.times.has(id)) return false;
    this.times.set(id, timestamp);
    return true;
  }

  /** Forgets the events before `time`: no later read starts before it. */
  forgetBefore(time: number): void {
    for (const [id, timestamp] of this.times) if (timestamp < time) this.times.delete(id);
  }

  get size(): number {
    return this.times.size;
  }
}

/**
 * `mastodon-cfn logs`: the containers' CloudWatch logs, interleaved by time, each line with the
 * process it came from. With `follow`, new lines are printed as they come until Ctrl-C, late ones included.
 */
export async function showLogs(pkg: DeployPackage, context: DeployerContext, request: LogsRequest, write: (text: string) => void): Promise<void> {
  const { stack, sources } = sourcesOf(pkg, request.source);
  if (!isDeployed(await describeStack(context.clients.cloudFormation(stack.region), stack.name))) {
    throw MastodonCfnError.of('logs.notDeployed', `${stack.name} is not deployed in ${stack.region}: there are no logs to show. Run mastodon-cfn deploy first.`);
  }
  const client = context.clients.logs(stack.region);
  const width = Math.max(...Object.keys(sources).map((name) => name.length));
  const printed = new PrintedEvents();
  let newest: number | undefined;
  const printNew = async () => {
    // Server time (the newest event's), not this machine's clock, sets how far back to read.
    const since = newest === undefined ? request.since : Math.max(request.since, newest - LATE_EVENTS_MS);
    printed.forgetBefore(since);
    for (const line of await fetchLines(client, sources, since, request.filter)) {
      if (!printed.add(line.id, line.timestamp)) continue;
      newest = Math.max(newest ?? line.timestamp, line.timestamp);
      write(`${new Date(line.timestamp).toISOString().replace('T', ' ').slice(0, 19)}  ${line.source.padEnd(width)}  ${line.message}\n`);
    }
  };
  await printNew();
  if (!request.follow) return;
  try {
    await poll<never>({ ...context.polling, initialMs: context.polling.maxMs }, async () => {
      await printNew();
      return undefined;
    });
  } catch (error) {
    if (error instanceof Interrupted) return; // Ctrl-C is how following ends.
    throw error;
  }
}
