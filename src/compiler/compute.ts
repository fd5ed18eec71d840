import type { Architecture, Capacity, Config, EnvironmentMap, RunMode } from '../config/types.js';
import { ClusterCapacityProviderAssociations, EcsCluster, GetAtt, EcsService, LogGroup, Ref, Role, Sub, TaskDefinition, type ContainerDefinition, type Value } from './cfn.js';
import { cache } from './cache.js';
import { database, DATABASE_NAME, DATABASE_USER } from './database.js';
import type { CompileStep } from './fragment.js';
import { mailDomain, smtpSecretArn } from './mail.js';
import { mediaBucket } from './media.js';
import { Ids } from './naming.js';
import { STREAMING_PORT, subnetIds, WEB_PORT } from './network.js';
import { MASTODON_SECRET_KEYS, mastodonSecretArn, secretKey } from './secrets.js';

// ---------------------------------------------------------------------------------------------
// How any task runs on the cluster (used by the Mastodon service here and by extra services)

const CAPACITY_PROVIDER: Record<Capacity, string> = { spot: 'FARGATE_SPOT', 'on-demand': 'FARGATE' };
const CPU_ARCHITECTURE: Record<Architecture, string> = { arm64: 'ARM64', x86_64: 'X86_64' };
/** Sleeps until stopped, and stops at once on SIGTERM (a bare `sleep` would hold the task for 30 s). */
const SLEEP_FOREVER = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 3600 & wait $!; done'];

export type KeyValue = { Name: string; Value: Value<string> };

/** Code-point order: the same on every machine (localeCompare depends on the locale, and starting ICU costs 10 ms). */
export function byName(a: { Name: string }, b: { Name: string }): number {
  return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;
}

export function environmentList(variables: Record<string, Value<string>> | EnvironmentMap): KeyValue[] {
  return Object.entries(variables)
    .map(([Name, value]) => ({ Name, Value: typeof value === 'object' ? value : String(value) }))
    .sort(byName);
}

export function secretList(secrets: Record<string, Value<string>>): { Name: string; ValueFrom: Value<string> }[] {
  return Object.entries(secrets)
    .map(([Name, ValueFrom]) => ({ Name, ValueFrom }))
    .sort(byName);
}

export function logGroup(config: Config, name: string) {
  return new LogGroup({ LogGroupName: name, RetentionInDays: config.provider.logRetentionInDays });
}

export function awsLogs(logGroupId: string, streamPrefix: string) {
  return { LogDriver: 'awslogs', Options: { 'awslogs-group': Ref(logGroupId), 'awslogs-region': Ref('AWS::Region'), 'awslogs-stream-prefix': streamPrefix } };
}

const ECS_TASKS_TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/** The role ECS uses to start a task: pull the image, write logs, read exactly these secrets. */
export function executionRole(secretResources: Value<string>[], parameterResources: Value<string>[] = []) {
  const statements = [
    ...(secretResources.length ? [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretResources }] : []),
    ...(parameterResources.length ? [{ Effect: 'Allow', Action: 'ssm:GetParameters', Resource: parameterResources }] : []),
  ];
  return new Role({
    AssumeRolePolicyDocument: ECS_TASKS_TRUST,
    ManagedPolicyArns: [Sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy')],
    Policies: statements.length ? [{ PolicyName: 'read-secrets', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] : undefined,
  });
}

/** The role the containers themselves act as. */
export function taskRole(policyName: string, statements: object[]) {
  return new Role({ AssumeRolePolicyDocument: ECS_TASKS_TRUST, Policies: [{ PolicyName: policyName, PolicyDocument: { Version: '2012-10-17', Statement: statements } }] });
}

/** ECS Exec (maintenance and debug) talks to the task through Session Manager channels. */
export const ECS_EXEC_STATEMENT = {
  Effect: 'Allow',
  Action: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
  Resource: '*',
};

export function fargateTaskDefinition(props: { family: string; cpu: number; memory: number; architecture: Architecture; executionRoleId: string; taskRoleId?: string; containers: ContainerDefinition[] }) {
  return new TaskDefinition({
    Family: props.family,
    RequiresCompatibilities: ['FARGATE'],
    NetworkMode: 'awsvpc',
    Cpu: String(props.cpu),
    Memory: String(props.memory),
    RuntimePlatform: { OperatingSystemFamily: 'LINUX', CpuArchitecture: CPU_ARCHITECTURE[props.architecture] },
    ExecutionRoleArn: GetAtt(props.executionRoleId, 'Arn'),
    TaskRoleArn: props.taskRoleId ? GetAtt(props.taskRoleId, 'Arn') : undefined,
    ContainerDefinitions: props.containers,
  });
}

/**
 * A Fargate service in the public subnets (a public IP instead of a NAT gateway), behind the
 * task security group, rolled back automatically when a deployment cannot become healthy.
 */
export function fargateService(
  config: Config,
  props: { taskDefinitionId: string; desiredCount: number; capacity: Capacity; execEnabled: boolean; loadBalancers: { ContainerName: string; ContainerPort: number; TargetGroupArn: Value<string> }[]; healthCheckGraceSeconds: number; dependsOn: string[] },
) {
  return new EcsService({
    Cluster: Ref(Ids.Cluster),
    TaskDefinition: Ref(props.taskDefinitionId),
    DesiredCount: props.desiredCount,
    CapacityProviderStrategy: [{ CapacityProvider: CAPACITY_PROVIDER[props.capacity], Weight: 1 }],
    NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED', Subnets: subnetIds(config), SecurityGroups: [Ref(Ids.TaskSecurityGroup)] } },
    LoadBalancers: props.loadBalancers.length ? props.loadBalancers : undefined,
    HealthCheckGracePeriodSeconds: props.loadBalancers.length ? props.healthCheckGraceSeconds : undefined,
    DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, MinimumHealthyPercent: 100, MaximumPercent: 200 },
    EnableExecuteCommand: props.execEnabled,
    EnableECSManagedTags: true,
    PropagateTags: 'SERVICE',
  }).dependsOn([Ids.ClusterCapacityProviders, ...props.dependsOn]);
}

