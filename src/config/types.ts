/**
 * The validated config, with every default filled in. The schema
 * (schema/mastodon.config.schema.json) documents each key and its default.
 */
import type { RetentionKey } from '../mastodon/facts.js';

export type Capacity = 'spot' | 'on-demand' | 'mixed';
export type Architecture = 'arm64' | 'x86_64';
export type RunMode = 'production' | 'maintenance' | 'debug';
export const SIZES = ['small', 'standard', 'large'] as const;
export type Size = (typeof SIZES)[number];
export type EnvironmentMap = Record<string, string | number | boolean>;

/** The Mastodon account a service acts as, with its token's scopes (services.<name>.mastodon). */
export interface ServiceAccount {
  account: string;
  scopes: string[];
  /** Default: <account>@<domain>. */
  email: string;
  /** The environment variable the token is given in. */
  variable: string;
}

export interface ServiceConfig {
  /** A prebuilt image; exactly one of `image` and `build` is set. */
  image?: string;
  /** The folder with the service's package.json, absolute (the config writes it relative to its own file). */
  build?: string;
  mastodon?: ServiceAccount;
  port: number;
  healthCheck: string;
  host?: string;
  path?: string;
  priority?: number;
  cpu: number;
  memory: number;
  desiredCount: number;
  capacity: Capacity;
  architecture: Architecture;
  command?: string[];
  environment: EnvironmentMap;
  secrets: Record<string, string>;
  table: boolean;
}

/** Application Auto Scaling target tracking of one ECS service: between min and max tasks. */
export interface Autoscaling {
  min: number;
  max: number;
  /** Target average CPU utilisation, in percent (web and streaming). */
  cpu?: number;
  /** Target load balancer requests per task per minute (web only). */
  requestsPerTarget?: number;
  /** Target queue latency, in seconds (Sidekiq). */
  latency?: number;
}

/** The size of one Mastodon process's tasks: `count` of them, or `autoscaling` between its min and max. */
export interface ProcessConfig {
  count: number;
  cpu: number;
  memory: number;
  capacity: Capacity;
  autoscaling?: Autoscaling;
}

/** One Sidekiq process kind: the queues it serves, with their weights, and its threads. */
export interface SidekiqGroup extends ProcessConfig {
  queues: Record<string, number>;
  concurrency: number;
}

export interface Config {
  service: string;
  /** profile: the AWS credentials profile the commands that talk to AWS use (--profile wins). */
  provider: { region: string; stage: string; profile?: string; tags: Record<string, string>; logRetentionInDays: number };
  domain: string;
  size: Size;
  mastodon: {
    version: string;
    image: string;
    streamingImage: string;
    mode: RunMode;
    /** Every process's default; at size small, the one task's. */
    capacity: Capacity;
    architecture: Architecture;
    /** Size small's one task (web, streaming and Sidekiq together). */
    cpu: number;
    memory: number;
    /** Sizes standard and large: web's tasks (which also run streaming at size standard). */
    web?: ProcessConfig;
    /** Size large: streaming's own tasks. */
    streaming?: ProcessConfig;
    /** Sizes standard and large: the Sidekiq processes, one ECS service per group; at size small, the queues of the one process. */
    sidekiq: { groups: Record<string, SidekiqGroup> };
    environment: EnvironmentMap;
    /** Secret Mastodon settings: variable name → Secrets Manager or Parameter Store reference. */
    secrets: Record<string, string>;
    /** Mastodon's content-retention settings in days (0: keep forever), written after each deploy's migrations. */
    retention: Record<RetentionKey, number>;
    /** The first account, created once by the deployer. */
    owner?: { username: string; email: string };
  };
  /** minCapacity and maxCapacity: Aurora's, sizes standard and large only. */
  /** restoreFrom: the snapshot the database is created from (and must keep naming). */
  database: { minCapacity?: number; maxCapacity?: number; engineVersion: string; backupRetentionDays: number; readReplica: boolean; restoreFrom?: string };
  cache: { engine: 'valkey' | 'redis'; nodeType: string; snapshotRetentionDays: number };
  /** Absent: no full-text search. */
  search?: { instanceType: string; instanceCount: number; volumeGb: number; engineVersion: string };
  media: { domain: string; priceClass: string; keepDeletedDays: number };
  certificates: { instance?: string; media?: string };
  mail: { from: string; smtpSecretArn?: string };
  /** Absent: no alarms. Exactly one of email and topic is set. */
  alerts?: { email?: string | string[]; topic?: string; thresholds: AlertThresholds };
  /** Absent: the user creates DNS records by hand. */
  dns?: { hostedZoneId?: string; route53: boolean; dmarc: 'none' | 'quarantine' | 'reject' | 'off' };
  network: { vpcId?: string; subnetIds?: string[]; cidr: string; availabilityZones: number };
  services: Record<string, ServiceConfig>;
  custom: Record<string, unknown>;
  /** Values of `${param:name}`, by stage (and `default`). */
  params: Record<string, Record<string, unknown>>;
  /** Plugin modules, as written: paths relative to the config, or package names. */
  plugins: string[];
  resources: { Resources: Record<string, unknown>; Outputs: Record<string, unknown>; Conditions: Record<string, unknown>; extensions: Record<string, ResourceExtension> };
}

/** `resources.extensions.<logical id>`: what is changed of a generated resource of the main stack. */
export interface ResourceExtension {
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  UpdatePolicy?: Record<string, unknown>;
  CreationPolicy?: Record<string, unknown>;
}

/** The schema's defaults of provider.stage and provider.region (schema.test checks that they agree), for `${sls:stage}` and `${aws:region}`. */
export const DEFAULT_STAGE = 'prod';
export const DEFAULT_REGION = 'us-east-1';

/** When each alarm fires (schema: alerts.thresholds). */
export interface AlertThresholds {
  errorRatePercent: number;
  targetMinutes: number;
  databaseCpuPercent: number;
  databaseFreeStorageGiB: number;
  databaseCapacityMinutes: number;
  cacheMemoryPercent: number;
  sesBounceRatePercent: number;
  sesComplaintRatePercent: number;
  sidekiqLatencySeconds: number;
}
