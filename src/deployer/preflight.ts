import { CreateServiceLinkedRoleCommand } from '@aws-sdk/client-iam';
import { DescribeDBClusterSnapshotsCommand, DescribeDBEngineVersionsCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { parseSnapshotReference, type SnapshotKind } from '../aws/snapshots.js';
import { SEARCH } from '../aws/search.js';
import { DATABASE_ENGINES } from '../aws/engines.js';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { DatabaseEngine } from '../compiler/index.js';
import { reservedDomain } from '../domains.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient, Clients } from './aws.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { deployedTemplate, describeStack, isDeployed } from './stacks.js';
import type { Reporter } from './terminal.js';

/**
 * What `deploy` checks before it touches a stack: that no public name is reserved for examples,
 * which account and regions it is about to change (as the CDK prints them), that RDS still
 * creates the engine version of every database the change would create, and that a snapshot to
 * restore from is one the tasks can use.
 */
export async function preflight(pkg: DeployPackage, clients: Clients, reporter: Reporter): Promise<void> {
  const reserved = pkg.stacks.flatMap((stack) => (stack.publicNames ?? []).filter((name) => reservedDomain(name)).map((name) => ({ stack, name })));
  if (reserved.length > 0) {
    const names = [...new Set(reserved.map(({ name }) => name))];
    throw MastodonCfnError.of(
      'deploy.reservedDomain',
      `Refusing to deploy ${reserved[0].stack.name}: ${names.join(', ')} ${names.length === 1 ? 'is a name' : 'are names'} reserved for examples and tests (RFC 2606, RFC 6761) that no one can own, so no certificate for ${names.length === 1 ? 'it' : 'them'} can be validated. Set domain (and media.domain, mail.from, services.*.host) to names of yours, then deploy again.`,
    );
  }
  const regions = [...new Set(pkg.stacks.map((stack) => stack.region))];
  const identity = await clients.sts(pkg.stacks.at(-1)!.region).send(new GetCallerIdentityCommand({}));
  reporter.line(`Deploying to AWS account ${identity.Account} as ${identity.Arn}, in ${regions.join(' and ')}`);
  for (const stack of pkg.stacks) if (stack.database) await checkEngineVersion(clients, stack, stack.database);
  for (const stack of pkg.stacks) if (stack.database?.restoreFrom) await checkRestoreSnapshot(clients, stack, stack.database, stack.database.restoreFrom);
  if (pkg.stacks.some((stack) => stack.searchIndex)) await ensureServiceLinkedRole(clients.iam(), SEARCH.serviceLinkedRole, reporter);
}

/**
 * Creates a service's service-linked role when the account has none: an OpenSearch domain in a VPC
 * cannot be created without it, and CloudFormation does not make it (an AWS::IAM::ServiceLinkedRole
 * in the template would fail in every account that has one). IAM answers InvalidInput "has been
 * taken" when it exists; the role is the account's, and mastodon-cfn never deletes it.
 */
async function ensureServiceLinkedRole(iam: AwsClient, service: string, reporter: Reporter): Promise<void> {
  try {
    await iam.send(new CreateServiceLinkedRoleCommand({ AWSServiceName: service }));
    reporter.line(`Created the service-linked role of ${service} in the account (a search domain in a VPC needs it)`);
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name === 'InvalidInputException' && /has been taken/.test(e.message ?? '')) return;
    throw error;
  }
}

/** At most this many pages of versions (100 each) are read to name the ones RDS creates. */
const MAX_VERSION_PAGES = 10;

