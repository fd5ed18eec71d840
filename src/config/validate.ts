import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { registryHost, reservedDomain } from '../domains.js';
import { databaseEngine, engineVersionProblem } from '../aws/engines.js';
import { ECR_REPOSITORY_NAME, NAME_LIMITS, type NameKind } from '../aws/limits.js';
import { DEPLOYABLE_REGIONS, REGIONS } from '../aws/regions.js';
import { parseSnapshotReference, restoreProblem } from '../aws/snapshots.js';
import { byPosition, excerpt, type Problem } from '../errors.js';
import { closest, editDistance } from '../format.js';
import { packagePath } from '../packagePath.js';
import { distributionComment } from '../compiler/media.js';
import { defaultRulePriority, makeNames, pascal, type KeptSecret } from '../compiler/naming.js';
import { IGNORED_NEXT_TO_REDIS_URL, MOVING_SIDEKIQ_QUEUES, MASTODON_PROCESSES, MASTODON_SERIES, MASTODON, mastodonFacts, OWNED_MASTODON_VARIABLES, reservedOwnerUsernames, seriesOf } from '../mastodon/facts.js';
import { fargateSizeProblem } from './fargate.js';
import { connectionBudgetProblems, sizeProblems } from './sizes.js';
import { mastodonTasks } from '../mastodon/layout.js';
import type { LoadedConfig } from './load.js';
import { dotted, getAt, isPlainObject, type ConfigPath } from './path.js';
import { validate as validateSchema, type SchemaError } from './schemaValidator.generated.js';
import type { Config } from './types.js';

type Locate = LoadedConfig['locate'];

/** Validates against the schema (filling in its defaults), then fills derived defaults and checks what a schema cannot. */
/** `baseDir`: the config file's folder, which `services.<name>.build` is relative to. */
/** `textFromOutside`: the dotted paths of values that are one variable of the command line or the environment, which can only be text. */
export function validateConfig(resolved: Record<string, unknown>, locate: Locate, baseDir: string, textFromOutside: ReadonlySet<string> = new Set()): { config: Config; problems: Problem[] } {
  let data = structuredClone(resolved);
  let schemaValid = validateSchema(data);
  // `count: ${param:webCount}` with --param webCount=3: the command line and the environment give text, read as the number or boolean the schema takes.
  const retyped = schemaValid ? undefined : retypeOutsideText(resolved, validateSchema.errors ?? [], textFromOutside);
  if (retyped) {
    // A copy already, and the validator's to fill in.
    data = retyped;
    schemaValid = validateSchema(data);
  }
  const problems = schemaValid ? [] : schemaProblems(validateSchema.errors ?? [], data, locate);
  const config = data as unknown as Config;
  // The semantic checks run even when the schema found problems, so that all are reported at once;
  // each check guards its own inputs, and one that trips over a value the schema rejected stays silent.
  try {
    const mediaDomainGiven = isPlainObject(config.media) && config.media.domain !== undefined;
    if (typeof config.domain === 'string') {
      if (isPlainObject(config.media)) config.media.domain ??= `media.${config.domain}`;
      if (isPlainObject(config.mail)) config.mail.from ??= `notifications@${config.domain}`;
    }
    problems.push(...sizeProblems(config, locate));
    problems.push(...semanticProblems(config, locate));
    problems.push(...serviceSourceProblems(config, locate, baseDir));
    problems.push(...serviceAccountProblems(config, locate));
    problems.push(...awsProblems(config, locate, mediaDomainGiven));
  } catch (error) {
    if (schemaValid) throw error;
  }
  if (problems.length === 0) problems.push(...connectionBudgetProblems(config, locate));
  problems.sort(byPosition);
  return { config, problems };
}

