import type { Config, Size } from '../config/types.js';
import type { Estimate } from '../cost/estimate.js';
import type { Problem } from '../errors.js';
import { unresolvedReferences, type ReferenceKind } from '../references.js';
import { STATEFUL_TYPES } from '../stateful.js';
import { compileAlerts } from './alerts.js';
import { compileCache } from './cache.js';
import { compileSearch } from './search.js';
import { compileCertificates } from './certificates.js';
import { TEMPLATE_LIMITS } from '../aws/limits.js';
import type { Template } from './cfn.js';
import { compileCompute } from './compute.js';
import { compileDatabase, databaseEngineOf } from './database.js';
import { compileDns } from './dns.js';
import { extendResources } from './extensions.js';
import { mergeFragments, type AfterDeployTask, type AlertsTarget, type CompileStep, type DeletionProtection, type HostedZone, type LogSource, type OneOffTask, type OwnerAccount, type ReusableSecret, type SearchIndex, type SecretGenerator, type TransferTasks, type ServiceImage, type ServiceToken, type StackPart } from './fragment.js';
import { compileLoadBalancer } from './loadBalancer.js';
import { compileMail, mailDomain } from './mail.js';
import { compileMedia } from './media.js';
import { compileNetwork } from './network.js';
import { OutputIds, STACK_ROLES, type Names, type StackRole } from './naming.js';
import { compileUserResources } from './resources.js';
import { compileSecrets } from './secrets.js';
import { compileServices } from './services.js';
import { compileTransfer } from './transfer.js';

/** What the main stack records of its build for the deployer: the release it runs (the upgrade guard) and its size (the data-loss guard names a change between small and the others as the cause). */
const compileDeployGuards: CompileStep = (config) => ({
  main: {
    Outputs: {
      [OutputIds.MastodonVersion]: { Description: 'Mastodon release this stack runs', Value: config.mastodon.version },
      [OutputIds.Size]: { Description: 'The size (small, standard or large) this stack was built with', Value: config.size },
      [OutputIds.MastodonMode]: { Description: 'The mode Mastodon runs in (production, maintenance or debug): import runs only in maintenance', Value: config.mastodon.mode },
    },
  },
});

/** The compile steps, in order. Each owns its resources; the merge rejects a logical id defined twice. */
export const COMPILE_STEPS: readonly (readonly [string, CompileStep])[] = [
  ['network', compileNetwork],
  ['database', compileDatabase],
  ['cache', compileCache],
  ['search', compileSearch],
  ['loadBalancer', compileLoadBalancer],
  ['compute', compileCompute],
  ['transfer', compileTransfer],
  ['media', compileMedia],
  ['certificates', compileCertificates],
  ['mail', compileMail],
  ['secrets', compileSecrets],
  ['services', compileServices],
  ['alerts', compileAlerts],
  ['dns', compileDns],
  ['deployGuards', compileDeployGuards],
  ['resources', compileUserResources],
];

export interface CompiledStack {
  role: StackRole;
  name: string;
  region: string;
  template: Template;
  /** The template as written to its file: what cfn-lint reads, and what the deployer sends (compacted) or another tool uploads as it is. */
  text: string;
  /** Parameters the deployer fills from other stacks' outputs. */
  wiring: Record<string, { stack: StackRole; output: string }>;
  generatedSecrets: Record<string, SecretGenerator>;
  reusableSecrets: ReusableSecret[];
  deletionProtection?: DeletionProtection;
  afterDeploy?: AfterDeployTask;
  oneOffTask?: OneOffTask;
  ownerAccount?: OwnerAccount;
  searchIndex?: SearchIndex;
  logSources: Record<string, LogSource>;
  endpoints: Record<string, string>;
  hostedZone?: HostedZone;
  images: ServiceImage[];
  serviceTokens: ServiceToken[];
  alerts?: AlertsTarget;
  transfer?: TransferTasks;
}


/** A template as it is written: indented JSON, for people and diffs. */
export function templateText(template: Template): string {
  return `${JSON.stringify(template, null, 2)}\n`;
}

/**
 * Why a template would be refused by CloudFormation for its size, in words; empty when it fits.
 * The bytes counted are those written: the deployer sends them compacted (never more), while
 * `aws cloudformation deploy --template-file` uploads the file as it is, indentation and all.
 */