/** Refuses a database RDS would not create; a database the deployed template already has at this version is not created again. */
async function checkEngineVersion(clients: Clients, stack: DeployStack, database: DatabaseEngine): Promise<void> {
  if (await deployedWith(clients.cloudFormation(stack.region), stack.name, database)) return;
  const rds = clients.rds(stack.region);
  const exact = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: database.engine, EngineVersion: database.engineVersion }));
  // Without IncludeAll, RDS lists only the versions it creates (DescribeDBEngineVersions); an unknown one gives an empty list.
  if (creatable(exact.DBEngineVersions).includes(database.engineVersion)) return;
  const created: string[] = [];
  let marker: string | undefined;
  for (let page = 0; page < MAX_VERSION_PAGES; page++) {
    const answer = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: database.engine, Marker: marker }));
    created.push(...creatable(answer.DBEngineVersions));
    marker = answer.Marker;
    if (!marker) break;
  }
  const major = database.engineVersion.split('.')[0];
  const sameMajor = created.filter((version) => version.split('.')[0] === major);
  const offered = sameMajor.length > 0 ? sameMajor : created;
  throw MastodonCfnError.of(
    'deploy.engineVersion',
    `Refusing to deploy ${stack.name}: RDS does not create ${database.engine} ${database.engineVersion} databases in ${stack.region} (DescribeDBEngineVersions). ` +
      (offered.length > 0 ? `It creates ${offered.join(', ')}: set database.engineVersion to one of them, build and deploy again.` : `It lists no ${database.engine} version there: choose another region.`),
  );
}

/** The versions of an answer RDS creates databases with: its Status is "available" (or "deprecated", which it lists only with IncludeAll). */
function creatable(versions: { EngineVersion?: string; Status?: string }[] | undefined): string[] {
  return (versions ?? []).filter((version) => version.Status !== 'deprecated').flatMap((version) => (version.EngineVersion ? [version.EngineVersion] : []));
}

/** Whether the stack's deployed template already has this database at this engine and version (then CloudFormation does not create it). */
async function deployedWith(cfn: AwsClient, name: string, database: DatabaseEngine): Promise<boolean> {
  if (!isDeployed(await describeStack(cfn, name))) return false;
  const properties = (await deployedTemplate(cfn, name))?.Resources?.[database.logicalId]?.Properties;
  return properties?.Engine === database.engine && properties?.EngineVersion === database.engineVersion;
}

/** The snapshot's properties the restore depends on, from DescribeDBClusterSnapshots or DescribeDBSnapshots. */
interface FoundSnapshot {
  kind: SnapshotKind;
  arn: string;
  status: string;
  encrypted: boolean;
  masterUsername?: string;
  engine?: string;
  engineVersion?: string;
  /** GiB the database had (DB snapshots; Aurora's volume has no size to give). */
  allocatedStorage?: number;
}

const notFound = (error: unknown) => /^DB(Cluster)?SnapshotNotFound(Fault)?$/.test((error as { name?: string }).name ?? '');

/** Finds a snapshot of `kind` by identifier; an `rds:` identifier is an automated snapshot, which RDS lists only when asked for that type. */
export async function findSnapshot(rds: AwsClient, kind: SnapshotKind, id: string): Promise<FoundSnapshot | undefined> {
  const SnapshotType = id.startsWith('rds:') ? 'automated' : undefined;
  try {
    if (kind === 'cluster') {
      const found = (await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id, SnapshotType }))).DBClusterSnapshots?.[0];
      return found && { kind, arn: found.DBClusterSnapshotArn ?? id, status: found.Status ?? 'unknown', encrypted: Boolean(found.StorageEncrypted), masterUsername: found.MasterUsername, engine: found.Engine, engineVersion: found.EngineVersion };
    }
    const found = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id, SnapshotType }))).DBSnapshots?.[0];
    return found && { kind, arn: found.DBSnapshotArn ?? id, status: found.Status ?? 'unknown', encrypted: Boolean(found.Encrypted), masterUsername: found.MasterUsername, engine: found.Engine, engineVersion: found.EngineVersion, allocatedStorage: found.AllocatedStorage };
  } catch (error) {
    if (notFound(error)) return undefined;
    throw error;
  }
}

