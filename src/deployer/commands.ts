import { DeleteStackCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, ModifyDBClusterCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import type { ServiceImage } from '../compiler/fragment.js';
import type { StackRole } from '../compiler/naming.js';
import { MastodonCfnError } from '../errors.js';
import type { Destination } from '../output.js';
import { STATEFUL_TYPES } from '../stateful.js';
import { reportAlertSubscriptions } from './alerts.js';
import type { AwsClient, Clients } from './aws.js';
import { formatCost, planCost } from './costChange.js';
import { hostedZoneParameters } from './dns.js';
import { driftNotice } from './drift.js';
import { createOwnerOnce } from './owner.js';
import { buildSearchIndexOnce } from './search.js';
import { deployedSnapshot, preflight } from './preflight.js';
import { executeChangeSet, followStack } from './follow.js';
import { dataLossChanges, describeDataLoss, restoreChange, sizeChange, upgradeProblem } from './guards.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { checkOutputsFile, writeOutputsFile } from './outputsFile.js';
import { formatPlan, stackPlan, type Plan, type StackPlan } from './plan.js';
import { fillGeneratedSecrets, reusedSecretParameters } from './secrets.js';
import { pushServiceImages } from './images.js';
import { checkRotation, makeServiceTokens, tokenParameters } from './serviceTokens.js';
import { createChangeSet, deleteChangeSet, deleteStack, deployedTemplate, describeStack, formatChangeSet, Interrupted, isDeployed, latestEventId, outputsOf, prepareStack, stackResources, throwIfInterrupted, uninterruptible, type ChangeRow, type ChangeSet, type Polling, type StackResource } from './stacks.js';
import { runAfterDeploy, runCommand } from './tasks.js';
import { protectFromDeletion, setTerminationProtection } from './termination.js';
import { templateSource } from './templates.js';
import { notConfirmed, type Confirm, type Reporter } from './terminal.js';

export interface DeployerContext {
  clients: Clients;
  reporter: Reporter;
  confirm: Confirm;
  polling: Polling;
  /** Builds and pushes the service images (src/deployer/images.ts); tests give a recording one or a local registry. */
  pushImages?: (images: ServiceImage[], outputs: Partial<Record<StackRole, Record<string, string>>>, ecr: AwsClient, reporter: Reporter) => Promise<Record<string, string>>;
}

export interface DeployOptions {
  allowDataLoss: boolean;
  forceVersion: boolean;
  /** Services whose Mastodon token is made again (deploy --rotate-token). */
  rotateTokens?: string[];
  /** Where the stacks' outputs are written once every stack is deployed (deploy --outputs-file). */
  outputsFile?: Destination;
}

const VERSION_OUTPUT = 'MastodonVersion';
/** The main stack's size, and what stacks deployed before sizes recorded instead. */
const SIZE_OUTPUTS = ['Size', 'Profile'];
/** The RDS resources whose deletion protection the deployer switches, by how RDS names them. */
const DATABASE_KINDS: Record<string, 'cluster' | 'instance'> = { 'AWS::RDS::DBCluster': 'cluster', 'AWS::RDS::DBInstance': 'instance' };

/** Why a change set of `stack` was or would be refused, naming a change of size or of the snapshot restored from when that is the cause. */
async function dataLossMessage(cfn: AwsClient, verdict: string, losses: ChangeRow[], stack: DeployStack, existing: Stack | undefined): Promise<string> {
  const outputs = outputsOf(existing);
  const deployedSize = SIZE_OUTPUTS.map((name) => outputs[name]).find(Boolean);
  const databaseId = stack.database?.logicalId;
  const deployedFrom = databaseId && losses.some((r) => r.logicalId === databaseId) ? await deployedSnapshot(cfn, stack.name, databaseId) : undefined;
  const causes = [sizeChange(deployedSize, stack.size, losses), restoreChange(deployedFrom, stack.database?.restoreFrom, losses, databaseId)].filter(Boolean);
  return describeDataLoss(verdict, losses, causes.length > 0 ? causes.join('\n') : undefined);
}

function formatOutputs(name: string, outputs: Record<string, string>): string {
  const entries = Object.entries(outputs);
  if (entries.length === 0) return `${name}: no outputs`;
  const width = Math.max(...entries.map(([key]) => key.length));
  return [`Outputs of ${name}:`, ...entries.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)].join('\n');
}

