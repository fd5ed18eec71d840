import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Template } from '../../src/compiler/cfn.js';
import type { StackRole } from '../../src/compiler/naming.js';
import { build, type Build } from '../../src/pipeline.js';
import { MastodonCfnError } from '../../src/errors.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const CLI = join(REPO_ROOT, 'bin/mastodon-cfn.cjs');
export const CONFIGS = join(REPO_ROOT, 'test/configs');

/** The reference config's text, its postblog `build` folder made absolute so that the text builds from any folder. */
export function referenceYaml(): string {
  return readFileSync(join(REPO_ROOT, 'mastodon.config.yaml'), 'utf8').replace('build: ./postblog', `build: ${join(REPO_ROOT, 'postblog')}`);
}

/** Template files produced by the tests; test/support/lint-hooks.ts lints them all at the end. */
export const templatesToLint = new Set<string>();

export function tempDir(prefix = 'mastodon-cfn-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Queues every template in an output folder for cfn-lint. */
export function lintLater(outDir: string): void {
  for (const file of readdirSync(outDir)) if (file.endsWith('.template.json')) templatesToLint.add(join(outDir, file));
}

export interface TestBuild extends Build {
  template(role: StackRole): Template;
  resources(role?: StackRole): Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string; DependsOn?: unknown }>;
}

/** Builds a config (a file, or YAML text) in-process and queues its templates for cfn-lint. */
export function buildConfig(source: { file: string } | { yaml: string }, options: Record<string, string> = {}, env: Record<string, string> = {}): TestBuild {
  let file: string;
  if ('file' in source) {
    file = source.file;
  } else {
    file = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(file, source.yaml);
  }
  const result = build({ configFile: file, options, env });
  const out = join(tempDir('mastodon-cfn-out-'), 'out');
  mkdirSync(out);
  for (const [name, content] of result.files) writeFileSync(join(out, name), content);
  lintLater(out);
  const template = (role: StackRole) => {
    const stack = result.stacks.find((s) => s.role === role);
    if (!stack) throw new Error(`no ${role} stack was built`);
    return JSON.parse(result.files.get(result.names.templateFile(role))!) as Template;
  };
  return { ...result, template, resources: (role = 'main') => template(role).Resources as ReturnType<TestBuild['resources']> };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Where the CLI runs against moto_server log the AWS API calls they make (MASTODON_CFN_API_LOG): the calls `policy` must allow. */
export const API_CALL_LOG = join(tmpdir(), `mastodon-cfn-api-calls-${process.pid}.jsonl`);

/** The CLI's environment: the test's, and the call log when it talks to moto_server. */
function cliEnv(env: Record<string, string | undefined> | undefined): Record<string, string | undefined> {
  const merged = { ...process.env, ...env };
  return merged.AWS_ENDPOINT_URL?.startsWith('http://127.0.0.1:') ? { MASTODON_CFN_API_LOG: API_CALL_LOG, ...merged } : merged;
}

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: cliEnv(options.env),
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the CLI without blocking this process: for tests whose stand-in servers live in the test process. */
export function runCliAsync(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO_ROOT, env: cliEnv(options.env) });
}

/** Runs a Node script of the repository (the CLI, a maintainer's script) without blocking this process. */
export function runScriptAsync(script: string, args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return runProcess(process.execPath, [script, ...args], { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env } });
}

/** Runs a program to its end, with exactly the environment given, and collects its output. */
export function runProcess(command: string, args: string[], options: { cwd?: string; env: Record<string, string | undefined> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The problems a build of `minimalYaml(extra)` reports, as "path: message"; none when it builds. */
export function problemsOf(extra: string): string[] {
  try {
    buildConfig({ yaml: minimalYaml(extra) });
  } catch (error) {
    if (error instanceof MastodonCfnError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

/** The smallest valid config, with extra YAML appended. */
export function minimalYaml(extra = ''): string {
  return `service: social\ndomain: social.example.com\n${extra}`;
}

/** The resources a role's inline policies allow one action on, in statement order. */
type PolicyStatement = { Action: string | string[]; Resource: unknown };

export function grantedBy(role: { Properties?: unknown }, action: string): unknown[] {
  const policies = (role.Properties as { Policies?: { PolicyDocument: { Statement: PolicyStatement[] } }[] } | undefined)?.Policies ?? [];
  return policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => [statement.Action].flat().includes(action))
    .flatMap((statement) => [statement.Resource].flat());
}

/** What `promise` was rejected with (an error of the tool's own unless told otherwise); a promise that resolves fails the test. */
export async function failure<E extends Error = MastodonCfnError>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (error) {
    return error as E;
  }
  throw new Error('expected a failure');
}
