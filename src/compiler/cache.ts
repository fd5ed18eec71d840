import { CacheSubnetGroup, GetAtt, Join, ReplicationGroup, Ref, Secret, Sub } from './cfn.js';
import { derived, keepData, mergeParts, type CompileStep } from './fragment.js';
import { Ids } from './naming.js';
import { REDIS_PORT, subnetIds } from './network.js';
import { generatedSecret, resolvedSecretKey, secretKey, secretsStackSecret } from './secrets.js';

const ENGINE_VERSIONS = { valkey: '8.0', redis: '7.1' } as const;

/**
 * How the tasks reach the cache, which speaks TLS only and requires an AUTH token.
 * Rails ignores REDIS_PASSWORD whenever REDIS_URL is set and builds only redis:// URLs itself
 * (lib/mastodon/redis_configuration.rb), so it gets the whole rediss://:token@host:port URL
 * as a secret. Streaming's ioredis takes the token from REDIS_PASSWORD next to a rediss:// URL
 * (streaming/redis.js).
 */
export const cache = {
  host: GetAtt(Ids.Cache, 'PrimaryEndPoint.Address'),
  port: GetAtt(Ids.Cache, 'PrimaryEndPoint.Port'),
  url: Join('', ['rediss://', GetAtt(Ids.Cache, 'PrimaryEndPoint.Address'), ':', GetAtt(Ids.Cache, 'PrimaryEndPoint.Port')]),
  railsUrl: secretKey(Ref(Ids.CacheConnection), 'url'),
  password: secretKey(Ref(Ids.CacheAuthTokenArnParameter), 'token'),
  secretArns: [Ref(Ids.CacheConnection), Ref(Ids.CacheAuthTokenArnParameter)],
};

export const compileCache: CompileStep = (config, names) => {
  const token = secretsStackSecret(names, {
    id: Ids.CacheAuthToken,
    description: 'the cache AUTH token',
    // ElastiCache takes 16 to 128 printable characters for a token, some punctuation excepted: letters and digits only.
    secret: generatedSecret(`AUTH token of the ${names.prefix} cache`, 'token', 64),
  });
  const tokenReference = resolvedSecretKey(Ids.CacheAuthTokenArnParameter, 'token');
  const node = {
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
            AuthToken: Sub(tokenReference),
            SnapshotRetentionLimit: config.cache.snapshotRetentionDays,
            CacheSubnetGroupName: Ref(Ids.CacheSubnetGroup),
            SecurityGroupIds: [Ref(Ids.CacheSecurityGroup)],
          }),
          'Snapshot',
        ),
        // Made again from the token and the endpoint on every change of either.
        [Ids.CacheConnection]: derived(
          new Secret({
            Description: `REDIS_URL of the ${names.prefix} cache for Mastodon's Rails processes (with its AUTH token)`,
            SecretString: Sub(`{"url":"rediss://:${tokenReference}@\${${Ids.Cache}.PrimaryEndPoint.Address}:\${${Ids.Cache}.PrimaryEndPoint.Port}"}`),
          }),
        ),
      },
    },
  };
  return mergeParts(token, node);
};