/** Parameters a stack takes from the outputs of the stacks deployed before it. */
function wiredParameters(stack: DeployStack, outputs: Map<string, Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(stack.parameters ?? {}).map(([parameter, source]) => {
      const value = outputs.get(source.stack)?.[source.output];
      if (value === undefined) throw MastodonCfnError.of('deploy.wiring', `${stack.name} needs output ${source.output} of ${source.stack}, which has none`);
      return [parameter, value];
    }),
  );
}

/** Each stack of the package as CloudFormation knows it (undefined: not deployed), described once. */
async function describeAll(clients: Clients, stacks: DeployStack[]): Promise<Map<string, Stack | undefined>> {
  const described = await Promise.all(stacks.map((stack) => describeStack(clients.cloudFormation(stack.region), stack.name)));
  return new Map(stacks.map((stack, i) => [stack.name, described[i]]));
}

/** The change set that would bring `stack` (deployed as `existing`) to the package's template. */
async function proposeChangeSet(context: DeployerContext, pkg: DeployPackage, stack: DeployStack, existing: Stack | undefined, parameters: Record<string, string>) {
  const cfn = context.clients.cloudFormation(stack.region);
  try {
    return await createChangeSet(
      cfn,
      { stackName: stack.name, region: stack.region, existing, template: await templateSource(context.clients, stack.region, stack.name, pkg.template(stack)), parameters, tags: stack.tags ?? {} },
      context.polling,
    );
  } catch (error) {
    // A CREATE change set makes an empty stack (REVIEW_IN_PROGRESS): never leave one behind.
    if (!existing) await discardNewStack(cfn, stack.name, uninterruptible(context.polling));
    throw error;
  }
}

/** Deletes the empty stack a CREATE change set left, when the change set is not executed. */
async function discardNewStack(cfn: AwsClient, name: string, polling: Polling): Promise<void> {
  const stack = await describeStack(cfn, name);
  if (stack?.StackStatus === 'REVIEW_IN_PROGRESS') await deleteStack(cfn, name, polling);
}

/** Deletes a change set that is not executed, and the empty stack a CREATE change set made; deaf to a second Ctrl-C. */
async function discardChangeSet(context: DeployerContext, changeSet: ChangeSet, existing: Stack | undefined, region: string): Promise<void> {
  const cfn = context.clients.cloudFormation(region);
  await deleteChangeSet(cfn, changeSet);
  if (!existing) await discardNewStack(cfn, changeSet.stackName, uninterruptible(context.polling));
}

/** Ctrl-C (exit code 130), once what it interrupted is cleaned up. */
function interrupted(outcome: string): MastodonCfnError {
  return MastodonCfnError.of('deploy.interrupted', `Interrupted: ${outcome}.`, 130);
}

/**
 * The parameters of a stack's change set: outputs of the stacks before it, its Route 53 zone, kept secrets to reuse
 * (looked up only for a stack being created), and deletion protection, off only while the stack is
 * first created so that a failed create can roll back.
 */
async function changeSetParameters(context: DeployerContext, stack: DeployStack, existing: Stack | undefined, outputs: Map<string, Record<string, string>>, zones: Map<string, Record<string, string>>): Promise<Record<string, string>> {
  return {
    ...wiredParameters(stack, outputs),
    ...zones.get(stack.name),
    ...(await reusedSecretParameters(context.clients.secretsManager(stack.region), stack, existing, context.reporter)),
    ...(stack.deletionProtection ? { [stack.deletionProtection.parameter]: existing ? 'true' : 'false' } : {}),
  };
}

async function protectAfterCreate(context: DeployerContext, stack: DeployStack, outputs: Record<string, string>): Promise<void> {
  const protection = stack.deletionProtection!;
  const output = protection.clusterOutput ?? protection.instanceOutput;
  const kind = protection.clusterOutput ? 'cluster' : 'instance';
  const id = output && outputs[output];
  if (!id) throw MastodonCfnError.of('deploy.missingOutput', `${stack.name} has no output ${output}: deletion protection of its database was not turned on. Deploy again to turn it on.`);
  await setDeletionProtection(context.clients.rds(stack.region), kind, id, true);
  context.reporter.line(`${stack.name}: deletion protection of database ${kind} ${id} turned on`);
}

