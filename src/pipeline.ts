import { dirname, resolve } from 'node:path';
import { compile, stackProblems, templateText, toManifest, type CompiledStack, type Manifest } from './compiler/index.js';
import { keepsItsData } from './compiler/extensions.js';
import { makeNames, type Names, type StackRole } from './compiler/naming.js';
import { estimate, type Estimate, type PricedStack } from './cost/estimate.js';
import { architecture, type Architecture } from './diagram/architecture.js';
import { toSvg } from './diagram/render.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import { isPlainObject } from './config/path.js';
import type { Config } from './config/types.js';
import { validateConfig } from './config/validate.js';
import { resolveVariables, type AwsLookup, type AwsValues } from './config/variables.js';
import { byPosition, excerpt, MastodonCfnError, type Problem } from './errors.js';
import { loadPlugins, runHook, type HookName, type LoadedPlugin, type PluginOptions, type Templates } from './plugins.js';

/**
 * The build pipeline, one stage after another:
 * load (YAML with positions) → resolve variables → validate (schema, then semantic checks) → compile
 * (with resources.extensions) → plugins' hooks → check → estimate and draw.
 * Each stage reports all of its problems at once; the first stage with problems stops the build.
 */
export interface PipelineOptions {
  configFile: string;
  /** CLI options: `${opt:NAME}`; `stage` and `region` also override provider.stage and provider.region. */
  options: Record<string, string | undefined>;
  env: Record<string, string | undefined>;
  /** `--param name=value`: `${param:name}`. */
  params?: Record<string, string>;
  /** What was read from AWS for variables that need it (`${aws:accountId}`, `${cf:…}`). */
  aws?: AwsValues;
}

/** The config's variables need values from AWS that the build does not have: `buildWith` reads them and builds again. */
export class NeedsAws extends Error {
  constructor(
    readonly lookups: AwsLookup[],
    /** provider.profile, as far as the config resolved: the credentials to read with. */
    readonly profile: string | undefined,
  ) {
    super(`the config reads ${lookups.map((lookup) => lookup.variable).join(', ')} from AWS`);
  }
}

export interface ValidConfig {
  loaded: LoadedConfig;
  config: Config;
  names: Names;
  /** The stacks whose outputs variables read (`${cf:}`). */
  variableStacks: { region: string; name: string }[];
}

export interface Build extends ValidConfig {
  stacks: CompiledStack[];
  manifest: Manifest;
  /** File name → content, ready to be written. */
  files: Map<string, string>;
  /** The templates as written, parsed: what the estimate and the architecture are read from. */
  written: PricedStack[];
  estimate: Estimate;
  architecture: Architecture;
}

/** The picture `build` writes beside the templates. */
export const DIAGRAM_FILE = 'architecture.svg';

