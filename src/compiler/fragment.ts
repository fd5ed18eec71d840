import type { Config } from '../config/types.js';
import type { Output, Parameter, Resource } from './cfn.js';
import type { Names, StackRole } from './naming.js';

/** How the deployer makes a secret's value once, on the first deploy (see src/deployer). */
export type SecretGenerator = 'mastodon-secrets' | 'ses-smtp-password';

/** The part of one stack a compile step contributes. */
export interface StackPart {
  Parameters?: Record<string, Parameter>;
  Conditions?: Record<string, unknown>;
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, Output>;
  /** Parameters the deployer fills from another stack's outputs (e.g. a us-east-1 certificate ARN). */
  wiring?: Record<string, { stack: StackRole; output: string }>;
  /** Outputs naming secrets whose values the deployer generates once and never changes. */
  generatedSecrets?: Record<string, SecretGenerator>;
  /** Kept secrets a new stack reuses when they already exist (see secretsStackSecret). */
  reusableSecrets?: ReusableSecret[];
  /** Deletion protection switched on by the deployer only after the first create succeeded (see database.ts). */
  deletionProtection?: DeletionProtection;
  /** A one-off task the deployer runs after the stack is deployed (post-deployment migrations). */
  afterDeploy?: AfterDeployTask;
  /** How `mastodon-cfn run` starts a one-off command (tootctl) in the stack. */
  oneOffTask?: OneOffTask;
  /** The owner account the deployer creates once, after the first deploy that migrated the database. */
  ownerAccount?: OwnerAccount;
  /** The search index the deployer builds once for each search domain (search:). */
  searchIndex?: SearchIndex;
  /** Where each process writes its log, by the name `mastodon-cfn logs` takes (web, sidekiq, a service). */
  logSources?: Record<string, LogSource>;
  /** The Route 53 hosted zone the stack writes records in, given to it by the deployer. */
  hostedZone?: HostedZone;
  /** Health URLs `mastodon-cfn status` asks, by what answers there (Mastodon, streaming, a service). */
  endpoints?: Record<string, string>;
  /** Service images the deployer builds and pushes before this stack's change set (services.<name>.build). */
  images?: ServiceImage[];
  /** Mastodon accounts and tokens the deployer makes for services (services.<name>.mastodon). */
  serviceTokens?: ServiceToken[];
  /** The stack's alarms (alerts:): where `status` finds them, and whose subscriptions deploy checks. */
  alerts?: AlertsTarget;
  /** The tasks `import` and `export` run. */
  transfer?: TransferTasks;
}

/** The alarms of a stack: their names' prefix, the output naming their topic, and the addresses that topic mails (none: the user's own topic). */
export interface AlertsTarget {
  alarmPrefix: string;
  topicOutput: string;
  emails: string[];
}

/** A Node.js service image the deployer builds without Docker and pushes to the stack's ECR repository. */
export interface ServiceImage {
  service: string;
  /** The folder with the service's package.json, absolute. */
  folder: string;
  /** The stack role and output naming the ECR repository URI (the repository exists before this stack). */
  repository: { stack: StackRole; output: string };
  /** The parameter of this stack that takes the pushed image by digest (`<repository URI>@sha256:…`). */
  parameter: string;
  platform: 'linux/amd64' | 'linux/arm64';
  /** The port the service listens on (PORT and EXPOSE) and the path its health check asks. */
  port: number;
  healthCheck: string;
}

/** A service's Mastodon account, application and access token, made by a one-off task after the migrations. */
export interface ServiceToken {
  service: string;
  account: string;
  scopes: string[];
  /** The kept secret's fixed name: the task writes the token there, and the deployer tags it once made. */
  secret: string;
  /**
   * A parameter of this stack that takes when the token in the secret was made ('' while there is none):
   * the service runs no task without a token, and a new token rolls its tasks (they read it when they start).
   */
  madeParameter: string;
  /** The instance's public URL, where `status` asks Mastodon whether the token works. */
  instanceUrl: string;
  /** The one-off task that makes the account and the token: production mode only, as Mastodon sleeps in the others. */
  task?: AfterDeployTask;
}

export interface HostedZone {
  /** The stack parameter that takes the zone's id. */
  parameter: string;
  /** The zone, when the config names it; otherwise the deployer finds the public zone of `domain`. */
  hostedZoneId?: string;
  domain: string;
  /** Every name the stack writes records for: the deployer checks they are in the zone before it changes anything. */
  names: string[];
}

export interface LogSource {
  group: string;
  /** The awslogs stream prefix of the process's streams (`<prefix>/<container>/<task id>`). */
  streamPrefix: string;
}

export interface ReusableSecret {
  /** The stack parameter that takes the existing secret's ARN. */
  parameter: string;
  /** The secret's fixed name. */
  name: string;
}

export interface DeletionProtection {
  /** A 'true'/'false' parameter: 'false' while the stack is first created, so a failed create can roll back. */
  parameter: string;
  /** The output naming the Aurora cluster to protect once the create succeeded. */
  clusterOutput?: string;
  /** Or the output naming the RDS instance (profile small). */
  instanceOutput?: string;
}

/** A one-off ECS task the deployer (or `mastodon-cfn run`) starts from a task definition the stack made. */
export interface OneOffTask {
  /** Outputs naming the ECS cluster, the task definition, the subnets (comma-separated), the security group and the log group. */
  outputs: { cluster: string; taskDefinition: string; subnets: string; securityGroup: string; logGroup: string };
  capacityProvider: string;
  /** The container that runs the command; its exit code is the task's outcome, its log stream `<container>/<container>/<task id>`. */
  container: string;
}

