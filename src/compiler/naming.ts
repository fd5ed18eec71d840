/**
 * Every logical id, stack name and physical name the compiler makes comes from here.
 * Renaming a logical id makes CloudFormation replace the resource (and a replaced database
 * is a restored snapshot at best), so these strings are part of the product's contract and
 * test/naming.test.ts pins them.
 */
export type StackRole = 'certificates' | 'secrets' | 'main';
/** Secrets whose values must outlive the stacks (kept on delete, reused by a re-created stack); `<service>-token`: a service's Mastodon token. */
export type KeptSecret = 'mastodon' | 'database' | 'owner' | 'search' | `${string}-token`;

/** Deploy order: the certificate and secrets stacks feed the main stack. */
export const STACK_ROLES: readonly StackRole[] = ['certificates', 'secrets', 'main'];

export interface Names {
  service: string;
  stage: string;
  /** `<service>-<stage>`: the main stack's name and the prefix of every other name. */
  prefix: string;
  stackName(role: StackRole): string;
  templateFile(role: StackRole): string;
  /** Tags every stack carries (CloudFormation propagates them to the resources). */
  tags: Record<string, string>;
  logGroup(component: string): string;
  /** Fixed secret names: a retained secret keeps its name, so a re-created stack cannot silently start over with new keys. */
  secretName(purpose: KeptSecret): string;
  /** The name of the media distribution's origin access control and response headers policy. */
  mediaPolicyName: string;
  /** The ECR repository a service's image is pushed to (ECR takes lower-case names only). */
  repositoryName(service: string): string;
  /** An alert alarm: `mastodon-cfn/<prefix>/<what>`, the subject of its e-mails; `alarmPrefix` finds them all. */
  alarmName(what: string): string;
  alarmPrefix: string;
  /** Where `import` and `export` put a dump in the artifacts bucket: `<prefix>/transfer/`, all the transfer task may touch. */
  transferPrefix: string;
  /** The topic alerts are mailed from (SNS names take no slashes). */
  alertsTopicName: string;
}

export function makeNames(service: string, stage: string, userTags: Record<string, string> = {}): Names {
  const prefix = `${service}-${stage}`;
  const stackName = (role: StackRole) => (role === 'main' ? prefix : `${prefix}-${role}`);
  return {
    service,
    stage,
    prefix,
    stackName,
    templateFile: (role) => `${stackName(role)}.template.json`,
    tags: { ...userTags, 'mastodon-cfn:service': service, 'mastodon-cfn:stage': stage },
    logGroup: (component) => `/mastodon-cfn/${prefix}/${component}`,
    secretName: (purpose) => `mastodon-cfn/${prefix}/${purpose}`,
    mediaPolicyName: `${prefix}-media`,
    repositoryName: (name) => `mastodon-cfn/${prefix}/${name}`.toLowerCase(),
    alarmName: (what) => `mastodon-cfn/${prefix}/${what}`,
    alarmPrefix: `mastodon-cfn/${prefix}/`,
    alertsTopicName: `mastodon-cfn-${prefix}-alerts`,
    transferPrefix: `${prefix}/transfer/`,
  };
}

/**
 * The deployer's bucket of a region (large templates, dumps on their way in and out): the account in
 * its name makes it this account's own, and the deployer checks that it is (ExpectedBucketOwner).
 */
export function artifactsBucket(account: string, region: string): string {
  return `mastodon-cfn-artifacts-${account}-${region}`;
}

