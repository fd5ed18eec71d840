import type { Architecture, Capacity, Config, EnvironmentMap, RunMode } from '../config/types.js';
import { MASTODON_PROCESSES, mastodonFacts, RETENTION_SETTINGS, SIDEKIQ, STREAMING, WEB, type OwnerFacts, type RetentionKey } from '../mastodon/facts.js';
import { ALL_QUEUES, deployment, mastodonTasks, type MastodonTask } from '../mastodon/layout.js';
import type { MastodonProcess } from '../mastodon/memory.js';
import { QUEUE_LATENCY_VARIABLES, queueLatencyScript } from '../mastodon/queueLatency.js';
import { ECR_PULL_ACTIONS, ECR_TOKEN_ACTION, privateRepositoryArn } from '../aws/ecr.js';
import { autoscaling } from './autoscaling.js';
import { ClusterCapacityProviderAssociations, EcsCluster, GetAtt, EcsService, Join, LogGroup, Ref, Role, Sub, TaskDefinition, type ContainerDefinition, type Resource, type Value } from './cfn.js';
import { cache } from './cache.js';
import { databaseEndpoint, databasePassword, databaseSecretArn, DATABASE_NAME, DATABASE_USER, replicaEnvironment } from './database.js';
import type { CompileStep, OwnerAccount } from './fragment.js';
import { mailDomain, smtpSecretArn } from './mail.js';
import { mediaBucket } from './media.js';
import { Ids, OutputIds, type MastodonTaskPart, type Names } from './naming.js';
import { subnetIds } from './network.js';
import { searchEnvironment, searchSecretArn } from './search.js';
import { MASTODON_SECRET_KEYS, mastodonSecretArn, secretKey } from './secrets.js';

// ---------------------------------------------------------------------------------------------
// How any task runs on the cluster (used by the Mastodon service here and by extra services)

const CPU_ARCHITECTURE: Record<Architecture, string> = { arm64: 'ARM64', x86_64: 'X86_64' };
/** Sleeps until stopped, and stops at once on SIGTERM (a bare `sleep` would hold the task for 30 s). */
const SLEEP_FOREVER = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 3600 & wait $!; done'];

/**
 * Where a service's tasks run. `mixed` keeps one task on on-demand Fargate (the base) so that a
 * Spot interruption never takes the whole service down, and runs every further task on Spot.
 */
