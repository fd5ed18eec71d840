import { CacheSubnetGroup, ReplicationGroup, Ref, Secret, Sub } from './cfn.js';
import { derived, keepData, mergeParts, type CompileStep } from './fragment.js';
import { Ids } from './naming.js';
import { REDIS_PORT, subnetIds } from './network.js';
import { generatedSecret, resolvedSecretKey, secretKey, secretsStackSecret } from './secrets.js';

const ENGINE_VERSIONS = { valkey: '8.0', redis: '7.1' } as const;

/**
 * How the tasks reach the cache, which speaks TLS only and requires an AUTH token: one
 * rediss://:token@host:port URL, a secret, as REDIS_URL for Rails and streaming alike. Both
 * ignore every other REDIS_* variable once REDIS_URL is set (IGNORED_NEXT_TO_REDIS_URL), so the
 * token has to be inside it; and Rails builds only redis:// URLs from REDIS_HOST and friends.
 */
export const cache = {
  url: secretKey(Ref(Ids.CacheConnection), 'url'),
  secretArns: [Ref(Ids.CacheConnection)],
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
            Description: `REDIS_URL of the ${names.prefix} cache for Mastodon's processes (with its AUTH token)`,
            SecretString: Sub(`{"url":"rediss://:${tokenReference}@\${${Ids.Cache}.PrimaryEndPoint.Address}:\${${Ids.Cache}.PrimaryEndPoint.Port}"}`),
          }),
        ),
      },
    },
  };
  return mergeParts(token, node);
};
