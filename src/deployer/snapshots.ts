import { CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, type DescribeDBClusterSnapshotsCommandOutput, type DescribeDBSnapshotsCommandOutput } from '@aws-sdk/client-rds';
import { DATABASE_ENGINES } from '../aws/engines.js';
import { manualSnapshotId, type SnapshotKind } from '../aws/snapshots.js';
import { MastodonCfnError } from '../errors.js';
import { utcMinute } from '../format.js';
import type { AwsClient, Clients } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { findSnapshot } from './preflight.js';
import { holdsNoDataOfItsOwn } from '../stateful.js';
import { deployedTemplate, describeStack, Interrupted, isDeployed, poll, stackResources, type Polling } from './stacks.js';
import type { Reporter } from './terminal.js';

/** The main stack's database as deployed: its kind and RDS identifier (none once the stack is removed). */
export interface DeployedDatabase {
  stack: DeployStack;
  kind: SnapshotKind;
  id?: string;
}

/**
 * Finds the database the main stack runs, from what is deployed rather than from this build: a build
 * edited for a restore or a change of size names another database than the one there. The deployed
 * template tells the database that holds the data from an Aurora instance or a read replica. With the
 * stack removed, there is none, and the build's kind is the one to list.
 */
export async function deployedDatabase(pkg: DeployPackage, clients: Clients): Promise<DeployedDatabase> {
  const stack = pkg.stacks.find((candidate) => candidate.database);
  if (!stack?.database) throw MastodonCfnError.of('snapshots.noDatabase', 'This build has no database stack.');
  const cfn = clients.cloudFormation(stack.region);
  const built: DeployedDatabase = { stack, kind: stack.database.engine === DATABASE_ENGINES.aurora.engine ? 'cluster' : 'instance' };
  if (!isDeployed(await describeStack(cfn, stack.name))) return built;
  const deployed = (await deployedTemplate(cfn, stack.name))?.Resources ?? {};
  const holding = Object.entries(deployed).find(([, resource]) => DATABASE_KINDS[resource.Type ?? ''] && !holdsNoDataOfItsOwn(resource));
  if (!holding) return built;
  const id = (await stackResources(cfn, stack.name)).find((resource) => resource.LogicalResourceId === holding[0])?.PhysicalResourceId;
  return { stack, kind: DATABASE_KINDS[holding[1].Type!], id };
}

const DATABASE_KINDS: Record<string, SnapshotKind> = { 'AWS::RDS::DBCluster': 'cluster', 'AWS::RDS::DBInstance': 'instance' };

/** The tags that say which instance a snapshot is of: the stacks' own (CopyTagsToSnapshot carries them from the database), which backup puts on its snapshots too. */
const instanceTags = (stack: DeployStack) => Object.entries(stack.tags ?? {}).filter(([key]) => key === 'mastodon-cfn:service' || key === 'mastodon-cfn:stage');

export interface SnapshotEntry {
  id: string;
  arn: string;
  kind: SnapshotKind;
  /** manual, automated, or awsbackup. */
  type: string;
  status: string;
  created?: string;
  /** The database it was taken of. */
  database: string;
  tags: Record<string, string>;
}

/** Pages read when listing a region's snapshots: 100 each. */
const MAX_SNAPSHOT_PAGES = 20;

/**
 * This instance's snapshots, newest first: every snapshot of its database (automated and manual), and
 * those tagged with its service and stage, which outlive the database they were taken of: `mastodon-cfn
 * backup`'s, and CloudFormation's final snapshots of a database replaced or removed.
 */
export async function listSnapshots(rds: AwsClient, database: DeployedDatabase): Promise<SnapshotEntry[]> {
  const tags = instanceTags(database.stack);
  const ours = (entry: SnapshotEntry) => (database.id !== undefined && entry.database === database.id) || (tags.length > 0 && tags.every(([key, value]) => entry.tags[key] === value));
  const entries: SnapshotEntry[] = [];
  let marker: string | undefined;
  for (let page = 0; page < MAX_SNAPSHOT_PAGES; page++) {
    const answer = await snapshotPage(rds, database.kind, marker);
    entries.push(...answer.entries.filter(ours));
    marker = answer.marker;
    if (!marker) break;
  }
  return entries.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
}

const tagMap = (list: { Key?: string; Value?: string }[] | undefined) => Object.fromEntries((list ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));