/** A copy of the config with the outside text the schema wants as a number or a boolean read as one; undefined when there is none. */
function retypeOutsideText(resolved: Record<string, unknown>, errors: SchemaError[], textFromOutside: ReadonlySet<string>): Record<string, unknown> | undefined {
  let copy: Record<string, unknown> | undefined;
  for (const error of errors) {
    if (error.keyword !== 'type') continue;
    const path = pointerToPath(error.instancePath);
    const text = getAt(copy ?? resolved, path);
    if (typeof text !== 'string' || !textFromOutside.has(dotted(path))) continue;
    const wanted = [error.params.type].flat() as string[];
    const value = wanted.includes('integer') && /^-?\d{1,15}$/.test(text) ? Number(text)
      : wanted.includes('number') && /^-?\d{1,15}(\.\d{1,15})?$/.test(text) ? Number(text)
      : wanted.includes('boolean') && (text === 'true' || text === 'false') ? text === 'true'
      : undefined;
    if (value === undefined) continue;
    copy ??= structuredClone(resolved);
    const parent = getAt(copy, path.slice(0, -1)) as Record<string, unknown>;
    parent[path.at(-1)!] = value;
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Schema errors, in words

let schemaDocument: Record<string, unknown> | undefined;
/** The schema itself, read only when there are errors to explain (hints and key suggestions). */
/**
 * The schema object an error's keyword sits in. Inside a definition that itself refers to another,
 * ajv's schemaPath is relative to that definition: it is then the definition where the path leads
 * to the error's keyword (with the error's pattern, for a pattern).
 */
function schemaAt(schemaPath: string, error: SchemaError): Record<string, unknown> | undefined {
  schemaDocument ??= JSON.parse(readFileSync(packagePath('schema/mastodon.config.schema.json'), 'utf8')) as Record<string, unknown>;
  const segments = schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const candidates = [segments, ...Object.keys(schemaDocument.definitions as object).map((name) => ['definitions', name, ...segments])];
  const found = candidates.map((path) => getAt(schemaDocument, path) as Record<string, unknown> | undefined).find((schema) => schema !== undefined && error.keyword in schema && (error.keyword !== 'pattern' || schema.pattern === error.params.pattern));
  return found ?? (getAt(schemaDocument, segments) as Record<string, unknown> | undefined);
}

function pointerToPath(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Keys of earlier versions, with what to write instead. */
const RENAMED_KEYS: Record<string, string> = {
  // In a Serverless Framework config `profile` names the AWS credentials, and `--profile` does on every deploying command.
  profile: '"profile" is now "size" (small, standard or large; profile small is size small, profile standard is size standard): write size: instead; the AWS credentials profile is provider.profile',
  'mastodon.desiredCount': '"mastodon.desiredCount" is gone: size small runs one task; at sizes standard and large write mastodon.web.count (or mastodon.web.autoscaling)',
};

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  'string,number,boolean': 'a string, number or boolean',
};

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${excerpt(value)}"`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function suggestion(unknown: string, known: string[]): string {
  const close = closest(unknown, known);
  if (close !== undefined) return ` (did you mean "${close}"?)`;
  return known.length > 0 ? ` (known keys: ${known.join(', ')})` : '';
}

function schemaProblems(errors: SchemaError[], data: unknown, locate: Locate): Problem[] {
  const problems: Problem[] = [];
  for (const error of errors) {
    const path = pointerToPath(error.instancePath);
    const value = getAt(data, path);
    const parent = schemaAt(error.schemaPath.split('/').slice(0, -1).join('/'), error);
    const at = (p: ConfigPath, key = false) => ({ path: dotted(p), ...locate(p, { key }) });
    const code = `schema.${error.keyword}`;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(error.params.additionalProperty);
        const renamed = RENAMED_KEYS[dotted([...path, key])];
        if (renamed) {
          problems.push({ code: 'schema.renamed', ...at([...path, key], true), message: renamed });
          break;
        }
        const known = Object.keys((parent?.properties as Record<string, unknown>) ?? {});
        problems.push({ code, ...at([...path, key], true), message: `unknown key "${excerpt(key)}"${key.length <= 80 ? suggestion(key, known) : ''}` });
        break;
      }
      case 'required':
        problems.push({ code, ...at(path), message: `missing required key "${String(error.params.missingProperty)}"` });
        break;
      case 'type':
        problems.push({ code, ...at(path), message: `must be ${TYPE_WORDS[String(error.params.type)] ?? String(error.params.type)}, not ${describe(value)}` });
        break;
      case 'enum':
        problems.push({ code, ...at(path), message: `must be one of ${(error.params.allowedValues as unknown[]).map(String).join(', ')}; got ${describe(value)}` });
        break;
      case 'pattern': {
        const hint = parent?.['x-pattern-hint'] ?? `a string matching ${String(error.params.pattern)}`;
        if (error.propertyName !== undefined) {
          problems.push({ code, ...at([...path, error.propertyName], true), message: `"${excerpt(error.propertyName)}" is not a valid name here: use ${String(hint)}` });
        } else {
          problems.push({ code, ...at(path), message: `must be ${String(hint)}; got ${describe(value)}` });
        }
        break;
      }
      case 'propertyNames':
        break; // reported by its inner `pattern` error, with the offending key
      case 'minimum':
      case 'maximum':
        problems.push({ code, ...at(path), message: `must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(error.params.limit)}; got ${describe(value)}` });
        break;
      case 'multipleOf':
        problems.push({ code, ...at(path), message: `must be a multiple of ${String(error.params.multipleOf)}; got ${describe(value)}` });
        break;
      case 'maxLength':
      case 'minLength':
        problems.push({ code, ...at(path), message: `must be ${error.keyword === 'maxLength' ? 'at most' : 'at least'} ${String(error.params.limit)} characters long; got ${String((value as string).length)}` });
        break;
      case 'minProperties':
      case 'maxProperties':
        problems.push({ code, ...at(path), message: `must have ${error.keyword === 'minProperties' ? 'at least' : 'at most'} ${String(error.params.limit)} ${Number(error.params.limit) === 1 ? 'entry' : 'entries'}` });
        break;
      case 'minItems':
        problems.push({ code, ...at(path), message: `must list at least ${String(error.params.limit)} items` });
        break;
      case 'uniqueItems':
        problems.push({ code, ...at(path), message: `must not list the same item twice (items ${String(error.params.j)} and ${String(error.params.i)} are equal)` });
        break;
      default:
        problems.push({ code, ...at(path), message: error.message ?? 'is not valid' });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Checks beyond the schema

/** Keys the compiler sets itself; a user value would silently break the wiring. Tuning (DB_POOL, MAX_THREADS, ...) is the user's. */
const OWNED_VARIABLES: ReadonlySet<string> = new Set(OWNED_MASTODON_VARIABLES);
const IGNORED_VARIABLES: ReadonlySet<string> = new Set(IGNORED_NEXT_TO_REDIS_URL);
const MOVING_QUEUES: ReadonlySet<string> = new Set(MOVING_SIDEKIQ_QUEUES);
/** Threads and pools the connection budget counts: whole numbers, or the budget would count nonsense. */
const COUNTED_VARIABLES = ['MAX_THREADS', 'DB_POOL', 'SIDEKIQ_CONCURRENCY'] as const;

function semanticProblems(config: Config, locate: Locate): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });

  const number = (value: unknown): value is number => typeof value === 'number';
  const text = (value: unknown): value is string => typeof value === 'string';
  if (number(config.database.minCapacity) && number(config.database.maxCapacity) && config.database.minCapacity > config.database.maxCapacity) {
    report(['database', 'minCapacity'], 'capacity', `minCapacity ${config.database.minCapacity} is greater than maxCapacity ${config.database.maxCapacity}`);
  }
  const version = text(config.mastodon.version) && /^v\d+\.\d+\.\d+$/.test(config.mastodon.version) ? config.mastodon.version : undefined;
  const series = version && seriesOf(version);
  if (version && !series) {
    const supported = MASTODON_SERIES.map((s) => `${s}.x`).join(', ');
    report(['mastodon', 'version'], 'version', `${version} is not a release mastodon-cfn knows: it supports the ${supported} series (up to ${MASTODON[MASTODON_SERIES.at(-1)!].latest} checked); choose one of them`);
  }
  const environment = isPlainObject(config.mastodon.environment) ? config.mastodon.environment : {};
  const secrets = isPlainObject(config.mastodon.secrets) ? config.mastodon.secrets : {};
  for (const [section, variables] of [['environment', environment], ['secrets', secrets]] as const) {
    for (const key of Object.keys(variables)) {
      const at: ConfigPath = ['mastodon', section, key];
      if (OWNED_VARIABLES.has(key)) report(at, 'reservedVariable', `${key} is set by mastodon-cfn itself and cannot be overridden`);
      if (IGNORED_VARIABLES.has(key)) report(at, 'reservedVariable', `${key} would be ignored: Mastodon reads only the REDIS_URL mastodon-cfn sets (lib/mastodon/redis_configuration.rb, streaming/redis.js)`);
      if (MOVING_QUEUES.has(key)) report(at, 'reservedVariable', `${key} would move Sidekiq's queues away from the stack's cache, where the queue-latency metric and Sidekiq's autoscaling read them (lib/mastodon/redis_configuration.rb): remove it`);
      if (section === 'secrets' && key in environment) report(at, 'duplicateVariable', `${key} is also in mastodon.environment: keep it in one place (here, if it is a secret)`);
    }
  }
  if (isPlainObject(config.alerts)) {
    const { email, topic } = config.alerts;
    if (email === undefined && topic === undefined) report(['alerts'], 'alerts', 'alerts needs email (the addresses alarms are mailed to) or topic (an SNS topic ARN of yours)');
    if (email !== undefined && topic !== undefined) report(['alerts', 'topic'], 'alerts', 'give alerts.email or alerts.topic, not both: with a topic of yours, subscribe the addresses to it');
    const topicRegion = text(topic) ? topic.split(':')[3] : undefined;
    if (topicRegion && text(config.provider.region) && topicRegion !== config.provider.region) {
      report(['alerts', 'topic'], 'alerts', `the topic is in ${topicRegion}, the stack in ${config.provider.region}: CloudWatch alarms publish only to a topic in their own region`);
    }
  }
  const workers = environment.WEB_CONCURRENCY;
  if (workers !== undefined && !/^\d{1,3}$/.test(String(workers))) report(['mastodon', 'environment', 'WEB_CONCURRENCY'], 'webConcurrency', `WEB_CONCURRENCY must be a whole number of Puma workers from 0 (Puma's single mode) to 999; got ${JSON.stringify(workers)}`);
  for (const name of COUNTED_VARIABLES) {
    const value = environment[name];
    if (value !== undefined && !/^[1-9]\d{0,2}$/.test(String(value))) report(['mastodon', 'environment', name], 'threads', `${name} must be a whole number from 1 to 999; got ${JSON.stringify(value)}`);
  }

  if (text(config.media.domain) && config.media.domain === config.domain) {
    report(['media', 'domain'], 'mediaDomain', `the media domain must differ from the instance domain ${config.domain} (CloudFront and the load balancer cannot share a name)`);
  }
  if (text(config.certificates.instance) && config.certificates.instance.split(':')[3] !== config.provider.region) {
    report(['certificates', 'instance'], 'certificateRegion', `the instance certificate must be in ${config.provider.region}, the region of the load balancer`);
  }
  if ((config.network.vpcId === undefined) !== (config.network.subnetIds === undefined)) {
    const missing = config.network.vpcId === undefined ? 'vpcId' : 'subnetIds';
    report(['network', config.network.vpcId === undefined ? 'subnetIds' : 'vpcId'], 'network', `network.vpcId and network.subnetIds go together: add ${missing}`);
  }

  const owner = config.mastodon.owner?.username;
  const reserved = series && text(owner) ? reservedOwnerUsernames(version) : undefined;
  if (reserved && text(owner) && reserved.names.includes(owner.toLowerCase())) {
    report(['mastodon', 'owner', 'username'], 'reservedUsername', `Mastodon ${version} reserves the username "${owner}" (${reserved.source}): choose another`);
  }
  if (config.dns && (config.dns.hostedZoneId === undefined) === !config.dns.route53) {
    report(config.dns.route53 ? ['dns', 'route53'] : ['dns'], 'dnsZone', config.dns.route53 ? 'give dns.hostedZoneId or dns.route53: true, not both' : 'dns needs hostedZoneId, or route53: true to find the zone at deploy time');
  }

  const hostOwners = new Map<string, string>([
    [config.domain, 'domain'],
    [config.media.domain, 'media.domain'],
  ]);
  const idOwners = new Map<string, string>();
  const priorityOwners = new Map<number, string>();
  for (const [name, service] of Object.entries(config.services)) {
    if (!isPlainObject(service)) continue;
    const at = (key: string) => ['services', name, key];
    if (!service.host && !service.path) report(['services', name], 'route', `service "${name}" needs a host or a path to be routed to`);
    if ((MASTODON_PROCESSES as readonly string[]).includes(name)) report(['services', name], 'reservedName', `"${name}" is the name of a Mastodon process (mastodon-cfn logs ${name} shows it): choose another service name`);
    if (service.host) {
      const owner = hostOwners.get(service.host);
      if (owner) report(at('host'), 'duplicateHost', `host ${service.host} is already used by ${owner}`);
      else hostOwners.set(service.host, `services.${name}.host`);
    }
    if (service.table && isPlainObject(service.environment)) {
      for (const key of ['TABLE_NAME', 'AWS_REGION']) {
        if (key in service.environment) report(['services', name, 'environment', key], 'reservedVariable', `${key} is set by mastodon-cfn for the service's table and cannot be overridden`);
      }
    }
    const size = number(service.cpu) && number(service.memory) ? fargateSizeProblem(service.cpu, service.memory) : undefined;
    if (size) report(at('memory'), 'fargateSize', size);
    const id = pascal(name);
    const idOwner = idOwners.get(id);
    if (idOwner) report(['services', name], 'logicalId', `service names "${idOwner}" and "${name}" both become "${id}" in logical ids: rename one`);
    else idOwners.set(id, name);
    const priority = service.priority ?? defaultRulePriority(name);
    const priorityOwner = priorityOwners.get(priority);
    if (priorityOwner) report(service.priority ? at('priority') : ['services', name], 'priority', `listener rule priority ${priority} is also used by service "${priorityOwner}": set services.${name}.priority`);
    else priorityOwners.set(priority, name);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Where a service's image comes from, and the account it acts as

/**
 * Exactly one of `image` and `build`; an image on a registry no one can own is refused (it could
 * never be pulled, and the service would fail its first deploy); a build folder must hold a
 * package.json, and becomes absolute. A service's Mastodon account gets its defaults here.
 */
function serviceSourceProblems(config: Config, locate: Locate, baseDir: string): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });
  if (!isPlainObject(config.services)) return problems;
  for (const [name, service] of Object.entries(config.services)) {
    if (!isPlainObject(service)) continue;
    const at = (...key: string[]) => ['services', name, ...key];
    if (service.image === undefined && service.build === undefined) report(at(), 'imageSource', `service "${name}" needs an image: give build (a folder with its package.json, built and pushed by deploy) or image (a prebuilt image)`);
    if (service.image !== undefined && service.build !== undefined) report(at('image'), 'imageSource', `give build or image, not both: build makes the image that image would name`);
    if (typeof service.image === 'string') {
      const host = registryHost(service.image);
      const reserved = reservedDomain(host);
      if (reserved) report(at('image'), 'reservedRegistry', `${service.image} is on ${host}, a name reserved for examples, tests and local networks (RFC 2606, 6761, 6762) that no registry can have: push the image to a registry of yours, or set build to the service's folder so that deploy builds and pushes it`);
    }
    // An empty folder is the schema's problem alone.
    if (typeof service.build === 'string' && service.build !== '') {
      const folder = resolve(baseDir, service.build);
      const problem = buildFolderProblem(folder, service.build);
      if (problem) report(at('build'), 'buildFolder', problem);
      else service.build = folder;
    }
    const account = service.mastodon;
    if (isPlainObject(account) && typeof account.account === 'string' && typeof config.domain === 'string') account.email ??= `${account.account}@${config.domain}`;
  }
  return problems;
}

