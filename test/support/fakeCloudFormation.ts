import { randomUUID } from 'node:crypto';
import type { ResourceChange, StackResourceDrift } from '@aws-sdk/client-cloudformation';
import type { AwsClient } from '../../src/deployer/aws.js';

/** An AWS API error as the SDK raises it: the exception's name, AWS's message and the HTTP status. */
export function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

export interface FakeStack {
  status: string;
  outputs?: Record<string, string>;
  parameters?: Record<string, string>;
  /** The template it runs, as GetTemplate answers it and as a change set is compared with. */
  template?: string;
  /** Its ARN; made up when the stack is created. */
  id?: string;
  creationTime?: Date;
  terminationProtection?: boolean;
  /** What the last drift detection found (DescribeStacks' DriftInformation). */
  drift?: { status: 'DRIFTED' | 'IN_SYNC'; checked: Date };
}

export interface FakeChangeSet {
  id: string;
  name: string;
  stackName: string;
  stackId: string;
  type: 'CREATE' | 'UPDATE';
  status: 'CREATE_PENDING' | 'CREATE_IN_PROGRESS' | 'CREATE_COMPLETE' | 'FAILED';
  executionStatus: 'UNAVAILABLE' | 'AVAILABLE' | 'EXECUTE_IN_PROGRESS' | 'EXECUTE_COMPLETE' | 'OBSOLETE';
  statusReason?: string;
  changes: ResourceChange[];
  creationTime: Date;
  clientToken?: string;
  template?: string;
  parameters: Record<string, string>;
  /** DescribeChangeSet answers CREATE_IN_PROGRESS this many more times before the outcome. */
  describesInProgress: number;
}

/** The StatusReason of a change set that changes nothing (DescribeChangeSet, as CloudFormation words it). */
export const NO_CHANGES_REASON = "The submitted information didn't contain changes. Submit different information to create a change set.";

/** The stack statuses an UPDATE change set can be made in; in the others CloudFormation answers "… can not be updated". */
const UPDATABLE = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE', 'IMPORT_ROLLBACK_COMPLETE']);
/** ChangeSetName in the API reference: a letter, then letters, digits and hyphens, at most 128. */
const CHANGE_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;

const asMap = (list: { ParameterKey: string; ParameterValue: string }[] | undefined) => Object.fromEntries((list ?? []).map((p) => [p.ParameterKey, p.ParameterValue]));
const sameParameters = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/**
 * CloudFormation as its API reference describes it, for what moto cannot produce: a change set is made in the
 * background (CREATE_IN_PROGRESS first), FAILED with the documented reason when it changes nothing,
 * CREATE_COMPLETE with no Changes when it changes only outputs; and it refuses what CloudFormation refuses, with
 * CloudFormation's errors: an UPDATE change set on a stack in a state that cannot be updated, deleting a stack with
 * termination protection, a drift status filter the API does not have, a second change set
 * of the same name, executing or deleting a change set that is not ready, a change set that does not exist.
 * What a change set finds (`changes`) and what executing it does (`execution`) are scripted by the test.
 */
export class FakeCloudFormation implements AwsClient {
  calls: { name: string; input: any }[] = [];
  /** Each stack is kept as a copy of what the test sets: tests share one description among stacks and fakes. */
  stacks = new (class extends Map<string, FakeStack> {
    override set(name: string, stack: FakeStack) {
      return super.set(name, { ...stack });
    }
  })();
  changeSets: FakeChangeSet[] = [];
  events: any[] = [];
  /** The resource changes the next change set finds when its template or parameters differ from the stack's. */
  changes: ResourceChange[] = [{ Action: 'Add', LogicalResourceId: 'Alerts', ResourceType: 'AWS::SNS::Topic' }];
  /** What ListStackResources answers. */
  resources: { LogicalResourceId: string; ResourceType: string; PhysicalResourceId: string }[] = [];
  /** A reason CloudFormation fails the next change sets for (a template error found late). */
  changeSetFailure?: string;
  /** How many times DescribeChangeSet answers CREATE_IN_PROGRESS for a new change set. */
  describesInProgress = 1;
  /** What drift detection finds in each stack, as DescribeStackResourceDrifts gives a resource (MODIFIED, DELETED or IN_SYNC). */
  resourceDrifts = new Map<string, StackResourceDrift[]>();
  /** A reason detection fails for (DETECTION_FAILED): the results of the other resources still stand. */
  driftFailure?: string;
  /** DescribeStackResourceDrifts' page size (the API's MaxResults is 1 to 100). */
  driftPageSize = 100;
  private detections = new Map<string, { stackName: string; describesLeft: number }>();
  /** What executing a change set does: the events it adds and the status it ends in (undefined: it never ends). */
  execution: { events: any[]; finalStatus?: string; outputs?: Record<string, string> } = { events: [], finalStatus: 'CREATE_COMPLETE' };

