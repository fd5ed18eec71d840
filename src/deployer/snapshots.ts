import { CreateDBClusterSnapshotCommand, CreateDBSnapshotCommand, DescribeDBClusterSnapshotsCommand, DescribeDBSnapshotsCommand, type DescribeDBClusterSnapshotsCommandOutput, type DescribeDBSnapshotsCommandOutput } from '@aws-sdk/client-rds';
import { DATABASE_ENGINES } from '../aws/engines.js';
import { manualSnapshotId, type SnapshotKind } from '../aws/snapshots.js';
import { MastodonCfnError } from '../errors.js';
import { utcMinute } from '../format.js';
import type { AwsClient, Clients } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { findSnapshot } from './preflight.js';
import { Interrupted, poll, stackResources, type Polling } from './stacks.js';
import type { Reporter } from './terminal.js';

/** The main stack's database as deployed: its kind and RDS identifier. */
export interface DeployedDatabase {
  stack: DeployStack;
  kind: SnapshotKind;
  id: string;
}

/** Finds the database the main stack created (the manifest names its logical id; the stack its physical one). */
export async function deployedDatabase(pkg: DeployPackage, clients: Clients): Promise<DeployedDatabase> {
  const stack = pkg.stacks.find((candidate) => candidate.database);
  if (!stack?.database) throw MastodonCfnError.of('snapshots.noDatabase', 'This build has no database stack.');
  const { logicalId, engine } = stack.database;
  const resources = await stackResources(clients.cloudFormation(stack.region), stack.name).catch((error: { name?: string; message?: string }) => {
    if (error.name === 'ValidationError' && /does not exist/.test(error.message ?? '')) return [];
    throw error;
  });
  const id = resources.find((resource) => resource.LogicalResourceId === logicalId)?.PhysicalResourceId;
  if (!id) throw MastodonCfnError.of('snapshots.notDeployed', `${stack.name} (${stack.region}) has no database ${logicalId}: deploy it first (mastodon-cfn deploy).`);
  return { stack, kind: engine === DATABASE_ENGINES.aurora.engine ? 'cluster' : 'instance', id };
}

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
}

/** Pages read when listing a region's snapshots: 100 each. */
const MAX_SNAPSHOT_PAGES = 20;

/**
 * This instance's snapshots, newest first: every snapshot of its database (automated and manual), and
 * those named after its stack, which outlive the database they were taken of: `mastodon-cfn backup`'s,
 * and CloudFormation's final snapshots of a database replaced or removed (named from the stack's name).
 */
export async function listSnapshots(rds: AwsClient, database: DeployedDatabase): Promise<SnapshotEntry[]> {
  const prefix = database.stack.name.toLowerCase();
  const ours = (entry: SnapshotEntry) => entry.database === database.id || entry.id.replace(/^rds:/, '').toLowerCase().startsWith(`${prefix}-`);
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

/** One page of the region's cluster snapshots or DB snapshots. */
async function snapshotPage(rds: AwsClient, kind: SnapshotKind, Marker: string | undefined): Promise<{ entries: SnapshotEntry[]; marker?: string }> {
  if (kind === 'cluster') {
    const answer: DescribeDBClusterSnapshotsCommandOutput = await rds.send(new DescribeDBClusterSnapshotsCommand({ Marker, MaxRecords: 100 }));
    const entries = (answer.DBClusterSnapshots ?? []).map((s): SnapshotEntry => ({ id: s.DBClusterSnapshotIdentifier ?? '', arn: s.DBClusterSnapshotArn ?? '', kind, type: s.SnapshotType ?? 'unknown', status: s.Status ?? 'unknown', created: s.SnapshotCreateTime?.toISOString(), database: s.DBClusterIdentifier ?? '' }));
    return { entries, marker: answer.Marker };
  }
  const answer: DescribeDBSnapshotsCommandOutput = await rds.send(new DescribeDBSnapshotsCommand({ Marker, MaxRecords: 100 }));
  const entries = (answer.DBSnapshots ?? []).map((s): SnapshotEntry => ({ id: s.DBSnapshotIdentifier ?? '', arn: s.DBSnapshotArn ?? '', kind, type: s.SnapshotType ?? 'unknown', status: s.Status ?? 'unknown', created: s.SnapshotCreateTime?.toISOString(), database: s.DBInstanceIdentifier ?? '' }));
  return { entries, marker: answer.Marker };
}

export function formatSnapshots(database: DeployedDatabase, snapshots: SnapshotEntry[]): string {
  const header = `${database.stack.name} (${database.stack.region}): database ${database.kind} ${database.id}`;
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
  const rds = clients.rds(database.stack.region);
  const id = manualSnapshotId(database.stack.name, new Date());
  const Tags = [{ Key: 'mastodon-cfn:stack', Value: database.stack.name }];
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