export function loadValidConfig(options: PipelineOptions): ValidConfig {
  const loaded = loadConfigFile(options.configFile);
  const fail = (problems: MastodonCfnError['problems']) => new MastodonCfnError(problems, loaded.file);

  // A variable that fails does not stop the checks: every problem of the file is reported at once.
  const variables = resolveVariables(loaded, { options: options.options, env: options.env, params: options.params, baseDir: dirname(resolve(options.configFile)), aws: options.aws });
  // What is wrong offline is said first, before anything is asked of AWS.
  if (variables.awsLookups.length > 0 && variables.problems.length > 0) throw fail(variables.problems.sort(byPosition));
  if (variables.awsLookups.length > 0) {
    const provider = variables.config.provider;
    throw new NeedsAws(variables.awsLookups, isPlainObject(provider) && typeof provider.profile === 'string' ? provider.profile : undefined);
  }
  const resolved = variables.config;
  // With no region in the config or on the command line, AWS_REGION decides, as for every AWS tool.
  const configRegion = isPlainObject(resolved.provider) ? resolved.provider.region : undefined;
  const environmentRegion = configRegion === undefined ? options.env.AWS_REGION || undefined : undefined;
  const overrides = {
    stage: options.options.stage === undefined ? undefined : { value: options.options.stage, origin: '--stage' },
    region: options.options.region !== undefined ? { value: options.options.region, origin: '--region' } : environmentRegion !== undefined ? { value: environmentRegion, origin: 'AWS_REGION' } : undefined,
  };
  for (const key of ['stage', 'region'] as const) {
    const override = overrides[key];
    if (override === undefined) continue;
    if (resolved.provider === undefined) resolved.provider = {};
    if (isPlainObject(resolved.provider)) resolved.provider[key] = override.value;
  }

  const validation = validateConfig(resolved, loaded.locate, dirname(resolve(options.configFile)), variables.textFromOutside);
  // A wrong value of a flag or of AWS_REGION is reported as theirs, not as a line of the file.
  for (const problem of validation.problems) {
    const key = problem.path === 'provider.stage' ? 'stage' : problem.path === 'provider.region' ? 'region' : undefined;
    const override = key && overrides[key];
    if (override) Object.assign(problem, { origin: override.origin, line: undefined, col: undefined });
  }
  // A value whose variable failed holds its own text; what the checks say of it is noise next to the variable's problem.
  const concernsFailed = (path: string) => [...variables.failedPaths].some((failed) => path === failed || path.startsWith(`${failed}.`));
  const problems = [...variables.problems, ...validation.problems.filter((problem) => !concernsFailed(problem.path))];
  if (problems.length > 0) throw fail(problems.sort(byPosition));
  const { config } = validation;
  return { loaded, config, names: makeNames(config.service, config.provider.stage, config.provider.tags), variableStacks: variables.stacksRead };
}

/** Compiles a valid config; a problem of `resources:` or `resources.extensions` is reported where it is written. */
function compileValid(valid: ValidConfig): CompiledStack[] {
  const compiled = compile(valid.config, valid.names);
  if (compiled.problems.length > 0) throw located(valid, compiled.problems);
  return compiled.stacks;
}

function located(valid: ValidConfig, problems: Problem[]): MastodonCfnError {
  return new MastodonCfnError(
    problems.map((problem) => (problem.origin || !problem.path ? problem : { ...problem, ...valid.loaded.locate(configKeys(problem.path), { key: true }) })).sort(byPosition),
    valid.loaded.file,
  );
}

/** The keys of a dotted path; under resources.extensions.<id>.<section>, the rest is one key (it may be a path of its own, as DistributionConfig.Comment). */
function configKeys(path: string): string[] {
  const keys = path.split('.');
  return keys[0] === 'resources' && keys[1] === 'extensions' && keys.length > 5 ? [...keys.slice(0, 4), keys.slice(4).join('.')] : keys;
}

/** Checks the stacks as they are to be written (CloudFormation's limits), writes them out, prices and draws them. */
function finish(valid: ValidConfig, stacks: CompiledStack[]): Build {
  const { config, names } = valid;
  const problems = stackProblems(stacks, config);
  if (problems.length > 0) throw located(valid, problems);
  const files = new Map<string, string>();
  for (const stack of stacks) files.set(names.templateFile(stack.role), stack.text);
  // Priced and drawn from the templates as written: exactly what CloudFormation will be asked to create.
  const written = stacks.map((stack) => ({ name: stack.name, region: stack.region, template: JSON.parse(files.get(names.templateFile(stack.role))!) }));
  const monthly = estimate(written, config.provider.region);
  const picture = architecture(written, monthly, `${config.domain}: ${names.prefix} on AWS (size ${config.size})`);
  const manifest = toManifest(stacks, config, names, monthly, valid.variableStacks);
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  files.set(DIAGRAM_FILE, toSvg(picture));
  return { ...valid, stacks, manifest, files, written, estimate: monthly, architecture: picture };
}

/**
 * The offline build of a config with no plugins and no variable read from AWS (the tests' build);
 * the CLI builds with `buildWith`, which also reads AWS and runs plugins.
 */
export function build(options: PipelineOptions): Build {
  const valid = loadValidConfig(options);
  if (valid.config.plugins.length > 0) throw new Error('a config with plugins is built by buildWith, which runs them');
  return finish(valid, compileValid(valid));
}