export function capacityProviderStrategy(capacity: Capacity): { CapacityProvider: string; Weight: number; Base?: number }[] {
  switch (capacity) {
    case 'spot':
      return [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }];
    case 'on-demand':
      return [{ CapacityProvider: 'FARGATE', Weight: 1 }];
    case 'mixed':
      return [
        { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
        { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
      ];
  }
}

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

/** What a task's execution role may reach: its own log groups (by name), image repositories and secrets. */
export interface ExecutionGrants {
  logGroups: string[];
  /** ARNs of the private ECR repositories its images come from. */
  repositories: Value<string>[];
  secrets: Value<string>[];
  parameters?: Value<string>[];
}

/**
 * The role ECS uses to start a task: pull its images, write its logs, read exactly its secrets.
 * A policy of the stack's own rather than AmazonECSTaskExecutionRolePolicy, which allows logs and
 * ECR on every resource of the account.
 */
export function executionRole(grants: ExecutionGrants) {
  const parameters = grants.parameters ?? [];
  const logGroupArn = (name: string, suffix: string) => Sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${name}${suffix}`);
  const statements = [
    // awslogs creates each task's stream (a log-group action) and writes to it (a log-stream action).
    { Effect: 'Allow', Action: 'logs:CreateLogStream', Resource: grants.logGroups.map((name) => logGroupArn(name, '')) },
    { Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: grants.logGroups.map((name) => logGroupArn(name, ':log-stream:*')) },
    ...(grants.repositories.length
      ? [
          { Effect: 'Allow', Action: ECR_TOKEN_ACTION, Resource: '*' },
          { Effect: 'Allow', Action: ECR_PULL_ACTIONS, Resource: grants.repositories },
        ]
      : []),
    ...(grants.secrets.length ? [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: grants.secrets }] : []),
    ...(parameters.length ? [{ Effect: 'Allow', Action: 'ssm:GetParameters', Resource: parameters }] : []),
  ];
  return new Role({
    AssumeRolePolicyDocument: ECS_TASKS_TRUST,
    Policies: [{ PolicyName: 'start-task', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
  });
}

/** Where a secret reference points, for the execution role's policy: the whole secret or parameter, not a JSON key of it. */
function secretSource(reference: string): { kind: 'secret' | 'parameter'; resource: Value<string> } {
  if (reference.startsWith('/')) return { kind: 'parameter', resource: Sub(`arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${reference}`) };
  if (reference.split(':')[2] === 'ssm') return { kind: 'parameter', resource: reference };
  const secretArn = reference.split(':').slice(0, 7).join(':');
  // Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
  return { kind: 'secret', resource: /-[A-Za-z0-9]{6}$/.test(secretArn) ? secretArn : `${secretArn}-??????` };
}

/** What an execution role must read for these secret references of the config (and the stack's own secrets). */
export function referenceGrants(references: string[], ownSecrets: Value<string>[] = []): Pick<ExecutionGrants, 'secrets' | 'parameters'> {
  const sources = references.map(secretSource);
  return {
    secrets: [...sources.filter((source) => source.kind === 'secret').map((source) => source.resource), ...ownSecrets],
    parameters: sources.filter((source) => source.kind === 'parameter').map((source) => source.resource),
  };
}

/** The private ECR repositories of literal image names (none for public registries). */
export function imageRepositories(images: string[]): string[] {
  return [...new Set(images.map(privateRepositoryArn).filter((arn): arn is string => arn !== undefined))];
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

export function fargateTaskDefinition(props: { family: string; cpu: number; memory: number; architecture: Architecture; executionRoleId: string; taskRoleId?: string; containers: ContainerDefinition[]; volumes?: { Name: string }[]; ephemeralStorageGiB?: number }) {
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
    ...(props.volumes ? { Volumes: props.volumes } : {}),
    ...(props.ephemeralStorageGiB ? { EphemeralStorage: { SizeInGiB: props.ephemeralStorageGiB } } : {}),
  });
}

export type LoadBalancerAttachment = { ContainerName: string; ContainerPort: number; TargetGroupArn: Value<string> };

/**
 * A Fargate service in the public subnets (a public IP instead of a NAT gateway), behind its own
 * security group, rolled back automatically when a deployment cannot become healthy.
 */
export function fargateService(
  config: Config,
  props: {
    taskDefinitionId: string;
    /** Undefined: the count is Application Auto Scaling's. */
    desiredCount?: Value<number>;
    capacity: Capacity;
    securityGroupId: string;
    execEnabled: boolean;
    loadBalancers: LoadBalancerAttachment[];
    deployment?: { MinimumHealthyPercent: number; MaximumPercent: number };
    healthCheckGraceSeconds: number;
    dependsOn: string[];
  },
) {
  return new EcsService({
    Cluster: Ref(Ids.Cluster),
    TaskDefinition: Ref(props.taskDefinitionId),
    DesiredCount: props.desiredCount,
    CapacityProviderStrategy: capacityProviderStrategy(props.capacity),
    NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED', Subnets: subnetIds(config), SecurityGroups: [Ref(props.securityGroupId)] } },
    // Always written out, even empty: when the property is left out, CloudFormation keeps the previous attachments.
    LoadBalancers: props.loadBalancers,
    HealthCheckGracePeriodSeconds: props.loadBalancers.length ? props.healthCheckGraceSeconds : undefined,
    DeploymentConfiguration: { DeploymentCircuitBreaker: { Enable: true, Rollback: true }, ...(props.deployment ?? { MinimumHealthyPercent: 100, MaximumPercent: 200 }) },
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

/**
 * Seconds a web or streaming process keeps serving after SIGTERM: long enough for the load balancer
 * to take the task out of the rotation (two failed health checks 10 s apart, loadBalancer.ts). A
 * deploy or a scale-in deregisters the task first; a Spot interruption may not, and a process that
 * stopped listening at once would answer 502 until then.
 */
export const SHUTDOWN_DELAY_SECONDS = 25;

/**
 * Runs `command`, and on SIGTERM waits `seconds` before passing the signal on; exits with the
 * command's status. sh gets the signal from tini in the Rails image (its ENTRYPOINT), or as the
 * container's first process in the streaming image, which has no init (Dockerfile, streaming/Dockerfile).
 */
export function serveUntilDrained(command: readonly string[], seconds = SHUTDOWN_DELAY_SECONDS): string[] {
  const script = [
    '"$@" & child=$!',
    `trap 'sleep ${seconds}; kill -TERM "$child"' TERM`,
    'wait "$child"; status=$?',
    // wait returns early when the trap runs: wait again until the command itself has ended.
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
    'exit "$status"',
  ].join('\n');
  return ['sh', '-c', script, 'sh', ...command];
}

/** ECS waits this long after SIGTERM before it kills a container: Fargate's maximum. */
const STOP_TIMEOUT_SECONDS = 120;
/** Seconds Puma keeps an idle keep-alive connection: above the load balancer's idle timeout of 60 s. */
const PUMA_PERSISTENT_TIMEOUT = 75;

/** ECS restarts an exited container in place instead of stopping the whole task (after it ran at least this long, in seconds). */
const RESTART_IN_PLACE = { Enabled: true, RestartAttemptPeriod: 60 };

/**
 * Runs a Rails database task while holding a PostgreSQL advisory lock, so that two tasks starting
 * at once never migrate at the same time: the second waits, then finds nothing left to do. (Rails'
 * own migration lock makes the second fail instead, and loading the schema on an empty database
 * takes no lock at all.) The lock is held by this process's session and released when it exits.
 */
export const MIGRATION_LOCK_KEY = 7_355_608_421;
export function lockedRailsTask(task: 'db:prepare' | 'db:migrate', afterwards: readonly (readonly string[])[] = []): string[] {
  const script = [
    'require "pg"',
    'c = PG.connect(host: ENV.fetch("DB_HOST"), port: ENV.fetch("DB_PORT"), dbname: ENV.fetch("DB_NAME"), user: ENV.fetch("DB_USER"), password: ENV.fetch("DB_PASS"), sslmode: ENV.fetch("DB_SSLMODE", "prefer"))',
    `c.exec("SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})")`,
    // On an empty database db:prepare loads db/schema.rb, which already holds every migration's effect, and
    // marks as run only the migrations on the path: without db/post_migrate there, the deployer's
    // db:migrate would then run all post-deployment migrations against the new schema and fail (4.3:
    // lib/active_record/database_tasks_extensions.rb at v4.3.23 lacks the fix, upstream #34089, first in v4.4.0).
    // So a schema load never skips them, in any release.
    ...(task === 'db:prepare' ? ['ENV.delete("SKIP_POST_DEPLOYMENT_MIGRATIONS") if c.exec("SELECT to_regclass(\'schema_migrations\')").getvalue(0, 0).nil?'] : []),
    ...[['bundle', 'exec', 'rails', task], ...afterwards].map((command) => `system(${command.map(rubyString).join(', ')}) or exit(1)`),
  ].join('; ');
  return ['bundle', 'exec', 'ruby', '-e', script];
}

/** A Ruby double-quoted literal of `text`: JSON's escapes are Ruby's, and `#` is escaped so nothing interpolates. */
function rubyString(text: string): string {
  return JSON.stringify(text).replace(/#/g, '\\#');
}

/**
 * A `rails runner` script that writes the content-retention settings (RETENTION_SETTINGS) as the
 * admin form does, `Setting[name] = value`, with nil for 0 (keep forever): only those that differ,
 * so a deploy that changes nothing writes nothing, and each change is named in the log.
 */
export function retentionScript(retention: Config['mastodon']['retention']): string {
  const settings = Object.entries(RETENTION_SETTINGS).map(([key, name]) => `"${name}" => ${retention[key as RetentionKey]}`);
  return [
    `{ ${settings.join(', ')} }.each do |name, days|`,
    '  value = days.positive? ? days : nil',
    '  was = Setting[name]',
    '  next if was == value',
    '  Setting[name] = value',
    '  puts "Content retention: #{name} set to #{value ? "#{value} days" : "keep forever"} (was #{was.inspect})"',
    'end',
  ].join('\n');
}

/** What the owner script reads besides Mastodon's own environment. */
export const OWNER_SCRIPT_VARIABLES = ['OWNER_USERNAME', 'OWNER_EMAIL', 'OWNER_PASSWORD'] as const;

/**
 * Creates the owner account as `tootctl accounts create USER --email … --confirmed --approve --role Owner`
 * does in this release (lib/mastodon/cli/accounts.rb#create), with the password from OWNER_PASSWORD
 * (a secret) instead of a printed one: nothing secret reaches the log. An account of that name
 * already there is left alone.
 */
export function ownerAccountScript(owner: OwnerFacts): string {
  return [
    'username = ENV.fetch("OWNER_USERNAME")',
    'if Account.find_local(username)&.user',
    '  puts "Owner account @#{username} already exists: left as it is"',
    '  exit 0',
    'end',
    'role = UserRole.find_by(name: "Owner") or abort("Mastodon has no Owner role: run the migrations first (rails db:seed)")',
    `user = User.new(email: ENV.fetch("OWNER_EMAIL"), password: ENV.fetch("OWNER_PASSWORD"), agreement: true, role_id: role.id, confirmed_at: Time.now.utc, ${owner.bypassAttribute}: true)`,
    'user.account = Account.new(username: username)',
    'abort("Could not create @#{username}: #{user.errors.full_messages.join("; ")}") unless user.save',
    // As tootctl's --confirmed: confirming again runs Mastodon's after-confirmation steps.
    'user.confirmed_at = nil',
    'user.mark_email_as_confirmed!',
    'user.approve!',
    'puts "Owner account @#{username} created"',
  ].join('\n');
}

function railsEnvironment(config: Config): Record<string, Value<string>> {
  return {
    ...(config.mastodon.environment as Record<string, string>),
    LOCAL_DOMAIN: config.domain,
    RAILS_ENV: 'production',
    RAILS_SERVE_STATIC_FILES: 'true',
    ...(config.mastodon.mode === 'debug' ? { RAILS_LOG_LEVEL: 'debug' } : {}),
    ...databaseEndpoint(config).environment,
    ...replicaEnvironment(config),
    ...searchEnvironment(config).environment,
    // libpq's "require": encrypted, without verifying the RDS certificate (config/database.yml passes DB_SSLMODE as sslmode).
    DB_SSLMODE: 'require',
    // The default hiredis driver has no TLS; the cache speaks only TLS (lib/mastodon/redis_configuration.rb).
    REDIS_DRIVER: 'ruby',
    S3_ENABLED: 'true',
    S3_BUCKET: mediaBucket.name,
    S3_REGION: Ref('AWS::Region'),
    S3_HOSTNAME: Sub('s3.${AWS::Region}.amazonaws.com'),
    S3_PROTOCOL: 'https',
    S3_ALIAS_HOST: config.media.domain,
    // Bucket ACLs are disabled (BucketOwnerEnforced): Mastodon must not send one. It then also skips making a
    // suspended account's media private (app/services/suspend_account_service.rb at v4.3.0,
    // app/services/update_media_attachments_permissions_service.rb at v4.4.0 and v4.5.2): see the README.
    S3_PERMISSION: '',
    SMTP_SERVER: Sub('email-smtp.${AWS::Region}.amazonaws.com'),
    SMTP_PORT: '587',
    SMTP_FROM_ADDRESS: config.mail.from,
    SMTP_DOMAIN: mailDomain(config),
    SMTP_AUTH_METHOD: 'plain',
    SMTP_ENABLE_STARTTLS: 'always',
  };
}

function railsSecrets(config: Config): Record<string, Value<string>> {
  const reads = mastodonFacts(config.mastodon.version).rails;
  return {
    DB_PASS: databasePassword,
    REDIS_URL: cache.url,
    SMTP_LOGIN: secretKey(smtpSecretArn(config), 'username'),
    SMTP_PASSWORD: secretKey(smtpSecretArn(config), 'password'),
    ...Object.fromEntries(MASTODON_SECRET_KEYS.filter((key) => key in reads).map((key) => [key, secretKey(mastodonSecretArn, key)])),
    ...searchEnvironment(config).secrets,
    // Validation refuses a name of the user's that one of the above already is.
    ...config.mastodon.secrets,
  };
}

/** A Rails container of the Mastodon image: web, sidekiq, a migration or a one-off script. Defaults give way to the user's environment. */
export function railsContainer(config: Config, name: string, command: string[], extra: { defaults?: Record<string, string>; environment?: Record<string, Value<string>>; secrets?: Record<string, Value<string>>; container?: Partial<ContainerDefinition> } = {}): ContainerDefinition {
  return {
    Name: name,
    Image: `${config.mastodon.image}:${config.mastodon.version}`,
    Essential: true,
    Command: command,
    Environment: environmentList({ ...extra.defaults, ...railsEnvironment(config), ...extra.environment }),
    Secrets: secretList({ ...railsSecrets(config), ...extra.secrets }),
    LogConfiguration: awsLogs(Ids.MastodonLogGroup, name),
    ...extra.container,
  };
}

/** The containers of one Mastodon task: the migration step first, then its processes (asleep in maintenance and debug). */
function mastodonContainers(config: Config, names: Names, task: MastodonTask, withPsql: boolean): ContainerDefinition[] {
  const sleeping = isSleeping(config.mastodon.mode);
  const database = databaseEndpoint(config);
  const plan = task.memoryPlan;
  const runsRails = task.processes.includes('web') || task.processes.includes('sidekiq');
  const afterMigrations = sleeping || !runsRails ? undefined : [{ ContainerName: 'migrate', Condition: 'SUCCESS' }];
  const exec = sleeping ? { InitProcessEnabled: true } : undefined;
  const running = (name: MastodonProcess, extra: Partial<ContainerDefinition> = {}): Partial<ContainerDefinition> => ({
    MemoryReservation: plan.reservation[name],
    Memory: plan.limit[name],
    RestartPolicy: RESTART_IN_PLACE,
    LinuxParameters: exec,
    // Fargate's most (the 30 s default): Puma finishes its requests and Sidekiq its jobs (25 s, then they go back on their queue) within a Spot interruption's two minutes.
    StopTimeout: STOP_TIMEOUT_SECONDS,
    ...extra,
  });

  const containers: ContainerDefinition[] = [];
  if (!sleeping && runsRails) {
    // Runs to completion before web and sidekiq start: loads the schema on the first deploy, and on
    // later ones runs the migrations the running release can live with. The post-deployment ones
    // (db/post_migrate) wait for the deployer's one-off task (SKIP_POST_DEPLOYMENT_MIGRATIONS; where each release reads it: mastodon/facts.ts).
    containers.push(railsContainer(config, 'migrate', lockedRailsTask('db:prepare'), { environment: { SKIP_POST_DEPLOYMENT_MIGRATIONS: 'true' }, container: { Essential: false } }));
  }
  if (task.processes.includes('web')) {
    containers.push(
      railsContainer(config, 'web', sleeping ? SLEEP_FOREVER : serveUntilDrained(WEB.command), {
        // Puma keeps idle connections 20 s by default (config/puma.rb), less than the load balancer's 60 s: the load
        // balancer would reuse connections Puma has closed, and answer 502. Longer than the load balancer's, they never are.
        defaults: { WEB_CONCURRENCY: String(plan.workers), MAX_THREADS: String(task.threads), PERSISTENT_TIMEOUT: String(PUMA_PERSISTENT_TIMEOUT) },
        environment: { BIND: '0.0.0.0', PORT: String(WEB.port) },
        container: running('web', { PortMappings: [{ ContainerPort: WEB.port, Protocol: 'tcp' }], DependsOn: afterMigrations }),
      }),
    );
  }
  if (task.processes.includes('streaming')) {
    containers.push({
      Name: 'streaming',
      Image: `${config.mastodon.streamingImage}:${config.mastodon.version}`,
      Essential: true,
      Command: sleeping ? SLEEP_FOREVER : serveUntilDrained(STREAMING.command),
      PortMappings: [{ ContainerPort: STREAMING.port, Protocol: 'tcp' }],
      Environment: environmentList({
        NODE_ENV: 'production',
        BIND: '0.0.0.0',
        PORT: String(STREAMING.port),
        ...database.environment,
        // node-pg verifies certificates for "require", and the RDS CA is not in Node's store: encrypt without verifying (streaming/database.js).
        DB_SSLMODE: 'no-verify',
      }),
      // The AUTH token travels inside REDIS_URL: streaming ignores REDIS_PASSWORD next to it (streaming/redis.js).
      Secrets: secretList({ DB_PASS: databasePassword, REDIS_URL: cache.url }),
      LogConfiguration: awsLogs(Ids.MastodonLogGroup, 'streaming'),
      ...running('streaming'),
    });
  }
  if (task.sidekiq) {
    const { queues, concurrency, group } = task.sidekiq;
    // A group of the config names its queues with their weights (`-q name,weight` replaces config/sidekiq.yml's
    // list); the one group that serves every queue reads the release's own list and weights.
    const queueFlags = group === ALL_QUEUES ? [] : queues.flatMap((q) => ['-q', `${q.name},${q.weight}`]);
    containers.push(railsContainer(config, 'sidekiq', sleeping ? SLEEP_FOREVER : [...SIDEKIQ.command, ...queueFlags], { defaults: { SIDEKIQ_CONCURRENCY: String(concurrency) }, container: running('sidekiq', { DependsOn: afterMigrations }) }));
  }
  if (task.processes.includes('metrics') && !sleeping) {
    containers.push({
      Name: 'metrics',
      Image: `${config.mastodon.image}:${config.mastodon.version}`,
      // A reporter that stops leaves the services at their size; it must never take Sidekiq down with it.
      Essential: false,
      Command: ['bundle', 'exec', 'ruby', '-e', queueLatencyScript()],
      Environment: environmentList({
        [QUEUE_LATENCY_VARIABLES.stack]: names.prefix,
        [QUEUE_LATENCY_VARIABLES.groups]: JSON.stringify(Object.fromEntries(Object.entries(config.mastodon.sidekiq.groups).map(([name, g]) => [name, Object.keys(g.queues)]))),
      }),
      Secrets: secretList({ REDIS_URL: cache.url }),
      LogConfiguration: awsLogs(Ids.MastodonLogGroup, 'metrics'),
      ...running('metrics'),
    });
  }
  if (sleeping && withPsql) {
    // A psql client with the connection already set up, for `aws ecs execute-command ... --container postgres`.
    containers.push({
      Name: 'postgres',
      ...postgresClient(config),
      Essential: false,
      Command: SLEEP_FOREVER,
      LogConfiguration: awsLogs(Ids.MastodonLogGroup, 'postgres'),
      LinuxParameters: exec,
    });
  }
  return containers;
}

/**
 * PostgreSQL's own client tools (psql, pg_dump, pg_restore) of the database's major version, connected to it
 * through libpq's variables: the official image, as RDS documents for pg_dump and pg_restore.
 */
export function postgresClient(config: Config, environment: Record<string, Value<string>> = {}): Pick<ContainerDefinition, 'Image' | 'Environment' | 'Secrets'> {
  const database = databaseEndpoint(config);
  return {
    Image: `public.ecr.aws/docker/library/postgres:${config.database.engineVersion.split('.')[0]}-alpine`,
    Environment: environmentList({ PGHOST: database.host, PGPORT: database.port, PGDATABASE: DATABASE_NAME, PGUSER: DATABASE_USER, PGSSLMODE: 'require', ...environment }),
    Secrets: secretList({ PGPASSWORD: databasePassword }),
  };
}

/** How the deployer runs a one-off Rails task: in the Mastodon tasks' subnets and security group (the database's only way in), logging to Mastodon's group. */
export const oneOffTask = {
  outputs: { cluster: OutputIds.ClusterName, taskDefinition: OutputIds.PostDeploymentMigrationTaskDefinition, subnets: OutputIds.TaskSubnets, securityGroup: OutputIds.TaskSecurityGroup, logGroup: OutputIds.MastodonLogGroup },
  // A migration or an admin command cut short by a Spot interruption is worse than a minute of on-demand Fargate.
  capacityProvider: 'FARGATE',
  container: 'migrate',
};

const ownerPasswordArn = Ref(Ids.OwnerPasswordArnParameter);

/** The owner account's task: created once, by the first deploy that runs the migrations (production mode). */
function ownerAccount(config: Config, names: Names): { ownerAccount?: OwnerAccount; container?: ContainerDefinition } {
  const owner = config.mastodon.owner;
  if (!owner || isSleeping(config.mastodon.mode)) return {};
  return {
    ownerAccount: {
      ...oneOffTask,
      outputs: { ...oneOffTask.outputs, taskDefinition: OutputIds.OwnerAccountTaskDefinition },
      container: 'owner',
      description: `creation of the owner account @${owner.username}`,
      username: owner.username,
      email: owner.email,
      passwordSecret: names.secretName('owner'),
    },
    container: railsContainer(config, 'owner', ['bundle', 'exec', 'rails', 'runner', ownerAccountScript(mastodonFacts(config.mastodon.version).owner)], {
      environment: { OWNER_USERNAME: owner.username, OWNER_EMAIL: owner.email },
      secrets: { OWNER_PASSWORD: secretKey(ownerPasswordArn, 'password') },
    }),
  };
}

/** The size of a one-off Rails task (migrations, accounts, tootctl): size small's task, or a web task's at the other sizes. */
function oneOffSize(config: Config): { cpu: number; memory: number } {
  return config.size === 'small' ? config.mastodon : config.mastodon.web!;
}

/** A task of Rails containers of the one-off size, started with the Mastodon secrets; `taskRoleId` is what its code may do in AWS. */
export function mastodonTaskDefinition(config: Config, family: string, containers: ContainerDefinition[], taskRoleId: string = Ids.MastodonTaskRole, size = oneOffSize(config)) {
  return fargateTaskDefinition({
    family,
    cpu: size.cpu,
    memory: size.memory,
    architecture: config.mastodon.architecture,
    executionRoleId: Ids.MastodonExecutionRole,
    taskRoleId,
    containers,
  });
}

/** The target groups a task's web and streaming containers serve. */
function loadBalancing(task: MastodonTask, sleeping: boolean): LoadBalancerAttachment[] {
  // Sleeping containers would fail the health checks and be replaced in a loop: keep them out of the target groups.
  if (sleeping) return [];
  return [
    ...(task.processes.includes('web') ? [{ ContainerName: 'web', ContainerPort: WEB.port, TargetGroupArn: Ref(Ids.WebTargetGroup) }] : []),
    ...(task.processes.includes('streaming') ? [{ ContainerName: 'streaming', ContainerPort: STREAMING.port, TargetGroupArn: Ref(Ids.StreamingTargetGroup) }] : []),
  ];
}

/** One ECS service per Mastodon task of the size, each with its task definition and, when it scales, its scaling. */
function mastodonServices(config: Config, names: Names): Record<string, Resource> {
  const sleeping = isSleeping(config.mastodon.mode);
  const resources: Record<string, Resource> = {};
  mastodonTasks(config).forEach((task, index) => {
    const id = (part: MastodonTaskPart) => Ids.mastodonTask(task.name, part);
    const loadBalancers = loadBalancing(task, sleeping);
    resources[id('TaskDefinition')] = mastodonTaskDefinition(config, `${names.prefix}-${task.name}`, mastodonContainers(config, names, task, index === 0), Ids.MastodonTaskRole, task);
    resources[id('Service')] = fargateService(config, {
      taskDefinitionId: id('TaskDefinition'),
      // An autoscaled service leaves its count to Application Auto Scaling: a DesiredCount in the template would reset it on every deploy.
      desiredCount: task.autoscaling ? undefined : task.count,
      capacity: task.capacity,
      securityGroupId: Ids.TaskSecurityGroup,
      execEnabled: sleeping,
      loadBalancers,
      deployment: deployment(task),
      // Migrations run before web starts; a large one must not get the task killed for failing health checks. Streaming's tasks run none.
      healthCheckGraceSeconds: task.processes.includes('web') ? 600 : 120,
      dependsOn: loadBalancers.length ? [Ids.HttpsListener, Ids.StreamingListenerRule] : [],
    });
    if (task.autoscaling) Object.assign(resources, autoscaling(task, id, names));
  });
  return resources;
}

export const compileCompute: CompileStep = (config, names) => {
  const sleeping = isSleeping(config.mastodon.mode);
  const owner = ownerAccount(config, names);
  return {
    main: {
      Resources: {
        [Ids.Cluster]: new EcsCluster({ ClusterName: names.prefix }),
        [Ids.ClusterCapacityProviders]: new ClusterCapacityProviderAssociations({
          Cluster: Ref(Ids.Cluster),
          CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
          DefaultCapacityProviderStrategy: capacityProviderStrategy(config.mastodon.capacity),
        }),
        [Ids.MastodonLogGroup]: logGroup(config, names.logGroup('mastodon')),
        [Ids.MastodonExecutionRole]: executionRole({
          logGroups: [names.logGroup('mastodon')],
          repositories: imageRepositories([config.mastodon.image, config.mastodon.streamingImage]),
          ...referenceGrants(Object.values(config.mastodon.secrets), [mastodonSecretArn, smtpSecretArn(config), databaseSecretArn, ...cache.secretArns, ...(config.mastodon.owner ? [ownerPasswordArn] : []), ...(config.search ? [searchSecretArn] : [])]),
        }),
        [Ids.MastodonTaskRole]: taskRole('mastodon', [
          { Effect: 'Allow', Action: 's3:ListBucket', Resource: mediaBucket.arn },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], Resource: mediaBucket.objectsArn },
          ...(sleeping ? [ECS_EXEC_STATEMENT] : []),
        ]),
        ...mastodonServices(config, names),
        // Run once by the deployer after each deploy: every migration, the post-deployment ones included. In
        // every mode, `mastodon-cfn run` starts it with another command (tootctl): Mastodon's whole environment, no service.
        [Ids.PostDeploymentMigrationTaskDefinition]: mastodonTaskDefinition(config, `${names.prefix}-post-deployment-migrations`, [railsContainer(config, 'migrate', lockedRailsTask('db:migrate', [['bundle', 'exec', 'rails', 'runner', retentionScript(config.mastodon.retention)]]))]),
        ...(owner.container ? { [Ids.OwnerAccountTaskDefinition]: mastodonTaskDefinition(config, `${names.prefix}-owner-account`, [owner.container]) } : {}),
      },
      Outputs: {
        [OutputIds.ClusterName]: { Description: 'ECS cluster of the Mastodon tasks', Value: Ref(Ids.Cluster) },
        [OutputIds.TaskSubnets]: { Description: 'Subnets one-off tasks run in', Value: Join(',', subnetIds(config)) },
        [OutputIds.TaskSecurityGroup]: { Description: 'Security group of the Mastodon tasks', Value: Ref(Ids.TaskSecurityGroup) },
        [OutputIds.PostDeploymentMigrationTaskDefinition]: { Description: 'Task that runs every migration once, or another one-off Rails command', Value: Ref(Ids.PostDeploymentMigrationTaskDefinition) },
        [OutputIds.MastodonLogGroup]: { Description: 'Log group of the Mastodon containers', Value: Ref(Ids.MastodonLogGroup) },
        [OutputIds.MediaCacheDays]: { Description: 'Days cached remote media is kept (0: forever), written to Mastodon after each deploy', Value: String(config.mastodon.retention.mediaCacheDays) },
        ...(owner.container ? { [OutputIds.OwnerAccountTaskDefinition]: { Description: 'Task that creates the owner account once', Value: Ref(Ids.OwnerAccountTaskDefinition) } } : {}),
      },
      afterDeploy: sleeping ? undefined : { description: 'post-deployment migrations (rails db:migrate) and content retention', ...oneOffTask },
      oneOffTask,
      ownerAccount: owner.ownerAccount,
      logSources: Object.fromEntries(MASTODON_PROCESSES.map((name) => [name, { group: names.logGroup('mastodon'), streamPrefix: name }])),
    },
  };
};
