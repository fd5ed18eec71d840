import { DATABASE_ENGINES, databaseEngine } from '../aws/engines.js';
import type { Config } from '../config/types.js';
import { DbCluster, DbInstance, DbSubnetGroup, GetAtt, Ref, Sub, type Value } from './cfn.js';
import { keepData, mergeParts, type CompileStep, type Fragment } from './fragment.js';
import { Ids, OutputIds } from './naming.js';
import { POSTGRES_PORT, subnetIds } from './network.js';
import { generatedSecret, resolvedSecretKey, secretKey, secretsStackSecret } from './secrets.js';

export const DATABASE_NAME = 'mastodon';
export const DATABASE_USER = 'mastodon';

/** The database's credentials, whatever the size: the secret's ARN (JSON keys username and password) and an ECS `ValueFrom` for the password. */
export const databaseSecretArn = Ref(Ids.DatabaseCredentialsArnParameter);
export const databasePassword = secretKey(databaseSecretArn, 'password');

/** The resource that serves the database: the Aurora cluster, or the RDS instance of size small. */
const databaseServer = (config: Config) => (config.size === 'small' ? Ids.PostgresInstance : Ids.DatabaseCluster);

/** The engine and version of the database the stack creates, for the deployer's check that AWS still creates it. */
/** gp3's minimum for RDS; storage autoscaling grows it up to the maximum before a full disk stops Mastodon (size small). */
const SMALL_STORAGE_GB = 20;
const SMALL_MAX_STORAGE_GB = 100;

export function databaseEngineOf(config: Config) {
  return {
    logicalId: databaseServer(config),
    engine: databaseEngine(config.size).engine,
    engineVersion: config.database.engineVersion,
    masterUsername: DATABASE_USER,
    ...(config.database.restoreFrom ? { restoreFrom: config.database.restoreFrom } : {}),
    ...(config.size === 'small' ? { maxStorageGb: SMALL_MAX_STORAGE_GB } : {}),
  };
}

/** What the tasks need to reach the database: host, port, and Mastodon's connection settings (DB_SSLMODE differs: see compute.ts). */
export function databaseEndpoint(config: Config) {
  const host = GetAtt(databaseServer(config), 'Endpoint.Address');
  const port = GetAtt(databaseServer(config), 'Endpoint.Port');
  return { host, port, environment: { DB_HOST: host, DB_PORT: port, DB_NAME: DATABASE_NAME, DB_USER: DATABASE_USER } };
}

/**
 * Where Rails sends its reads with database.readReplica: the Aurora cluster's reader endpoint, or the
 * RDS replica. REPLICA_DB_NAME is what turns the replica on (DatabaseHelper.replica_enabled? in
 * app/helpers/database_helper.rb); user and password fall back to DB_USER and DB_PASS (config/database.yml).
 * Rails runs no database task on a config marked `replica: true`, so migrations stay on the writer.
 */
export function replicaEnvironment(config: Config): Record<string, Value<string>> {
  if (!config.database.readReplica) return {};
  const [host, port] = config.size === 'small' ? [GetAtt(Ids.PostgresReplica, 'Endpoint.Address'), GetAtt(Ids.PostgresReplica, 'Endpoint.Port')] : [GetAtt(Ids.DatabaseCluster, 'ReadEndpoint.Address'), GetAtt(Ids.DatabaseCluster, 'Endpoint.Port')];
  return { REPLICA_DB_NAME: DATABASE_NAME, REPLICA_DB_HOST: host, REPLICA_DB_PORT: port };
}

/**
 * A database instance that holds no data of its own (a reader of the cluster, a read replica): deleted
 * and replaced like compute, never snapshotted (RDS takes no final snapshot of a replica), and not among
 * the stateful resources the deployer guards.
 */
function holdsNoData<T extends { DeletionPolicy?: string; UpdateReplacePolicy?: string }>(resource: T): T {
  resource.DeletionPolicy = 'Delete';
  resource.UpdateReplacePolicy = 'Delete';
  return resource;
}

/**
 * What a new database is created with and a restored one takes from its snapshot instead: the master user
 * and password, encryption and the database (AWS::RDS::DBCluster and AWS::RDS::DBInstance: with a snapshot,
 * "don't specify" MasterUsername, MasterUserPassword, and StorageEncrypted of an encrypted snapshot; DBName
 * then applies only to Oracle). The deployer checks before the restore that the snapshot has the same.
 */
function createdOrRestored(config: Config, snapshotProperty: 'SnapshotIdentifier' | 'DBSnapshotIdentifier', databaseProperty: 'DatabaseName' | 'DBName') {
  if (config.database.restoreFrom) return { [snapshotProperty]: config.database.restoreFrom };
  return {
    [databaseProperty]: DATABASE_NAME,
    MasterUsername: DATABASE_USER,
    MasterUserPassword: Sub(resolvedSecretKey(Ids.DatabaseCredentialsArnParameter, 'password')),
    StorageEncrypted: true,
  };
}

/** What both engines' databases share: backups, deletion protection, tags on snapshots. */
function commonSettings(config: Config) {
  return {
    // Off while the stack is first created (see DeletionProtection in fragment.ts).
    DeletionProtection: Ref(Ids.DatabaseDeletionProtectionParameter) as unknown as boolean,
    CopyTagsToSnapshot: true,
    BackupRetentionPeriod: config.database.backupRetentionDays,
  };
}

