/**
 * The validated config, with every default filled in. The schema
 * (schema/mastodon.config.schema.json) documents each key and its default.
 */
export type Capacity = 'spot' | 'on-demand' | 'mixed';
export type Architecture = 'arm64' | 'x86_64';
export type RunMode = 'production' | 'maintenance' | 'debug';
export type Profile = 'standard' | 'small';
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

export interface Config {
  service: string;
  provider: { region: string; stage: string; tags: Record<string, string>; logRetentionInDays: number };
  domain: string;
  profile: Profile;
  mastodon: {
    version: string;
    image: string;
    streamingImage: string;
    mode: RunMode;
    capacity: Capacity;
    architecture: Architecture;
    cpu: number;
    memory: number;
    desiredCount: number;
    environment: EnvironmentMap;
    /** The first account, created once by the deployer. */
    owner?: { username: string; email: string };
  };
  /** minCapacity and maxCapacity: Aurora's, profile standard only. */
  database: { minCapacity?: number; maxCapacity?: number; engineVersion: string; backupRetentionDays: number };
  cache: { engine: 'valkey' | 'redis'; nodeType: string; snapshotRetentionDays: number };
  media: { domain: string; priceClass: string; keepDeletedDays: number };
  certificates: { instance?: string; media?: string };
  mail: { from: string; smtpSecretArn?: string };
  /** Absent: the user creates DNS records by hand. */
  dns?: { hostedZoneId?: string; route53: boolean; dmarc: 'none' | 'quarantine' | 'reject' | 'off' };
  network: { vpcId?: string; subnetIds?: string[]; cidr: string; availabilityZones: number };
  services: Record<string, ServiceConfig>;
  custom: Record<string, unknown>;
  resources: { Resources: Record<string, unknown>; Outputs: Record<string, unknown>; Conditions: Record<string, unknown> };
}
