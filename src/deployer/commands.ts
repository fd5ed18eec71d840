import { DeleteStackCommand, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { ModifyDBClusterCommand } from '@aws-sdk/client-rds';
import { MastodonCfnError } from '../errors.js';
import { STATEFUL_TYPES } from '../stateful.js';
import type { Clients } from './aws.js';
import { executeChangeSet, followStack } from './follow.js';
import { dataLossChanges, describeDataLoss, upgradeProblem } from './guards.js';
import type { DeployPackage, DeployStack } from './manifest.js';
import { fillGeneratedSecrets } from './secrets.js';
import { createChangeSet, deleteChangeSet, describeStack, formatChangeSet, latestEventId, outputsOf, prepareStack, type Polling } from './stacks.js';
import { templateSource } from './templates.js';
import type { Confirm, Reporter } from './terminal.js';

export interface DeployerContext {
  clients: Clients;
  reporter: Reporter;
  confirm: Confirm;
  polling: Polling;
}

export interface DeployOptions {
  allowDataLoss: boolean;
  forceVersion: boolean;
}

const VERSION_OUTPUT = 'MastodonVersion';

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

async function outputsOfDeployed(clients: Clients, stacks: DeployStack[]): Promise<Map<string, Record<string, string>>> {
  const outputs = new Map<string, Record<string, string>>();
  for (const stack of stacks) {
    const deployed = await describeStack(clients.cloudFormation(stack.region), stack.name);
    if (deployed) outputs.set(stack.name, outputsOf(deployed));
  }
  return outputs;
}

/** Deploys every stack of the package in order, each through a change set that is shown, checked and confirmed first. */
export async function deploy(pkg: DeployPackage, context: DeployerContext, options: DeployOptions): Promise<void> {
  const { clients, reporter, polling } = context;
  const outputs = new Map<string, Record<string, string>>();
  for (const stack of pkg.stacks) {
    const cfn = clients.cloudFormation(stack.region);
    const existing = await prepareStack(cfn, stack.name, stack.region, reporter, polling);
    const deployedVersion = outputsOf(existing)[VERSION_OUTPUT];
    if (stack.mastodonVersion && deployedVersion) {
      const problem = upgradeProblem(deployedVersion, stack.mastodonVersion);
      if (problem && !options.forceVersion) throw MastodonCfnError.of('deploy.upgrade', `Refusing to deploy ${stack.name}: ${problem}. (--force-version skips this check.)`);
    }

    const changeSet = await createChangeSet(
      cfn,
      {
        stackName: stack.name,
        changeSetType: existing ? 'UPDATE' : 'CREATE',
        template: await templateSource(clients, stack.region, stack.name, pkg.template(stack)),
        parameters: wiredParameters(stack, outputs),
        tags: stack.tags ?? {},
      },
      polling,
    );
    if (changeSet.empty) {
      reporter.line(`${stack.name} (${stack.region}): no changes`);
    } else {
      reporter.line(formatChangeSet(changeSet));
      const losses = dataLossChanges(changeSet.rows, stack);
      if (losses.length > 0 && !options.allowDataLoss) {
        await deleteChangeSet(cfn, changeSet);
        throw MastodonCfnError.of('deploy.dataLoss', describeDataLoss(stack.name, losses));
      }
      if (!(await context.confirm(`Deploy these changes to ${stack.name}?`))) {
        await deleteChangeSet(cfn, changeSet);
        throw MastodonCfnError.of(
          'deploy.notConfirmed',
          process.stdin.isTTY ? `Not deployed: ${stack.name} was left as it was.` : `Not deployed: there is no terminal to confirm on. Review the changes above, then run again with --yes.`,
        );
      }
      await executeChangeSet(cfn, changeSet, stack.region, reporter, polling);
      reporter.line(`${stack.name}: deployed`);
    }
    const deployed = outputsOf(await describeStack(cfn, stack.name));
    outputs.set(stack.name, deployed);
    if (stack.generatedSecrets && Object.keys(stack.generatedSecrets).length > 0) {
      await fillGeneratedSecrets(clients.secretsManager(stack.region), stack.region, stack.generatedSecrets, deployed, reporter);
    }
    if (!changeSet.empty) reporter.line(formatOutputs(stack.name, deployed));
  }
}

/** Shows what a deploy would change, and changes nothing: change sets are made, printed and deleted. */
export async function diff(pkg: DeployPackage, context: DeployerContext): Promise<void> {
  const { clients, reporter, polling } = context;
  const outputs = await outputsOfDeployed(clients, pkg.stacks);
  for (const stack of pkg.stacks) {
    const cfn = clients.cloudFormation(stack.region);
    const existing = await describeStack(cfn, stack.name);
    if (!existing || existing.StackStatus === 'REVIEW_IN_PROGRESS' || existing.StackStatus === 'ROLLBACK_COMPLETE') {
      // A CREATE change set would leave a REVIEW_IN_PROGRESS stack behind: read the template instead.
      const resources = Object.entries((JSON.parse(pkg.template(stack)) as { Resources?: Record<string, { Type: string }> }).Resources ?? {});
      reporter.line([`${stack.name} (${stack.region}) is not deployed; deploying creates:`, ...resources.map(([id, r]) => `  Add  ${id}  ${r.Type}`)].join('\n'));
      continue;
    }
    const changeSet = await createChangeSet(
      cfn,
      { stackName: stack.name, changeSetType: 'UPDATE', template: await templateSource(clients, stack.region, stack.name, pkg.template(stack)), parameters: wiredParameters(stack, outputs), tags: stack.tags ?? {} },
      polling,
    );
    if (changeSet.empty) {
      reporter.line(`${stack.name} (${stack.region}): no changes`);
      continue;
    }
    reporter.line(formatChangeSet(changeSet));
    const losses = dataLossChanges(changeSet.rows, stack);
    if (losses.length > 0) reporter.line(describeDataLoss(stack.name, losses).replace(/^Refusing to deploy/, 'Deploy would refuse'));
    await deleteChangeSet(cfn, changeSet);
  }
}

export interface StackInfo {
  name: string;
  region: string;
  status: string;
  outputs: Record<string, string>;
}

export async function info(pkg: DeployPackage, clients: Clients): Promise<StackInfo[]> {
  return Promise.all(
    pkg.stacks.map(async (stack) => {
      const deployed = await describeStack(clients.cloudFormation(stack.region), stack.name);
      return { name: stack.name, region: stack.region, status: deployed?.StackStatus ?? 'NOT_DEPLOYED', outputs: outputsOf(deployed) };
    }),
  );
}

export function formatInfo(stacks: StackInfo[]): string {
  return stacks.map((s) => [`${s.name} (${s.region}): ${s.status}`, ...Object.entries(s.outputs).map(([k, v]) => `  ${k}  ${v}`)].join('\n')).join('\n');
}

/**
 * Deletes the stacks, last deployed first. Their data stays: stateful resources are retained or
 * snapshotted by their policies, and what is left behind is listed at the end.
 */
export async function remove(pkg: DeployPackage, context: DeployerContext): Promise<void> {
  const { clients, reporter, polling } = context;
  const present: { stack: DeployStack; id: string }[] = [];
  for (const stack of [...pkg.stacks].reverse()) {
    const deployed = await describeStack(clients.cloudFormation(stack.region), stack.name);
    if (deployed) present.push({ stack, id: deployed.StackId! });
  }
  if (present.length === 0) {
    reporter.line('Nothing to remove: no stack of this package is deployed.');
    return;
  }
  if (!(await context.confirm(`Delete ${present.map(({ stack }) => `${stack.name} (${stack.region})`).join(', ')}? Data is kept (retained or snapshotted).`))) {
    throw MastodonCfnError.of('remove.notConfirmed', process.stdin.isTTY ? 'Nothing was removed.' : 'Nothing was removed: there is no terminal to confirm on. Run again with --yes.');
  }
  const leftBehind: string[] = [];
  for (const { stack, id } of present) {
    const cfn = clients.cloudFormation(stack.region);
    const policies = (JSON.parse(pkg.template(stack)) as { Resources?: Record<string, { DeletionPolicy?: string }> }).Resources ?? {};
    const resources = (await cfn.send(new DescribeStackResourcesCommand({ StackName: stack.name }))).StackResources ?? [];
    for (const resource of resources) {
      if (!STATEFUL_TYPES.has(resource.ResourceType) && !(stack.statefulResources ?? []).some((r) => r.logicalId === resource.LogicalResourceId)) continue;
      const policy = policies[resource.LogicalResourceId]?.DeletionPolicy ?? 'Delete';
      if (resource.ResourceType === 'AWS::RDS::DBCluster' && policy === 'Snapshot') {
        // Deletion protection would stop the stack deletion; the Snapshot policy keeps the data instead.
        await clients.rds(stack.region).send(new ModifyDBClusterCommand({ DBClusterIdentifier: resource.PhysicalResourceId, DeletionProtection: false, ApplyImmediately: true }));
      }
      if (policy !== 'Delete') leftBehind.push(`  ${resource.ResourceType} ${resource.PhysicalResourceId} (${resource.LogicalResourceId}): ${policy === 'Snapshot' ? 'final snapshot kept' : 'retained'}`);
    }
    const marker = await latestEventId(cfn, stack.name);
    await cfn.send(new DeleteStackCommand({ StackName: stack.name }));
    await followStack(cfn, { name: stack.name, region: stack.region, id }, marker, resources.length, reporter, polling);
    reporter.line(`${stack.name}: deleted`);
  }
  reporter.line(leftBehind.length ? ['Left behind, with their data (delete them by hand when you no longer need them):', ...leftBehind].join('\n') : 'No stateful resources were left behind.');
}
