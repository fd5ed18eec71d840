import { FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { LogSource } from '../compiler/fragment.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import type { DeployPackage } from './manifest.js';
import { Interrupted, poll, type Polling } from './stacks.js';

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

/** `--since`: a duration back from now (90s, 30m, 1h, 2d) or a date and time (2026-11-25T08:00:00Z). */
export function parseSince(text: string, now: number): number {
  const duration = /^(\d+)([smhd])$/.exec(text.trim());
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]];
  const date = Date.parse(text);
  if (Number.isNaN(date)) throw MastodonCfnError.of('usage.since', `--since takes a duration such as 30m, 1h or 2d, or a date and time such as 2026-11-25T08:00:00Z, not "${text}"`, 2);
  return date;
}

interface Line {
  timestamp: number;
  id: string;
  source: string;
  message: string;
}

/** The log sources of the package, the one asked for or all; an unknown name lists the known ones. */
function sourcesOf(pkg: DeployPackage, wanted: string | undefined): { region: string; sources: Record<string, LogSource> } {
  const stack = pkg.stacks.find((candidate) => candidate.logSources && Object.keys(candidate.logSources).length > 0);
  if (!stack?.logSources) throw MastodonCfnError.of('logs.unsupported', 'This build names no logs: build it again with this version of mastodon-cfn.');
  if (wanted === undefined) return { region: stack.region, sources: stack.logSources };
  if (!stack.logSources[wanted]) throw MastodonCfnError.of('logs.unknownSource', `No process or service is called "${wanted}": choose one of ${Object.keys(stack.logSources).join(', ')}.`, 2);
  return { region: stack.region, sources: { [wanted]: stack.logSources[wanted] } };
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
 * `mastodon-cfn logs`: the containers' CloudWatch logs, interleaved by time, each line with the
 * process it came from. With `follow`, new lines are printed as they come until Ctrl-C.
 */
export async function showLogs(pkg: DeployPackage, logs: (region: string) => AwsClient, request: LogsRequest, write: (text: string) => void, polling: Polling): Promise<void> {
  const { region, sources } = sourcesOf(pkg, request.source);
  const client = logs(region);
  const width = Math.max(...Object.keys(sources).map((name) => name.length));
  const seen = new Set<string>();
  let since = request.since;
  const printNew = async () => {
    for (const line of await fetchLines(client, sources, since, request.filter)) {
      if (seen.has(line.id)) continue;
      seen.add(line.id);
      since = Math.max(since, line.timestamp);
      write(`${new Date(line.timestamp).toISOString().replace('T', ' ').slice(0, 19)}  ${line.source.padEnd(width)}  ${line.message}\n`);
    }
  };
  await printNew();
  if (!request.follow) return;
  try {
    // Each poll asks again from the newest time seen (CloudWatch may still add events at that millisecond); seen ids are skipped.
    await poll<never>({ ...polling, initialMs: polling.maxMs }, async () => {
      await printNew();
      return undefined;
    });
  } catch (error) {
    if (error instanceof Interrupted) return; // Ctrl-C is how following ends.
    throw error;
  }
}
