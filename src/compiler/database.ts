import { DbCluster, DbInstance, DbSubnetGroup, GetAtt, Ref, Sub } from './cfn.js';
import { keepData, mergeParts, type CompileStep, type Fragment } from './fragment.js';
import { Ids, OutputIds } from './naming.js';
import { POSTGRES_PORT, subnetIds } from './network.js';
import { generatedSecret, resolvedSecretKey, secretKey, secretsStackSecret } from './secrets.js';

export const DATABASE_NAME = 'mastodon';
export const DATABASE_USER = 'mastodon';

const host = GetAtt(Ids.DatabaseCluster, 'Endpoint.Address');
const port = GetAtt(Ids.DatabaseCluster, 'Endpoint.Port');

/** What the tasks need to reach the database. */
export const database = {
  host,
  port,
  /** ARN of the secret with the master credentials (JSON keys username and password). */
  secretArn: Ref(Ids.DatabaseCredentialsArnParameter),
  /** An ECS `ValueFrom` for the password. */
  password: secretKey(Ref(Ids.DatabaseCredentialsArnParameter), 'password'),
  /** Mastodon's connection settings, for Rails and streaming alike (DB_SSLMODE differs: see compute.ts). */
  environment: {
    DB_HOST: host,
    DB_PORT: port,
    DB_NAME: DATABASE_NAME,
    DB_USER: DATABASE_USER,
  },
};

/**
 * Aurora PostgreSQL Serverless v2. The master password is a secret of our own in the secrets
 * stack, never rotated: an RDS-managed password (ManageMasterUserPassword) rotates every 7 days,
 * and ECS hands secrets to containers only when a task starts, so every task would lose the
 * database after the first rotation.
 */
export const compileDatabase: CompileStep = (config, names) => {
  const credentials = secretsStackSecret(names, {
    id: Ids.DatabaseCredentials,
    description: 'the database master credentials',
    // RDS refuses "/", "@", '"' and spaces in a master password: letters and digits only.
    secret: generatedSecret(`Master credentials of the ${names.prefix} database; never rotated (tasks read them at start)`, 'password', 32, { username: DATABASE_USER }),
    kept: 'database',
  });
  const cluster: Fragment = {
    main: {
      Parameters: {
        [Ids.DatabaseDeletionProtectionParameter]: {
          Type: 'String',
          AllowedValues: ['true', 'false'],
          Default: 'true',
          Description: "Deletion protection of the database cluster: mastodon-cfn deploy passes 'false' while the stack is first created (so a failed create can roll back) and turns it on once the create succeeded",
        },
      },
      Resources: {
        [Ids.DatabaseSubnetGroup]: new DbSubnetGroup({ DBSubnetGroupDescription: `${names.prefix} database subnets`, SubnetIds: subnetIds(config) }),
        [Ids.DatabaseCluster]: keepData(
          new DbCluster({
            Engine: 'aurora-postgresql',
            EngineVersion: config.database.engineVersion,
            DatabaseName: DATABASE_NAME,
            MasterUsername: DATABASE_USER,
            MasterUserPassword: Sub(resolvedSecretKey(Ids.DatabaseCredentialsArnParameter, 'password')),
            Port: POSTGRES_PORT,
            StorageEncrypted: true,
            DeletionProtection: Ref(Ids.DatabaseDeletionProtectionParameter) as unknown as boolean,
            CopyTagsToSnapshot: true,
            BackupRetentionPeriod: config.database.backupRetentionDays,
            DBSubnetGroupName: Ref(Ids.DatabaseSubnetGroup),
            VpcSecurityGroupIds: [Ref(Ids.DatabaseSecurityGroup)],
            ServerlessV2ScalingConfiguration: { MinCapacity: config.database.minCapacity, MaxCapacity: config.database.maxCapacity },
          }),
          'Snapshot',
        ),
        // The data lives in the cluster; an Aurora instance is compute only, so it is not snapshotted itself.
        [Ids.DatabaseInstance]: new DbInstance({
          DBClusterIdentifier: Ref(Ids.DatabaseCluster),
          DBInstanceClass: 'db.serverless',
          Engine: 'aurora-postgresql',
          PubliclyAccessible: false,
        }),
      },
      Outputs: { [OutputIds.DatabaseClusterId]: { Description: 'The database cluster', Value: Ref(Ids.DatabaseCluster) } },
      deletionProtection: { parameter: Ids.DatabaseDeletionProtectionParameter, clusterOutput: OutputIds.DatabaseClusterId },
    },
  };
  return mergeParts(credentials, cluster);
};
