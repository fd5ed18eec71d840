import { ECSServiceException } from '@aws-sdk/client-ecs';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsClient } from '../../src/deployer/aws.js';
import type { CloudWatchLogsStandIn } from './cloudWatchLogs.js';

const refusal = (name: string, message: string) => new ECSServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });

/** A container definition as the compiled template has it (values may still be CloudFormation functions). */
export interface TemplateContainer {
  Name: string;
  Essential?: boolean;
  EntryPoint?: string[];
  Command?: string[];
  Environment?: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
  MountPoints?: { SourceVolume: string; ContainerPath: string }[];
  DependsOn?: { ContainerName: string; Condition: string }[];
  LogConfiguration?: { Options?: Record<string, unknown> };
}

export interface TemplateTaskDefinition {
  NetworkMode?: string;
  ContainerDefinitions: TemplateContainer[];
  Volumes?: { Name: string }[];
  EphemeralStorage?: { SizeInGiB: number };
}

/** How this machine stands in for the task's: resolves what the template leaves to CloudFormation, and runs what no shell can. */
export interface Machine {
  /** A Ref, GetAtt, Sub or Join of the template, as CloudFormation would have resolved it. */
  resolve(value: unknown): string;
  /** A secret's ValueFrom, read as the execution role would. */
  secret(valueFrom: string): Promise<string>;
  /** Variables that point the container at this machine's stand-ins (the database's host, the S3 endpoint). */
  environment: Record<string, string>;
  /** Containers that no shell here can run (Rails): their outcome, from their environment. */
  programs?: Record<string, (environment: Record<string, string>) => Promise<{ exitCode: number; output: string }>>;
}

interface RunningTask {
  taskArn: string;
  cluster: string;
  definition: string;
  overrides: { name: string; environment?: { name: string; value: string }[]; command?: string[] }[];
  done?: { containers: { name: string; exitCode?: number; reason?: string }[]; stoppedReason: string };
}

/** ECS's limit on a RunTask's overrides (the API reference's ContainerOverride: "a total of 8192 characters"). */
const OVERRIDES_LIMIT = 8192;

/**
 * ECS's RunTask, DescribeTasks and StopTask for task definitions of a compiled template, running their
 * containers on this machine: `sh -c` scripts for real, in DependsOn order, with the task's volume a
 * local folder, logs into the CloudWatch Logs stand-in as awslogs names them. It refuses what ECS refuses:
 * a definition where another container waits for an essential one to COMPLETE or SUCCEED (the API
 * reference's ContainerDependency), more than 200 GiB of ephemeral storage, an unknown definition, an
 * awsvpc task without a network configuration, an override of a container the definition lacks, and
 * overrides over 8,192 characters. A container whose dependency failed never starts, and the task stops.
 */