// ---------------------------------------------------------------------------------------------
// Mastodon: web, streaming and sidekiq in one task, after the migration step

export function isSleeping(mode: RunMode): boolean {
  return mode !== 'production';
}

function mastodonContainers(config: Config): ContainerDefinition[] {
  const { mode } = config.mastodon;
  const sleeping = isSleeping(mode);
  const image = `${config.mastodon.image}:${config.mastodon.version}`;
  const log = (container: string) => awsLogs(Ids.MastodonLogGroup, container);
  const dbEnvironment = { DB_HOST: database.host, DB_PORT: database.port, DB_NAME: DATABASE_NAME, DB_USER: DATABASE_USER };
  const redisEnvironment = { REDIS_HOST: cache.host, REDIS_PORT: cache.port, REDIS_URL: cache.url };
  const dbPassword = { DB_PASS: secretKey(database.secretArn, 'password') };

  const railsEnvironment = environmentList({
    ...config.mastodon.environment,
    LOCAL_DOMAIN: config.domain,
    RAILS_ENV: 'production',
    NODE_ENV: 'production',
    RAILS_SERVE_STATIC_FILES: 'true',
    RAILS_LOG_TO_STDOUT: 'enabled',
    ...(mode === 'debug' ? { RAILS_LOG_LEVEL: 'debug' } : {}),
    ...dbEnvironment,
    ...redisEnvironment,
    S3_ENABLED: 'true',
    S3_BUCKET: mediaBucket.name,
    S3_REGION: Ref('AWS::Region'),
    S3_HOSTNAME: Sub('s3.${AWS::Region}.amazonaws.com'),
    S3_PROTOCOL: 'https',
    S3_ALIAS_HOST: config.media.domain,
    // Bucket ACLs are disabled (BucketOwnerEnforced): Mastodon must not send one.
    S3_PERMISSION: '',
    SMTP_SERVER: Sub('email-smtp.${AWS::Region}.amazonaws.com'),
    SMTP_PORT: '587',
    SMTP_FROM_ADDRESS: config.mail.from,
    SMTP_DOMAIN: mailDomain(config),
    SMTP_AUTH_METHOD: 'plain',
    SMTP_ENABLE_STARTTLS: 'always',
  });
  const railsSecrets = secretList({
    ...dbPassword,
    SMTP_LOGIN: secretKey(smtpSecretArn(config), 'username'),
    SMTP_PASSWORD: secretKey(smtpSecretArn(config), 'password'),
    ...Object.fromEntries(MASTODON_SECRET_KEYS.map((key) => [key, secretKey(mastodonSecretArn, key)])),
  });
  const afterMigrations = sleeping ? undefined : [{ ContainerName: 'migrate', Condition: 'SUCCESS' }];
  const exec = sleeping ? { InitProcessEnabled: true } : undefined;
  const rails = (name: string, command: string[], extra: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
    Name: name,
    Image: image,
    Essential: true,
    Command: sleeping ? SLEEP_FOREVER : command,
    Environment: railsEnvironment,
    Secrets: railsSecrets,
    LogConfiguration: log(name),
    LinuxParameters: exec,
    ...extra,
  });

  const containers: ContainerDefinition[] = [];
  if (!sleeping) {
    // Runs to completion before web and sidekiq start: loads the schema on the first deploy, migrates on later ones.
    containers.push(rails('migrate', ['bundle', 'exec', 'rails', 'db:prepare'], { Essential: false }));
  }
  containers.push(
    rails('web', ['bundle', 'exec', 'puma', '-C', 'config/puma.rb'], {
      PortMappings: [{ ContainerPort: WEB_PORT, Protocol: 'tcp' }],
      Environment: [...railsEnvironment, ...environmentList({ BIND: '0.0.0.0', PORT: String(WEB_PORT) })].sort(byName),
      DependsOn: afterMigrations,
    }),
    {
      Name: 'streaming',
      Image: `${config.mastodon.streamingImage}:${config.mastodon.version}`,
      Essential: true,
      Command: sleeping ? SLEEP_FOREVER : ['node', './streaming/index.js'],
      PortMappings: [{ ContainerPort: STREAMING_PORT, Protocol: 'tcp' }],
      Environment: environmentList({ NODE_ENV: 'production', BIND: '0.0.0.0', PORT: String(STREAMING_PORT), ...dbEnvironment, ...redisEnvironment }),
      Secrets: secretList(dbPassword),
      LogConfiguration: log('streaming'),
      LinuxParameters: exec,
    },
    rails('sidekiq', ['bundle', 'exec', 'sidekiq'], { DependsOn: afterMigrations }),
  );
  if (sleeping) {
    // A psql client with the connection already set up, for `aws ecs execute-command ... --container postgres`.
    containers.push({
      Name: 'postgres',
      Image: `public.ecr.aws/docker/library/postgres:${config.database.engineVersion.split('.')[0]}-alpine`,
      Essential: false,
      Command: SLEEP_FOREVER,
      Environment: environmentList({ PGHOST: database.host, PGPORT: database.port, PGDATABASE: DATABASE_NAME, PGUSER: DATABASE_USER, PGSSLMODE: 'require' }),
      Secrets: secretList({ PGPASSWORD: secretKey(database.secretArn, 'password') }),
      LogConfiguration: log('postgres'),
      LinuxParameters: exec,
    });
  }
  return containers;
}