/** `post-blog` → `PostBlog`: the form a service name takes inside logical ids. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

export type MastodonTaskPart = 'TaskDefinition' | 'Service' | 'ScalableTarget' | 'ScalingPolicy' | 'ScaleOutPolicy' | 'ScaleInPolicy' | 'LatencyHighAlarm' | 'LatencyLowAlarm';

/** Logical ids of the resources the compiler generates, by component. */
export const Ids = {
  // network
  Vpc: 'Vpc',
  InternetGateway: 'InternetGateway',
  VpcGatewayAttachment: 'VpcGatewayAttachment',
  PublicRouteTable: 'PublicRouteTable',
  PublicRoute: 'PublicRoute',
  publicSubnet: (index: number) => `PublicSubnet${index + 1}`,
  publicSubnetRouteTableAssociation: (index: number) => `PublicSubnet${index + 1}RouteTableAssociation`,
  LoadBalancerSecurityGroup: 'LoadBalancerSecurityGroup',
  TaskSecurityGroup: 'TaskSecurityGroup',
  DatabaseSecurityGroup: 'DatabaseSecurityGroup',
  CacheSecurityGroup: 'CacheSecurityGroup',
  loadBalancerToTasksEgress: (port: number) => `LoadBalancerEgressToTasksPort${port}`,
  loadBalancerToServiceEgress: (name: string) => `LoadBalancerEgressToService${pascal(name)}`,
  // database
  DatabaseSubnetGroup: 'DatabaseSubnetGroup',
  DatabaseCluster: 'DatabaseCluster',
  DatabaseInstance: 'DatabaseInstance',
  /** database.readReplica: Aurora's second instance, or size small's RDS read replica. */
  DatabaseReaderInstance: 'DatabaseReaderInstance',
  PostgresReplica: 'PostgresReplica',
  /** Size small's RDS for PostgreSQL instance: a name of its own, so switching to or from small is a replacement the data-loss guard sees. */
  PostgresInstance: 'PostgresInstance',
  DatabaseCredentials: 'DatabaseCredentials',
  DatabaseCredentialsArnParameter: 'DatabaseCredentialsArn',
  DatabaseDeletionProtectionParameter: 'DatabaseDeletionProtection',
  // cache
  CacheSubnetGroup: 'CacheSubnetGroup',
  Cache: 'Cache',
  CacheAuthToken: 'CacheAuthToken',
  CacheAuthTokenArnParameter: 'CacheAuthTokenArn',
  /** The Rails REDIS_URL with the AUTH token in it, composed in the main stack. */
  CacheConnection: 'CacheConnection',
  // search
  SearchDomain: 'SearchDomain',
  SearchSecurityGroup: 'SearchSecurityGroup',
  SearchCredentials: 'SearchCredentials',
  // load balancer
  LoadBalancer: 'LoadBalancer',
  HttpListener: 'HttpListener',
  HttpsListener: 'HttpsListener',
  WebTargetGroup: 'WebTargetGroup',
  StreamingTargetGroup: 'StreamingTargetGroup',
  StreamingListenerRule: 'StreamingListenerRule',
  // compute
  Cluster: 'Cluster',
  ClusterCapacityProviders: 'ClusterCapacityProviders',
  MastodonLogGroup: 'MastodonLogGroup',
  MastodonExecutionRole: 'MastodonExecutionRole',
  MastodonTaskRole: 'MastodonTaskRole',
  /**
   * A Mastodon task of the size (mastodon/layout.ts): `MastodonService` for size small's one task,
   * `WebService`, `StreamingService`, `SidekiqMainService` (group main) and so on for the others.
   */
  mastodonTask: (task: string, part: MastodonTaskPart) => `${pascal(task)}${part}`,
  PostDeploymentMigrationTaskDefinition: 'PostDeploymentMigrationTaskDefinition',
  OwnerAccountTaskDefinition: 'OwnerAccountTaskDefinition',
  ImportTaskDefinition: 'ImportTaskDefinition',
  ExportTaskDefinition: 'ExportTaskDefinition',
  TransferTaskRole: 'TransferTaskRole',
  // media
  MediaBucket: 'MediaBucket',
  MediaBucketPolicy: 'MediaBucketPolicy',
  MediaOriginAccessControl: 'MediaOriginAccessControl',
  MediaDistribution: 'MediaDistribution',
  MediaResponseHeadersPolicy: 'MediaResponseHeadersPolicy',
  // certificates
  InstanceCertificate: 'InstanceCertificate',
  MediaCertificate: 'MediaCertificate',
  MediaCertificateArnParameter: 'MediaCertificateArn',
  // mail
  MailIdentity: 'MailIdentity',
  SmtpUser: 'SmtpUser',
  SmtpAccessKey: 'SmtpAccessKey',
  SmtpCredentials: 'SmtpCredentials',
  SmtpCredentialsArnParameter: 'SmtpCredentialsArn',
  // dns
  HostedZoneIdParameter: 'HostedZoneId',
  InstanceAliasRecord: 'InstanceAliasRecord',
  MediaAliasRecord: 'MediaAliasRecord',
  MediaAliasRecordIpv6: 'MediaAliasRecordIpv6',
  mailDkimRecord: (index: number) => `MailDkimRecord${index}`,
  MailFromMxRecord: 'MailFromMxRecord',
  MailFromSpfRecord: 'MailFromSpfRecord',
  DmarcRecord: 'DmarcRecord',
  // secrets
  MastodonSecrets: 'MastodonSecrets',
  MastodonSecretsArnParameter: 'MastodonSecretsArn',
  OwnerPassword: 'OwnerPassword',
  OwnerPasswordArnParameter: 'OwnerPasswordArn',
  /** A secret of the secrets stack reaches the main stack as an output and a parameter of this name. */
  secretArn: (secretId: string) => `${secretId}Arn`,
  /** Parameter and condition of the secrets stack for a kept secret that already exists (left by `remove`). */
  existingSecretParameter: (secretId: string) => `Existing${secretId}Arn`,
  createSecretCondition: (secretId: string) => `Create${secretId}`,
  // alerts
  AlertsTopic: 'AlertsTopic',
  /** One per address, named by a hash of it: removing one address leaves the others' confirmed subscriptions alone. */
  alertsEmail: (address: string) => `AlertsEmail${fnv1a(address.toLowerCase()).toString(16).padStart(8, '0')}`,
  /** `web-unhealthy-targets` → `WebUnhealthyTargetsAlarm`. */
  alarm: (what: string) => `${pascal(what)}Alarm`,
  // extra services: Service<Name><Part>
  service: (
    name: string,
    part:
      | 'TargetGroup' | 'ListenerRule' | 'LogGroup' | 'ExecutionRole' | 'TaskRole' | 'TaskDefinition' | 'Service' | 'SecurityGroup' | 'Certificate' | 'ListenerCertificate' | 'Url' | 'Table' | 'AliasRecord'
      // built images: the repository (secrets stack), its URI output, and the main-stack parameter taking the pushed image by digest
      | 'Repository' | 'RepositoryUri' | 'Image'
      // the service's Mastodon account: its token's kept secret, the task that makes it, and the switch that starts the service once it exists
      | 'MastodonToken' | 'AccountTaskDefinition' | 'AccountTaskRole' | 'TokenMade' | 'TokenExists',
  ) => `Service${pascal(name)}${part}`,
} as const;

