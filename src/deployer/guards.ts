import { holdsNoDataOfItsOwn, STATEFUL_TYPES } from '../stateful.js';
import type { AwsClient } from './aws.js';
import type { DeployStack } from './manifest.js';
import { deployedTemplate, type ChangeRow } from './stacks.js';

/**
 * Changes that would lose data: a stateful resource that the change set removes or replaces.
 * The manifest lists the stateful resources (a secret derived from other resources is not one);
 * a package without that list falls back to the resource type. What CloudFormation only knows at
 * deploy time counts too: a replacement "Conditional" on such a value, and an action "Dynamic"
 * (ResourceChange in the API reference: the change is decided only when the change set runs).
 */
export async function dataLossChanges(cfn: AwsClient, rows: ChangeRow[], stack: DeployStack): Promise<ChangeRow[]> {
  const statefulIds = stack.statefulResources ? new Set(stack.statefulResources.map((r) => r.logicalId)) : undefined;
  const losses = rows.filter((row) => {
    // A removed resource is no longer in the manifest: its type decides.
    const stateful = statefulIds && row.action !== 'Remove' ? statefulIds.has(row.logicalId) : STATEFUL_TYPES.has(row.type);
    const destructive = row.action === 'Remove' || row.action === 'Dynamic' || (row.action === 'Modify' && (row.replacement === 'True' || row.replacement === 'Conditional'));
    return stateful && destructive;
  });
  // Unless the deployed definition of a removed database instance shows it held no data of its own (an Aurora
  // reader, a read replica: database.readReplica turned off). The deployed template is read only then.
  if (!losses.some((row) => row.action === 'Remove' && row.type === 'AWS::RDS::DBInstance')) return losses;
  const deployed = (await deployedTemplate(cfn, stack.name))?.Resources ?? {};
  return losses.filter((row) => !(row.action === 'Remove' && holdsNoDataOfItsOwn(deployed[row.logicalId])));
}

/** `verdict` opens the message: "Refusing to deploy social-prod" from deploy, "Deploy would refuse social-prod" from diff. */
export function describeDataLoss(verdict: string, rows: ChangeRow[], cause?: string): string {
  const lines = rows.map((r) => {
    const what = r.action === 'Remove' ? 'delete' : r.replacement === 'True' ? 'replace' : 'possibly replace';
    return `  ${r.logicalId} (${r.type}): would ${what} it${r.policyAction ? `; policy action ${r.policyAction}` : ''}`;
  });
  return [`${verdict}: the change set would destroy or replace stateful resources:`, ...lines, ...(cause ? [cause] : []), 'Nothing was changed. If that is really what you want, deploy again with --allow-data-loss.'].join('\n');
}

/**
 * Why a change set loses the database when the size changed: size small keeps the data in an RDS
 * instance, the others in an Aurora cluster. `deployed` is the stack's Size output, or the Profile
 * output of a stack deployed before sizes (its values were small and standard).
 */
export function sizeChange(deployed: string | undefined, wanted: string | undefined, losses: ChangeRow[]): string | undefined {
  if (!deployed || !wanted || deployed === wanted) return undefined;
  if (!losses.some((r) => r.type === 'AWS::RDS::DBCluster' || r.type === 'AWS::RDS::DBInstance')) return undefined;
  const move =
    deployed === 'small'
      ? 'Move them with a snapshot: mastodon-cfn backup, then database.restoreFrom: the ARN it prints (Aurora restores from an RDS snapshot)'
      : 'Copy them first (pg_dump, then pg_restore into the new database)';
  return `The stack runs size ${deployed} and this build is size ${wanted}: the database and its data are not moved to the new one. ${move}, or keep size ${deployed}.`;
}

/**
 * Why a change set replaces the database when database.restoreFrom changed: a new or other snapshot
 * replaces the database with a restored one; a snapshot dropped from the config replaces the restored
 * database with an empty one (AWS::RDS::DBCluster SnapshotIdentifier: "if you don't specify the
 * SnapshotIdentifier property, an empty DB cluster is created, and the original DB cluster is deleted").
 */
export function restoreChange(deployedFrom: string | undefined, wantedFrom: string | undefined, losses: ChangeRow[], databaseId: string | undefined): string | undefined {
  if (deployedFrom === wantedFrom || !losses.some((r) => r.logicalId === databaseId)) return undefined;
  if (wantedFrom) {
    return `database.restoreFrom replaces the database with one restored from snapshot ${wantedFrom}: what was written since that snapshot was taken is lost. The database now running is kept (deletion protection stops CloudFormation deleting it); the deploy says how to delete it once the restored one is checked.`;
  }
  return `The database was restored from snapshot ${deployedFrom}: keep database.restoreFrom: ${deployedFrom} in the config for as long as that database lives. Without it CloudFormation replaces it with an empty database.`;
}

type Version = [number, number, number];

function parse(version: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/**
 * Mastodon's upgrade rule: never go down, and do not skip a minor series on the way up
 * (v4.3.x → v4.5.x needs a v4.4.x release in between, whose migrations v4.5 relies on).
 * Returns why an upgrade is unsafe, or undefined when it is safe.
 */
export function upgradeProblem(deployed: string, wanted: string): string | undefined {
  const from = parse(deployed);
  const to = parse(wanted);
  if (!from || !to) return undefined;
  const compare = from[0] - to[0] || from[1] - to[1] || from[2] - to[2];
  if (compare > 0) return `${wanted} is older than the deployed ${deployed}: Mastodon cannot be downgraded (its database has already been migrated)`;
  const sameMajorSkip = to[0] === from[0] && to[1] > from[1] + 1;
  const majorSkip = to[0] > from[0] && (to[0] > from[0] + 1 || to[1] > 0);
  if (sameMajorSkip || majorSkip) {
    const next = to[0] === from[0] ? `v${from[0]}.${from[1] + 1}` : `v${from[0] + 1}.0`;
    return `${wanted} skips a release series after the deployed ${deployed}: deploy the latest ${next}.x release first, then ${wanted}`;
  }
  return undefined;
}
