import {
  GetTemplateCommand,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ListChangeSetsCommand,
  ListStackResourcesCommand,
  type Change,
  type ChangeSetSummary,
  type DescribeChangeSetCommandOutput,
  type Stack,
  type StackEvent,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { randomUUID } from 'node:crypto';
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

/** Ctrl-C. Recognised by name: the CLI and the deployer are separate bundles. */
export class Interrupted extends Error {
  constructor() {
    super('Interrupted');
    this.name = 'Interrupted';
  }
}

export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Interrupted();
}

/** The same polling, deaf to Ctrl-C: for cleaning up after it (a second Ctrl-C still ends the process). */
export function uninterruptible(polling: Polling): Polling {
  return { ...polling, signal: undefined };
}

/**
 * A token for one request that changes something (ClientToken, ClientRequestToken): the SDK retries a call whose answer
 * was lost with the same input, and CloudFormation then knows it is the same request instead of a second one.
 */
export function requestToken(): string {
  return `mastodon-cfn-${randomUUID()}`;
}

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
  return allPages((NextToken) => cfn.send(new ListStackResourcesCommand({ StackName: name, NextToken })), (page) => page.StackResourceSummaries as StackResource[] | undefined);
}

/** Every item of a listing the API answers in pages linked by NextToken. */
export async function allPages<T>(request: (token: string | undefined) => Promise<{ NextToken?: string }>, items: (page: any) => T[] | undefined): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  do {
    const page = await request(token);
    all.push(...(items(page) ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}

/** A template as CloudFormation holds it: only what the deployer reads of one. */
export interface DeployedTemplate {
  Resources?: Record<string, { Type?: string; DeletionPolicy?: unknown; Properties?: Record<string, unknown> }>;
  [section: string]: unknown;
}

/**
 * The template a deployed stack runs (GetTemplate, as submitted), or undefined when it is not JSON:
 * a stack of that name made by other means, in YAML, which mastodon-cfn did not deploy.
 */
export async function deployedTemplate(cfn: AwsClient, name: string): Promise<DeployedTemplate | undefined> {
  const answer = await cfn.send(new GetTemplateCommand({ StackName: name, TemplateStage: 'Original' }));
  try {
    const template: unknown = JSON.parse(answer.TemplateBody ?? '');
    return typeof template === 'object' && template !== null && !Array.isArray(template) ? (template as DeployedTemplate) : undefined;
  } catch {
    return undefined;
  }
}

export function outputsOf(stack: Stack | undefined): Record<string, string> {
  return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue ?? '']));
}

const isBusy = (status: string) => status.endsWith('_IN_PROGRESS') && status !== 'REVIEW_IN_PROGRESS';

/**
 * The stack statuses CreateChangeSet makes an UPDATE change set in: CloudFormation refuses the others ("Stack:… is in
 * DELETE_FAILED state and can not be updated"). They are the stable states of the StackStatus list of the API reference
 * (the "last known stable states" of RollbackStack); CREATE_FAILED and UPDATE_FAILED, which a stack reaches only with
 * rollback disabled, are rolled back before anything else is done to it.
 */
const UPDATABLE = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE']);

/** What to do about a stack whose status no deploy can get past. */
function stuckAdvice(name: string, region: string, status: string): string {
  const events = `aws cloudformation describe-stack-events --stack-name ${name} --region ${region}`;
  switch (status) {
    case 'UPDATE_ROLLBACK_FAILED':
      return `fix the cause, then run: aws cloudformation continue-update-rollback --stack-name ${name} --region ${region}`;
    case 'CREATE_FAILED':
    case 'UPDATE_FAILED':
      return `it was deployed with rollback disabled and stopped at a failure. Roll it back first (aws cloudformation rollback-stack --stack-name ${name} --region ${region}), then deploy again.`;
    case 'DELETE_FAILED':
      return `a deletion could not delete all its resources, and CloudFormation updates it no more. Its events name what is left (${events}); deal with that, finish the deletion with mastodon-cfn remove, then deploy again.`;
    default:
      return `CloudFormation updates a stack in this state no more. Its events name the cause (${events}); bring it back to a stable state, then deploy again.`;
  }
}

/** A change set made this recently may belong to a deploy or diff that is still running, perhaps waiting at its confirmation. */
export const RECENT_CHANGE_SET_MS = 15 * 60_000;