function limitProblems(stack: { name: string; template: Template; text: string }): Problem[] {
  const problems: Problem[] = [];
  const over = (what: string, count: number, limit: number) =>
    problems.push({ code: 'compile.templateLimit', path: '', message: `the ${stack.name} stack would have ${count} ${what}; CloudFormation allows ${limit} (services and resources add to it)` });
  for (const section of ['Resources', 'Parameters', 'Outputs'] as const) {
    const count = Object.keys(stack.template[section] ?? {}).length;
    if (count > TEMPLATE_LIMITS[section]) over(section.toLowerCase(), count, TEMPLATE_LIMITS[section]);
  }
  const bytes = Buffer.byteLength(stack.text);
  if (bytes > TEMPLATE_LIMITS.bytes) over('bytes of template, as written', bytes, TEMPLATE_LIMITS.bytes);
  return problems;
}

const DESCRIPTIONS: Record<StackRole, (config: Config) => string> = {
  certificates: (config) => `mastodon-cfn: us-east-1 certificate for ${config.media.domain} (CloudFront)`,
  secrets: (config) => `mastodon-cfn: secrets and service image repositories of ${config.domain}, made before the main stack and kept across its deploys`,
  main: (config) => `mastodon-cfn: Mastodon ${config.mastodon.version} at ${config.domain}`,
};

function nonEmpty<T extends object>(section: T | undefined): T | undefined {
  return section && Object.keys(section).length > 0 ? section : undefined;
}

function toTemplate(role: StackRole, part: StackPart, config: Config): Template {
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: DESCRIPTIONS[role](config),
    Parameters: nonEmpty(part.Parameters),
    Conditions: nonEmpty(part.Conditions) as Template['Conditions'],
    Resources: part.Resources ?? {},
    Outputs: nonEmpty(part.Outputs),
  };
}

/** Compiles the validated config into its stacks, in deploy order. Pure: the same config gives the same stacks. */
export function compile(config: Config, names: Names): { stacks: CompiledStack[]; problems: Problem[] } {
  const fragments = COMPILE_STEPS.map(([step, compileStep]) => ({ step, fragment: compileStep(config, names) }));
  const { stacks, duplicates } = mergeFragments(fragments);

  const problems: Problem[] = [];
  for (const duplicate of duplicates) {
    if (duplicate.second !== 'resources') {
      throw new Error(`compile steps ${duplicate.first} and ${duplicate.second} both define ${duplicate.section}.${duplicate.id} in the ${duplicate.stack} stack`);
    }
    problems.push({
      code: 'resources.duplicateLogicalId',
      path: `resources.${duplicate.section === 'Outputs' ? 'Outputs' : duplicate.section}.${duplicate.id}`,
      message: `logical id ${duplicate.id} is already generated by mastodon-cfn (${duplicate.first}); choose another name`,
    });
  }

  const main = stacks.main!;
  const userIds = new Set(Object.keys(config.resources.Resources));
  const generated = Object.fromEntries(Object.entries(main.Resources ?? {}).filter(([id]) => !userIds.has(id)));
  const extended = extendResources(generated, config.resources.extensions, new Set(Object.keys(main.Resources ?? {})), names.templateFile('main'));
  problems.push(...extended.problems);
  main.Resources = { ...main.Resources, ...extended.resources };

  const compiled = STACK_ROLES.filter((role) => stacks[role]).map((role) => {
    const template = toTemplate(role, stacks[role]!, config);
    return {
      role,
      name: names.stackName(role),
      region: role === 'certificates' ? 'us-east-1' : config.provider.region,
      template,
      text: templateText(template),
      wiring: stacks[role]!.wiring ?? {},
      generatedSecrets: stacks[role]!.generatedSecrets ?? {},
      reusableSecrets: stacks[role]!.reusableSecrets ?? [],
      deletionProtection: stacks[role]!.deletionProtection,
      afterDeploy: stacks[role]!.afterDeploy,
      oneOffTask: stacks[role]!.oneOffTask,
      ownerAccount: stacks[role]!.ownerAccount,
      searchIndex: stacks[role]!.searchIndex,
      transfer: stacks[role]!.transfer,
      logSources: stacks[role]!.logSources ?? {},
      endpoints: stacks[role]!.endpoints ?? {},
      hostedZone: stacks[role]!.hostedZone,
      images: stacks[role]!.images ?? [],
      serviceTokens: stacks[role]!.serviceTokens ?? [],
      alerts: stacks[role]!.alerts,
    };
  });
  return { stacks: compiled, problems };
}