/** The outputs naming the main stack's database, by the kind of database they name. */
const DATABASE_OUTPUTS = { cluster: 'DatabaseClusterId', instance: 'DatabaseInstanceId' } as const;

/**
 * After a deploy that replaced the database (database.restoreFrom, or a change of size with
 * --allow-data-loss), the previous one is still there when its deletion protection stopped
 * CloudFormation deleting it: it is the user's to check and delete, and it is still billed.
 */
async function reportReplacedDatabase(rds: AwsClient, stack: DeployStack, before: Record<string, string>, after: Record<string, string>, reporter: Reporter): Promise<void> {
  for (const [kind, output] of Object.entries(DATABASE_OUTPUTS) as ['cluster' | 'instance', string][]) {
    const previous = before[output];
    if (!previous || previous === after[output] || !(await deletionProtectionOf(rds, { kind, id: previous }))) continue;
    const flag = `--db-${kind}-identifier ${previous} --region ${stack.region}`;
    reporter.line(
      `${stack.name}: the previous database ${kind} ${previous} is still there, with its data, kept by its deletion protection (and still billed). ` +
        `Once the new database is checked, delete it: aws rds modify-db-${kind} ${flag} --no-deletion-protection --apply-immediately, then aws rds delete-db-${kind} ${flag} --final-db-snapshot-identifier ${previous}-final`,
    );
  }
}

async function setDeletionProtection(rds: AwsClient, kind: 'cluster' | 'instance', id: string, on: boolean): Promise<void> {
  await rds.send(
    kind === 'cluster'
      ? new ModifyDBClusterCommand({ DBClusterIdentifier: id, DeletionProtection: on, ApplyImmediately: true })
      : new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, DeletionProtection: on, ApplyImmediately: true }),
  );
}

/**
 * One change set of a stack: made, printed, checked for data loss, confirmed (when `ask`), executed
 * and followed. Returns whether the stack changed.
 */
async function changeStack(context: DeployerContext, pkg: DeployPackage, stack: DeployStack, existing: Stack | undefined, parameters: Record<string, string>, options: DeployOptions, ask: boolean): Promise<boolean> {
  const { reporter, polling } = context;
  const cfn = context.clients.cloudFormation(stack.region);
  const notDeployed = existing ? `${stack.name} was left as it was` : `${stack.name} was not created`;
  const changeSet = await onInterrupt(proposeChangeSet(context, pkg, stack, existing, parameters), `${notDeployed}; no change set is left behind`);
  if (changeSet.empty) {
    reporter.line(`${stack.name} (${stack.region}): no changes`);
    return false;
  }
  reporter.line(formatChangeSet(changeSet));
  const losses = await dataLossChanges(cfn, changeSet.rows, stack);
  if (losses.length > 0 && !options.allowDataLoss) {
    await deleteChangeSet(cfn, changeSet);
    throw MastodonCfnError.of('deploy.dataLoss', await dataLossMessage(cfn, `Refusing to deploy ${stack.name}`, losses, stack, existing));
  }
  if (ask) {
    let confirmed: boolean;
    try {
      confirmed = await context.confirm(`Deploy these changes to ${stack.name}?`);
      // Ctrl-C since the change set was made (--yes confirms at once).
      throwIfInterrupted(polling.signal);
    } catch (error) {
      if (!(error instanceof Interrupted)) throw error;
      await discardChangeSet(context, changeSet, existing, stack.region);
      throw interrupted(`${notDeployed}; its change set was deleted`);
    }
    if (!confirmed) {
      await discardChangeSet(context, changeSet, existing, stack.region);
      throw MastodonCfnError.of('deploy.notConfirmed', notConfirmed(`Not deployed: ${notDeployed}`));
    }
  }
  await executeChangeSet(cfn, changeSet, { region: stack.region, recordsInRoute53: Boolean(stack.hostedZone) }, reporter, polling);
  reporter.line(`${stack.name}: deployed`);
  return true;
}

