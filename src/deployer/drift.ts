import { DescribeStackDriftDetectionStatusCommand, DescribeStackResourceDriftsCommand, DetectStackDriftCommand, type Stack, type StackResourceDrift, type StackResourceDriftStatus } from '@aws-sdk/client-cloudformation';
import { utcMinute } from '../format.js';
import type { Clients } from './aws.js';
import type { DeployPackage } from './manifest.js';
import { allPages, describeStack, isDeployed, poll, type Polling } from './stacks.js';

/**
 * CloudFormation's drift detection (User Guide, "Detect unmanaged configuration changes to stacks
 * and resources"): it compares each resource that supports detection with its template and
 * parameters. What changed outside the tool stays changed until a deploy updates that resource:
 * then CloudFormation sets the properties its template gives, and the change made outside is gone.
 */
export interface StackDrift {
  stack: string;
  region: string;
  /** IN_SYNC, DRIFTED, or NOT_DEPLOYED; FAILED when detection failed for a resource (the others' results stand). */
  status: 'IN_SYNC' | 'DRIFTED' | 'FAILED' | 'NOT_DEPLOYED';
  reason?: string;
  resources: StackResourceDrift[];
}

/** The drift statuses of a resource that mean someone changed or deleted it. */
const CHANGED: StackResourceDriftStatus[] = ['MODIFIED', 'DELETED'];

async function detectStack(clients: Clients, name: string, region: string, polling: Polling): Promise<StackDrift> {
  const cfn = clients.cloudFormation(region);
  const existing = await describeStack(cfn, name);
  if (!isDeployed(existing)) return { stack: name, region, status: 'NOT_DEPLOYED', resources: [] };
  const { StackDriftDetectionId } = await cfn.send(new DetectStackDriftCommand({ StackName: name }));
  const detection = await poll(polling, async () => {
    const status = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
    return status.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : status;
  });
  const resources = await allPages((NextToken) => cfn.send(new DescribeStackResourceDriftsCommand({ StackName: name, StackResourceDriftStatusFilters: CHANGED, NextToken })), (page) => page.StackResourceDrifts as StackResourceDrift[] | undefined);
  const status = detection.DetectionStatus === 'DETECTION_FAILED' ? 'FAILED' : detection.StackDriftStatus === 'DRIFTED' || resources.length > 0 ? 'DRIFTED' : 'IN_SYNC';
  return { stack: name, region, status, reason: detection.DetectionStatusReason, resources: resources.sort((a, b) => (a.LogicalResourceId! < b.LogicalResourceId! ? -1 : 1)) };
}

/** Detects drift on every stack of the package, each in its region, all at once. */
export async function detectDrift(pkg: DeployPackage, clients: Clients, polling: Polling): Promise<StackDrift[]> {
  return Promise.all(pkg.stacks.map((stack) => detectStack(clients, stack.name, stack.region, polling)));
}

const shown = (value: string | undefined) => (value === undefined ? '(none)' : value.length > 120 ? `${value.slice(0, 117)}...` : value);

export function formatDrift(drifts: StackDrift[]): string {
  const lines: string[] = [];
  for (const drift of drifts) {
    const head = `${drift.stack} (${drift.region})`;
    if (drift.status === 'NOT_DEPLOYED') lines.push(`${head}: not deployed`);
    else if (drift.status === 'IN_SYNC') lines.push(`${head}: in sync with its template`);
    else lines.push(`${head}: ${drift.status === 'FAILED' ? `drift detection failed for some resources (${drift.reason ?? 'no reason given'})` : 'DRIFTED'}${drift.resources.length ? `, ${drift.resources.length} changed outside mastodon-cfn:` : ''}`);
    for (const resource of drift.resources) {
      lines.push(`  ${resource.StackResourceDriftStatus!.padEnd(8)}  ${resource.LogicalResourceId} (${resource.ResourceType}) ${resource.PhysicalResourceId ?? ''}`.trimEnd());
      for (const difference of resource.PropertyDifferences ?? []) {
        lines.push(`            ${difference.PropertyPath}: ${difference.DifferenceType === 'ADD' ? 'added' : difference.DifferenceType === 'REMOVE' ? 'removed' : 'changed'}, template ${shown(difference.ExpectedValue)}, actual ${shown(difference.ActualValue)}`);
      }
    }
  }
  if (drifts.some((drift) => drift.resources.length > 0)) {
    lines.push(
      'The next deploy that updates one of these resources sets it back to its template, and the change made outside is gone;',
      'a deleted one is not made again until its template changes. To keep a change, make it in mastodon.config.yaml.',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What diff and deploy say of a stack the last drift detection found drifted (they do not detect it again: that takes minutes). */
export function driftNotice(stack: Stack | undefined): string | undefined {
  const information = stack?.DriftInformation;
  if (information?.StackDriftStatus !== 'DRIFTED') return undefined;
  const when = information.LastCheckTimestamp ? ` on ${utcMinute(information.LastCheckTimestamp)} UTC` : '';
  return `${stack!.StackName} has drifted: drift detection${when} found resources changed outside mastodon-cfn. A change below to one of them sets it back to its template; mastodon-cfn drift lists what changed.`;
}
