/**
 * What mastodon-cfn relies on about Mastodon, per supported minor series, each fact with the file it
 * was read from at the release tag (every one checked at the series' first release and at `latest`).
 * The compiler, the validator and the tests' stand-ins read them here and nowhere else.
 */

export const MASTODON_SERIES = ['4.3', '4.4', '4.5'] as const;
export type MastodonSeries = (typeof MASTODON_SERIES)[number];

/** `v4.5.2` → `4.5`; undefined for a tag of a series these facts were not read for (v4.2.x, v4.6.0, v5.0.0). */
export function seriesOf(version: string): MastodonSeries | undefined {
  const match = /^v(\d+)\.(\d+)\.\d+$/.exec(version);
  return match ? MASTODON_SERIES.find((series) => series === `${Number(match[1])}.${Number(match[2])}`) : undefined;
}

/** Orders release tags vX.Y.Z by their numbers. */
export function compareVersions(a: string, b: string): number {
  const pa = a.slice(1).split('.').map(Number);
  const pb = b.slice(1).split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The same in every supported series (read at v4.3.0, v4.4.0 and v4.5.2, unchanged up to each `latest`)

/** Where Mastodon's images keep the application: WORKDIR /opt/mastodon (Dockerfile, streaming/Dockerfile); tootctl is bin/tootctl there. */
export const TOOTCTL = 'bin/tootctl';

/** Creates the search indexes and fills them from the database (`desc 'deploy'` in lib/mastodon/cli/search.rb, every series). */
export const SEARCH_DEPLOY_COMMAND = [TOOTCTL, 'search', 'deploy'] as const;

/**
 * The processes and how Mastodon starts them (docker-compose.yml's `command:` of web, streaming and sidekiq).
 * Ports: puma binds BIND:PORT, default 3000 (config/puma.rb); streaming listens on PORT, default 4000
 * (streaming/index.js, EXPOSE 4000 in streaming/Dockerfile). Health: `/health` answers "OK" (config/routes.rb,
 * excluded from host authorization in config/initializers/1_hosts.rb), and so does
 * `/api/v1/streaming/health` (streaming/index.js).
 */
export const WEB = { command: ['bundle', 'exec', 'puma', '-C', 'config/puma.rb'], port: 3000, healthPath: '/health' } as const;
export const STREAMING = { command: ['node', './streaming/index.js'], port: 4000, healthPath: '/api/v1/streaming/health' } as const;
export const SIDEKIQ = { command: ['bundle', 'exec', 'sidekiq'] } as const;

/**
 * Puma's defaults: `workers ENV.fetch('WEB_CONCURRENCY') { 2 }` preloaded processes of
 * `threads ENV.fetch('MAX_THREADS') { 5 }` each (config/puma.rb). The Rails database pool follows
 * MAX_THREADS (config/database.yml), and Sidekiq runs SIDEKIQ_CONCURRENCY threads, default 5 (config/sidekiq.yml).
 */
export const PUMA_DEFAULTS = { WEB_CONCURRENCY: 2, MAX_THREADS: 5 } as const;

/**
 * How many database connections each process may hold (config/database.yml's `pool:`, in every series:
 * `ENV["DB_POOL"] || (Sidekiq.server? ? Sidekiq's concurrency : ENV['MAX_THREADS']) || 5`): a Puma worker
 * its MAX_THREADS, a Sidekiq process its concurrency. The streaming server's node-pg pool holds up to
 * `parseIntFromEnvValue(env.DB_POOL, 10, 'DB_POOL')` (streaming/database.js). tootctl runs with a pool of
 * `options[:concurrency] + 1`, --concurrency 5 by default (lib/mastodon/cli/base.rb, lib/mastodon/cli/search.rb).
 * A process never holds more connections than it has threads using them, nor more than its pool.
 */
export const CONNECTION_DEFAULTS = { railsPool: 5, streamingPool: 10, sidekiqConcurrency: 5, tootctlConcurrency: 5 } as const;

/** A Sidekiq queue and its weight (`[name, weight]` in config/sidekiq.yml; a queue listed without one weighs 1). */
export interface SidekiqQueue {
  name: string;
  weight: number;
}

/**
 * The queue whose process also runs sidekiq-scheduler (`:scheduler: :listened_queues_only: true`, and every
 * scheduled job `queue: scheduler`, in config/sidekiq.yml): exactly one process may listen on it, or each
 * scheduled job runs once per process (Mastodon PR #15314, docs.joinmastodon.org admin/scaling).
 */
export const SCHEDULER_QUEUE = 'scheduler';

/** config/sidekiq.yml's `:queues:` at v4.3.0 (unchanged to v4.3.23). */
const SIDEKIQ_QUEUES_4_3: readonly SidekiqQueue[] = [
  { name: 'default', weight: 8 },
  { name: 'push', weight: 6 },
  { name: 'ingress', weight: 4 },
  { name: 'mailers', weight: 2 },
  { name: 'pull', weight: 1 },
  { name: 'scheduler', weight: 1 },
];
/** config/sidekiq.yml at v4.4.0 and v4.5.2 adds `[fasp]` (Fediverse Auxiliary Service Providers). */
const SIDEKIQ_QUEUES_SINCE_4_4: readonly SidekiqQueue[] = [...SIDEKIQ_QUEUES_4_3, { name: 'fasp', weight: 1 }];

/**
 * `tootctl accounts create USERNAME --email … --confirmed --approve --role Owner` (lib/mastodon/cli/accounts.rb#create):
 * without --approve the account waits for approval, as registrations_mode defaults to `none` (config/settings.yml).
 */
export function ownerAccountCommand(username: string, email: string): string[] {
  return ['accounts', 'create', username, '--email', email, '--confirmed', '--approve', '--role', 'Owner'];
}

// ---------------------------------------------------------------------------------------------
// What each process reads

/** A variable a process reads, and the file that reads it. */
export type Reads = Readonly<Record<string, string>>;

/**
 * Set REDIS_URL, and every other variable of the same connection is ignored:
 * `return { url:, driver: } if url` in lib/mastodon/redis_configuration.rb#setup_config (Rails: web,
 * sidekiq, tootctl; SIDEKIQ_REDIS_* and CACHE_REDIS_* unset fall back to it), and "If we receive REDIS_URL,
 * don't continue parsing any other REDIS_* environment variables" in streaming/redis.js (since 4.3, PR #31623).
 * Streaming's own REDIS_HOST/REDIS_PORT path has no TLS at all, so the password must travel inside a rediss:// URL.
 */
export const IGNORED_NEXT_TO_REDIS_URL = ['REDIS_HOST', 'REDIS_PORT', 'REDIS_DB', 'REDIS_USER', 'REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PORT', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const;

/**
 * Variables that move Sidekiq's queues away from the stack's cache, where the queue-latency reporter
 * reads them: SIDEKIQ_REDIS_* (lib/mastodon/redis_configuration.rb#sidekiq, `setup_config(prefix: 'SIDEKIQ_')`)
 * and, in 4.3 only, REDIS_NAMESPACE (`sidekiq_namespace` at v4.3.0; gone at v4.4.0, where it is ignored).
 */
export const MOVING_SIDEKIQ_QUEUES = ['REDIS_NAMESPACE', 'SIDEKIQ_REDIS_URL', 'SIDEKIQ_REDIS_HOST', 'SIDEKIQ_REDIS_PORT', 'SIDEKIQ_REDIS_DB', 'SIDEKIQ_REDIS_USER', 'SIDEKIQ_REDIS_PASSWORD', 'SIDEKIQ_REDIS_SENTINELS', 'SIDEKIQ_REDIS_SENTINEL_MASTER'] as const;

const DATABASE_YML = 'config/database.yml';
const PAPERCLIP = 'config/initializers/paperclip.rb';
const REDIS_CONFIGURATION = 'lib/mastodon/redis_configuration.rb';
const ACTIVE_RECORD_ENCRYPTION = 'config/initializers/active_record_encryption.rb';

const readBy = (file: string, names: readonly string[]): Reads => Object.fromEntries(names.map((name) => [name, file]));

/** Read by every Rails process (web, sidekiq, migrations, tootctl and rails runner) in every series. */
const RAILS_READS: Reads = {
  LOCAL_DOMAIN: 'config/initializers/1_hosts.rb',
  RAILS_ENV: 'config/boot.rb',
  RAILS_SERVE_STATIC_FILES: 'config/application.rb',
  RAILS_LOG_LEVEL: 'config/environments/production.rb',
  BIND: 'config/puma.rb',
  PORT: 'config/puma.rb',
  WEB_CONCURRENCY: 'config/puma.rb',
  MAX_THREADS: 'config/puma.rb',
  PERSISTENT_TIMEOUT: 'config/puma.rb',
  DB_POOL: DATABASE_YML,
  DB_HOST: DATABASE_YML,
  DB_PORT: DATABASE_YML,
  DB_NAME: DATABASE_YML,
  DB_USER: DATABASE_YML,
  DB_PASS: DATABASE_YML,
  DB_SSLMODE: DATABASE_YML,
  // database.yml's `replica:`; REPLICA_DB_NAME turns it on (app/helpers/database_helper.rb).
  REPLICA_DB_NAME: DATABASE_YML,
  REPLICA_DB_HOST: DATABASE_YML,
  REPLICA_DB_PORT: DATABASE_YML,
  REDIS_URL: REDIS_CONFIGURATION,
  ...readBy('config/initializers/chewy.rb', ['ES_ENABLED', 'ES_HOST', 'ES_PORT', 'ES_USER', 'ES_PASS', 'ES_PRESET']),
  // The default hiredis driver speaks no TLS.
  REDIS_DRIVER: REDIS_CONFIGURATION,
  S3_ENABLED: PAPERCLIP,
  S3_BUCKET: PAPERCLIP,
  S3_REGION: PAPERCLIP,
  S3_HOSTNAME: PAPERCLIP,
  S3_PROTOCOL: PAPERCLIP,
  S3_ALIAS_HOST: PAPERCLIP,
  S3_PERMISSION: PAPERCLIP,
  SIDEKIQ_CONCURRENCY: 'config/sidekiq.yml',
  // Rails::Application#secret_key_base reads ENV["SECRET_KEY_BASE"] in production (railties).
  SECRET_KEY_BASE: 'config/initializers/cookie_rotator.rb',
  ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY: ACTIVE_RECORD_ENCRYPTION,
  ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT: ACTIVE_RECORD_ENCRYPTION,
  ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY: ACTIVE_RECORD_ENCRYPTION,
};

/**
 * The keys Mastodon needs generated once per instance (what `rake mastodon:setup` generates). OTP_SECRET
 * only 4.3 reads: `ENV.fetch('OTP_SECRET')` in config/environments/production.rb at v4.3.0 (boot fails
 * without it); 4.4 and later keep two-factor secrets with Active Record encryption and read it nowhere.
 */
export const MASTODON_SECRET_VARIABLES = [
  'SECRET_KEY_BASE',
  'OTP_SECRET',
  'VAPID_PRIVATE_KEY',
  'VAPID_PUBLIC_KEY',
  'ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY',
  'ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT',
  'ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY',
] as const;

const SMTP_VARIABLES = ['SMTP_SERVER', 'SMTP_PORT', 'SMTP_LOGIN', 'SMTP_PASSWORD', 'SMTP_FROM_ADDRESS', 'SMTP_DOMAIN', 'SMTP_AUTH_METHOD', 'SMTP_ENABLE_STARTTLS'] as const;

/** Rails as of 4.4: mail settings moved to config/email.yml, VAPID keys to config/vapid.yml, the post-deployment switch to lib/mastodon/database.rb. */
const RAILS_READS_SINCE_4_4: Reads = {
  ...RAILS_READS,
  ...readBy('config/email.yml', SMTP_VARIABLES),
  ...readBy('config/vapid.yml', ['VAPID_PRIVATE_KEY', 'VAPID_PUBLIC_KEY']),
  SKIP_POST_DEPLOYMENT_MIGRATIONS: 'lib/mastodon/database.rb',
  // No longer read by the running server, but a database from before 4.3 (an import) still needs it to
  // carry its two-factor secrets over: db/post_migrate/20240307180905_migrate_devise_two_factor_secrets.rb at v4.4.0 and v4.5.2.
  OTP_SECRET: 'db/post_migrate/20240307180905_migrate_devise_two_factor_secrets.rb',
};

/** The streaming server (streaming/index.js, streaming/database.js, streaming/redis.js) in every series. */
const STREAMING_READS: Reads = {
  NODE_ENV: 'streaming/index.js',
  BIND: 'streaming/index.js',
  PORT: 'streaming/index.js',
  DB_HOST: 'streaming/database.js',
  DB_PORT: 'streaming/database.js',
  DB_NAME: 'streaming/database.js',
  DB_USER: 'streaming/database.js',
  DB_PASS: 'streaming/database.js',
  // "no-verify" is its own value: TLS without checking the certificate (node-pg verifies for every other mode).
  DB_SSLMODE: 'streaming/database.js',
  DB_POOL: 'streaming/database.js',
  REDIS_URL: 'streaming/redis.js',
};

// ---------------------------------------------------------------------------------------------
// Content retention (Administration → Server settings → Content retention)

/**
 * The three content-retention settings, the same at v4.3.0, v4.4.0 and v4.5.2: INTEGER_KEYS in
 * app/models/form/admin_settings.rb, read by ContentRetentionPolicy (app/models/content_retention_policy.rb),
 * which uses a value only when it is a positive Integer: anything else (the admin form's blank, nil) keeps
 * forever. Scheduler::VacuumScheduler (app/workers/scheduler/vacuum_scheduler.rb) applies them daily:
 * media_cache_retention_period removes cached remote media and preview-card images, content_cache_retention_period
 * remote posts, backups_retention_period users' archives. `Setting[name] = value` stores the value as YAML
 * (app/models/setting.rb), as the admin form does; without a row, config/settings.yml's default holds.
 */
export const RETENTION_SETTINGS = {
  mediaCacheDays: 'media_cache_retention_period',
  contentCacheDays: 'content_cache_retention_period',
  userArchiveDays: 'backups_retention_period',
} as const;
export type RetentionKey = keyof typeof RETENTION_SETTINGS;

/** config/settings.yml's defaults for them at v4.3.0, v4.4.0 and v4.5.2: only `backups_retention_period: 7`. */
export const RETENTION_DEFAULTS: Readonly<Record<string, number>> = { backups_retention_period: 7 };

// ---------------------------------------------------------------------------------------------
// The owner account

/**
 * What `User.new` takes for an account made as tootctl makes it (lib/mastodon/cli/accounts.rb#create):
 * the users table's email, role_id and confirmed_at (db/schema.rb), Devise's password, the acceptance
 * `agreement` (validates :agreement, acceptance: … in app/models/user.rb), and the switch that lets an
 * administrator's account skip the registration checks. Any other name raises ActiveModel::UnknownAttributeError.
 */
export interface OwnerFacts {
  /** The switch's name: `attr_writer :bypass_invite_request_check` (4.3), `bypass_registration_checks` since 4.4 (app/models/user.rb). */
  bypassAttribute: 'bypass_invite_request_check' | 'bypass_registration_checks';
  userAttributes: readonly string[];
  /**
   * The User methods the script calls after `save` (app/models/user.rb): `mark_email_as_confirmed!`
   * (runs the after-confirmation steps, as tootctl's --confirmed does) and `approve!`. There is no `confirm!`.
   */
  userMethods: readonly string[];
}

/** Usernames the release refuses for a new local account (Account's UnreservedUsernameValidator). */
export interface ReservedUsernames {
  names: readonly string[];
  source: string;
  /** From this release on, the owner's registration bypass skips the check (app/models/account.rb: `!user&.bypass_registration_checks`). */
  bypassedByOwnerSince?: string;
}

// ---------------------------------------------------------------------------------------------
// A service's account and its OAuth token

/**
 * The OAuth scopes of every supported series: `default_scopes :read` and `optional_scopes` in
 * config/initializers/doorkeeper.rb, the same list at v4.3.0, v4.3.23, v4.4.0, v4.4.22, v4.5.2 and
 * v4.5.15. `enforce_configured_scopes` there makes Doorkeeper::Application refuse any other
 * (`validate :scopes_match_configured`: "Scopes doesn't match configured on the server.").
 */
const OAUTH_SCOPES_SINCE_4_3 = [
  'read', 'profile', 'write',
  'write:accounts', 'write:blocks', 'write:bookmarks', 'write:conversations', 'write:favourites', 'write:filters', 'write:follows', 'write:lists', 'write:media', 'write:mutes', 'write:notifications', 'write:reports', 'write:statuses',
  'read:accounts', 'read:blocks', 'read:bookmarks', 'read:favourites', 'read:filters', 'read:follows', 'read:lists', 'read:mutes', 'read:notifications', 'read:search', 'read:statuses',
  'follow', 'push',
  'admin:read', 'admin:read:accounts', 'admin:read:reports', 'admin:read:domain_allows', 'admin:read:domain_blocks', 'admin:read:ip_blocks', 'admin:read:email_domain_blocks', 'admin:read:canonical_email_blocks',
  'admin:write', 'admin:write:accounts', 'admin:write:reports', 'admin:write:domain_allows', 'admin:write:domain_blocks', 'admin:write:ip_blocks', 'admin:write:email_domain_blocks', 'admin:write:canonical_email_blocks',
] as const;

/**
 * How the service-account script makes an account, an application and its token, as Mastodon's own
 * Settings::ApplicationsController (app/controllers/settings/applications_controller.rb) and
 * User#token_for_app (app/models/user.rb) do, unchanged from v4.3.0 to v4.5.15 but for the
 * controller's parameters (4.3 joins the scopes into one string itself; 4.4 passes a list, which
 * Doorkeeper joins): the script gives one space-separated string, which every series takes.
 */
export interface ServiceAccountFacts {
  /** `oauth.scopes` below, for the script's own check. */
  scopes: readonly string[];
  /**
   * What `User.new` takes for the account: as the owner's (OwnerFacts.userAttributes) but without a
   * role. `confirmed_at` set before the first save means Devise sends no confirmation mail
   * (lib/devise/models/confirmable.rb, Devise 4.9.4 and 5.0.4: send_confirmation_notification? is
   * `confirmation_required? && …`, and confirmation_required? is `!confirmed?`).
   */
  userAttributes: readonly string[];
  /**
   * The User methods the script calls: `applications` (has_many :applications, class_name:
   * 'Doorkeeper::Application', as: :owner), `token_for_app` (find_or_create_by of the app's token,
   * with the app's scopes), `update!` for the approval, and `functional?` (confirmed, approved, not
   * disabled: what Api::BaseController#require_user! asks of a token's user, app/controllers/api/base_controller.rb). Not `approve!` nor
   * `mark_email_as_confirmed!`: both end in prepare_new_user!, which queues UserMailer.welcome (a
   * mail to an address no one reads) and the bootstrap follows; a service account needs neither.
   * `approved` cannot be given to User.new: `before_create :set_approved` overwrites it (false while
   * registrations are not open, the default).
   */
  userMethods: readonly string[];
  /** Doorkeeper::Application's attributes the script sets (oauth_applications in db/schema.rb). */
  applicationAttributes: readonly string[];
  /** Doorkeeper::AccessToken's methods the script calls: `token` (stored in clear: no hash_token_secrets in doorkeeper.rb), `accessible?` (neither revoked nor expired), `destroy`. */
  accessTokenMethods: readonly string[];
  /** Doorkeeper's native_redirect_uri, which Settings::ApplicationsController#new offers: an application with no web redirect. */
  redirectUri: 'urn:ietf:wg:oauth:2.0:oob';
}

export interface OAuthFacts {
  scopes: readonly string[];
  source: string;
  /**
   * A token reads GET /api/v1/accounts/verify_credentials with any one of these
   * (`doorkeeper_authorize! :profile, :read, :'read:accounts'` in
   * app/controllers/api/v1/accounts/credentials_controller.rb, v4.3.0 to v4.5.15).
   */
  verifyCredentialsScopes: readonly string[];
}

/**
 * The 403 a valid token gets from the API when its scopes do not reach an endpoint
 * (`doorkeeper_forbidden_render_options` in app/controllers/api/base_controller.rb, v4.3.0 to v4.5.15).
 * A 403 with another error is the account's: not confirmed, pending approval, or disabled (`require_user!`).
 */
export const OUTSIDE_SCOPES_ERROR = 'This action is outside the authorized scopes';

export interface SeriesFacts {
  series: MastodonSeries;
  /** The newest release of the series the facts were checked against; the tests build each series with it. */
  latest: string;
  /** Rails' reads (web, sidekiq, migrations, the owner script, tootctl). */
  rails: Reads;
  streaming: Reads;
  owner: OwnerFacts;
  reservedUsernames: ReservedUsernames;
  oauth: OAuthFacts;
  serviceAccount: ServiceAccountFacts;
  /** The queues Sidekiq serves (config/sidekiq.yml `:queues:`), with their weights. */
  sidekiqQueues: readonly SidekiqQueue[];
  /** The newest migration of every release of the series: `define(version:)` in db/schema.rb, the same from .0 to `latest`. */
  schemaVersion: string;
}

const COMMON_USER_ATTRIBUTES = ['email', 'password', 'agreement', 'role_id', 'confirmed_at'] as const;
const USER_METHODS = ['mark_email_as_confirmed!', 'approve!'] as const;
const SERVICE_ACCOUNT_USER_METHODS = ['applications', 'token_for_app', 'update!', 'functional?'] as const;
const OAUTH_SINCE_4_3: OAuthFacts = { scopes: OAUTH_SCOPES_SINCE_4_3, source: 'config/initializers/doorkeeper.rb', verifyCredentialsScopes: ['profile', 'read', 'read:accounts'] };

/** The service account's facts of a series whose registration bypass is `bypass` (OwnerFacts.bypassAttribute). */
function serviceAccountFacts(bypass: OwnerFacts['bypassAttribute']): ServiceAccountFacts {
  return {
    scopes: OAUTH_SCOPES_SINCE_4_3,
    userAttributes: ['email', 'password', 'agreement', 'confirmed_at', bypass],
    userMethods: SERVICE_ACCOUNT_USER_METHODS,
    applicationAttributes: ['name', 'redirect_uri', 'scopes'],
    accessTokenMethods: ['token', 'accessible?', 'destroy'],
    redirectUri: 'urn:ietf:wg:oauth:2.0:oob',
  };
}

const RESERVED_SINCE_4_4 = ['abuse', 'account', 'accounts', 'admin', 'administration', 'administrator', 'admins', 'help', 'helpdesk', 'instance', 'mod', 'moderator', 'moderators', 'mods', 'owner', 'root', 'security', 'server', 'staff', 'support', 'webmaster'];

export const MASTODON: Readonly<Record<MastodonSeries, SeriesFacts>> = {
  '4.3': {
    series: '4.3',
    latest: 'v4.3.23',
    // db/schema.rb at v4.3.0 to v4.3.23 (db/migrate and db/post_migrate hold none newer).
    schemaVersion: '20241007071624',
    rails: {
      ...RAILS_READS,
      // config/environments/production.rb at v4.3.0 builds the SMTP settings itself.
      ...readBy('config/environments/production.rb', SMTP_VARIABLES),
      ...readBy('config/initializers/vapid.rb', ['VAPID_PRIVATE_KEY', 'VAPID_PUBLIC_KEY']),
      SKIP_POST_DEPLOYMENT_MIGRATIONS: 'config/initializers/0_post_deployment_migrations.rb',
      OTP_SECRET: 'config/environments/production.rb',
    },
    streaming: STREAMING_READS,
    owner: { bypassAttribute: 'bypass_invite_request_check', userAttributes: [...COMMON_USER_ATTRIBUTES, 'bypass_invite_request_check'], userMethods: USER_METHODS },
    reservedUsernames: { names: ['admin', 'support', 'help', 'root', 'webmaster', 'administrator', 'mod', 'moderator'], source: 'reserved_usernames in config/settings.yml at v4.3.0' },
    oauth: OAUTH_SINCE_4_3,
    serviceAccount: serviceAccountFacts('bypass_invite_request_check'),
    sidekiqQueues: SIDEKIQ_QUEUES_4_3,
  },
  '4.4': {
    series: '4.4',
    latest: 'v4.4.22',
    // db/schema.rb at v4.4.0 to v4.4.22 (db/migrate and db/post_migrate hold none newer).
    schemaVersion: '20250627132728',
    rails: RAILS_READS_SINCE_4_4,
    streaming: STREAMING_READS,
    // lib/mastodon/cli/accounts.rb#create at v4.4.0 passes `bypass_registration_checks: true`.
    owner: { bypassAttribute: 'bypass_registration_checks', userAttributes: [...COMMON_USER_ATTRIBUTES, 'bypass_registration_checks'], userMethods: USER_METHODS },
    reservedUsernames: { names: RESERVED_SINCE_4_4, source: 'reserved_usernames in config/settings.yml at v4.4.0', bypassedByOwnerSince: 'v4.4.4' },
    oauth: OAUTH_SINCE_4_3,
    serviceAccount: serviceAccountFacts('bypass_registration_checks'),
    sidekiqQueues: SIDEKIQ_QUEUES_SINCE_4_4,
  },
  '4.5': {
    series: '4.5',
    latest: 'v4.5.15',
    // db/schema.rb at v4.5.0 to v4.5.15 (db/migrate and db/post_migrate hold none newer).
    schemaVersion: '20251023210145',
    rails: RAILS_READS_SINCE_4_4,
    streaming: STREAMING_READS,
    owner: { bypassAttribute: 'bypass_registration_checks', userAttributes: [...COMMON_USER_ATTRIBUTES, 'bypass_registration_checks'], userMethods: USER_METHODS },
    // UsernameBlock rows seeded by db/seeds/05_blocked_usernames.rb (plus "mastodon" and "mastadon" anywhere in a name).
    reservedUsernames: { names: RESERVED_SINCE_4_4, source: 'db/seeds/05_blocked_usernames.rb at v4.5.2', bypassedByOwnerSince: 'v4.5.0' },
    oauth: OAUTH_SINCE_4_3,
    serviceAccount: serviceAccountFacts('bypass_registration_checks'),
    sidekiqQueues: SIDEKIQ_QUEUES_SINCE_4_4,
  },
};

/** The facts of a version's series; the validator has refused every version of another series before the compiler runs. */
export function mastodonFacts(version: string): SeriesFacts {
  const series = seriesOf(version);
  if (!series) throw new Error(`no Mastodon facts for ${version}: the validator accepts only the ${MASTODON_SERIES.join(', ')} series`);
  return MASTODON[series];
}

/**
 * The reserved usernames that stop the owner script at this release (none once its registration bypass
 * skips the check). The service-account script sets the same bypass, so the same holds for it.
 */
export function reservedOwnerUsernames(version: string): ReservedUsernames | undefined {
  const reserved = mastodonFacts(version).reservedUsernames;
  return reserved.bypassedByOwnerSince && compareVersions(version, reserved.bypassedByOwnerSince) >= 0 ? undefined : reserved;
}

// ---------------------------------------------------------------------------------------------
// How mastodon-cfn wires the processes (the compiler sets these; the validator refuses user values for them)

/** The Mastodon containers (and those of import and export), each logging under its own name; side services may not take these names. */
export const MASTODON_PROCESSES = ['web', 'streaming', 'sidekiq', 'metrics', 'migrate', 'postgres', 'fetch', 'restore', 'dump', 'upload'] as const;

/** The variables the compiler sets on the Rails containers; a user value would silently break the wiring. */
export const OWNED_MASTODON_VARIABLES = [
  'LOCAL_DOMAIN', 'RAILS_ENV', 'RAILS_SERVE_STATIC_FILES', 'BIND', 'PORT',
  'DB_HOST', 'DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASS', 'DB_SSLMODE',
  'REPLICA_DB_NAME', 'REPLICA_DB_HOST', 'REPLICA_DB_PORT', 'REPLICA_DB_USER', 'REPLICA_DB_PASS', 'REPLICA_DATABASE_URL',
  'ES_ENABLED', 'ES_HOST', 'ES_PORT', 'ES_USER', 'ES_PASS', 'ES_PRESET',
  'REDIS_URL', 'REDIS_DRIVER',
  'S3_ENABLED', 'S3_BUCKET', 'S3_REGION', 'S3_HOSTNAME', 'S3_PROTOCOL', 'S3_ALIAS_HOST', 'S3_PERMISSION',
  ...SMTP_VARIABLES,
  'SKIP_POST_DEPLOYMENT_MIGRATIONS',
  ...MASTODON_SECRET_VARIABLES,
] as const;

/**
 * What a dump of a Mastodon database must hold to be imported: its newest migration (a row of
 * schema_migrations) no newer than the pinned release's, and no older than the oldest one Mastodon
 * still migrates from (MIN_SUPPORTED_VERSION in lib/mastodon/cli/maintenance.rb at v4.3.0, v4.4.0 and v4.5.2).
 */
export const OLDEST_IMPORTABLE_MIGRATION = '20191001213028';

/**
 * The folders of Mastodon's local file storage (public/system, PAPERCLIP_ROOT_PATH): one per model with an
 * attachment (app/models; imports/ until 4.4), and cache/ for remote media. Their paths are the S3 keys as they are (config/initializers/paperclip.rb at v4.3.0 and v4.5.2,
 * without S3_KEY_PREFIX): a folder holding none of them is not a copy of public/system.
 */
export const MEDIA_FOLDERS = ['accounts', 'media_attachments', 'custom_emojis', 'site_uploads', 'preview_cards', 'preview_card_providers', 'backups', 'imports', 'cache'] as const;

/** The Cache-Control Mastodon sends with every file it stores in S3 (s3_headers in config/initializers/paperclip.rb at v4.3.0 and v4.5.2). */
export const MEDIA_CACHE_CONTROL = 'public, max-age=315576000, immutable';