/** The outputs of the stacks deployed so far, by their role. */
function outputsByRole(pkg: DeployPackage, outputs: Map<string, Record<string, string>>): Partial<Record<StackRole, Record<string, string>>> {
  return Object.fromEntries(pkg.stacks.filter((stack) => stack.role && outputs.has(stack.name)).map((stack) => [stack.role, outputs.get(stack.name)]));
}

/** Deploys every stack of the package in order, each through a change set that is shown, checked and confirmed first. */
export async function deploy(pkg: DeployPackage, context: DeployerContext, options: DeployOptions): Promise<void> {
  const { clients, reporter, polling } = context;
  const rotate = options.rotateTokens ?? [];
  checkRotation(pkg.stacks.flatMap((stack) => stack.serviceTokens ?? []), rotate);
  // Before any stack is touched: a file that is not ours would only be refused once everything is deployed.
  if (options.outputsFile) checkOutputsFile(options.outputsFile, pkg);
  await preflight(pkg, clients, reporter);
  const outputs = new Map<string, Record<string, string>>();
  // A package built without an estimate (by hand, or by an older mastodon-cfn) has no cost to print.
  const cost = pkg.estimate && (await planCost(clients, pkg, await describeAll(clients, pkg.stacks)));
  if (cost) reporter.line(formatCost(cost));
  const zones = await hostedZoneParameters(clients.route53, pkg);
  for (const stack of pkg.stacks) {
    const cfn = clients.cloudFormation(stack.region);
    const existing = await onInterrupt(prepareStack(cfn, stack.name, stack.region, reporter, polling), `${stack.name} was left as it was`);
    const drifted = driftNotice(existing);
    if (drifted) reporter.line(drifted);
    const deployedVersion = outputsOf(existing)[VERSION_OUTPUT];
    if (stack.mastodonVersion && deployedVersion) {
      const problem = upgradeProblem(deployedVersion, stack.mastodonVersion);
      if (problem && !options.forceVersion) throw MastodonCfnError.of('deploy.upgrade', `Refusing to deploy ${stack.name}: ${problem}. (--force-version skips this check.)`);
    }

    const tokens = stack.serviceTokens ?? [];
    // Into the repositories the stacks before this one made, before its change set: the task definitions name them by digest.
    const images = stack.images?.length ? await (context.pushImages ?? pushServiceImages)(stack.images, outputsByRole(pkg, outputs), clients.ecr(stack.region), reporter) : {};
    // A build or push is not cut short by Ctrl-C; the deploy stops once it is done.
    if (polling.signal?.aborted) throw interrupted(`${stack.name} was left as it was; the images pushed stay in its ECR repository`);
    const parameters = {
      ...(await changeSetParameters(context, stack, existing, outputs, zones)),
      ...images,
      ...(tokens.length ? await tokenParameters(clients.secretsManager(stack.region), tokens, existing?.StackId) : {}),
    };
    const changed = await changeStack(context, pkg, stack, existing, parameters, options, true);
    // An unchanged stack is still as it was described; a changed one exists, as its change set was executed.
    const current = (changed ? await describeStack(cfn, stack.name) : existing)!;
    const deployed = outputsOf(current);
    // The StackId tells this stack from one of the same name removed before, whose database is gone.
    const here = { name: stack.name, region: stack.region, id: current.StackId! };
    outputs.set(stack.name, deployed);
    // Before anything else can fail: a new database is never left unprotected.
    if (!existing && stack.deletionProtection) await protectAfterCreate(context, stack, deployed);
    await protectFromDeletion(cfn, stack, current, reporter);
    if (changed && existing) await reportReplacedDatabase(clients.rds(stack.region), stack, outputsOf(existing), deployed, reporter);
    if (stack.generatedSecrets && Object.keys(stack.generatedSecrets).length > 0) {
      await fillGeneratedSecrets(clients.secretsManager(stack.region), stack.region, stack.generatedSecrets, deployed, reporter);
    }
    if (changed) reporter.line(formatOutputs(stack.name, deployed));
    // On every deploy, not only changed ones: a deploy after a failed run must run it again.
    if (stack.afterDeploy) await runAfterDeploy(clients.ecs(stack.region), stack.afterDeploy, deployed, stack, reporter, polling);
    // After the migrations: the account needs Mastodon's tables and its Owner role.
    if (stack.ownerAccount) await createOwnerOnce({ ecs: clients.ecs(stack.region), secretsManager: clients.secretsManager(stack.region) }, stack.ownerAccount, deployed, here, reporter, polling);
    // After the migrations: the index is filled from the database.
    if (stack.searchIndex && stack.oneOffTask) await buildSearchIndexOnce({ ecs: clients.ecs(stack.region), secretsManager: clients.secretsManager(stack.region) }, stack.searchIndex, stack.oneOffTask, deployed, here, reporter, polling);
    if (stack.alerts) await reportAlertSubscriptions(clients.sns(stack.region), stack.alerts, deployed, reporter);
    // After the migrations too; a service waits for its token at zero tasks, and a new token restarts its tasks.
    if (tokens.length) {
      const made = await makeServiceTokens({ ecs: clients.ecs(stack.region), secretsManager: clients.secretsManager(stack.region) }, tokens, deployed, here, reporter, polling, { rotate });
      if (made.length > 0) {
        reporter.line(`${stack.name}: starting ${made.join(', ')} with ${made.length === 1 ? 'its' : 'their'} new token`);
        const withTokens = { ...parameters, ...(await tokenParameters(clients.secretsManager(stack.region), tokens, here.id)) };
        await changeStack(context, pkg, stack, await describeStack(cfn, stack.name), withTokens, options, false);
      }
    }
  }
  if (options.outputsFile) {
    writeOutputsFile(options.outputsFile, pkg, Object.fromEntries(pkg.stacks.map((stack) => [stack.name, outputs.get(stack.name)!])));
    reporter.line(`Outputs written to ${options.outputsFile.path}`);
  }
}