/** What the CLI's build can reach beyond the config: AWS for variables, and the terminal for what plugins say. */
export interface BuildEnvironment {
  /** Reads what variables need from AWS; `known` is what earlier passes read, `profile` the config's provider.profile. */
  readAws(lookups: AwsLookup[], known: AwsValues | undefined, profile: string | undefined): Promise<AwsValues>;
  /** The command being run, as plugins are told it. */
  command: string;
  /** The hooks to run after compiling, in order: after:compile, and for deploy before:deploy too. */
  hooks: HookName[];
  /** Where plugins' lines (and the note of what is read from AWS) go. */
  write(line: string): void;
}

/** How many times variables may need AWS again because of what AWS answered (`${cf:${aws:accountId}-x.Out}` needs two). */
const MAX_AWS_PASSES = 4;

export interface FullBuild extends Build {
  plugins: LoadedPlugin[];
}

/** The valid config, with what its variables need read from AWS (saying what is read). */
export async function loadValidConfigWith(options: PipelineOptions, environment: Pick<BuildEnvironment, 'readAws' | 'write'>): Promise<ValidConfig> {
  let current = options;
  for (let pass = 0; ; pass++) {
    try {
      return loadValidConfig(current);
    } catch (error) {
      if (!(error instanceof NeedsAws)) throw error;
      if (pass === MAX_AWS_PASSES) throw MastodonCfnError.of('variables.awsTooDeep', `variables still need AWS after ${MAX_AWS_PASSES} reads (${error.lookups.map((lookup) => lookup.variable).join(', ')}): each read named what to read next; refused, as a config's variables are a few levels deep`);
      environment.write(`Reading ${error.lookups.map((lookup) => lookup.variable).join(', ')} from AWS (the config's variables need ${error.lookups.length === 1 ? 'it' : 'them'}).`);
      current = { ...current, aws: await environment.readAws(error.lookups, current.aws, error.profile) };
    }
  }
}

/** The whole build as the CLI runs it: reads from AWS what variables need, then runs the plugins' hooks, and checks and prices their templates. */
export async function buildWith(options: PipelineOptions, environment: BuildEnvironment): Promise<FullBuild> {
  const valid = await loadValidConfigWith(options, environment);
  const stacks = compileValid(valid);
  const pluginOptions: PluginOptions = { stage: valid.config.provider.stage, region: valid.config.provider.region, command: environment.command };
  const plugins = loadPlugins(valid.config, valid.loaded.file, pluginOptions);
  if (plugins.length === 0) return { ...finish(valid, stacks), plugins };
  // The templates as they would be written (plain JSON), each the plugins' own copy.
  const templates: Templates = Object.fromEntries(stacks.map((stack) => [stack.role, JSON.parse(stack.text)]));
  const written = new Map<StackRole, string>();
  const changed = () => stacks.map((stack) => (written.has(stack.role) ? { ...stack, template: JSON.parse(written.get(stack.role)!) as CompiledStack['template'], text: written.get(stack.role)! } : stack));
  // The config's own problems first, where they are written; then each plugin's, after it ran, named by it.
  const own = stackProblems(stacks, valid.config);
  if (own.length > 0) throw located(valid, own);
  const check = (plugin: LoadedPlugin) => {
    const found = pluginTemplateProblems(stacks, templates, written);
    const problems = found.length > 0 ? found : stackProblems(changed(), valid.config);
    if (problems.length > 0) throw new MastodonCfnError(problems.map((problem) => ({ ...problem, origin: plugin.name })), valid.loaded.file);
  };
  for (const hook of environment.hooks) await runHook(plugins, hook, { config: valid.config, templates }, environment.write, { check });
  return { ...finish(valid, changed()), plugins };
}

/** The plugins' after:deploy hooks, given the templates as deployed and every stack's outputs by stack name. */
export async function afterDeploy(built: FullBuild, outputs: Record<string, Record<string, string>>, write: (line: string) => void): Promise<void> {
  const templates: Templates = Object.fromEntries(built.stacks.map((stack) => [stack.role, JSON.parse(stack.text)]));
  await runHook(built.plugins, 'after:deploy', { config: built.config, templates, outputs }, write);
}

