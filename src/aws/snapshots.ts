/**
 * RDS snapshots: how they are named, what each database kind restores from, and how mastodon-cfn
 * names the snapshots it takes (RDS API reference: CreateDBClusterSnapshot, CreateDBSnapshot,
 * RestoreDBClusterFromSnapshot; AWS::RDS::DBCluster SnapshotIdentifier, AWS::RDS::DBInstance DBSnapshotIdentifier).
 */

/** An Aurora cluster snapshot, or an RDS instance's DB snapshot. */
export type SnapshotKind = 'cluster' | 'instance';

/**
 * A snapshot identifier: 1 to 255 letters, digits and hyphens, the first a letter, no two hyphens in a
 * row and none at the end (DBClusterSnapshotIdentifier, DBSnapshotIdentifier). Automated snapshots
 * are named `rds:<database>-<date>` by RDS itself.
 */
export const SNAPSHOT_ID = /^(rds:)?[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)$/;

/** arn:<partition>:rds:<region>:<account>:cluster-snapshot:<id> (Aurora) or …:snapshot:<id> (an RDS instance's). */
const SNAPSHOT_ARN = /^arn:aws(?:-[a-z]+)*:rds:([a-z0-9-]+):(\d{12}):(cluster-snapshot|snapshot):(.+)$/;

export interface SnapshotReference {
  id: string;
  /** Known only from an ARN; an identifier may name either kind. */
  kind?: SnapshotKind;
  region?: string;
  arn?: string;
}

/** What a database.restoreFrom value names; undefined when it is neither an identifier nor a snapshot ARN. */
export function parseSnapshotReference(value: string): SnapshotReference | undefined {
  const arn = SNAPSHOT_ARN.exec(value);
  if (arn) return SNAPSHOT_ID.test(arn[4]) ? { id: arn[4], kind: arn[3] === 'cluster-snapshot' ? 'cluster' : 'instance', region: arn[1], arn: value } : undefined;
  return SNAPSHOT_ID.test(value) ? { id: value } : undefined;
}

/**
 * Which snapshots a database restores from. An Aurora cluster restores from a cluster snapshot (by
 * identifier or ARN) or from an RDS for PostgreSQL DB snapshot, which it takes only by ARN
 * (RestoreDBClusterFromSnapshot SnapshotIdentifier): that is how size small moves to Aurora. An RDS
 * instance restores only from a DB snapshot; Aurora's cluster snapshots cannot become one.
 */
export function restoreProblem(database: SnapshotKind, snapshot: SnapshotReference): string | undefined {
  if (database === 'instance' && snapshot.kind === 'cluster') {
    return 'is an Aurora cluster snapshot, and size small runs RDS for PostgreSQL, which restores only from a DB snapshot: restore it at size standard or large';
  }
  return undefined;
}

/** The identifier of a snapshot `mastodon-cfn backup` takes at `now`: `<service>-<stage>-backup-YYYYMMDD-HHMMSS` (UTC). */
export function manualSnapshotId(prefix: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${prefix}-backup-${stamp}`;
}