/** Ends a step Ctrl-C interrupted (it has cleaned up after itself) with exit code 130 and what was left. */
async function onInterrupt<T>(step: Promise<T>, outcome: string): Promise<T> {
  try {
    return await step;
  } catch (error) {
    if (error instanceof Interrupted) throw interrupted(outcome);
    throw error;
  }
}

/** A digest no image has: the value a diff passes for a service image that was never pushed. */
const NOT_BUILT = `not-built-yet@sha256:${'0'.repeat(64)}`;

/**
 * What only a deploy knows, as `diff` passes it: each service image and token switch as the deployed
 * stack has it (diff builds and pushes nothing, and makes no token), with the note that says so.
 */
function parametersOfDeploy(stack: DeployStack, existing: Stack): { parameters: Record<string, string>; note?: string } {
  const deployed = Object.fromEntries((existing.Parameters ?? []).map((p) => [p.ParameterKey!, p.ParameterValue ?? '']));
  const images = stack.images ?? [];
  const tokens = stack.serviceTokens ?? [];
  return {
    parameters: {
      ...Object.fromEntries(images.map((image) => [image.parameter, deployed[image.parameter] ?? NOT_BUILT])),
      ...Object.fromEntries(tokens.filter((token) => token.madeParameter in deployed).map((token) => [token.madeParameter, deployed[token.madeParameter]])),
    },
    note: images.length
      ? `${stack.name}: diff compares the image${images.length > 1 ? 's' : ''} of ${images.map((i) => i.service).join(', ')} as deployed; deploy builds ${images.length > 1 ? 'them' : 'it'} from source and rolls out a changed one.`
      : undefined,
  };
}