const REFERENCE_KINDS: Record<ReferenceKind, string> = { value: 'a resource or a parameter (nor is it a pseudo parameter such as AWS::Region)', resource: 'a resource', condition: 'a condition' };

/**
 * What CloudFormation would refuse of the stacks as they are to be written (its limits, a reference
 * to nothing): run on the compiled stacks and again once plugins have changed them. A reference from
 * `resources:` is reported there (`resources.Resources.X`); any other by its place in the template.
 */
export function stackProblems(stacks: readonly CompiledStack[], config: Config): Problem[] {
  const fromConfig = (role: StackRole, at: string) => {
    const [section, id] = at.split('.');
    return role === 'main' && Object.hasOwn(config.resources[section as 'Resources' | 'Outputs'] ?? {}, id);
  };
  return stacks.flatMap((stack) => [
    ...limitProblems(stack),
    // The template as written: cloudform-types' intrinsic functions become Ref and Fn:: only in JSON.
    ...unresolvedReferences(JSON.parse(stack.text)).map(({ name, at, kind }) => ({
      code: 'compile.unknownReference',
      path: fromConfig(stack.role, at) ? `resources.${at}` : `templates.${stack.role}.${at}`,
      message: `${at} of the ${stack.name} stack refers to ${name}, which that stack does not define as ${REFERENCE_KINDS[kind]}: CloudFormation would refuse the template`,
    })),
  ]);
}

export interface ManifestStack {
  name: string;
  region: string;
  templateFile: string;
  dependsOn: string[];
  role: StackRole;
  tags: Record<string, string>;
  /** Parameter → the stack output the deployer passes in. */
  parameters: Record<string, { stack: string; output: string }>;
  /** Stack output naming a secret → how the deployer generates its value (once). */
  generatedSecrets: Record<string, SecretGenerator>;
  /** Resources whose data must survive: the deployer refuses to replace or delete them unless told to. */
  statefulResources: { logicalId: string; type: string }[];
  /** Kept secrets: when a new stack finds one left by an earlier remove, the deployer passes its ARN to this parameter. */
  reusableSecrets: ReusableSecret[];
  /** Deletion protection the deployer turns on only after the stack was first created. */
  deletionProtection?: DeletionProtection;
  /** A one-off ECS task the deployer runs after each deploy. */
  afterDeploy?: AfterDeployTask;
  /** How `mastodon-cfn run` starts a one-off command in this stack. */
  oneOffTask?: OneOffTask;
  /** The owner account the deployer creates once, after the deploy that migrated the database. */
  ownerAccount?: OwnerAccount;
  searchIndex?: SearchIndex;
  /** Where each process logs, by the name `mastodon-cfn logs` takes. */
  logSources?: Record<string, LogSource>;
  /** Health URLs `mastodon-cfn status` asks, by what answers there. */
  endpoints?: Record<string, string>;
  /** The Route 53 zone whose id the deployer passes in (looked up when the config does not name it). */
  hostedZone?: HostedZone;
  /** Service images the deployer builds and pushes before this stack's change set, each passed by digest. */
  images?: ServiceImage[];
  /** Service accounts and tokens the deployer makes after the migrations; their services wait for them. */
  serviceTokens?: ServiceToken[];
  /** The stack's alarms: `status` lists those in ALARM, and deploy names the addresses that have not confirmed their subscription. */
  alerts?: AlertsTarget;
  /** The tasks of `mastodon-cfn import` and `export` (main stack only). */
  transfer?: TransferTasks;
  /** The Mastodon release the stack runs (main stack only): the deployer's upgrade guard compares it. */
  mastodonVersion?: string;
  /** The size of the main stack: a change to or from small replaces the database, and the data-loss guard says so. */
  size?: Size;
  /** The database the main stack creates: the deployer asks RDS whether it still creates this engine version. */
  database?: DatabaseEngine;
  /** The public DNS names the main stack serves and mails from: deploy refuses names reserved for examples and tests. */
  publicNames?: string[];
}

