import { ExecuteChangeSetCommand, type StackEvent } from '@aws-sdk/client-cloudformation';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import { describeStack, Interrupted, latestEventId, newEvents, poll, requestToken, type ChangeSet, type Polling } from './stacks.js';
import type { Reporter } from './terminal.js';
import { plural } from '../format.js';

const SUCCESS = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'DELETE_COMPLETE', 'IMPORT_COMPLETE']);
/** Failures that only echo another one ("cancelled" because something else failed). */
const ECHO = /cancelled|canceled|Resource creation cancelled|Resource update cancelled|The following resource\(s\) failed/i;

/** The first real failure of a deploy: the resource, its type and CloudFormation's reason. */
export function rootCause(events: StackEvent[]): string | undefined {
  const failures = events.filter((e) => e.ResourceStatus?.endsWith('_FAILED') && e.ResourceStatusReason);
  const cause = failures.find((e) => !ECHO.test(e.ResourceStatusReason!)) ?? failures[0];
  return cause && `${cause.LogicalResourceId} (${cause.ResourceType}): ${cause.ResourceStatusReason}`;
}

/** ACM's CloudFormation events carry the validation record: "Content of DNS Record is: {Name: ...,Type: CNAME,Value: ...}". */
export function dnsValidationRecord(event: StackEvent): string | undefined {
  const match = /Content of DNS Record is: \{Name: ([^,]+),Type: ([A-Z]+),Value: ([^}]+)\}/.exec(event.ResourceStatusReason ?? '');
  return match ? `${match[1]} ${match[2]} ${match[3]}` : undefined;
}

function describeEvent(event: StackEvent): string {
  const time = event.Timestamp ? new Date(event.Timestamp).toISOString().slice(11, 19) : '--:--:--';
  return [time, event.ResourceStatus, event.LogicalResourceId, event.ResourceType, event.ResourceStatusReason].filter(Boolean).join('  ');
}

/** A stack operation to follow. */
export interface FollowedStack {
  name: string;
  region: string;
  /** The stack's ARN: a deletion is followed by it, as a deleted stack is no longer found by name. */
  id?: string;
  recordsInRoute53?: boolean;
  /** The ClientRequestToken the operation was started with: CloudFormation gives it to every event of that operation. */
  token?: string;
  /** What CloudFormation goes on doing when the follower stops. */
  doing?: 'deploying' | 'deleting';
}

/**
 * Follows a stack operation to its end: counts resources done out of `total`, prints DNS
 * validation records as ACM asks for them, and on failure names the root cause.
 */
export async function followStack(cfn: AwsClient, stack: FollowedStack, afterEventId: string | undefined, total: number, reporter: Reporter, polling: Polling): Promise<string> {
  const seen: StackEvent[] = [];
  const done = new Set<string>();
  const records = new Set<string>();
  let marker = afterEventId;
  try {
    const status = await poll(polling, async () => {
      const events = await newEvents(cfn, stack.id ?? stack.name, marker);
      for (const event of events) {
        marker = event.EventId;
        // An event with another token belongs to another operation, however close in time.
        if (stack.token && event.ClientRequestToken && event.ClientRequestToken !== stack.token) continue;
        seen.push(event);
        reporter.event(describeEvent(event));
        if (event.LogicalResourceId !== stack.name && /_COMPLETE$/.test(event.ResourceStatus ?? '')) done.add(event.LogicalResourceId!);
        const record = dnsValidationRecord(event);
        if (record && !records.has(record)) {
          records.add(record);
          reporter.line(
            stack.recordsInRoute53
              ? `Waiting for certificate validation of ${event.LogicalResourceId}: CloudFormation writes its record into Route 53 (${record}); ACM usually validates within minutes.`
              : `Waiting for certificate validation of ${event.LogicalResourceId}: create this DNS record (it can stay forever):\n  ${record}`,
          );
        }
      }
      const current = (await describeStack(cfn, stack.id ?? stack.name))?.StackStatus ?? 'DELETE_COMPLETE';
      reporter.status(`${stack.name}: ${Math.min(done.size, total)}/${plural(total, 'resource')}  ${current}`);
      return current.endsWith('_IN_PROGRESS') ? undefined : current;
    });
    reporter.clear();
    if (!SUCCESS.has(status)) {
      const cause = rootCause(seen);
      throw MastodonCfnError.of('deploy.failed', `${stack.name} failed: ${status}.${cause ? ` Root cause: ${cause}` : ''}`);
    }
    return status;
  } catch (error) {
    reporter.clear();
    if (error instanceof Interrupted) {
      throw MastodonCfnError.of(
        'deploy.interrupted',
        `Stopped following ${stack.name}; CloudFormation goes on ${stack.doing ?? 'deploying'} it. Follow it again with:\n  aws cloudformation describe-stack-events --stack-name ${stack.name} --region ${stack.region}\nor check on it with: mastodon-cfn info`,
        130,
      );
    }
    throw error;
  }
}

export async function executeChangeSet(cfn: AwsClient, changeSet: ChangeSet, stack: { region: string; recordsInRoute53: boolean }, reporter: Reporter, polling: Polling): Promise<void> {
  const marker = await latestEventId(cfn, changeSet.stackName);
  const token = requestToken();
  await cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: changeSet.id, StackName: changeSet.stackName, ClientRequestToken: token }));
  await followStack(cfn, { name: changeSet.stackName, ...stack, token }, marker, changeSet.rows.length, reporter, polling);
}
