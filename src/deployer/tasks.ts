import { DescribeTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import type { AfterDeployTask } from '../compiler/fragment.js';
import { MastodonCfnError } from '../errors.js';
import type { AwsClient } from './aws.js';
import { Interrupted, poll, type Polling } from './stacks.js';
import type { Reporter } from './terminal.js';

export interface TaskOutcome {
  taskArn: string;
  exitCode?: number;
  stoppedReason?: string;
}

/** The stack outputs a task definition names, or a clear error when the stack lacks one. */
function output(outputs: Record<string, string>, name: string, stackName: string): string {
  const value = outputs[name];
  if (!value) throw MastodonCfnError.of('deploy.missingOutput', `${stackName} has no output ${name}, which the deployer needs to run a one-off task. Deploy it again with this version of mastodon-cfn.`);
  return value;
}

/**
 * Runs a one-off Fargate task of a task definition the stack made, in the stack's own subnets
 * and security group, and waits for it to stop. A task ECS cannot place, or one that stops
 * before its container ran, is an error with ECS's reason.
 */
export async function runOneOffTask(ecs: AwsClient, task: AfterDeployTask, outputs: Record<string, string>, stackName: string, polling: Polling): Promise<TaskOutcome> {
  const cluster = output(outputs, task.outputs.cluster, stackName);
  const started = await ecs.send(
    new RunTaskCommand({
      cluster,
      taskDefinition: output(outputs, task.outputs.taskDefinition, stackName),
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: task.capacityProvider, weight: 1 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: output(outputs, task.outputs.subnets, stackName).split(','), securityGroups: [output(outputs, task.outputs.securityGroup, stackName)], assignPublicIp: 'ENABLED' },
      },
      startedBy: 'mastodon-cfn',
    }),
  );
  const taskArn: string | undefined = started.tasks?.[0]?.taskArn;
  if (!taskArn) {
    const reason = (started.failures ?? []).map((f: { reason?: string; detail?: string }) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ');
    throw MastodonCfnError.of('deploy.taskNotStarted', `ECS did not start the ${task.description} task: ${reason || 'no reason given'}`);
  }
  const stopped = await poll(polling, async () => {
    const described = await ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
    const current = described.tasks?.[0];
    return current?.lastStatus === 'STOPPED' ? current : undefined;
  });
  const container = (stopped.containers ?? []).find((c: { name?: string }) => c.name === task.container);
  return { taskArn, exitCode: container?.exitCode, stoppedReason: stopped.stoppedReason ?? container?.reason };
}

/** Runs the stack's after-deploy task and reports its outcome; a failure is the user's to look into, with where its log is. */
export async function runAfterDeploy(ecs: AwsClient, task: AfterDeployTask, outputs: Record<string, string>, stack: { name: string; region: string }, reporter: Reporter, polling: Polling): Promise<void> {
  reporter.line(`${stack.name}: running ${task.description} as a one-off task...`);
  reporter.status(`${stack.name}: ${task.description}`);
  let outcome: TaskOutcome;
  try {
    outcome = await runOneOffTask(ecs, task, outputs, stack.name, polling);
  } catch (error) {
    reporter.clear();
    if (error instanceof Interrupted) {
      throw MastodonCfnError.of('deploy.interrupted', `Stopped waiting for the ${task.description}; the task goes on running on ECS (cluster ${outputs[task.outputs.cluster]}).`, 130);
    }
    throw error;
  }
  reporter.clear();
  const taskId = outcome.taskArn.split('/').at(-1);
  if (outcome.exitCode === 0) {
    reporter.line(`${stack.name}: ${task.description} done (task ${taskId}, exit code 0)`);
    return;
  }
  const how = outcome.exitCode === undefined ? `stopped before its ${task.container} container finished` : `${task.container} exited with code ${outcome.exitCode}`;
  throw MastodonCfnError.of(
    'deploy.afterDeployFailed',
    `${stack.name} is deployed, but the ${task.description} failed: ${how}${outcome.stoppedReason ? ` (${outcome.stoppedReason})` : ''}. ` +
      `Its output is in CloudWatch Logs (${stack.region}), stream ${task.container}/${task.container}/${taskId}. The running release does not need these migrations; fix the cause and deploy again: the task runs on every deploy.`,
  );
}