export interface DatabaseEngine {
  logicalId: string;
  engine: string;
  engineVersion: string;
  /** The master user the tasks log in as: a restored database keeps its snapshot's. */
  masterUsername: string;
  /** database.restoreFrom: the snapshot the database is created from. */
  restoreFrom?: string;
  /** The most storage the database grows to (size small's RDS instance; Aurora's volume grows by itself). */
  maxStorageGb?: number;
}

export interface Manifest {
  manifestVersion: 1;
  service: string;
  stage: string;
  /** The monthly estimate's total, for deploy's plan (`mastodon-cfn cost` itemises it). */
  estimate?: Pick<Estimate, 'total' | 'currency' | 'region' | 'date' | 'incomplete' | 'priced'>;
  /** provider.profile: the AWS credentials profile the deployer uses unless --profile or the environment names others. */
  profile?: string;
  /** The config's plugins, as written: a deploy of this package (--package) cannot run their deploy hooks, and says so. */
  plugins?: string[];
  /** The stacks whose outputs `${cf:}` variables read: the policy lets the deployer's credentials describe them. */
  variableStacks?: { region: string; name: string }[];
  stacks: ManifestStack[];
}

/** The names the world reaches the instance by: the domain, the media domain, every service host, and the sender's domain. */
function publicNames(config: Config): string[] {
  const hosts = Object.values(config.services).flatMap((service) => (service.host ? [service.host] : []));
  return [...new Set([config.domain, config.media.domain, ...hosts, mailDomain(config)])];
}

export function toManifest(stacks: CompiledStack[], config: Config, names: Names, monthly?: Estimate, variableStacks: { region: string; name: string }[] = []): Manifest {
  return {
    manifestVersion: 1,
    service: names.service,
    stage: names.stage,
    ...(monthly ? { estimate: { total: monthly.total, currency: monthly.currency, region: monthly.region, date: monthly.date, incomplete: monthly.incomplete, priced: monthly.priced } } : {}),
    ...(config.provider.profile ? { profile: config.provider.profile } : {}),
    ...(config.plugins.length ? { plugins: config.plugins } : {}),
    ...(variableStacks.length ? { variableStacks } : {}),
    stacks: stacks.map((stack) => {
      const dependsOn = STACK_ROLES.filter((role) => Object.values(stack.wiring).some((w) => w.stack === role)).map((role) => names.stackName(role));
      return {
        name: stack.name,
        region: stack.region,
        templateFile: names.templateFile(stack.role),
        dependsOn,
        role: stack.role,
        tags: names.tags,
        parameters: Object.fromEntries(Object.entries(stack.wiring).map(([parameter, w]) => [parameter, { stack: names.stackName(w.stack), output: w.output }])),
        generatedSecrets: stack.generatedSecrets,
        // A derived secret (deleted with its stack, made again from other resources) holds nothing to lose.
        statefulResources: Object.entries(stack.template.Resources ?? {})
          .filter(([, resource]) => STATEFUL_TYPES.has(resource.Type) && resource.DeletionPolicy !== 'Delete')
          .map(([logicalId, resource]) => ({ logicalId, type: resource.Type })),
        reusableSecrets: stack.reusableSecrets,
        ...(stack.deletionProtection ? { deletionProtection: stack.deletionProtection } : {}),
        ...(stack.afterDeploy ? { afterDeploy: stack.afterDeploy } : {}),
        ...(stack.oneOffTask ? { oneOffTask: stack.oneOffTask } : {}),
        ...(stack.ownerAccount ? { ownerAccount: stack.ownerAccount } : {}),
        ...(stack.searchIndex ? { searchIndex: stack.searchIndex } : {}),
        ...(Object.keys(stack.logSources).length ? { logSources: stack.logSources } : {}),
        ...(Object.keys(stack.endpoints).length ? { endpoints: stack.endpoints } : {}),
        ...(stack.hostedZone ? { hostedZone: stack.hostedZone } : {}),
        ...(stack.images.length ? { images: stack.images } : {}),
        ...(stack.serviceTokens.length ? { serviceTokens: stack.serviceTokens } : {}),
        ...(stack.alerts ? { alerts: stack.alerts } : {}),
        ...(stack.transfer ? { transfer: stack.transfer } : {}),
        ...(stack.role === 'main' ? { mastodonVersion: config.mastodon.version, size: config.size, database: databaseEngineOf(config), publicNames: publicNames(config) } : {}),
      };
    }),
  };
}
