import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import type { AfterDeployTask, OneOffTask } from '../compiler/fragment.js';
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
export function requiredOutput(outputs: Record<string, string>, name: string, stackName: string): string {
  const value = outputs[name];
  if (!value) throw MastodonCfnError.of('deploy.missingOutput', `${stackName} has no output ${name}, which the deployer needs to run a one-off task. Deploy it again with this version of mastodon-cfn.`);
  return value;
}

/**
 * Starts a one-off Fargate task of a task definition the stack made, in the stack's own subnets
 * and security group, optionally with another command. A task ECS cannot place is an error with ECS's reason.
 */
export async function startTask(ecs: AwsClient, task: OneOffTask, outputs: Record<string, string>, stackName: string, description: string, override: TaskOverride = {}): Promise<{ cluster: string; taskArn: string }> {
  const { command, environment, containers = [task.container] } = override;
  const cluster = requiredOutput(outputs, task.outputs.cluster, stackName);
  const started = await ecs.send(
    new RunTaskCommand({
      cluster,
      taskDefinition: requiredOutput(outputs, task.outputs.taskDefinition, stackName),
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: task.capacityProvider, weight: 1 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: requiredOutput(outputs, task.outputs.subnets, stackName).split(','), securityGroups: [requiredOutput(outputs, task.outputs.securityGroup, stackName)], assignPublicIp: 'ENABLED' },
      },
      ...(command || environment
        ? {
            overrides: {
              containerOverrides: containers.map((name) => ({
                name,
                ...(command && name === task.container ? { command } : {}),
                ...(environment ? { environment: Object.entries(environment).map(([variable, value]) => ({ name: variable, value })) } : {}),
              })),
            },
          }
        : {}),
      startedBy: 'mastodon-cfn',
    }),
  );
  const taskArn: string | undefined = started.tasks?.[0]?.taskArn;
  if (!taskArn) {
    const reason = (started.failures ?? []).map((f: { reason?: string; detail?: string }) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ');
    throw MastodonCfnError.of('deploy.taskNotStarted', `ECS did not start the ${description} task: ${reason || 'no reason given'}`);
  }
  return { cluster, taskArn };
}

/** Waits for a task to stop, calling `onTick` at each poll (to stream its output). */
export async function waitForStop(ecs: AwsClient, started: { cluster: string; taskArn: string }, container: string, polling: Polling, onTick: () => Promise<void> = async () => undefined): Promise<TaskOutcome> {
  const stopped = await poll(polling, async () => {
    await onTick();
    const described = await ecs.send(new DescribeTasksCommand({ cluster: started.cluster, tasks: [started.taskArn] }));
    const current = described.tasks?.[0];
    return current?.lastStatus === 'STOPPED' ? current : undefined;
  });
  await onTick();
  const found = (stopped.containers ?? []).find((c: { name?: string }) => c.name === container);
  return { taskArn: started.taskArn, exitCode: found?.exitCode, stoppedReason: stopped.stoppedReason ?? found?.reason };
}

/**
 * `override.environment`: variables added to the container's for this run only (never a secret: RunTask's
 * overrides are visible in the task); `override.command`: another command than the task definition's.
 */
export async function runOneOffTask(ecs: AwsClient, task: AfterDeployTask, outputs: Record<string, string>, stackName: string, polling: Polling, override: TaskOverride = {}): Promise<TaskOutcome> {
  return waitForStop(ecs, await startTask(ecs, task, outputs, stackName, task.description, override), task.container, polling);
}

/** `containers`: those the environment is added to (the task's own container unless told); the command is always the task's container's. */
export type TaskOverride = { command?: string[]; environment?: Record<string, string>; containers?: string[] };

/** The awslogs stream of a task's container: `<prefix>/<container>/<task id>`, the prefix being the container's name. */
export function logStream(container: string, taskArn: string): string {
  return `${container}/${container}/${taskArn.split('/').at(-1)}`;
}

/** Reads a log stream from where the last call stopped, writing each event; a stream not there yet has nothing to read. */
export function logFollower(logs: AwsClient, logGroupName: string, logStreamName: string, write: (text: string) => void): () => Promise<void> {
  let token: string | undefined;
  return async () => {
    for (;;) {
      let page;
      try {
        page = await logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken: token }));
      } catch (error) {
        // The stream appears when the container starts writing.
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return;
        throw error;
      }
      for (const event of page.events ?? []) write(`${event.message ?? ''}\n`);
      // Only an unchanged token ends a read: a page may be empty while more events follow (GetLogEvents, CloudWatch Logs API reference).
      const next = page.nextForwardToken;
      if (!next || next === token) return;
      token = next;
    }
  };
}

/**
 * `mastodon-cfn run`: a one-off task with the command given, its output streamed from CloudWatch
 * Logs as it runs, and the command's exit code as the result. Ctrl-C stops the task.
 */
export async function runCommand(clients: { ecs: AwsClient; logs: AwsClient }, task: OneOffTask, outputs: Record<string, string>, stack: { name: string; region: string }, command: string[], reporter: Reporter, write: (text: string) => void, polling: Polling): Promise<number> {
  const started = await startTask(clients.ecs, task, outputs, stack.name, command.join(' '), { command });
  const logGroup = requiredOutput(outputs, task.outputs.logGroup, stack.name);
  const stream = logStream(task.container, started.taskArn);
  reporter.line(`Started ${command.join(' ')} as task ${started.taskArn.split('/').at(-1)} in ${stack.region}; its output follows (Ctrl-C stops it).`);
  const printNewLines = logFollower(clients.logs, logGroup, stream, write);
  let outcome: TaskOutcome;
  try {
    outcome = await waitForStop(clients.ecs, started, task.container, polling, printNewLines);
  } catch (error) {
    if (error instanceof Interrupted) {
      await clients.ecs.send(new StopTaskCommand({ cluster: started.cluster, task: started.taskArn, reason: 'Stopped by mastodon-cfn run (Ctrl-C)' }));
      throw MastodonCfnError.of('run.interrupted', `Stopped task ${started.taskArn.split('/').at(-1)}.`, 130);
    }
    throw error;
  }
  if (outcome.exitCode === undefined) {
    throw MastodonCfnError.of('run.notFinished', `The task stopped before ${command.join(' ')} finished${outcome.stoppedReason ? `: ${outcome.stoppedReason}` : ''}.`);
  }
  return outcome.exitCode;
}

/** Runs a task after a deploy and reports its outcome; a failure is the user's to look into, with where its log is. */
export async function runAfterDeploy(
  ecs: AwsClient,
  task: AfterDeployTask,
  outputs: Record<string, string>,
  stack: { name: string; region: string },
  reporter: Reporter,
  polling: Polling,
  override: TaskOverride = {},
  afterFailure = 'Fix the cause and deploy again: the next deploy runs it again (the running release goes on serving meanwhile).',
): Promise<void> {
  reporter.line(`${stack.name}: running ${task.description} as a one-off task...`);
  reporter.status(`${stack.name}: ${task.description}`);
  let outcome: TaskOutcome;
  try {
    outcome = await runOneOffTask(ecs, task, outputs, stack.name, polling, override);
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
      `Its output is in CloudWatch Logs (${stack.region}), stream ${task.container}/${task.container}/${taskId}. ${afterFailure}`,
  );
}