export const compileCompute: CompileStep = (config, names) => {
  const sleeping = isSleeping(config.mastodon.mode);
  const defaultProvider = CAPACITY_PROVIDER[config.mastodon.capacity];
  return {
    main: {
      Resources: {
        [Ids.Cluster]: new EcsCluster({ ClusterName: names.prefix }),
        [Ids.ClusterCapacityProviders]: new ClusterCapacityProviderAssociations({
          Cluster: Ref(Ids.Cluster),
          CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
          DefaultCapacityProviderStrategy: [{ CapacityProvider: defaultProvider, Weight: 1 }],
        }),
        [Ids.MastodonLogGroup]: logGroup(config, names.logGroup('mastodon')),
        [Ids.MastodonExecutionRole]: executionRole([mastodonSecretArn, smtpSecretArn(config), database.secretArn]),
        [Ids.MastodonTaskRole]: taskRole('mastodon', [
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: mediaBucket.arn },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], Resource: mediaBucket.objectsArn },
          ...(sleeping ? [ECS_EXEC_STATEMENT] : []),
        ]),
        [Ids.MastodonTaskDefinition]: fargateTaskDefinition({
          family: `${names.prefix}-mastodon`,
          cpu: config.mastodon.cpu,
          memory: config.mastodon.memory,
          architecture: config.mastodon.architecture,
          executionRoleId: Ids.MastodonExecutionRole,
          taskRoleId: Ids.MastodonTaskRole,
          containers: mastodonContainers(config),
        }),
        [Ids.MastodonService]: fargateService(config, {
          taskDefinitionId: Ids.MastodonTaskDefinition,
          desiredCount: config.mastodon.desiredCount,
          capacity: config.mastodon.capacity,
          execEnabled: sleeping,
          // Sleeping containers would fail the health checks and be replaced in a loop: keep them out of the target groups.
          loadBalancers: sleeping
            ? []
            : [
                { ContainerName: 'web', ContainerPort: WEB_PORT, TargetGroupArn: Ref(Ids.WebTargetGroup) },
                { ContainerName: 'streaming', ContainerPort: STREAMING_PORT, TargetGroupArn: Ref(Ids.StreamingTargetGroup) },
              ],
          // Migrations run before web starts; a large one must not get the task killed for failing health checks.
          healthCheckGraceSeconds: 600,
          dependsOn: [Ids.HttpsListener, Ids.StreamingListenerRule],
        }),
      },
    },
  };
};
