import {
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type Change,
  type Stack,
  type StackEvent,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import type { Reporter } from './terminal.js';

export interface Polling {
  /** First delay between polls, then growing by half each time up to `maxMs`: quick for short operations, quiet for long ones. */
  initialMs: number;
  maxMs: number;
  /** Aborted on Ctrl-C: stop following, leave CloudFormation working. */
  signal?: AbortSignal;
}

export const DEFAULT_POLLING: Polling = { initialMs: 500, maxMs: 5000 };

export class Interrupted extends Error {}

async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new Interrupted();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls `check` until it returns a value, with a growing delay. */
export async function poll<T>(polling: Polling, check: () => Promise<T | undefined>): Promise<T> {
  let delay = polling.initialMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    await pause(delay, polling.signal);
    delay = Math.min(polling.maxMs, Math.ceil(delay * 1.5));
  }
}

export async function describeStack(cfn: AwsClient, name: string): Promise<Stack | undefined> {
  try {
    const result = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    return result.Stacks?.[0];
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** A stack's resource; CloudFormation always gives the logical id and type. */
export type StackResource = StackResourceSummary & { LogicalResourceId: string; ResourceType: string };

/** Every resource of a stack (DescribeStackResources stops at 100). */
export async function stackResources(cfn: AwsClient, name: string): Promise<StackResource[]> {
  const resources: StackResource[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: name, NextToken }));
    resources.push(...((page.StackResourceSummaries ?? []) as StackResource[]));
    NextToken = page.NextToken;
  } while (NextToken);
  return resources;
}

export function outputsOf(stack: Stack | undefined): Record<string, string> {
  return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue ?? '']));
}

const isBusy = (status: string) => status.endsWith('_IN_PROGRESS') && status !== 'REVIEW_IN_PROGRESS';

/**
 * Brings a stack into a state a change set can be made on. A failed first deploy leaves a stack in
 * ROLLBACK_COMPLETE (or an empty one in REVIEW_IN_PROGRESS) that can only be deleted: do that, and
 * say so. A stack that is busy is left alone.
 */
export async function prepareStack(cfn: AwsClient, name: string, region: string, reporter: Reporter, polling: Polling): Promise<Stack | undefined> {
  const stack = await describeStack(cfn, name);
  if (!stack) return undefined;
  const status = stack.StackStatus!;
  if (isBusy(status)) {
    throw MastodonCfnError.of('deploy.busy', `${name} is ${status}: another operation is running on it. Wait for it to finish (mastodon-cfn info shows its status), then deploy again.`);
  }
  if (status === 'UPDATE_ROLLBACK_FAILED') {
    throw MastodonCfnError.of('deploy.rollbackFailed', `${name} is UPDATE_ROLLBACK_FAILED: fix the cause, then run: aws cloudformation continue-update-rollback --stack-name ${name} --region ${region}`);
  }
  if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED' || status === 'REVIEW_IN_PROGRESS') {
    reporter.line(`${name} is ${status}, left by a first deploy that never completed: deleting it to start again.`);
    await deleteStack(cfn, name, polling);
    return undefined;
  }
  return stack;
}

export async function deleteStack(cfn: AwsClient, name: string, polling: Polling): Promise<void> {
  await cfn.send(new DeleteStackCommand({ StackName: name }));
  await poll(polling, async () => {
    const stack = await describeStack(cfn, name);
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return true;
    if (stack.StackStatus === 'DELETE_FAILED') throw MastodonCfnError.of('remove.failed', `${name} could not be deleted: ${stack.StackStatusReason ?? 'DELETE_FAILED'}`);
    return undefined;
  });
}

export interface ChangeRow {
  action: string;
  logicalId: string;
  type: string;
  replacement: string;
  policyAction: string;
}

export interface ChangeSet {
  id: string;
  stackName: string;
  rows: ChangeRow[];
  /** CloudFormation found nothing to change. */
  empty: boolean;
}