/** The change sets of a stack (ListChangeSets pages by 1 MB; moto lists those of every stack, hence the filter). */
async function changeSetsOf(cfn: AwsClient, stack: Stack): Promise<ChangeSetSummary[]> {
  const summaries: ChangeSetSummary[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cfn.send(new ListChangeSetsCommand({ StackName: stack.StackId, NextToken }));
    summaries.push(...((page.Summaries ?? []) as ChangeSetSummary[]));
    NextToken = page.NextToken;
  } while (NextToken);
  return summaries.filter((summary) => summary.StackId === stack.StackId);
}

const isPending = (status: string | undefined) => status === 'CREATE_PENDING' || status === 'CREATE_IN_PROGRESS';

/** Refuses when one of the change sets may still be in use: being made, or ready to execute, and made recently. */
function refuseIfInUse(name: string, summaries: ChangeSetSummary[], remedy: string): void {
  const now = Date.now();
  const inUse = summaries.find((s) => s.CreationTime && now - new Date(s.CreationTime).getTime() < RECENT_CHANGE_SET_MS && (isPending(s.Status) || s.ExecutionStatus === 'AVAILABLE'));
  if (!inUse) return;
  const minutes = Math.max(1, Math.round((now - new Date(inUse.CreationTime!).getTime()) / 60_000));
  throw MastodonCfnError.of(
    'deploy.concurrent',
    `${name} has change set ${inUse.ChangeSetName}, made ${minutes} minute${minutes === 1 ? '' : 's'} ago: another deploy or diff of it may still be running (or waiting for its confirmation). Let it finish, then run this again; if none is running, ${remedy}`,
  );
}

/**
 * Brings a stack into a state a change set can be made on. A failed first deploy leaves a stack in
 * ROLLBACK_COMPLETE (or an empty one in REVIEW_IN_PROGRESS) that can only be deleted: do that, and
 * say so, unless its change set is recent (another first deploy may be running). A stack that is busy,
 * or in a state CloudFormation updates no more, is left alone, with what to do about it.
 */
export async function prepareStack(cfn: AwsClient, name: string, region: string, reporter: Reporter, polling: Polling): Promise<Stack | undefined> {
  const stack = await describeStack(cfn, name);
  if (!stack) return undefined;
  const status = stack.StackStatus!;
  if (isBusy(status)) {
    throw MastodonCfnError.of('deploy.busy', `${name} is ${status}: another operation is running on it. Wait for it to finish (mastodon-cfn info shows its status), then deploy again.`);
  }
  if (status === 'REVIEW_IN_PROGRESS') {
    refuseIfInUse(name, await changeSetsOf(cfn, stack), `delete the empty stack: aws cloudformation delete-stack --stack-name ${name} --region ${region}`);
  }
  if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED' || status === 'REVIEW_IN_PROGRESS') {
    throwIfInterrupted(polling.signal);
    reporter.line(`${name} is ${status}, left by a first deploy that never completed: deleting it to start again.`);
    await deleteStack(cfn, name, polling);
    return undefined;
  }
  if (!UPDATABLE.has(status)) throw MastodonCfnError.of('deploy.notUpdatable', `${name} is ${status}: ${stuckAdvice(name, region, status)}`);
  return stack;
}

export async function deleteStack(cfn: AwsClient, name: string, polling: Polling): Promise<void> {
  await cfn.send(new DeleteStackCommand({ StackName: name, ClientRequestToken: requestToken() }));
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
  /** CloudFormation found nothing to change (the change set FAILED for that reason, and is deleted). */
  empty: boolean;
}

/**
 * The name of every change set mastodon-cfn makes: one per stack, so that one a run left behind (it failed, or the
 * process was killed) is found and replaced by the next run instead of piling up. Steps after creation use its ARN.
 */
export const CHANGE_SET_NAME = 'mastodon-cfn';

/**
 * Whether CloudFormation found nothing to change. That is told by the status alone, never by an empty list of
 * changes: a change set that changes only outputs is CREATE_COMPLETE with no Changes, and must be executed
 * (as the CDK's changeSetHasNoChanges decides; the second reason is the one given when a transform is involved).
 */
export function hasNoChanges(description: Pick<DescribeChangeSetCommandOutput, 'Status' | 'StatusReason'>): boolean {
  const reasons = ["The submitted information didn't contain changes.", 'No updates are to be performed.'];
  return description.Status === 'FAILED' && reasons.some((reason) => (description.StatusReason ?? '').startsWith(reason));
}