/** One stack's part of the plan: its change set made, read and deleted at once, or the template's resources when it is not deployed. */
async function planStack(context: DeployerContext, pkg: DeployPackage, stack: DeployStack, existing: Stack | undefined, outputs: Map<string, Record<string, string>>, zones: Map<string, Record<string, string>>): Promise<StackPlan> {
  const cfn = context.clients.cloudFormation(stack.region);
  const drifted = driftNotice(existing);
  const notes = drifted ? [drifted] : [];
  if (!isDeployed(existing)) {
    // A CREATE change set would leave a REVIEW_IN_PROGRESS stack behind: read the template instead.
    const resources = Object.entries((JSON.parse(pkg.template(stack)) as { Resources?: Record<string, { Type: string }> }).Resources ?? {});
    return stackPlan(stack, 'NOT_DEPLOYED', resources.map(([logicalId, r]) => ({ action: 'Add', logicalId, type: r.Type, replacement: '', policyAction: '' })), notes);
  }
  const deployOnly = parametersOfDeploy(stack, existing);
  if (deployOnly.note) notes.push(deployOnly.note);
  const parameters = { ...(await changeSetParameters(context, stack, existing, outputs, zones)), ...deployOnly.parameters };
  context.reporter.status(`${stack.name}: making a change set to compare`);
  const changeSet = await onInterrupt(proposeChangeSet(context, pkg, stack, existing, parameters), 'nothing was changed and no change set is left behind');
  if (changeSet.empty) return stackPlan(stack, 'NO_CHANGES', [], notes);
  // Deleted before anything else: a closed pipe or Ctrl-C from here on leaves nothing behind.
  await deleteChangeSet(cfn, changeSet);
  const losses = await dataLossChanges(cfn, changeSet.rows, stack);
  const dataLoss = losses.length > 0 ? { resources: losses, message: await dataLossMessage(cfn, `Deploy would refuse ${stack.name}`, losses, stack, existing) } : null;
  return stackPlan(stack, 'CHANGES', changeSet.rows, notes, dataLoss);
}

/** What a deploy would change, and changes nothing: change sets are made, read and deleted. */
export async function plan(pkg: DeployPackage, context: DeployerContext): Promise<Plan> {
  const { clients, reporter } = context;
  const described = await describeAll(clients, pkg.stacks);
  const outputs = new Map([...described].map(([name, stack]) => [name, outputsOf(stack)]));
  const zones = await hostedZoneParameters(clients.route53, pkg);
  const cost = await planCost(clients, pkg, described);
  const stacks: StackPlan[] = [];
  try {
    for (const stack of pkg.stacks) stacks.push(await planStack(context, pkg, stack, described.get(stack.name), outputs, zones));
  } finally {
    reporter.clear();
  }
  return { formatVersion: 1, changes: stacks.some((stack) => stack.status !== 'NO_CHANGES'), dataLoss: stacks.some((stack) => stack.dataLoss !== null), cost: cost ?? null, stacks };
}

/** Shows what a deploy would change: the plan, as text. */
export async function diff(pkg: DeployPackage, context: DeployerContext): Promise<Plan> {
  const planned = await plan(pkg, context);
  for (const block of formatPlan(planned)) context.reporter.line(block);
  return planned;
}

export interface StackInfo {
  name: string;
  region: string;
  status: string;
  outputs: Record<string, string>;
}

export async function info(pkg: DeployPackage, clients: Clients): Promise<StackInfo[]> {
  const described = await describeAll(clients, pkg.stacks);
  return pkg.stacks.map((stack) => {
    const deployed = described.get(stack.name);
    return { name: stack.name, region: stack.region, status: deployed?.StackStatus ?? 'NOT_DEPLOYED', outputs: outputsOf(deployed) };
  });
}

export function formatInfo(stacks: StackInfo[]): string {
  return stacks.map((s) => [`${s.name} (${s.region}): ${s.status}`, ...Object.entries(s.outputs).map(([k, v]) => `  ${k}  ${v}`)].join('\n')).join('\n');
}

/** A database kept by a final snapshot (DeletionPolicy Snapshot), whose deletion protection would stop the stack's deletion. */
interface SnapshottedDatabase {
  kind: 'cluster' | 'instance';
  id: string;
}

/** A deployed stack as `remove` deletes it: its resources, what it leaves behind, and the databases whose protection must be lifted. */
interface Removal {
  stack: DeployStack;
  id: string;
  terminationProtected: boolean;
  resources: StackResource[];
  leftBehind: string[];
  databases: SnapshottedDatabase[];
}

/**
 * The DeletionPolicy of each resource of a deployed stack, from the template CloudFormation holds
 * (GetTemplate): after a change of config the build may no longer have the deployed database.
 */