const NO_CHANGES = /didn't contain changes|No updates are to be performed|submitted information didn't contain/i;

export async function createChangeSet(
  cfn: AwsClient,
  input: { stackName: string; changeSetType: 'CREATE' | 'UPDATE'; template: { TemplateBody?: string; TemplateURL?: string }; parameters: Record<string, string>; tags: Record<string, string> },
  polling: Polling,
): Promise<ChangeSet> {
  const created = await cfn.send(
    new CreateChangeSetCommand({
      StackName: input.stackName,
      ChangeSetName: `mastodon-cfn-${Date.now()}`,
      ChangeSetType: input.changeSetType,
      ...input.template,
      Parameters: Object.entries(input.parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
      Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    }),
  );
  const id = created.Id as string;
  const changes: Change[] = [];
  const description = await poll(polling, async () => {
    const page = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: id, StackName: input.stackName }));
    return page.Status === 'CREATE_PENDING' || page.Status === 'CREATE_IN_PROGRESS' ? undefined : page;
  });
  if (description.Status === 'FAILED') {
    if (NO_CHANGES.test(description.StatusReason ?? '')) {
      await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: id, StackName: input.stackName }));
      return { id, stackName: input.stackName, rows: [], empty: true };
    }
    throw MastodonCfnError.of('deploy.changeSetFailed', `${input.stackName}: CloudFormation rejected the change set: ${description.StatusReason ?? 'no reason given'}`);
  }
  changes.push(...(description.Changes ?? []));
  for (let token = description.NextToken; token; ) {
    const page = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: id, StackName: input.stackName, NextToken: token }));
    changes.push(...(page.Changes ?? []));
    token = page.NextToken;
  }
  const rows = changes
    .map((change) => change.ResourceChange!)
    .map((c) => ({ action: c.Action ?? '', logicalId: c.LogicalResourceId ?? '', type: c.ResourceType ?? '', replacement: c.Replacement ?? '', policyAction: c.PolicyAction ?? '' }));
  return { id, stackName: input.stackName, rows, empty: rows.length === 0 };
}

export async function deleteChangeSet(cfn: AwsClient, changeSet: ChangeSet): Promise<void> {
  await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: changeSet.id, StackName: changeSet.stackName }));
}

export function formatChangeSet(changeSet: ChangeSet): string {
  const header = ['Action', 'Logical id', 'Type', 'Replacement', 'Policy action'];
  const cells = changeSet.rows.map((r) => [r.action, r.logicalId, r.type, r.replacement || '-', r.policyAction || '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const format = (row: string[]) => `  ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`.trimEnd();
  return [`Changes to ${changeSet.stackName}:`, format(header), ...cells.map(format)].join('\n');
}

/** Events of `stack` newer than the event `afterEventId`, oldest first. */
export async function newEvents(cfn: AwsClient, stackName: string, afterEventId: string | undefined): Promise<StackEvent[]> {
  const events: StackEvent[] = [];
  let token: string | undefined;
  do {
    const page = await cfn.send(new DescribeStackEventsCommand({ StackName: stackName, NextToken: token }));
    for (const event of page.StackEvents ?? []) {
      if (event.EventId === afterEventId) return events.reverse();
      events.push(event);
    }
    token = page.NextToken;
  } while (token && afterEventId !== undefined);
  return events.reverse();
}

export async function latestEventId(cfn: AwsClient, stackName: string): Promise<string | undefined> {
  const page = await cfn.send(new DescribeStackEventsCommand({ StackName: stackName }));
  return page.StackEvents?.[0]?.EventId;
}

/** Whether the stack runs a template: one under review (an unexecuted CREATE change set) or rolled back from its creation does not. */
export function isDeployed(stack: Stack | undefined): stack is Stack {
  return stack !== undefined && stack.StackStatus !== 'REVIEW_IN_PROGRESS' && stack.StackStatus !== 'ROLLBACK_COMPLETE';
}