/**
 * A service's Mastodon account: scopes the release has, a username it lets the account script take,
 * not the owner's, not another service's, and a token variable nothing else of the service sets.
 */
function serviceAccountProblems(config: Config, locate: Locate): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });
  if (!isPlainObject(config.services) || !isPlainObject(config.mastodon)) return problems;
  const version = typeof config.mastodon.version === 'string' && seriesOf(config.mastodon.version) ? config.mastodon.version : undefined;
  const facts = version ? mastodonFacts(version) : undefined;
  const reserved = version ? reservedOwnerUsernames(version) : undefined;
  const owner = isPlainObject(config.mastodon.owner) && typeof config.mastodon.owner.username === 'string' ? config.mastodon.owner.username : undefined;
  const accountOwners = new Map<string, string>();
  for (const [name, service] of Object.entries(config.services)) {
    if (!isPlainObject(service) || !isPlainObject(service.mastodon)) continue;
    const at = (...key: (string | number)[]) => ['services', name, 'mastodon', ...key];
    const { account, scopes, variable } = service.mastodon;
    if (facts && Array.isArray(scopes)) {
      scopes.forEach((scope, index) => {
        if (typeof scope !== 'string' || facts.oauth.scopes.includes(scope)) return;
        const close = suggestion(scope, [...facts.oauth.scopes]);
        report(at('scopes', index), 'oauthScope', `Mastodon ${version} has no OAuth scope "${scope}" (${facts.oauth.source})${close.startsWith(' (did you mean') ? close : `: it has ${facts.oauth.scopes.join(', ')}`}`);
      });
    }
    if (typeof account === 'string') {
      const username = account.toLowerCase();
      if (reserved?.names.includes(username)) report(at('account'), 'reservedUsername', `Mastodon ${version} reserves the username "${account}" (${reserved.source}): choose another`);
      if (owner !== undefined && owner.toLowerCase() === username) report(at('account'), 'serviceAccount', `@${account} is the owner account (mastodon.owner.username): a service needs an account of its own, which its token alone can act as`);
      const other = accountOwners.get(username);
      if (other) report(at('account'), 'serviceAccount', `@${account} is already the account of service "${other}": each service needs an account of its own (rotating one's token would break the other's)`);
      else accountOwners.set(username, name);
    }
    if (typeof variable === 'string') {
      for (const section of ['environment', 'secrets'] as const) {
        if (isPlainObject(service[section]) && variable in service[section]) {
          report(['services', name, section, variable], 'reservedVariable', `${variable} is the variable the service's Mastodon token is given in (services.${name}.mastodon.variable): remove it here, or set mastodon.variable to another name`);
        }
      }
      const compilerSet = ['PORT', ...(service.table ? ['TABLE_NAME', 'AWS_REGION'] : [])];
      if (compilerSet.includes(variable)) report(at('variable'), 'reservedVariable', `${variable} is set by mastodon-cfn for the service itself: choose another variable for the token`);
    }
  }
  return problems;
}