export class EcsStandIn implements AwsClient {
  calls: { name: string; input: any }[] = [];
  private readonly tasks: RunningTask[] = [];
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly definitions: Record<string, TemplateTaskDefinition>,
    private readonly machine: Machine,
    private readonly logs: CloudWatchLogsStandIn,
  ) {
    for (const [arn, definition] of Object.entries(definitions)) {
      for (const container of definition.ContainerDefinitions) {
        for (const dependency of container.DependsOn ?? []) {
          const target = definition.ContainerDefinitions.find((c) => c.Name === dependency.ContainerName);
          if (!target) throw refusal('ClientException', `${arn}: container ${container.Name} depends on ${dependency.ContainerName}, which the task definition lacks`);
          if (['COMPLETE', 'SUCCESS'].includes(dependency.Condition) && target.Essential !== false) {
            throw refusal('ClientException', `${arn}: ${dependency.Condition} cannot be the condition on the essential container ${target.Name}`);
          }
        }
      }
      const size = definition.EphemeralStorage?.SizeInGiB;
      if (size !== undefined && (size < 21 || size > 200)) throw refusal('ClientException', `${arn}: EphemeralStorage.SizeInGiB must be between 21 and 200`);
    }
  }

  called(name: string) {
    return this.calls.filter((c) => c.name === name);
  }

  /** Waits until every task started has stopped. */
  async settled(): Promise<void> {
    await Promise.all(this.running.values());
  }

  async send(command: object): Promise<any> {
    const name = command.constructor.name.replace(/Command$/, '');
    const input = (command as { input: any }).input;
    this.calls.push({ name, input });
    if (name === 'RunTask') return this.runTask(input);
    if (name === 'DescribeTasks') {
      await Promise.race([this.running.get(input.tasks[0]), new Promise((resolve) => setTimeout(resolve, 50))]);
      const task = this.tasks.find((t) => t.taskArn === input.tasks[0]);
      if (!task) return { tasks: [], failures: [{ arn: input.tasks[0], reason: 'MISSING' }] };
      return { tasks: [task.done ? { taskArn: task.taskArn, lastStatus: 'STOPPED', stoppedReason: task.done.stoppedReason, containers: task.done.containers } : { taskArn: task.taskArn, lastStatus: 'RUNNING', containers: [] }], failures: [] };
    }
    if (name === 'StopTask') return { task: { taskArn: input.task } };
    throw new Error(`the ECS stand-in does not know ${name}`);
  }

  private runTask(input: any) {
    const definition = this.definitions[input.taskDefinition];
    if (!definition) throw refusal('ClientException', 'Unable to find task definition.');
    if (definition.NetworkMode === 'awsvpc' && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
      throw refusal('InvalidParameterException', "Network Configuration must be provided when networkMode 'awsvpc' is specified.");
    }
    const overrides: RunningTask['overrides'] = input.overrides?.containerOverrides ?? [];
    for (const override of overrides) {
      if (!definition.ContainerDefinitions.some((c) => c.Name === override.name)) throw refusal('InvalidParameterException', `Override for container named ${override.name} is not a container in the TaskDefinition.`);
    }
    if (JSON.stringify(input.overrides ?? {}).length > OVERRIDES_LIMIT) throw refusal('InvalidParameterException', 'Container Overrides length must be at most 8192');
    const taskArn = `arn:aws:ecs:eu-central-1:123456789012:task/${input.cluster}/${(this.tasks.length + 1).toString(16).padStart(32, '0')}`;
    const task: RunningTask = { taskArn, cluster: input.cluster, definition: input.taskDefinition, overrides };
    this.tasks.push(task);
    this.running.set(taskArn, this.execute(task, definition));
    return { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] };
  }

  private async execute(task: RunningTask, definition: TemplateTaskDefinition): Promise<void> {
    const volume = mkdtempSync(join(tmpdir(), 'mastodon-cfn-ecs-volume-'));
    const outcomes = new Map<string, { exitCode?: number; reason?: string }>();
    const taskId = task.taskArn.split('/').at(-1)!;
    const pending = [...definition.ContainerDefinitions];
    while (pending.length) {
      const ready = pending.findIndex((c) => (c.DependsOn ?? []).every((d) => outcomes.has(d.ContainerName)));
      const [container] = pending.splice(ready === -1 ? 0 : ready, 1);
      const unmet = (container.DependsOn ?? []).find((d) => {
        const outcome = outcomes.get(d.ContainerName);
        return d.Condition === 'SUCCESS' ? outcome?.exitCode !== 0 : outcome?.exitCode === undefined;
      });
      if (unmet) {
        outcomes.set(container.Name, { reason: `dependency ${unmet.ContainerName} did not reach ${unmet.Condition}` });
        continue;
      }
      const environment: Record<string, string> = {};
      for (const variable of container.Environment ?? []) environment[variable.Name] = this.machine.resolve(variable.Value);
      for (const secret of container.Secrets ?? []) environment[secret.Name] = await this.machine.secret(this.machine.resolve(secret.ValueFrom));
      const override = task.overrides.find((o) => o.name === container.Name);
      for (const variable of override?.environment ?? []) environment[variable.name] = variable.value;
      for (const mount of container.MountPoints ?? []) {
        for (const [key, value] of Object.entries(environment)) if (value.startsWith(mount.ContainerPath)) environment[key] = volume + value.slice(mount.ContainerPath.length);
      }
      Object.assign(environment, this.machine.environment);
      const program = this.machine.programs?.[container.Name];
      const { exitCode, output } = program ? await program(environment) : await runShell([...(container.EntryPoint ?? []), ...(override?.command ?? container.Command ?? [])], environment);
      const options = container.LogConfiguration?.Options ?? {};
      const group = this.machine.resolve(options['awslogs-group']);
      const lines = output.split('\n').filter((line) => line !== '');
      if (lines.length) this.logs.put(group, `${options['awslogs-stream-prefix']}/${container.Name}/${taskId}`, lines.map((message, i) => ({ timestamp: Date.now() + i, message })));
      outcomes.set(container.Name, { exitCode });
    }
    rmSync(volume, { recursive: true, force: true });
    const essential = definition.ContainerDefinitions.find((c) => c.Essential !== false);
    task.done = {
      containers: definition.ContainerDefinitions.map((c) => ({ name: c.Name, ...outcomes.get(c.Name) })),
      stoppedReason: essential && outcomes.get(essential.Name)?.exitCode !== undefined ? 'Essential container in task exited' : 'Task stopped: a container dependency was not met',
    };
  }
}

async function runShell(command: string[], environment: Record<string, string>): Promise<{ exitCode: number; output: string }> {
  if (command[0] !== 'sh') throw new Error(`the ECS stand-in runs only sh scripts here, not ${command.join(' ')}: give the container a program`);
  return new Promise((resolve) => {
    const child = spawn(command[0], command.slice(1), { env: { PATH: process.env.PATH, ...environment }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => resolve({ exitCode: code ?? 1, output }));
  });
}
