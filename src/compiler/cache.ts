import { CacheSubnetGroup, GetAtt, Join, ReplicationGroup, Ref } from './cfn.js';
import { keepData, type CompileStep } from './fragment.js';
import { Ids } from './naming.js';
import { REDIS_PORT, subnetIds } from './network.js';

const ENGINE_VERSIONS = { valkey: '8.0', redis: '7.1' } as const;

export const cache = {
  host: GetAtt(Ids.Cache, 'PrimaryEndPoint.Address'),
  port: GetAtt(Ids.Cache, 'PrimaryEndPoint.Port'),
  /** The cache speaks TLS only; Mastodon (Rails and streaming) prefers REDIS_URL over REDIS_HOST/PORT, and rediss:// turns TLS on. */
  url: Join('', ['rediss://', GetAtt(Ids.Cache, 'PrimaryEndPoint.Address'), ':', GetAtt(Ids.Cache, 'PrimaryEndPoint.Port')]),
};

export const compileCache: CompileStep = (config, names) => ({
  main: {
    Resources: {
      [Ids.CacheSubnetGroup]: new CacheSubnetGroup({ Description: `${names.prefix} cache subnets`, SubnetIds: subnetIds(config) }),
      [Ids.Cache]: keepData(
        new ReplicationGroup({
          ReplicationGroupDescription: `${names.prefix} Mastodon queues and cache`,
          Engine: config.cache.engine,
          EngineVersion: ENGINE_VERSIONS[config.cache.engine],
          CacheNodeType: config.cache.nodeType,
          NumCacheClusters: 1,
          AutomaticFailoverEnabled: false,
          Port: REDIS_PORT,
          AtRestEncryptionEnabled: true,
          TransitEncryptionEnabled: true,
          SnapshotRetentionLimit: config.cache.snapshotRetentionDays,
          CacheSubnetGroupName: Ref(Ids.CacheSubnetGroup),
          SecurityGroupIds: [Ref(Ids.CacheSecurityGroup)],
        }),
        'Snapshot',
      ),
    },
  },
});