async function deployedDeletionPolicies(cfn: AwsClient, stackName: string): Promise<Record<string, string>> {
  const template = await deployedTemplate(cfn, stackName);
  if (!template) throw MastodonCfnError.of('remove.foreignTemplate', `${stackName} runs a template that is not JSON, so mastodon-cfn did not deploy it: nothing was removed. Delete it by other means if it is no longer needed.`);
  // A policy that is not a plain string is unknown here: counted as Delete, its deletion protection (if any) stays on.
  return Object.fromEntries(Object.entries(template.Resources ?? {}).map(([id, resource]) => [id, typeof resource.DeletionPolicy === 'string' ? resource.DeletionPolicy : 'Delete']));
}

async function planRemoval(cfn: AwsClient, stack: DeployStack, deployed: Stack): Promise<Removal> {
  const id = deployed.StackId!;
  const resources = await stackResources(cfn, stack.name);
  const stateful = resources.filter((resource) => STATEFUL_TYPES.has(resource.ResourceType) || (stack.statefulResources ?? []).some((r) => r.logicalId === resource.LogicalResourceId));
  const policies = stateful.length > 0 ? await deployedDeletionPolicies(cfn, stack.name) : {};
  const removal: Removal = { stack, id, terminationProtected: deployed.EnableTerminationProtection === true, resources, leftBehind: [], databases: [] };
  for (const resource of stateful) {
    const policy = policies[resource.LogicalResourceId] ?? 'Delete';
    const kind = DATABASE_KINDS[resource.ResourceType];
    if (kind && policy === 'Snapshot' && resource.PhysicalResourceId) removal.databases.push({ kind, id: resource.PhysicalResourceId });
    if (policy !== 'Delete') removal.leftBehind.push(`  ${resource.ResourceType} ${resource.PhysicalResourceId} (${resource.LogicalResourceId}): ${policy === 'Snapshot' ? 'final snapshot kept' : 'retained'}`);
  }
  return removal;
}

/** Whether a database has deletion protection on; undefined when it no longer exists. */
async function deletionProtectionOf(rds: AwsClient, database: SnapshottedDatabase): Promise<boolean | undefined> {
  try {
    const answer =
      database.kind === 'cluster'
        ? (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: database.id }))).DBClusters?.[0]
        : (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: database.id }))).DBInstances?.[0];
    return answer === undefined ? undefined : Boolean(answer.DeletionProtection);
  } catch (error) {
    if (/^DB(Cluster|Instance)NotFound(Fault)?$/.test((error as { name?: string }).name ?? '')) return undefined;
    throw error;
  }
}

/**
 * Turns deletion protection back on for the databases `remove` lifted it from, when their stack was
 * not deleted (DeleteStack refused, DELETE_FAILED, Ctrl-C): a database must never be left unprotected.
 * A database that is gone was deleted by CloudFormation with its final snapshot.
 */
/** After a failed delete, the stack (if it is still there) is protected again. */
async function restoreTerminationProtection(cfn: AwsClient, stack: DeployStack, reporter: Reporter): Promise<void> {
  try {
    if (!(await describeStack(cfn, stack.name))) return;
    await setTerminationProtection(cfn, stack.name, true);
  } catch (error) {
    reporter.line(`${stack.name}: termination protection could NOT be turned back on (${(error as Error).message}). Turn it on with: aws cloudformation update-termination-protection --enable-termination-protection --stack-name ${stack.name} --region ${stack.region}`);
  }
}

async function restoreProtection(rds: AwsClient, stack: DeployStack, lifted: SnapshottedDatabase[], reporter: Reporter): Promise<void> {
  for (const database of lifted) {
    const name = `database ${database.kind} ${database.id}`;
    try {
      await setDeletionProtection(rds, database.kind, database.id, true);
      reporter.line(`${stack.name} was not removed: deletion protection of ${name} is on again.`);
    } catch (error) {
      if ((await deletionProtectionOf(rds, database).catch(() => false)) === undefined) {
        reporter.line(`${stack.name}: ${name} is already deleted; its final snapshot is kept.`);
        continue;
      }
      reporter.line(
        `${stack.name} was not removed, and deletion protection of ${name} could NOT be turned back on (${(error as Error).message}). ` +
          `Turn it on with: aws rds modify-db-${database.kind} --db-${database.kind}-identifier ${database.id} --deletion-protection --apply-immediately --region ${stack.region}`,
      );
    }
  }
}