/** Aurora PostgreSQL Serverless v2 (sizes standard and large): the data lives in the cluster, the instance is compute only. */
function auroraDatabase(config: Config): Fragment {
  return {
    main: {
      Resources: {
        [Ids.DatabaseCluster]: keepData(
          new DbCluster({
            Engine: DATABASE_ENGINES.aurora.engine,
            EngineVersion: config.database.engineVersion,
            ...createdOrRestored(config, 'SnapshotIdentifier', 'DatabaseName'),
            Port: POSTGRES_PORT,
            ...commonSettings(config),
            DBSubnetGroupName: Ref(Ids.DatabaseSubnetGroup),
            VpcSecurityGroupIds: [Ref(Ids.DatabaseSecurityGroup)],
            ServerlessV2ScalingConfiguration: { MinCapacity: config.database.minCapacity!, MaxCapacity: config.database.maxCapacity! },
          }),
          'Snapshot',
        ),
        [Ids.DatabaseInstance]: new DbInstance({
          DBClusterIdentifier: Ref(Ids.DatabaseCluster),
          DBInstanceClass: 'db.serverless',
          Engine: DATABASE_ENGINES.aurora.engine,
          PubliclyAccessible: false,
        }),
        // Compute only, like the writer: the data is the cluster's. It scales in the same range and takes over if the writer fails.
        ...(config.database.readReplica
          ? {
              [Ids.DatabaseReaderInstance]: holdsNoData(
                new DbInstance({
                  DBClusterIdentifier: Ref(Ids.DatabaseCluster),
                  DBInstanceClass: 'db.serverless',
                  Engine: DATABASE_ENGINES.aurora.engine,
                  PubliclyAccessible: false,
                  PromotionTier: 1,
                }).dependsOn(Ids.DatabaseInstance),
              ),
            }
          : {}),
      },
      Outputs: { [OutputIds.DatabaseClusterId]: { Description: 'The database cluster', Value: Ref(Ids.DatabaseCluster) } },
      deletionProtection: { parameter: Ids.DatabaseDeletionProtectionParameter, clusterOutput: OutputIds.DatabaseClusterId },
    },
  };
}

/** RDS for PostgreSQL on the smallest Graviton instance, one availability zone (size small). */
const SMALL_INSTANCE_CLASS = 'db.t4g.micro';

function smallDatabase(config: Config): Fragment {
  return {
    main: {
      Resources: {
        [Ids.PostgresInstance]: keepData(
          new DbInstance({
            Engine: DATABASE_ENGINES.rds.engine,
            EngineVersion: config.database.engineVersion,
            DBInstanceClass: SMALL_INSTANCE_CLASS,
            ...createdOrRestored(config, 'DBSnapshotIdentifier', 'DBName'),
            // An RDS instance takes its port as a string (AWS::RDS::DBInstance Port).
            Port: String(POSTGRES_PORT),
            ...commonSettings(config),
            // A restore takes the snapshot's storage (RestoreDBInstanceFromDBSnapshot refuses less than it holds).
            ...(config.database.restoreFrom ? {} : { AllocatedStorage: String(SMALL_STORAGE_GB) }),
            MaxAllocatedStorage: SMALL_MAX_STORAGE_GB,
            StorageType: 'gp3',
            MultiAZ: false,
            PubliclyAccessible: false,
            DBSubnetGroupName: Ref(Ids.DatabaseSubnetGroup),
            VPCSecurityGroups: [Ref(Ids.DatabaseSecurityGroup)],
          }),
          'Snapshot',
        ),
        // A copy of the instance's data, kept in step by RDS: nothing to snapshot of its own.
        ...(config.database.readReplica
          ? {
              [Ids.PostgresReplica]: holdsNoData(
                new DbInstance({
                  SourceDBInstanceIdentifier: Ref(Ids.PostgresInstance),
                  DBInstanceClass: SMALL_INSTANCE_CLASS,
                  MaxAllocatedStorage: SMALL_MAX_STORAGE_GB,
                  StorageType: 'gp3',
                  PubliclyAccessible: false,
                  VPCSecurityGroups: [Ref(Ids.DatabaseSecurityGroup)],
                }),
              ),
            }
          : {}),
      },
      Outputs: { [OutputIds.DatabaseInstanceId]: { Description: 'The database instance', Value: Ref(Ids.PostgresInstance) } },
      deletionProtection: { parameter: Ids.DatabaseDeletionProtectionParameter, instanceOutput: OutputIds.DatabaseInstanceId },
    },
  };
}

/**
 * The database: Aurora PostgreSQL Serverless v2, or RDS for PostgreSQL at size small. The
 * master password is a secret of our own in the secrets stack, never rotated: an RDS-managed
 * password (ManageMasterUserPassword) rotates every 7 days, and ECS hands secrets to containers
 * only when a task starts, so every task would lose the database after the first rotation.
 */
export const compileDatabase: CompileStep = (config, names) => {
  const credentials = secretsStackSecret(names, {
    id: Ids.DatabaseCredentials,
    description: 'the database master credentials',
    // RDS refuses "/", "@", '"' and spaces in a master password: letters and digits only.
    secret: generatedSecret(`Master credentials of the ${names.prefix} database; never rotated (tasks read them at start)`, 'password', 32, { username: DATABASE_USER }),
    kept: 'database',
  });
  const shared: Fragment = {
    main: {
      Parameters: {
        [Ids.DatabaseDeletionProtectionParameter]: {
          Type: 'String',
          AllowedValues: ['true', 'false'],
          Default: 'true',
          Description: "Deletion protection of the database: mastodon-cfn deploy passes 'false' while the stack is first created (so a failed create can roll back) and turns it on once the create succeeded",
        },
      },
      Resources: { [Ids.DatabaseSubnetGroup]: new DbSubnetGroup({ DBSubnetGroupDescription: `${names.prefix} database subnets`, SubnetIds: subnetIds(config) }) },
    },
  };
  return mergeParts(credentials, shared, config.size === 'small' ? smallDatabase(config) : auroraDatabase(config));
};