/**
 * What is wrong with the templates plugins left, as the compiled ones are checked: each must still
 * be a template of JSON with resources (each with a Type) and outputs under CloudFormation's
 * logical ids, and each kept resource must go on keeping its data. `written` gets each template's
 * text, as it will be written.
 */
function pluginTemplateProblems(stacks: CompiledStack[], templates: Templates, written: Map<StackRole, string>): Problem[] {
  const problems: Problem[] = [];
  for (const stack of stacks) {
    const path = `templates.${stack.role}`;
    const template = templates[stack.role];
    if (!isPlainObject(template) || !isPlainObject(template.Resources)) {
      problems.push({ code: 'plugin.template', path, message: `${path} is no template with Resources any more: a plugin may change a template, not remove it` });
      continue;
    }
    const notJson = nonJsonValue(template, path, 0);
    if (notJson) {
      problems.push({ code: 'plugin.template', path: notJson.path, message: `${notJson.path} is ${notJson.what}, which a template cannot hold: only strings, finite numbers, true, false, null, lists and mappings` });
      continue;
    }
    written.set(stack.role, templateText(template as unknown as CompiledStack['template']));
    // Plain JSON from here on (nonJsonValue found nothing else in it).
    const plain = template as { Resources: Record<string, unknown>; Outputs?: Record<string, unknown> };
    for (const [section, entries] of [['Resources', plain.Resources], ['Outputs', plain.Outputs ?? {}]] as const) {
      for (const [id, entry] of Object.entries(entries)) {
        if (!LOGICAL_ID.test(id)) problems.push({ code: 'plugin.logicalId', path: `${path}.${section}`, message: `"${excerpt(id, 60)}" is no CloudFormation logical id (letters and digits only, at most 255)` });
        const valid = section === 'Resources' ? isPlainObject(entry) && typeof entry.Type === 'string' : isPlainObject(entry) && entry.Value !== undefined;
        if (!valid) problems.push({ code: 'plugin.entry', path: `${path}.${section}.${excerpt(id, 60)}`, message: section === 'Resources' ? 'a resource is a mapping with a Type' : 'an output is a mapping with a Value' });
      }
    }
    const compiled = JSON.parse(stack.text) as CompiledStack['template'];
    // Removing a kept resource is a Remove in the change set, which the deployer's guard refuses; a policy that no longer keeps its data would show nothing there.
    for (const [id, resource] of Object.entries(compiled.Resources ?? {})) {
      const now = plain.Resources[id];
      if (isPlainObject(now)) problems.push(...keepsItsData(resource, now as unknown as typeof resource, `${path}.Resources.${id}`));
    }
  }
  return problems;
}

/** How deep a template's JSON may nest when a plugin hands it back: deeper than any template, and deep enough to stop a cycle. */
const MAX_TEMPLATE_DEPTH = 100;

/** The first value in `value` that JSON would drop or change (a function, NaN, a Map, a cycle), and where it is. */
function nonJsonValue(value: unknown, path: string, depth: number): { path: string; what: string } | undefined {
  if (depth > MAX_TEMPLATE_DEPTH) return { path, what: `nested more than ${MAX_TEMPLATE_DEPTH} levels deep (a value that contains itself?)` };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path, what: String(value) };
  if (typeof value !== 'object') return { path, what: value === undefined ? 'undefined' : `a ${typeof value}` };
  const isList = Array.isArray(value);
  if (!isList && Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return { path, what: `a ${(value as object).constructor?.name ?? 'object'} (not a plain mapping)` };
  for (const [key, inner] of Object.entries(value)) {
    const found = nonJsonValue(inner, isList ? `${path}.${key}` : `${path}.${excerpt(key, 60)}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** CloudFormation's logical ids (User Guide, "Resources": alphanumeric, A-Za-z0-9, unique within the template; at most 255). */
const LOGICAL_ID = /^[A-Za-z0-9]{1,255}$/;