  called(name: string) {
    return this.calls.filter((c) => c.name === name);
  }

  /** The change sets of a stack, as ListChangeSets would list them. */
  changeSetsOf(stackName: string): FakeChangeSet[] {
    const stack = this.stacks.get(stackName);
    return this.changeSets.filter((c) => c.stackId === stack?.id);
  }

  private stackNamed(nameOrId: string): [string, FakeStack] | undefined {
    for (const [name, stack] of this.stacks) {
      stack.id ??= `arn:aws:cloudformation:eu-central-1:123456789012:stack/${name}/${randomUUID()}`;
      if (name === nameOrId || stack.id === nameOrId) return [name, stack];
    }
    return undefined;
  }

  private changeSet(nameOrId: string, stackNameOrId: string | undefined): FakeChangeSet {
    const stack = stackNameOrId === undefined ? undefined : this.stackNamed(stackNameOrId)?.[1];
    const found = this.changeSets.find((c) => c.id === nameOrId || (c.name === nameOrId && c.stackId === stack?.id));
    if (!found) throw awsError('ChangeSetNotFoundException', `ChangeSet [${nameOrId}] does not exist`, 404);
    return found;
  }

  async send(command: object): Promise<any> {
    const name = command.constructor.name.replace(/Command$/, '');
    const input = (command as { input: any }).input;
    this.calls.push({ name, input });
    const named = input.StackName === undefined ? undefined : this.stackNamed(input.StackName);
    const stack = named?.[1];
    switch (name) {
      case 'DescribeStacks':
        if (!stack) throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`);
        return {
          Stacks: [
            {
              StackName: named![0],
              StackId: stack.id,
              StackStatus: stack.status,
              CreationTime: stack.creationTime ?? new Date('2026-11-01T00:00:00Z'),
              EnableTerminationProtection: stack.terminationProtection ?? false,
              DriftInformation: stack.drift ? { StackDriftStatus: stack.drift.status, LastCheckTimestamp: stack.drift.checked } : { StackDriftStatus: 'NOT_CHECKED' },
              Outputs: Object.entries(stack.outputs ?? {}).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
              Parameters: Object.entries(stack.parameters ?? {}).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
            },
          ],
        };
      case 'UpdateTerminationProtection':
        if (!stack) throw awsError('ValidationError', `Stack [${input.StackName}] does not exist`);
        stack.terminationProtection = input.EnableTerminationProtection;
        return { StackId: stack.id };
      case 'DeleteStack':
        if (stack?.terminationProtection) throw awsError('ValidationError', `Stack [${input.StackName}] cannot be deleted while TerminationProtection is enabled`);
        // Deleting a stack that does not exist succeeds, as in CloudFormation.
        if (named) {
          this.stacks.delete(named[0]);
          this.changeSets = this.changeSets.filter((c) => c.stackId !== stack!.id);
        }
        return {};
      case 'ListStackResources':
        return { StackResourceSummaries: this.resources };
      case 'CreateChangeSet':
        return this.createChangeSet(input, named);
      case 'DescribeChangeSet': {
        const changeSet = this.changeSet(input.ChangeSetName, input.StackName);
        if (changeSet.describesInProgress > 0) {
          changeSet.describesInProgress--;
          return { ...this.summary(changeSet), Status: 'CREATE_IN_PROGRESS', ExecutionStatus: 'UNAVAILABLE', Changes: [] };
        }
        return { ...this.summary(changeSet), Changes: changeSet.status === 'CREATE_COMPLETE' ? changeSet.changes.map((ResourceChange) => ({ Type: 'Resource', ResourceChange })) : [] };
      }
      case 'ListChangeSets':
        if (!stack) throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`);
        return { Summaries: this.changeSets.filter((c) => c.stackId === stack.id).map((c) => this.summary(c)) };
      case 'DeleteChangeSet': {
        const changeSet = this.changeSet(input.ChangeSetName, input.StackName);
        if (changeSet.describesInProgress > 0 || changeSet.executionStatus === 'EXECUTE_IN_PROGRESS') {
          throw awsError('InvalidChangeSetStatusException', `ChangeSet [${changeSet.id}] cannot be deleted in its current status of [${changeSet.describesInProgress > 0 ? 'CREATE_IN_PROGRESS' : changeSet.executionStatus}]`);
        }
        this.changeSets = this.changeSets.filter((c) => c !== changeSet);
        return {};
      }
      case 'ExecuteChangeSet':
        return this.executeChangeSet(input);
      case 'GetTemplate':
        if (!stack?.template) throw new Error(`the fake has no template for ${input.StackName}`);
        return { TemplateBody: stack.template, StagesAvailable: ['Original', 'Processed'] };
      case 'DetectStackDrift': {
        if (!stack) throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`);
        const id = randomUUID();
        this.detections.set(id, { stackName: named![0], describesLeft: 1 });
        return { StackDriftDetectionId: id };
      }
      case 'DescribeStackDriftDetectionStatus': {
        const detection = this.detections.get(input.StackDriftDetectionId);
        if (!detection) throw awsError('ValidationError', `Drift detection with id ${input.StackDriftDetectionId} does not exist`);
        const detected = this.stacks.get(detection.stackName)!;
        if (detection.describesLeft-- > 0) return { StackId: detected.id, StackDriftDetectionId: input.StackDriftDetectionId, DetectionStatus: 'DETECTION_IN_PROGRESS', Timestamp: new Date() };
        const drifted = (this.resourceDrifts.get(detection.stackName) ?? []).filter((r) => r.StackResourceDriftStatus !== 'IN_SYNC');
        const status = drifted.length > 0 ? 'DRIFTED' : 'IN_SYNC';
        this.stacks.set(detection.stackName, { ...detected, drift: { status, checked: new Date() } });
        return {
          StackId: detected.id,
          StackDriftDetectionId: input.StackDriftDetectionId,
          StackDriftStatus: status,
          DetectionStatus: this.driftFailure ? 'DETECTION_FAILED' : 'DETECTION_COMPLETE',
          DetectionStatusReason: this.driftFailure,
          DriftedStackResourceCount: drifted.length,
          Timestamp: new Date(),
        };
      }
      case 'DescribeStackResourceDrifts': {
        if (!stack) throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`);
        const filters: string[] = input.StackResourceDriftStatusFilters ?? [];
        const unknown = filters.find((f) => !['IN_SYNC', 'MODIFIED', 'DELETED', 'NOT_CHECKED'].includes(f));
        if (unknown) throw awsError('ValidationError', `1 validation error detected: Value '[${unknown}]' at 'stackResourceDriftStatusFilters' failed to satisfy constraint: Member must satisfy enum value set: [IN_SYNC, MODIFIED, DELETED, NOT_CHECKED]`);
        const all = (this.resourceDrifts.get(named![0]) ?? []).filter((r) => filters.length === 0 || filters.includes(r.StackResourceDriftStatus!));
        const start = input.NextToken ? Number(input.NextToken) : 0;
        const end = start + this.driftPageSize;
        return { StackResourceDrifts: all.slice(start, end), NextToken: end < all.length ? String(end) : undefined };
      }
      case 'DescribeStackEvents':
        return { StackEvents: [...this.events].reverse() };
      default:
        throw new Error(`the fake does not know ${name}`);
    }
  }

  private summary(c: FakeChangeSet) {
    return { ChangeSetId: c.id, ChangeSetName: c.name, StackId: c.stackId, StackName: c.stackName, Status: c.status, ExecutionStatus: c.executionStatus, StatusReason: c.statusReason, CreationTime: c.creationTime };
  }

  private createChangeSet(input: any, named: [string, FakeStack] | undefined) {
    if (!CHANGE_SET_NAME.test(input.ChangeSetName ?? '')) throw awsError('ValidationError', `1 validation error detected: Value '${input.ChangeSetName}' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`);
    const type: 'CREATE' | 'UPDATE' = input.ChangeSetType ?? 'UPDATE';
    if (type === 'UPDATE') {
      if (!named) throw awsError('ValidationError', `Stack [${input.StackName}] does not exist`);
      if (!UPDATABLE.has(named[1].status)) throw awsError('ValidationError', `Stack:${named[1].id} is in ${named[1].status} state and can not be updated.`);
    } else if (named && named[1].status !== 'REVIEW_IN_PROGRESS') {
      throw awsError('ValidationError', `Stack [${input.StackName}] already exists and cannot be created again with the changeSet [${input.ChangeSetName}].`);
    }
    const [stackName, stack] = named ?? [input.StackName as string, { status: 'REVIEW_IN_PROGRESS', id: `arn:aws:cloudformation:eu-central-1:123456789012:stack/${input.StackName}/${randomUUID()}`, creationTime: new Date() }];
    if (!named) this.stacks.set(stackName, stack);
    const duplicate = this.changeSets.find((c) => c.name === input.ChangeSetName && c.stackId === stack.id);
    if (duplicate) {
      // A retry of the same request (same ClientToken) is the same change set; anything else is refused.
      if (input.ClientToken !== undefined && duplicate.clientToken === input.ClientToken) return { Id: duplicate.id, StackId: stack.id };
      throw awsError('AlreadyExistsException', `ChangeSet ${input.ChangeSetName} cannot be created due to a mismatch with existing attribute ClientToken`);
    }
    const template = input.TemplateBody ?? input.TemplateURL;
    const parameters = asMap(input.Parameters);
    const unchanged = type === 'UPDATE' && stack.template === template && sameParameters(stack.parameters ?? {}, parameters);
    const failure = unchanged ? NO_CHANGES_REASON : this.changeSetFailure;
    const changeSet: FakeChangeSet = {
      id: `arn:aws:cloudformation:eu-central-1:123456789012:changeSet/${input.ChangeSetName}/${randomUUID()}`,
      name: input.ChangeSetName,
      stackName,
      stackId: stack.id!,
      type,
      status: failure ? 'FAILED' : 'CREATE_COMPLETE',
      executionStatus: failure ? 'UNAVAILABLE' : 'AVAILABLE',
      statusReason: failure,
      changes: failure ? [] : this.changes,
      creationTime: new Date(),
      clientToken: input.ClientToken,
      template,
      parameters,
      describesInProgress: this.describesInProgress,
    };
    this.changeSets.push(changeSet);
    return { Id: changeSet.id, StackId: stack.id };
  }

  private executeChangeSet(input: any) {
    const changeSet = this.changeSet(input.ChangeSetName, input.StackName);
    const [, stack] = this.stackNamed(changeSet.stackId)!;
    const status = changeSet.describesInProgress > 0 ? 'CREATE_IN_PROGRESS' : changeSet.status !== 'CREATE_COMPLETE' ? changeSet.status : changeSet.executionStatus;
    if (status !== 'AVAILABLE') throw awsError('InvalidChangeSetStatusException', `ChangeSet [${changeSet.id}] cannot be executed in its current status of [${status}]`);
    if (stack.status.endsWith('_IN_PROGRESS') && stack.status !== 'REVIEW_IN_PROGRESS') {
      throw awsError('InvalidChangeSetStatusException', `ChangeSet [${changeSet.id}] cannot be executed in its current status of [${stack.status}]`);
    }
    // Every event of the operation carries its ClientRequestToken.
    this.events.push(...this.execution.events.map((event) => ({ ClientRequestToken: input.ClientRequestToken, ...event })));
    stack.status = this.execution.finalStatus ?? `${changeSet.type}_IN_PROGRESS`;
    stack.template = changeSet.template;
    stack.parameters = changeSet.parameters;
    if (this.execution.outputs) stack.outputs = this.execution.outputs;
    // Executing a change set makes the stack's other change sets invalid: CloudFormation deletes them all.
    this.changeSets = this.changeSets.filter((c) => c.stackId !== stack.id);
    return {};
  }
}