/** Deletes one stack; the deletion protection lifted for it is restored on every way out but its deletion. */
async function deleteDeployedStack(context: DeployerContext, removal: Removal): Promise<void> {
  const { clients, reporter, polling } = context;
  const { stack } = removal;
  const cfn = clients.cloudFormation(stack.region);
  const rds = clients.rds(stack.region);
  const lifted: SnapshottedDatabase[] = [];
  try {
    for (const database of removal.databases) {
      if (!(await deletionProtectionOf(rds, database))) continue;
      // Deletion protection would stop the stack deletion; the Snapshot policy keeps the data instead.
      await setDeletionProtection(rds, database.kind, database.id, false);
      lifted.push(database);
    }
    if (polling.signal?.aborted) throw MastodonCfnError.of('remove.interrupted', `Stopped before deleting ${stack.name}.`, 130);
    if (removal.terminationProtected) await setTerminationProtection(cfn, stack.name, false);
    const marker = await latestEventId(cfn, stack.name);
    await cfn.send(new DeleteStackCommand({ StackName: stack.name }));
    await followStack(cfn, { name: stack.name, region: stack.region, id: removal.id, doing: 'deleting' }, marker, removal.resources.length, reporter, polling);
  } catch (error) {
    await restoreProtection(rds, stack, lifted, reporter);
    if (removal.terminationProtected) await restoreTerminationProtection(cfn, stack, reporter);
    throw error;
  }
  reporter.line(`${stack.name}: deleted`);
}

/**
 * Deletes the stacks, last deployed first. Their data stays: stateful resources are retained or
 * snapshotted by the policies of the deployed templates, and what is left behind is listed at the end.
 */
export async function remove(pkg: DeployPackage, context: DeployerContext): Promise<void> {
  const { clients, reporter } = context;
  const described = await describeAll(clients, pkg.stacks);
  const present = [...pkg.stacks].reverse().filter((stack) => described.get(stack.name));
  if (present.length === 0) {
    reporter.line('Nothing to remove: no stack of this package is deployed.');
    return;
  }
  // Read before asking: a stack that cannot be removed safely is refused before anything is deleted.
  const removals = await Promise.all(present.map((stack) => planRemoval(clients.cloudFormation(stack.region), stack, described.get(stack.name)!)));
  if (!(await context.confirm(`Delete ${present.map((stack) => `${stack.name} (${stack.region})`).join(', ')}? Data is kept (retained or snapshotted).`))) {
    throw MastodonCfnError.of('remove.notConfirmed', notConfirmed('Nothing was removed'));
  }
  for (const removal of removals) await deleteDeployedStack(context, removal);
  const leftBehind = removals.flatMap((removal) => removal.leftBehind);
  reporter.line(leftBehind.length ? ['Left behind, with their data (delete them by hand when you no longer need them):', ...leftBehind].join('\n') : 'No stateful resources were left behind.');
}

/**
 * Runs a one-off command (tootctl, rails runner, ...) in a task with Mastodon's whole
 * environment, in any mode, without ECS Exec or the Session Manager plugin. Returns its exit code.
 */
export async function run(pkg: DeployPackage, context: DeployerContext, command: string[], write: (text: string) => void): Promise<number> {
  const stack = pkg.stacks.find((candidate) => candidate.oneOffTask);
  if (!stack?.oneOffTask) throw MastodonCfnError.of('run.unsupported', 'This build has no stack that runs one-off commands: build it again with this version of mastodon-cfn.');
  const deployed = await describeStack(context.clients.cloudFormation(stack.region), stack.name);
  if (!deployed || deployed.StackStatus === 'REVIEW_IN_PROGRESS') throw MastodonCfnError.of('run.notDeployed', `${stack.name} is not deployed in ${stack.region}: run mastodon-cfn deploy first.`);
  const clients = { ecs: context.clients.ecs(stack.region), logs: context.clients.logs(stack.region) };
  return runCommand(clients, stack.oneOffTask, outputsOf(deployed), stack, command, context.reporter, write, context.polling);
}