/** Why `folder` (`given` in the config) cannot be built as a Node.js service; undefined when it holds a package.json. */
function buildFolderProblem(folder: string, given: string): string | undefined {
  const kind = (path: string) => {
    try {
      const stat = statSync(path);
      return stat.isDirectory() ? 'folder' : stat.isFile() ? 'file' : 'other';
    } catch {
      return 'missing';
    }
  };
  if (kind(folder) !== 'folder') return `${given} is not a folder: build takes the folder of a Node.js service, relative to this file (such as ./postblog)`;
  if (kind(join(folder, 'package.json')) !== 'file') return `${given} has no package.json: build takes the folder of a Node.js service`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// What AWS refuses (the facts are in src/aws/)

/** Fills the database engine version of the size, and refuses what AWS would refuse: a region, an engine version, a CIDR block, a name too long. */
function awsProblems(config: Config, locate: Locate, mediaDomainGiven: boolean): Problem[] {
  const problems: Problem[] = [];
  const report = (path: ConfigPath, code: string, message: string) => problems.push({ code: `semantic.${code}`, path: dotted(path), message, ...locate(path) });

  const region = config.provider?.region;
  if (typeof region === 'string' && /^[a-z]{2}(-gov)?-[a-z]+-[0-9]$/.test(region)) {
    const message = regionProblem(region);
    if (message) report(['provider', 'region'], 'region', message);
  }

  if (isPlainObject(config.database) && typeof config.size === 'string') {
    const engine = databaseEngine(config.size);
    config.database.engineVersion ??= engine.defaultVersion;
    const message = typeof config.database.engineVersion === 'string' && /^[0-9]+\.[0-9]+$/.test(config.database.engineVersion) ? engineVersionProblem(engine, config.database.engineVersion) : undefined;
    if (message) report(['database', 'engineVersion'], 'engineVersion', message);
  }

  const restoreFrom = isPlainObject(config.database) ? config.database.restoreFrom : undefined;
  // A value the schema's pattern or length refuses is the schema's problem alone.
  if (typeof restoreFrom === 'string' && restoreFrom.length <= 1024 && /^(arn:\S+|(rds:)?[A-Za-z][A-Za-z0-9-]*)$/.test(restoreFrom) && typeof config.size === 'string') {
    const snapshot = parseSnapshotReference(restoreFrom);
    const problem = !snapshot
      ? 'is neither a snapshot identifier (at most 255 letters, digits and single hyphens, starting with a letter) nor an RDS snapshot ARN (arn:aws:rds:<region>:<account>:cluster-snapshot:<id> or …:snapshot:<id>)'
      : snapshot.region && typeof region === 'string' && snapshot.region !== region
        ? `is a snapshot in ${snapshot.region}, and RDS restores only in the snapshot's own region: copy it to ${region} first (aws rds copy-db-${snapshot.kind === 'cluster' ? 'cluster-' : ''}snapshot --region ${region}), then name the copy`
        : restoreProblem(config.size === 'small' ? 'instance' : 'cluster', snapshot);
    if (problem) report(['database', 'restoreFrom'], 'restoreFrom', `"${excerpt(restoreFrom, 160)}" ${problem}`);
  }

  const cidr = config.network?.cidr;
  // A value the schema's pattern refuses is the schema's problem alone.
  if (typeof cidr === 'string' && /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(cidr) && config.network.vpcId === undefined) {
    const message = cidrProblem(cidr);
    if (message) report(['network', 'cidr'], 'cidr', message);
  }

  for (const name of derivedNames(config, mediaDomainGiven)) {
    const limit = NAME_LIMITS[name.kind];
    const over = name.value.length - limit.max;
    if (over > 0) report(name.path, 'nameTooLong', `${name.cause}the ${limit.what} "${excerpt(name.value)}" has ${name.value.length} characters; AWS allows at most ${limit.max}: ${name.advice(over)}`);
    else if (name.kind === 'repositoryName' && !ECR_REPOSITORY_NAME.test(name.value)) {
      report(name.path, 'repositoryName', `${name.cause}the ${limit.what} "${excerpt(name.value)}", which ECR refuses: it takes a single dot, dash or underscore between letters and digits: rename the service without repeated dashes`);
    }
  }
  return problems;
}

function regionProblem(region: string): string | undefined {
  const facts = REGIONS[region];
  if (!facts) {
    const close = DEPLOYABLE_REGIONS.filter((known) => editDistance(region, known) <= 2);
    return `${region} is not an AWS region${close.length ? ` (did you mean ${close.join(' or ')}?)` : ''}`;
  }
  if (facts.partition !== 'aws') {
    return `${region} is in the ${facts.partition} partition, apart from us-east-1 where CloudFront's certificate must be: choose a region of the aws partition, such as eu-central-1`;
  }
  if (facts.missingTypes.length > 0) {
    return `CloudFormation cannot create ${facts.missingTypes.join(', ')} in ${region} (the service is not offered there): choose another region, such as eu-central-1`;
  }
  return undefined;
}

/** The block must be a network address: EC2 refuses a CIDR block with host bits set (CreateVpc: "not a valid CIDR block"). */
function cidrProblem(cidr: string): string | undefined {
  const [address, prefix] = cidr.split('/');
  const octets = address.split('.').map(Number);
  const wrong = octets.find((octet) => octet > 255);
  if (wrong !== undefined) return `${cidr} is not an IPv4 block: ${wrong} is more than 255`;
  const bits = Number(prefix);
  const value = octets.reduce((sum, octet) => sum * 256 + octet, 0);
  const size = 2 ** (32 - bits);
  const network = value - (value % size);
  if (network === value) return undefined;
  const start = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
  return `${cidr} is not a network address: a /${bits} block starts at ${start} (write ${start}/${bits})`;
}

interface DerivedName {
  kind: NameKind;
  value: string;
  /** The config key that makes the name, where a problem is reported. */
  path: ConfigPath;
  /** What makes the name, when it is not a value of the config. */
  cause: string;
  /** What to do about a name `over` characters too long. */
  advice(over: number): string;
}

/** Every name the compiler derives from the config and sends to AWS as it is (names CloudFormation generates are its own to keep short). */
export function derivedNames(config: Config, mediaDomainGiven = true): DerivedName[] {
  const text = (value: unknown): value is string => typeof value === 'string';
  const stage = config.provider?.stage;
  if (!text(config.service) || !text(stage)) return [];
  const names = makeNames(config.service, stage);
  const fromPrefix = (kind: NameKind, value: string): DerivedName => ({ kind, value, path: ['service'], cause: `service "${config.service}" and stage "${stage}" make `, advice: (over) => `shorten the service or stage name by ${over}` });
  const fromService = (kind: NameKind, value: string, name: string): DerivedName => ({ kind, value, path: ['services', name], cause: `service "${name}" makes `, advice: (over) => `shorten the service name by ${over}` });
  const certificate = (value: string, path: ConfigPath, shorter: string, arnKey: string, cause = ''): DerivedName => ({ kind: 'certificateDomain', value, path, cause, advice: () => `choose a shorter ${shorter}, or give the ARN of a certificate for it in ${arnKey}` });
  const services = isPlainObject(config.services) ? Object.entries(config.services).filter(([, service]) => isPlainObject(service)) : [];
  const kept: KeptSecret[] = ['mastodon', 'database', 'owner'];
  const derived: DerivedName[] = [
    ...(['certificates', 'secrets', 'main'] as const).map((role) => fromPrefix('stackName', names.stackName(role))),
    fromPrefix('clusterName', names.prefix),
    fromPrefix('originAccessControlName', names.mediaPolicyName),
    fromPrefix('responseHeadersPolicyName', names.mediaPolicyName),
    // The size's tasks (mastodon, web, streaming, sidekiq-<group>), once the size's defaults are filled in.
    ...[...(isPlainObject(config.mastodon?.sidekiq?.groups) ? mastodonTasks(config).map((task) => task.name) : []), 'post-deployment-migrations', 'owner-account', 'import', 'export'].map((task) => fromPrefix('taskFamily', `${names.prefix}-${task}`)),
    fromPrefix('logGroupName', names.logGroup('mastodon')),
    ...kept.map((purpose) => fromPrefix('secretName', names.secretName(purpose))),
    ...services.flatMap(([name, service]): DerivedName[] => [
      fromService('taskFamily', `${names.prefix}-${name}`, name),
      fromService('logGroupName', names.logGroup(name), name),
      ...(isPlainObject((service as { mastodon?: unknown }).mastodon) ? [fromService('taskFamily', `${names.prefix}-${name}-account`, name), fromService('secretName', names.secretName(`${name}-token`), name)] : []),
      ...((service as { build?: unknown }).build !== undefined ? [fromService('repositoryName', names.repositoryName(name), name)] : []),
    ]),
  ];
  // A certificate of the compiler's own, for each name that has no certificate ARN in the config.
  if (text(config.domain) && !config.certificates?.instance) derived.push(certificate(config.domain, ['domain'], 'domain', 'certificates.instance'));
  const media = config.media?.domain;
  if (text(media) && !config.certificates?.media) {
    derived.push(
      mediaDomainGiven
        ? certificate(media, ['media', 'domain'], 'media.domain', 'certificates.media')
        : certificate(media, ['domain'], 'media.domain', 'certificates.media', 'the media domain is media.<domain> when media.domain is not set, and '),
    );
  }
  if (text(media)) derived.push({ kind: 'distributionComment', value: distributionComment(names, media), path: mediaDomainGiven ? ['media', 'domain'] : ['domain'], cause: '', advice: (over) => `shorten the media domain, service or stage by ${over}` });
  for (const [name, service] of services) {
    const host = (service as { host?: unknown }).host;
    // A service host's certificate is always the compiler's (services.ts).
    if (text(host)) derived.push({ kind: 'certificateDomain', value: host, path: ['services', name, 'host'], cause: '', advice: () => 'choose a shorter host' });
  }
  return derived;
}