/** Outputs other stacks or the deployer read, by stack. */
export const OutputIds = {
  MediaCertificateArn: 'MediaCertificateArn',
  MastodonSecretsArn: 'MastodonSecretsArn',
  SmtpCredentialsArn: 'SmtpCredentialsArn',
  LoadBalancerDnsName: 'LoadBalancerDnsName',
  MediaDistributionDomainName: 'MediaDistributionDomainName',
  MastodonUrl: 'MastodonUrl',
  MastodonVersion: 'MastodonVersion',
  DatabaseCredentialsArn: 'DatabaseCredentialsArn',
  CacheAuthTokenArn: 'CacheAuthTokenArn',
  DatabaseClusterId: 'DatabaseClusterId',
  DatabaseInstanceId: 'DatabaseInstanceId',
  /** The size of the build; stacks deployed before sizes have `Profile` (standard or small) instead. */
  Size: 'Size',
  /** mastodon.retention.mediaCacheDays, for the cost estimate. */
  MediaCacheDays: 'MediaCacheDays',
  Profile: 'Profile',
  ClusterName: 'ClusterName',
  SearchDomainArn: 'SearchDomainArn',
  AlertsTopicArn: 'AlertsTopicArn',
  PostDeploymentMigrationTaskDefinition: 'PostDeploymentMigrationTaskDefinition',
  OwnerAccountTaskDefinition: 'OwnerAccountTaskDefinition',
  ImportTaskDefinition: 'ImportTaskDefinition',
  ExportTaskDefinition: 'ExportTaskDefinition',
  MastodonMode: 'MastodonMode',
  MediaBucket: 'MediaBucket',
  /** The task that makes a service's Mastodon account and token. */
  serviceAccountTaskDefinition: (name: string) => Ids.service(name, 'AccountTaskDefinition'),
  TaskSubnets: 'TaskSubnets',
  TaskSecurityGroup: 'TaskSecurityGroup',
  MastodonLogGroup: 'MastodonLogGroup',
  dkimRecord: (index: number) => `DkimRecord${index}`,
} as const;

/**
 * Listener rule priority of an extra service when the config gives none: derived from the
 * name alone (FNV-1a), so adding, removing or reordering services never renumbers the others.
 */
export function defaultRulePriority(serviceName: string): number {
  return 1000 + (fnv1a(serviceName) % 40000);
}

/** FNV-1a, 32 bits: a short, stable number from a name. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const char of text) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