/** Deletes the change set a run of mastodon-cfn left on an existing stack, unless another run may still be using it. */
async function replaceLeftover(cfn: AwsClient, stack: Stack, region: string): Promise<void> {
  const ours = (await changeSetsOf(cfn, stack)).filter((summary) => summary.ChangeSetName === CHANGE_SET_NAME);
  refuseIfInUse(stack.StackName!, ours, `delete it: aws cloudformation delete-change-set --change-set-name ${CHANGE_SET_NAME} --stack-name ${stack.StackName} --region ${region}`);
  for (const summary of ours) await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: summary.ChangeSetId, StackName: stack.StackId }));
}

/** Waits until the change set is made (or failed): CloudFormation refuses to delete or execute one while it is made. */
async function settled(cfn: AwsClient, changeSet: { id: string; stackName: string }, polling: Polling): Promise<DescribeChangeSetCommandOutput> {
  return poll(polling, async () => {
    const page = (await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: changeSet.id, StackName: changeSet.stackName }))) as DescribeChangeSetCommandOutput;
    return isPending(page.Status) ? undefined : page;
  });
}

/**
 * Makes the change set that brings the stack to the template (an UPDATE one for an `existing` stack) and reads its
 * changes. Only an executable change set is left behind: one that failed, or was being made on Ctrl-C, is deleted.
 */
export async function createChangeSet(
  cfn: AwsClient,
  input: { stackName: string; region: string; existing: Stack | undefined; template: { TemplateBody?: string; TemplateURL?: string }; parameters: Record<string, string>; tags: Record<string, string> },
  polling: Polling,
): Promise<ChangeSet> {
  throwIfInterrupted(polling.signal);
  if (input.existing) await replaceLeftover(cfn, input.existing, input.region);
  throwIfInterrupted(polling.signal);
  const created = await cfn.send(
    new CreateChangeSetCommand({
      StackName: input.stackName,
      ChangeSetName: CHANGE_SET_NAME,
      ClientToken: requestToken(),
      ChangeSetType: input.existing ? 'UPDATE' : 'CREATE',
      ...input.template,
      Parameters: Object.entries(input.parameters).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
      Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'],
    }),
  );
  const changeSet = { id: created.Id as string, stackName: input.stackName };
  try {
    const description = await settled(cfn, changeSet, polling);
    // Ctrl-C while the last answer was on its way.
    throwIfInterrupted(polling.signal);
    if (description.Status === 'FAILED') {
      await deleteChangeSet(cfn, changeSet);
      if (hasNoChanges(description)) return { ...changeSet, rows: [], empty: true };
      throw MastodonCfnError.of('deploy.changeSetFailed', `${input.stackName}: CloudFormation rejected the change set: ${description.StatusReason ?? 'no reason given'}`);
    }
    const changes: Change[] = [...(description.Changes ?? [])];
    for (let token = description.NextToken; token; ) {
      throwIfInterrupted(polling.signal);
      const page = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: changeSet.id, StackName: input.stackName, NextToken: token }));
      changes.push(...(page.Changes ?? []));
      token = page.NextToken;
    }
    const rows = changes
      .map((change) => change.ResourceChange!)
      .map((c) => ({ action: c.Action ?? '', logicalId: c.LogicalResourceId ?? '', type: c.ResourceType ?? '', replacement: c.Replacement ?? '', policyAction: c.PolicyAction ?? '' }));
    return { ...changeSet, rows, empty: false };
  } catch (error) {
    if (error instanceof Interrupted) {
      await settled(cfn, changeSet, uninterruptible(polling));
      await deleteChangeSet(cfn, changeSet);
    }
    throw error;
  }
}

export async function deleteChangeSet(cfn: AwsClient, changeSet: { id: string; stackName: string }): Promise<void> {
  await cfn.send(new DeleteChangeSetCommand({ ChangeSetName: changeSet.id, StackName: changeSet.stackName }));
}

export function formatChangeSet(changeSet: Pick<ChangeSet, 'stackName' | 'rows'>): string {
  const header = ['Action', 'Logical id', 'Type', 'Replacement', 'Policy action'];
  const cells = changeSet.rows.map((r) => [r.action, r.logicalId, r.type, r.replacement || '-', r.policyAction || '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const format = (row: string[]) => `  ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`.trimEnd();
  if (changeSet.rows.length === 0) return `Changes to ${changeSet.stackName}: no resource changes (its outputs or other stack settings change)`;
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