/** One page of the region's cluster snapshots or DB snapshots. */
async function snapshotPage(rds: AwsClient, kind: SnapshotKind, Marker: string | undefined): Promise<{ entries: SnapshotEntry[]; marker?: string }> {
  if (kind === 'cluster') {
    const answer: DescribeDBClusterSnapshotsCommandOutput = await rds.send(new DescribeDBClusterSnapshotsCommand({ Marker, MaxRecords: 100 }));
    const entries = (answer.DBClusterSnapshots ?? []).map((s): SnapshotEntry => ({ id: s.DBClusterSnapshotIdentifier ?? '', arn: s.DBClusterSnapshotArn ?? '', kind, type: s.SnapshotType ?? 'unknown', status: s.Status ?? 'unknown', created: s.SnapshotCreateTime?.toISOString(), database: s.DBClusterIdentifier ?? '', tags: tagMap(s.TagList) }));
    return { entries, marker: answer.Marker };
  }
  const answer: DescribeDBSnapshotsCommandOutput = await rds.send(new DescribeDBSnapshotsCommand({ Marker, MaxRecords: 100 }));
  const entries = (answer.DBSnapshots ?? []).map((s): SnapshotEntry => ({ id: s.DBSnapshotIdentifier ?? '', arn: s.DBSnapshotArn ?? '', kind, type: s.SnapshotType ?? 'unknown', status: s.Status ?? 'unknown', created: s.SnapshotCreateTime?.toISOString(), database: s.DBInstanceIdentifier ?? '', tags: tagMap(s.TagList) }));
  return { entries, marker: answer.Marker };
}

export function formatSnapshots(database: DeployedDatabase, snapshots: SnapshotEntry[]): string {
  const header = `${database.stack.name} (${database.stack.region}): ${database.id ? `database ${database.kind} ${database.id}` : `no database deployed; the ${database.kind} snapshots tagged as this instance's`}`;
  if (snapshots.length === 0) return `${header}\n  no snapshots yet: mastodon-cfn backup takes one now\n`;
  const rows = snapshots.map((s) => [s.created ? utcMinute(s.created) : 'creating', s.type, s.status, s.id, s.database === database.id ? '' : `(of ${s.database})`]);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column].length)));
  const lines = rows.map((row) => `  ${row.map((cell, column) => (column < 4 ? cell.padEnd(widths[column]) : cell)).join('  ')}`.trimEnd());
  const byArn = database.kind === 'cluster' ? '' : ' (its ARN, with --json, to restore at size standard or large)';
  return `${header}\n${lines.join('\n')}\nRestore one into a new database with database.restoreFrom: <identifier>${byArn}; the README's restore drill says how.\n`;
}

/**
 * Takes a manual snapshot of the database now, named `<stack>-backup-<UTC time>`, and (unless `wait`
 * is false) follows it until RDS says it is available. Manual snapshots are kept until deleted, by
 * `remove` too. Ctrl-C stops the waiting only: RDS goes on taking the snapshot.
 */
export async function backup(pkg: DeployPackage, clients: Clients, reporter: Reporter, polling: Polling, options: { wait: boolean }): Promise<void> {
  const database = await deployedDatabase(pkg, clients);
  if (!database.id) throw MastodonCfnError.of('snapshots.notDeployed', `${database.stack.name} (${database.stack.region}) has no database deployed: deploy it first (mastodon-cfn deploy).`);
  const rds = clients.rds(database.stack.region);
  const id = manualSnapshotId(database.stack.name, new Date());
  const Tags = [...instanceTags(database.stack), ['mastodon-cfn:stack', database.stack.name]].map(([Key, Value]) => ({ Key, Value }));
  const arn =
    database.kind === 'cluster'
      ? (await rds.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: database.id, DBClusterSnapshotIdentifier: id, Tags }))).DBClusterSnapshot?.DBClusterSnapshotArn
      : (await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: database.id, DBSnapshotIdentifier: id, Tags }))).DBSnapshot?.DBSnapshotArn;
  reporter.line(`${database.stack.name}: taking snapshot ${id} of database ${database.kind} ${database.id}`);
  let status = 'creating';
  if (options.wait) {
    try {
      status = await poll(polling, async () => {
        const found = await findSnapshot(rds, database.kind, id);
        return found && found.status !== 'creating' ? found.status : undefined;
      });
    } catch (error) {
      if (!(error instanceof Interrupted)) throw error;
      reporter.line(`Stopped waiting: RDS goes on taking ${id}; mastodon-cfn snapshots shows when it is available.`);
    }
  }
  if (status !== 'available' && status !== 'creating') throw MastodonCfnError.of('backup.failed', `${database.stack.name}: RDS reports snapshot ${id} as ${status}. Look at it in the RDS console, then take another with mastodon-cfn backup.`);
  reporter.line(`${id}${status === 'available' ? ' is available' : ' is being taken'}. Restore it into a new database with database.restoreFrom: ${database.kind === 'cluster' ? id : (arn ?? id)}`);
}