/** PostgreSQL versions (16.10, 17.6) compared part by part, as numbers. */
function compareEngineVersions(a: string, b: string): number {
  const [pa, pb] = [a, b].map((version) => version.split('.').map(Number));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * Refuses a restore RDS or the tasks would fail on, before any change set: a snapshot that is not
 * there or not available, a DB snapshot named to Aurora by identifier (Aurora takes one only by ARN),
 * an unencrypted one (the database would be unencrypted), another master user than the tasks', a
 * newer major version than the database's. A database already restored from it is not checked again.
 */
async function checkRestoreSnapshot(clients: Clients, stack: DeployStack, database: DatabaseEngine, restoreFrom: string): Promise<void> {
  const cfn = clients.cloudFormation(stack.region);
  if (isDeployed(await describeStack(cfn, stack.name)) && (await deployedSnapshot(cfn, stack.name, database.logicalId)) === restoreFrom) return;
  const refuse = (why: string) => MastodonCfnError.of('deploy.restoreFrom', `Refusing to deploy ${stack.name}: database.restoreFrom ${why}`);
  const reference = parseSnapshotReference(restoreFrom)!;
  const rds = clients.rds(stack.region);
  const aurora = database.engine === DATABASE_ENGINES.aurora.engine;
  const kinds: SnapshotKind[] = reference.kind ? [reference.kind] : aurora ? ['cluster', 'instance'] : ['instance'];
  let snapshot: FoundSnapshot | undefined;
  for (const kind of kinds) if (!snapshot) snapshot = await findSnapshot(rds, kind, reference.id);
  if (!snapshot) throw refuse(`names snapshot ${restoreFrom}, which RDS does not have in ${stack.region}: mastodon-cfn snapshots lists this instance's.`);
  if (aurora && snapshot.kind === 'instance' && !reference.arn) {
    throw refuse(`names the DB snapshot ${reference.id} by its identifier, and Aurora restores a DB snapshot only by its ARN: set database.restoreFrom: ${snapshot.arn}, build and deploy again.`);
  }
  if (snapshot.status !== 'available') throw refuse(`names snapshot ${restoreFrom}, which is ${snapshot.status}: deploy again once it is available (mastodon-cfn snapshots).`);
  if (!snapshot.encrypted) {
    const copy = snapshot.kind === 'cluster' ? 'copy-db-cluster-snapshot --source-db-cluster-snapshot-identifier' : 'copy-db-snapshot --source-db-snapshot-identifier';
    const target = snapshot.kind === 'cluster' ? '--target-db-cluster-snapshot-identifier' : '--target-db-snapshot-identifier';
    throw refuse(`names snapshot ${restoreFrom}, which is not encrypted, and mastodon-cfn's databases are: make an encrypted copy (aws rds ${copy} ${reference.id} ${target} ${reference.id.replace(/^rds:/, '')}-encrypted --kms-key-id alias/aws/rds --region ${stack.region}) and name it.`);
  }
  if (snapshot.masterUsername !== database.masterUsername) {
    throw refuse(`names snapshot ${restoreFrom}, whose master user is ${snapshot.masterUsername ?? 'unknown'}: Mastodon's tasks log in as ${database.masterUsername}, and a restored database keeps its snapshot's master user.`);
  }
  if (snapshot.engine && !(snapshot.engine === database.engine || (aurora && snapshot.engine === DATABASE_ENGINES.rds.engine))) {
    throw refuse(`names a snapshot of a ${snapshot.engine} database, which a ${database.engine} database cannot be restored from.`);
  }
  if (database.maxStorageGb !== undefined && snapshot.allocatedStorage !== undefined && snapshot.allocatedStorage >= database.maxStorageGb) {
    throw refuse(`names a snapshot of a database of ${snapshot.allocatedStorage} GiB, and size small's grows to ${database.maxStorageGb} GiB at most: restore it at size standard (Aurora, whose storage grows by itself), with restoreFrom: ${snapshot.arn}.`);
  }
  // RDS restores a snapshot into its own version or a later one, never an earlier: at size small, and from an RDS snapshot into Aurora (whose default minor may be behind RDS's).
  if (snapshot.engineVersion && compareEngineVersions(snapshot.engineVersion, database.engineVersion) > 0) {
    throw refuse(`names a snapshot of PostgreSQL ${snapshot.engineVersion}, newer than database.engineVersion ${database.engineVersion}: a database cannot be restored to an older version. Set database.engineVersion to ${snapshot.engineVersion} or later.`);
  }
}

/** The snapshot the deployed template created the database from (SnapshotIdentifier or DBSnapshotIdentifier), if any. */
export async function deployedSnapshot(cfn: AwsClient, name: string, logicalId: string): Promise<string | undefined> {
  const properties = (await deployedTemplate(cfn, name))?.Resources?.[logicalId]?.Properties;
  const snapshot = properties?.SnapshotIdentifier ?? properties?.DBSnapshotIdentifier;
  return typeof snapshot === 'string' ? snapshot : undefined;
}
