import { DbCluster, DbInstance, DbSubnetGroup, GetAtt, Ref } from './cfn.js';
import { keepData, type CompileStep } from './fragment.js';
import { Ids } from './naming.js';
import { POSTGRES_PORT, subnetIds } from './network.js';

export const DATABASE_NAME = 'mastodon';
export const DATABASE_USER = 'mastodon';

/** What the tasks need to reach the database. The password stays in the RDS-managed secret. */
export const database = {
  host: GetAtt(Ids.DatabaseCluster, 'Endpoint.Address'),
  port: GetAtt(Ids.DatabaseCluster, 'Endpoint.Port'),
  /** ARN of the secret RDS keeps the master credentials in (JSON keys username and password). */
  secretArn: GetAtt(Ids.DatabaseCluster, 'MasterUserSecret.SecretArn'),
};

export const compileDatabase: CompileStep = (config, names) => ({
  main: {
    Resources: {
      [Ids.DatabaseSubnetGroup]: new DbSubnetGroup({ DBSubnetGroupDescription: `${names.prefix} database subnets`, SubnetIds: subnetIds(config) }),
      [Ids.DatabaseCluster]: keepData(
        new DbCluster({
          Engine: 'aurora-postgresql',
          EngineVersion: config.database.engineVersion,
          DatabaseName: DATABASE_NAME,
          MasterUsername: DATABASE_USER,
          ManageMasterUserPassword: true,
          Port: POSTGRES_PORT,
          StorageEncrypted: true,
          DeletionProtection: true,
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
  },
});
