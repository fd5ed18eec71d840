import type { Config } from '../config/types.js';
import { SEARCH } from '../aws/search.js';
import { SEARCH_DEPLOY_COMMAND } from '../mastodon/facts.js';
import { OpenSearchDomain, Ref, Secret, SecurityGroup, Sub, type Value } from './cfn.js';
import { mergeParts, type CompileStep, type SearchIndex } from './fragment.js';
import { Ids, OutputIds } from './naming.js';
import { NO_EGRESS, subnetIds, tcp, vpcId } from './network.js';
import { resolvedSecretKey, secretKey, secretsStackSecret } from './secrets.js';

/** The user Mastodon signs in to the domain as (fine-grained access control's internal user database). */
export const SEARCH_USER = 'mastodon';
const HTTPS_PORT = 443;
export const searchSecretArn = Ref(Ids.secretArn(Ids.SearchCredentials));

/**
 * What Mastodon's Rails processes read to use the domain (config/initializers/chewy.rb in every
 * supported release: `host: "#{host}:#{port}"`, so ES_HOST carries the https scheme; ES_USER and
 * ES_PASS are basic auth); ES_PRESET says how many replicas an index keeps (0 on one node).
 */
export function searchEnvironment(config: Config): { environment: Record<string, Value<string>>; secrets: Record<string, Value<string>> } {
  if (!config.search) return { environment: {}, secrets: {} };
  return {
    environment: {
      ES_ENABLED: 'true',
      ES_HOST: Sub(`https://\${${Ids.SearchDomain}.DomainEndpoint}`),
      ES_PORT: String(HTTPS_PORT),
      ES_USER: SEARCH_USER,
      ES_PRESET: config.search.instanceCount === 1 ? 'single_node_cluster' : 'small_cluster',
    },
    secrets: { ES_PASS: secretKey(searchSecretArn, 'password') },
  };
}

/**
 * Full-text search: an Amazon OpenSearch Service domain in the VPC, reachable on HTTPS from the
 * Mastodon tasks only, encrypted at rest and between nodes, with fine-grained access control and
 * its master user's password in a kept secret. Its index is derived from the database (`tootctl
 * search deploy` rebuilds it): the domain is deleted with the stack, and the deployer builds the
 * index once for each domain.
 */
export const compileSearch: CompileStep = (config, names) => {
  const search = config.search;
  if (!search) return {};
  const credentials = secretsStackSecret(names, {
    id: Ids.SearchCredentials,
    description: 'the search domain master user',
    // Fine-grained access control wants an upper-case letter, a lower-case one, a digit and a symbol in the master password.
    secret: new Secret({
      Description: `Master user of the ${names.prefix} search domain; never rotated (tasks read it at start)`,
      GenerateSecretString: { SecretStringTemplate: JSON.stringify({ username: SEARCH_USER }), GenerateStringKey: 'password', PasswordLength: 32, RequireEachIncludedType: true, ExcludeCharacters: '"\'\\/@`{}:' },
    }),
    kept: 'search',
  });
  const zones = search.instanceCount > 1 ? 2 : 1;
  const subnets = subnetIds(config).slice(0, zones);
  const searchIndex: SearchIndex = {
    description: 'search index (tootctl search deploy)',
    command: [...SEARCH_DEPLOY_COMMAND],
    domainOutput: OutputIds.SearchDomainArn,
    credentialsSecret: names.secretName('search'),
    mastodonVersion: config.mastodon.version,
  };
  return mergeParts(credentials, {
    main: {
      Resources: {
        [Ids.SearchSecurityGroup]: new SecurityGroup({
          GroupDescription: `${names.prefix} search: HTTPS from the Mastodon tasks only`,
          VpcId: vpcId(config),
          SecurityGroupIngress: [{ ...tcp(HTTPS_PORT), SourceSecurityGroupId: Ref(Ids.TaskSecurityGroup), Description: 'HTTPS from the Mastodon tasks' }],
          SecurityGroupEgress: NO_EGRESS,
        }),
        [Ids.SearchDomain]: new OpenSearchDomain({
          EngineVersion: search.engineVersion,
          ClusterConfig: {
            InstanceType: search.instanceType,
            InstanceCount: search.instanceCount,
            ZoneAwarenessEnabled: zones > 1,
            ...(zones > 1 ? { ZoneAwarenessConfig: { AvailabilityZoneCount: zones } } : {}),
          },
          EBSOptions: { EBSEnabled: true, VolumeType: 'gp3', VolumeSize: search.volumeGb },
          EncryptionAtRestOptions: { Enabled: true },
          NodeToNodeEncryptionOptions: { Enabled: true },
          DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: SEARCH.tlsPolicy },
          AdvancedSecurityOptions: {
            Enabled: true,
            InternalUserDatabaseEnabled: true,
            MasterUserOptions: { MasterUserName: SEARCH_USER, MasterUserPassword: Sub(resolvedSecretKey(Ids.secretArn(Ids.SearchCredentials), 'password')) },
          },
          VPCOptions: { SubnetIds: subnets, SecurityGroupIds: [Ref(Ids.SearchSecurityGroup)] },
          // Who may send requests is fine-grained access control's to decide (the master user's password); the network is the tasks' only.
          AccessPolicies: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'es:ESHttp*', Resource: Sub('arn:${AWS::Partition}:es:${AWS::Region}:${AWS::AccountId}:domain/*/*') }],
          },
        }),
      },
      Outputs: {
        [OutputIds.SearchDomainArn]: { Description: 'The search domain: the deployer builds its index once', Value: Sub(`\${${Ids.SearchDomain}.Arn}`) },
      },
      searchIndex,
    },
  });
};
