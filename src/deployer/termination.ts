import { UpdateTerminationProtectionCommand, type Stack } from '@aws-sdk/client-cloudformation';
import type { AwsClient } from './aws.js';
import type { DeployStack } from './manifest.js';
import type { Reporter } from './terminal.js';

/**
 * Termination protection on the stacks that hold data: a DeleteStack from the console, the CLI or
 * another tool is refused ("Stack [name] cannot be deleted while TerminationProtection is enabled",
 * CloudFormation User Guide, "Protect a stack from being deleted"). `mastodon-cfn remove` lifts it,
 * after its confirmation. A change set cannot set it: it is turned on once the stack exists, and
 * again on any deploy that finds it off.
 */
export function holdsData(stack: DeployStack): boolean {
  return (stack.statefulResources ?? []).length > 0;
}

export async function protectFromDeletion(cfn: AwsClient, stack: DeployStack, current: Stack, reporter: Reporter): Promise<void> {
  if (!holdsData(stack) || current.EnableTerminationProtection === true) return;
  await setTerminationProtection(cfn, stack.name, true);
  reporter.line(`${stack.name}: termination protection turned on (the stack holds data; mastodon-cfn remove lifts it after asking)`);
}

export async function setTerminationProtection(cfn: AwsClient, stackName: string, on: boolean): Promise<void> {
  await cfn.send(new UpdateTerminationProtectionCommand({ StackName: stackName, EnableTerminationProtection: on }));
}