export interface AfterDeployTask extends OneOffTask {
  description: string;
}

export interface OwnerAccount extends AfterDeployTask {
  username: string;
  email: string;
  /** The fixed name of the secret with its `password`; the deployer tags it once the account exists. */
  passwordSecret: string;
}

/** `mastodon-cfn import` and `export`: their tasks, where their dumps go, and the outputs they check. */
export interface TransferTasks {
  import: AfterDeployTask;
  export: AfterDeployTask;
  /** Key prefix in the region's artifacts bucket (naming.artifactsBucket): the only place the tasks may read and write. */
  prefix: string;
  /** The output with the deployed mode: import runs only in maintenance. */
  modeOutput: string;
  /** The output naming the media bucket. */
  mediaBucketOutput: string;
}

/** `tootctl search deploy`, run in the stack's one-off task once for each search domain. */
export interface SearchIndex {
  description: string;
  command: string[];
  /** The main stack's output with the domain's ARN: a new domain (a new ARN) gets its index built again. */
  domainOutput: string;
  /** The fixed name of the master user's kept secret; the deployer tags it with the domain and release it built the index for. */
  credentialsSecret: string;
  /** The release the index is built for: an upgrade may change an index's definition (app/chewy/accounts_index.rb at v4.4.0). */
  mastodonVersion: string;
}

/** What a compile step returns: parts of one or more stacks. */
export type Fragment = Partial<Record<StackRole, StackPart>>;

/** A compile step: a pure function from the validated config to the resources it owns. */
export type CompileStep = (config: Config, names: Names) => Fragment;

type KeepPolicy = 'Retain' | 'Snapshot';
/** Marks a stateful resource so that its data survives both deletion and replacement. */
export function keepData<R extends Resource>(resource: R, policy: KeepPolicy): R & { UpdateReplacePolicy: KeepPolicy } {
  return Object.assign(resource, { DeletionPolicy: policy as Resource['DeletionPolicy'], UpdateReplacePolicy: policy });
}

/** Marks a resource made again from others whenever they change (a composed secret): deleted with its stack, nothing to keep. */
export function derived<R extends Resource>(resource: R): R & { UpdateReplacePolicy: 'Delete' } {
  return Object.assign(resource, { DeletionPolicy: 'Delete' as const, UpdateReplacePolicy: 'Delete' as const });
}

const SECTIONS = ['Parameters', 'Conditions', 'Resources', 'Outputs', 'wiring', 'generatedSecrets', 'logSources', 'endpoints'] as const;
/** Sections a stack has at most once, or as a list: taken from whichever step gives them. */
const LIST_SECTIONS = ['reusableSecrets', 'images', 'serviceTokens'] as const;
const SINGLE_SECTIONS = ['deletionProtection', 'afterDeploy', 'oneOffTask', 'ownerAccount', 'searchIndex', 'hostedZone', 'alerts', 'transfer'] as const;
/** Parameters, Conditions and Resources share one namespace of logical ids in a template. */
const LOGICAL_ID_SECTIONS = new Set(['Parameters', 'Conditions', 'Resources']);

export interface DuplicateId {
  stack: StackRole;
  section: string;
  id: string;
  /** The step that defined it first, and the one that tried again. */
  first: string;
  second: string;
}

/**
 * Merges named fragments stack by stack. A logical id defined twice is never silently
 * overwritten: every clash is returned, and the first definition is kept.
 */
export function mergeFragments(fragments: { step: string; fragment: Fragment }[]): { stacks: Partial<Record<StackRole, StackPart>>; duplicates: DuplicateId[] } {
  const stacks: Partial<Record<StackRole, StackPart>> = {};
  const owners = new Map<string, string>();
  const duplicates: DuplicateId[] = [];
  for (const { step, fragment } of fragments) {
    for (const [stack, part] of Object.entries(fragment) as [StackRole, StackPart][]) {
      const target = (stacks[stack] ??= {});
      for (const section of SECTIONS) {
        for (const [id, value] of Object.entries(part[section] ?? {})) {
          const namespace = LOGICAL_ID_SECTIONS.has(section) ? 'ids' : section;
          const ownerKey = `${stack}/${namespace}/${id}`;
          const first = owners.get(ownerKey);
          if (first !== undefined) {
            duplicates.push({ stack, section, id, first, second: step });
            continue;
          }
          owners.set(ownerKey, step);
          ((target[section] ??= {}) as Record<string, unknown>)[id] = value;
        }
      }
      for (const section of LIST_SECTIONS) if (part[section]) (target as Record<string, unknown[]>)[section] = [...(target[section] ?? []), ...part[section]];
      for (const section of SINGLE_SECTIONS) {
        if (part[section] === undefined) continue;
        if (target[section] !== undefined) duplicates.push({ stack, section, id: section, first: 'an earlier step', second: step });
        else (target as Record<string, unknown>)[section] = part[section];
      }
    }
  }
  return { stacks, duplicates };
}

/** One step's fragment made of several parts, each owning its own logical ids. */
export function mergeParts(...parts: Fragment[]): Fragment {
  const { stacks, duplicates } = mergeFragments(parts.map((fragment, index) => ({ step: `part ${index + 1}`, fragment })));
  if (duplicates.length > 0) throw new Error(`a compile step defines ${duplicates.map((d) => `${d.stack}.${d.section}.${d.id}`).join(', ')} twice`);
  return stacks;
}
