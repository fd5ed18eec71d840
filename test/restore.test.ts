import { CreateStackCommand, DeleteStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateDBClusterCommand, CreateDBClusterSnapshotCommand, CreateDBInstanceCommand, CreateDBSnapshotCommand, DescribeDBEngineVersionsCommand } from '@aws-sdk/client-rds';
import { expect } from 'chai';
import { sdkClients, type Clients } from '../src/deployer/aws.js';
import { deploy } from '../src/deployer/commands.js';
import { readPackage } from '../src/deployer/manifest.js';
import { preflight } from '../src/deployer/preflight.js';
import { recordingReporter } from '../src/deployer/terminal.js';
import { buildConfig, failure, minimalYaml, runCli } from './support/build.js';
import { FakeApi, fakeClients } from './support/fakes.js';
import { FakeCloudFormation } from './support/fakeCloudFormation.js';
import { useMoto } from './support/moto.js';
import { writePackage, type PackageStack } from './support/packages.js';
import { fakeRds, postgresCatalog } from './support/rds.js';

const REGION = 'eu-central-1';
const silent = recordingReporter();


describe('database.restoreFrom: the database created from a snapshot', () => {
  const databaseOf = (yaml: string) => {
    const resources = buildConfig({ yaml: minimalYaml(`provider: { region: ${REGION} }\n${yaml}`) }).resources();
    return Object.entries(resources).find(([, r]) => r.Type === 'AWS::RDS::DBCluster' || (r.Type === 'AWS::RDS::DBInstance' && !r.Properties.DBClusterIdentifier && !r.Properties.SourceDBInstanceIdentifier))!;
  };

  it('takes the master user, password, encryption and database from the snapshot, as CloudFormation asks, at every size', () => {
    const [clusterId, cluster] = databaseOf('database: { restoreFrom: social-prod-backup-20261203-101500 }\n');
    expect(clusterId).to.equal('DatabaseCluster');
    expect(cluster.Properties.SnapshotIdentifier).to.equal('social-prod-backup-20261203-101500');
    for (const key of ['MasterUsername', 'MasterUserPassword', 'DatabaseName', 'StorageEncrypted']) expect(cluster.Properties, key).to.not.have.property(key);
    expect(cluster.DeletionPolicy).to.equal('Snapshot');
    expect(cluster.UpdateReplacePolicy).to.equal('Snapshot');

    const arn = `arn:aws:rds:${REGION}:123456789012:snapshot:rds:social-prod-2026-12-01-03-10`;
    const [instanceId, instance] = databaseOf(`size: small\ndatabase: { restoreFrom: "${arn}" }\n`);
    expect(instanceId).to.equal('PostgresInstance');
    expect(instance.Properties.DBSnapshotIdentifier).to.equal(arn);
    // AllocatedStorage too: the restore takes the snapshot's, and RDS refuses less than it holds.
    for (const key of ['MasterUsername', 'MasterUserPassword', 'DBName', 'StorageEncrypted', 'AllocatedStorage']) expect(instance.Properties, key).to.not.have.property(key);

    // Without it, a new database of its own: user, generated password, encrypted.
    const [, created] = databaseOf('');
    expect(created.Properties).to.include({ MasterUsername: 'mastodon', DatabaseName: 'mastodon', StorageEncrypted: true });
    expect(created.Properties).to.not.have.property('SnapshotIdentifier');
  });
});

