import { CloudWatchLogsServiceException } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsClient } from '../../src/deployer/aws.js';

interface StoredEvent {
  eventId: string;
  logStreamName: string;
  timestamp: number;
  /** Order of arrival: an event may arrive after others with a later timestamp. */
  ingestion: number;
  message: string;
}

const refusal = (name: string, message: string) => new CloudWatchLogsServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });

/**
 * CloudWatch Logs' FilterLogEvents and GetLogEvents as the API reference describes them, awkward
 * answers included: pages of at most `pageSize` events, and with `emptyPages` an empty page with a
 * new token before each page of events ("Partially full or empty pages don't necessarily mean that
 * pagination is finished"); GetLogEvents ends a read by giving back the token it was sent; events
 * arrive whenever the test puts them, with any timestamp, and FilterLogEvents filters by timestamp.
 * It refuses an unknown log group or stream, a token of another stream, and both logStreamNames and a prefix.
 */
export class CloudWatchLogsStandIn implements AwsClient {
  calls: { name: string; input: any }[] = [];
  private readonly groups = new Map<string, Map<string, StoredEvent[]>>();
  private arrivals = 0;

  constructor(private readonly options: { pageSize?: number; emptyPages?: boolean } = {}) {}

  /** Events arriving now (the awslogs driver creating the stream with its first batch). */
  put(group: string, stream: string, events: { timestamp: number; message: string }[]): void {
    if (!this.groups.has(group)) this.groups.set(group, new Map());
    const streams = this.groups.get(group)!;
    if (!streams.has(stream)) streams.set(stream, []);
    for (const event of events) {
      this.arrivals++;
      streams.get(stream)!.push({ ...event, logStreamName: stream, ingestion: this.arrivals, eventId: String(this.arrivals).padStart(56, '3') });
    }
  }

  /** A group with no events yet, as the stack creates it. */
  createGroup(group: string): void {
    if (!this.groups.has(group)) this.groups.set(group, new Map());
  }

  async send(command: object): Promise<any> {
    const name = command.constructor.name.replace(/Command\d*$/, '');
    const input = (command as { input: any }).input;
    this.calls.push({ name, input });
    if (name === 'FilterLogEvents') return this.filter(input);
    if (name === 'GetLogEvents') return this.read(input);
    throw new Error(`the CloudWatch Logs stand-in does not know ${name}`);
  }

  private page<T>(all: T[], token: string | undefined, prefix: string): { events: T[]; offset: number; primed: boolean } {
    let offset = 0;
    let primed = false;
    if (token !== undefined) {
      const match = new RegExp(`^${prefix.replace(/[|/]/g, '\\$&')}\\|(\\d+)\\|(p?)$`).exec(token);
      if (!match) throw refusal('InvalidParameterException', 'The specified nextToken is invalid.');
      offset = Number(match[1]);
      primed = match[2] === 'p';
    }
    if (this.options.emptyPages && !primed && offset < all.length) return { events: [], offset, primed: true };
    const events = all.slice(offset, offset + (this.options.pageSize ?? 10_000));
    return { events, offset: offset + events.length, primed: false };
  }

  private filter(input: { logGroupName: string; logStreamNames?: string[]; logStreamNamePrefix?: string; startTime?: number; endTime?: number; filterPattern?: string; nextToken?: string }) {
    const streams = this.groups.get(input.logGroupName);
    if (!streams) throw refusal('ResourceNotFoundException', 'The specified log group does not exist.');
    if (input.logStreamNames && input.logStreamNamePrefix) throw refusal('InvalidParameterException', 'logStreamNames and logStreamNamePrefix cannot both be specified');
    if (input.startTime !== undefined && input.startTime < 0) throw refusal('InvalidParameterException', 'startTime must be at least 0');
    const terms = (input.filterPattern ?? '').split(/\s+/).filter(Boolean);
    const matching = [...streams.values()]
      .flat()
      .filter((e) => (input.logStreamNamePrefix === undefined || e.logStreamName.startsWith(input.logStreamNamePrefix)) && (input.logStreamNames === undefined || input.logStreamNames.includes(e.logStreamName)))
      .filter((e) => e.timestamp >= (input.startTime ?? 0) && e.timestamp <= (input.endTime ?? Number.MAX_SAFE_INTEGER) && terms.every((term) => e.message.includes(term)))
      .sort((a, b) => a.timestamp - b.timestamp || a.ingestion - b.ingestion);
    const { events, offset, primed } = this.page(matching, input.nextToken, input.logGroupName);
    const more = primed || offset < matching.length;
    return { events: events.map(({ ingestion, ...event }) => ({ ...event, ingestionTime: ingestion })), searchedLogStreams: [], ...(more ? { nextToken: `${input.logGroupName}|${offset}|${primed ? 'p' : ''}` } : {}) };
  }

  private read(input: { logGroupName: string; logStreamName: string; startFromHead?: boolean; nextToken?: string }) {
    const stream = this.groups.get(input.logGroupName)?.get(input.logStreamName);
    if (!stream) throw refusal('ResourceNotFoundException', 'The specified log stream does not exist.');
    const prefix = `f/${input.logStreamName}`;
    const { events, offset, primed } = this.page(stream, input.nextToken, prefix);
    const token = `${prefix}|${offset}|${primed ? 'p' : ''}`;
    // At the end of the stream, the token sent comes back.
    const nextForwardToken = !primed && events.length === 0 && input.nextToken !== undefined ? input.nextToken : token;
    return { events: events.map(({ timestamp, message, ingestion }) => ({ timestamp, message, ingestionTime: ingestion })), nextForwardToken, nextBackwardToken: `b/${input.logStreamName}|0|` };
  }
}