describe('restore, backup and snapshots against moto_server (real RDS snapshot APIs)', function () {
  useMoto();
  const rdsOf = () => sdkClients().rds(REGION);
  /** moto_server 5.2 does not answer DescribeDBEngineVersions: that one call goes to the stand-in of test/support/rds.ts. */
  const clients = (): Clients => {
    const real = sdkClients();
    const versions = fakeRds(postgresCatalog());
    return { ...real, rds: (region: string) => ({ send: (command: object) => (command instanceof DescribeDBEngineVersionsCommand ? versions.send(command) : real.rds(region).send(command)) }) };
  };
  const mainStack = (name: string, database: object, template: PackageStack['template'] = { Resources: { Notices: { Type: 'AWS::SNS::Topic' } } }): PackageStack => ({ name, region: REGION, dependsOn: [], role: 'main', database: { masterUsername: 'mastodon', ...database }, template }) as never;
  const aurora = (restoreFrom: string) => readPackage(writePackage([mainStack(`restore-${Math.random().toString(36).slice(2, 8)}`, { logicalId: 'DatabaseCluster', engine: 'aurora-postgresql', engineVersion: '16.10', restoreFrom })]));
  const cluster = async (id: string, options: { encrypted?: boolean; user?: string; version?: string } = {}) => {
    await rdsOf().send(new CreateDBClusterCommand({ DBClusterIdentifier: id, Engine: 'aurora-postgresql', EngineVersion: options.version ?? '16.10', MasterUsername: options.user ?? 'mastodon', MasterUserPassword: 'a'.repeat(32), StorageEncrypted: options.encrypted ?? true }));
    return (await rdsOf().send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: id, DBClusterSnapshotIdentifier: `${id}-snap` }))).DBClusterSnapshot;
  };

  it('lets a restore from an available, encrypted snapshot of a mastodon database through', async () => {
    const snapshot = await cluster('fine');
    await preflight(aurora(snapshot.DBClusterSnapshotIdentifier), clients(), silent);
    await preflight(aurora(snapshot.DBClusterSnapshotArn), clients(), silent);
  });

  it('refuses, before any change set, a snapshot the restore or the tasks would fail on, and says what to do', async () => {
    const refusal = async (restoreFrom: string) => (await failure(preflight(aurora(restoreFrom), clients(), silent))).message.replace(/^Refusing to deploy restore-\w+: /, '');
    expect(await refusal('nowhere-snap')).to.equal(`database.restoreFrom names snapshot nowhere-snap, which RDS does not have in ${REGION}: mastodon-cfn snapshots lists this instance's.`);
    await cluster('plain', { encrypted: false });
    expect(await refusal('plain-snap')).to.equal(
      `database.restoreFrom names snapshot plain-snap, which is not encrypted, and mastodon-cfn's databases are: make an encrypted copy (aws rds copy-db-cluster-snapshot --source-db-cluster-snapshot-identifier plain-snap --target-db-cluster-snapshot-identifier plain-snap-encrypted --kms-key-id alias/aws/rds --region ${REGION}) and name it.`,
    );
    await cluster('other', { user: 'postgres' });
    expect(await refusal('other-snap')).to.equal("database.restoreFrom names snapshot other-snap, whose master user is postgres: Mastodon's tasks log in as mastodon, and a restored database keeps its snapshot's master user.");
    await cluster('newer', { version: '17.6' });
    expect(await refusal('newer-snap')).to.equal('database.restoreFrom names a snapshot of PostgreSQL 17.6, newer than database.engineVersion 16.10: a database cannot be restored to an older version. Set database.engineVersion to 17.6 or later.');

    // Size small's RDS snapshot moves to Aurora, but Aurora takes a DB snapshot only by its ARN.
    await rdsOf().send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'small-db', Engine: 'postgres', EngineVersion: '16.11', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20, MasterUsername: 'mastodon', MasterUserPassword: 'a'.repeat(32), StorageEncrypted: true }));
    const small = (await rdsOf().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'small-db', DBSnapshotIdentifier: 'small-db-snap' }))).DBSnapshot;
    expect(await refusal('small-db-snap')).to.equal(`database.restoreFrom names the DB snapshot small-db-snap by its identifier, and Aurora restores a DB snapshot only by its ARN: set database.restoreFrom: ${small.DBSnapshotArn}, build and deploy again.`);
    // Nor into an earlier minor version than the snapshot's, as Aurora's default is behind RDS's.
    expect(await refusal(small.DBSnapshotArn)).to.equal('database.restoreFrom names a snapshot of PostgreSQL 16.11, newer than database.engineVersion 16.10: a database cannot be restored to an older version. Set database.engineVersion to 16.11 or later.');
    await rdsOf().send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'small-db-older', Engine: 'postgres', EngineVersion: '16.10', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20, MasterUsername: 'mastodon', MasterUserPassword: 'a'.repeat(32), StorageEncrypted: true }));
    const older = (await rdsOf().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'small-db-older', DBSnapshotIdentifier: 'small-db-older-snap' }))).DBSnapshot;
    await preflight(aurora(older.DBSnapshotArn), clients(), silent);

    // Size small's storage grows to 100 GiB: a database that had that much or more fits only Aurora.
    await rdsOf().send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'grown-db', Engine: 'postgres', EngineVersion: '16.11', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 150, MasterUsername: 'mastodon', MasterUserPassword: 'a'.repeat(32), StorageEncrypted: true }));
    const grown = (await rdsOf().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: 'grown-db', DBSnapshotIdentifier: 'grown-db-snap' }))).DBSnapshot;
    const smallSize = (restoreFrom: string) => readPackage(writePackage([mainStack(`restore-${Math.random().toString(36).slice(2, 8)}`, { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.11', restoreFrom, maxStorageGb: 100 })]));
    expect((await failure(preflight(smallSize('grown-db-snap'), clients(), silent))).message).to.match(
      new RegExp(`: database.restoreFrom names a snapshot of a database of 150 GiB, and size small's grows to 100 GiB at most: restore it at size standard \\(Aurora, whose storage grows by itself\\), with restoreFrom: ${grown.DBSnapshotArn}\\.$`),
    );
    await preflight(smallSize('small-db-snap'), clients(), silent);
  });

  it('backup snapshots the deployed database and prints its id; snapshots lists it with the automated one, newest first, with dates', async () => {
    const stack = 'backed-up';
    const template: PackageStack['template'] = {
      Resources: {
        PostgresInstance: {
          Type: 'AWS::RDS::DBInstance',
          DeletionPolicy: 'Snapshot',
          UpdateReplacePolicy: 'Snapshot',
          Properties: { Engine: 'postgres', EngineVersion: '16.11', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: '20', MasterUsername: 'mastodon', ManageMasterUserPassword: true, StorageEncrypted: true, BackupRetentionPeriod: 7 },
        },
      },
    };
    const tags = { 'mastodon-cfn:service': 'backed', 'mastodon-cfn:stage': 'up' };
    const pkg = writePackage([{ ...mainStack(stack, { logicalId: 'PostgresInstance', engine: 'postgres', engineVersion: '16.11' }, template), tags }]);
    const notDeployed = runCli(['backup', '--package', pkg]);
    expect(notDeployed.status).to.equal(1);
    expect(notDeployed.stderr.trim()).to.equal(`${stack} (${REGION}) has no database deployed: deploy it first (mastodon-cfn deploy).`);
    // Nothing deployed is no all-clear for drift either.
    expect(runCli(['drift', '--package', pkg]).status).to.equal(1);
    // Another stage's database, its name starting with this one's: none of its snapshots are this instance's.
    await rdsOf().send(new CreateDBInstanceCommand({ DBInstanceIdentifier: `${stack}-eu-db`, Engine: 'postgres', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20, MasterUsername: 'mastodon', MasterUserPassword: 'a'.repeat(32), StorageEncrypted: true }));
    await rdsOf().send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: `${stack}-eu-db`, DBSnapshotIdentifier: `${stack}-eu-backup-20261201-000000`, Tags: [{ Key: 'mastodon-cfn:service', Value: 'backed' }, { Key: 'mastodon-cfn:stage', Value: 'up-eu' }] }));

    await sdkClients().cloudFormation(REGION).send(new CreateStackCommand({ StackName: stack, TemplateBody: JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', ...template }) }));
    const taken = runCli(['backup', '--package', pkg]);
    expect(taken.status, taken.stderr).to.equal(0);
    const id = new RegExp(`^${stack}: taking snapshot (${stack}-backup-\\d{8}-\\d{6}) of database instance ${stack}-postgresinstance-\\w+$`, 'im').exec(taken.stdout)?.[1];
    expect(id, taken.stdout).to.be.a('string');
    expect(taken.stdout).to.include(`${id} is available. Restore it into a new database with database.restoreFrom: arn:aws:rds:${REGION}:123456789012:snapshot:${id}`);

    const listed = runCli(['snapshots', '--package', pkg, '--json']);
    expect(listed.status, listed.stderr).to.equal(0);
    const snapshots = JSON.parse(listed.stdout) as { id: string; type: string; status: string; created: string }[];
    expect(snapshots.map((s) => s.type).sort()).to.deep.equal(['automated', 'manual']);
    expect(snapshots.find((s) => s.type === 'manual')).to.include({ id, status: 'available' });
    expect(snapshots.every((s) => !Number.isNaN(Date.parse(s.created)))).to.equal(true);
    expect([...snapshots].sort((a, b) => b.created.localeCompare(a.created))).to.deep.equal(snapshots);

    expect(snapshots.map((s) => s.id)).to.not.include(`${stack}-eu-backup-20261201-000000`);

    const text = runCli(['snapshots', '--package', pkg]);
    expect(text.stdout.split('\n')[0]).to.match(new RegExp(`^${stack} \\(${REGION}\\): database instance ${stack}-postgresinstance-\\w+`, 'i'));
    expect(text.stdout).to.match(new RegExp(`\\n  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  manual +available  ${id}`));

    // The stack removed, its backup outlives it and is still listed, by the instance's tags.
    await sdkClients().cloudFormation(REGION).send(new DeleteStackCommand({ StackName: stack }));
    const afterRemove = runCli(['snapshots', '--package', pkg]);
    expect(afterRemove.status, afterRemove.stderr).to.equal(0);
    expect(afterRemove.stdout.split('\n')[0]).to.equal(`${stack} (${REGION}): no database deployed; the instance snapshots tagged as this instance's`);
    expect(afterRemove.stdout).to.include(id);
  });
});

describe('the data-loss guard names database.restoreFrom as the cause', () => {
  const pkg = (restoreFrom?: string) =>
    readPackage(
      writePackage([
        {
          name: 'restored',
          region: REGION,
          dependsOn: [],
          size: 'standard',
          statefulResources: [{ logicalId: 'DatabaseCluster', type: 'AWS::RDS::DBCluster' }],
          database: { logicalId: 'DatabaseCluster', engine: 'aurora-postgresql', engineVersion: '16.10', masterUsername: 'mastodon', ...(restoreFrom ? { restoreFrom } : {}) },
          template: { Resources: { Notices: { Type: 'AWS::SNS::Topic' } } },
        } as never,
      ]),
    );
  const rds = (deletionProtected: Record<string, boolean>) =>
    new FakeApi({
      DescribeDBEngineVersions: () => ({ DBEngineVersions: [{ Engine: 'aurora-postgresql', EngineVersion: '16.10', Status: 'available' }] }),
      DescribeDBClusterSnapshots: (input: { DBClusterSnapshotIdentifier: string }) => ({ DBClusterSnapshots: [{ DBClusterSnapshotIdentifier: input.DBClusterSnapshotIdentifier, DBClusterSnapshotArn: `arn:aws:rds:${REGION}:123456789012:cluster-snapshot:${input.DBClusterSnapshotIdentifier}`, Status: 'available', StorageEncrypted: true, MasterUsername: 'mastodon', Engine: 'aurora-postgresql', EngineVersion: '16.10' }] }),
      DescribeDBClusters: (input: { DBClusterIdentifier: string }) => {
        if (!(input.DBClusterIdentifier in deletionProtected)) throw Object.assign(new Error(`DBCluster ${input.DBClusterIdentifier} not found.`), { name: 'DBClusterNotFoundFault' });
        return { DBClusters: [{ DBClusterIdentifier: input.DBClusterIdentifier, DeletionProtection: deletionProtected[input.DBClusterIdentifier] }] };
      },
    });
  const replaced: FakeCloudFormation['changes'] = [{ Action: 'Modify', LogicalResourceId: 'DatabaseCluster', ResourceType: 'AWS::RDS::DBCluster', Replacement: 'True', PolicyAction: 'ReplaceAndSnapshot' }];
  const deployer = (cfn: FakeCloudFormation, reporter: ReturnType<typeof recordingReporter>, deletionProtected: Record<string, boolean> = {}) => ({
    clients: fakeClients({ cloudFormation: () => cfn, rds: () => rds(deletionProtected), sts: () => new FakeApi({ GetCallerIdentity: () => ({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ops' }) }) }),
    reporter,
    confirm: async () => true,
    polling: { initialMs: 1, maxMs: 1 },
  });

  it('refuses to replace a running database with a restored one unless --allow-data-loss, then names the previous one kept by its deletion protection', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('restored', { status: 'UPDATE_COMPLETE', outputs: { DatabaseClusterId: 'restored-old' }, template: JSON.stringify({ Resources: { DatabaseCluster: { Type: 'AWS::RDS::DBCluster', Properties: { Engine: 'aurora-postgresql', EngineVersion: '16.10' } } } }) });
    cfn.changes = replaced;
    const reporter = recordingReporter();
    const error = await failure(deploy(pkg('yesterday'), deployer(cfn, reporter), { allowDataLoss: false, forceVersion: false }));
    expect(error.message.split('\n')).to.deep.equal([
      'Refusing to deploy restored: the change set would destroy or replace stateful resources:',
      '  DatabaseCluster (AWS::RDS::DBCluster): would replace it; policy action ReplaceAndSnapshot',
      'database.restoreFrom replaces the database with one restored from snapshot yesterday: what was written since that snapshot was taken is lost. The database now running is kept (deletion protection stops CloudFormation deleting it); the deploy says how to delete it once the restored one is checked.',
      'Nothing was changed. If that is really what you want, deploy again with --allow-data-loss.',
    ]);
    expect(cfn.called('ExecuteChangeSet')).to.deep.equal([]);

    cfn.execution = { events: [], finalStatus: 'UPDATE_COMPLETE', outputs: { DatabaseClusterId: 'restored-new' } };
    await deploy(pkg('yesterday'), deployer(cfn, reporter, { 'restored-old': true, 'restored-new': true }), { allowDataLoss: true, forceVersion: false });
    expect(cfn.called('ExecuteChangeSet')).to.have.length(1);
    expect(reporter.lines).to.include(
      `restored: the previous database cluster restored-old is still there, with its data, kept by its deletion protection (and still billed). Once the new database is checked, delete it: aws rds modify-db-cluster --db-cluster-identifier restored-old --region ${REGION} --no-deletion-protection --apply-immediately, then aws rds delete-db-cluster --db-cluster-identifier restored-old --region ${REGION} --final-db-snapshot-identifier restored-old-final`,
    );
  });

  it('refuses a build that drops restoreFrom from a restored database: CloudFormation would replace it with an empty one', async () => {
    const cfn = new FakeCloudFormation();
    cfn.stacks.set('restored', { status: 'UPDATE_COMPLETE', template: JSON.stringify({ Resources: { DatabaseCluster: { Type: 'AWS::RDS::DBCluster', Properties: { SnapshotIdentifier: 'yesterday' } } } }) });
    cfn.changes = replaced;
    const error = await failure(deploy(pkg(), deployer(cfn, recordingReporter()), { allowDataLoss: false, forceVersion: false }));
    expect(error.message).to.include('The database was restored from snapshot yesterday: keep database.restoreFrom: yesterday in the config for as long as that database lives. Without it CloudFormation replaces it with an empty database.');
  });
});
