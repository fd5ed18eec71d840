import { dirname, resolve } from 'node:path';
import { compile, toManifest, type CompiledStack, type Manifest } from './compiler/index.js';
import { makeNames, type Names } from './compiler/naming.js';
import { estimate, type Estimate, type PricedStack } from './cost/estimate.js';
import { architecture, type Architecture } from './diagram/architecture.js';
import { toSvg } from './diagram/render.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import { isPlainObject } from './config/path.js';
import type { Config } from './config/types.js';
import { validateConfig } from './config/validate.js';
import { resolveVariables } from './config/variables.js';
import { byPosition, MastodonCfnError } from './errors.js';

/**
 * The build pipeline, one stage after another:
 * load (YAML with positions) → resolve variables → validate (schema, then semantic checks) → compile → estimate and draw.
 * Each stage reports all of its problems at once; the first stage with problems stops the build.
 */
export interface PipelineOptions {
  configFile: string;
  /** CLI options: `${opt:NAME}`; `stage` and `region` also override provider.stage and provider.region. */
  options: Record<string, string | undefined>;
  env: Record<string, string | undefined>;
}

export interface ValidConfig {
  loaded: LoadedConfig;
  config: Config;
  names: Names;
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
  const variables = resolveVariables(loaded, { options: options.options, env: options.env });
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

  const validation = validateConfig(resolved, loaded.locate, dirname(resolve(options.configFile)));
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
  return { loaded, config, names: makeNames(config.service, config.provider.stage, config.provider.tags) };
}

export function build(options: PipelineOptions): Build {
  const valid = loadValidConfig(options);
  const { config, names, loaded } = valid;
  const compiled = compile(config, names);
  if (compiled.problems.length > 0) {
    throw new MastodonCfnError(
      compiled.problems.map((problem) => ({ ...problem, ...loaded.locate(problem.path.split('.'), { key: true }) })),
      loaded.file,
    );
  }
  const files = new Map<string, string>();
  for (const stack of compiled.stacks) files.set(names.templateFile(stack.role), stack.text);
  // Priced and drawn from the templates as written: exactly what CloudFormation will be asked to create.
  const written = compiled.stacks.map((stack) => ({ name: stack.name, region: stack.region, template: JSON.parse(files.get(names.templateFile(stack.role))!) }));
  const monthly = estimate(written, config.provider.region);
  const picture = architecture(written, monthly, `${config.domain}: ${names.prefix} on AWS (size ${config.size})`);
  const manifest = toManifest(compiled.stacks, config, names, monthly);
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  files.set(DIAGRAM_FILE, toSvg(picture));
  return { ...valid, stacks: compiled.stacks, manifest, files, written, estimate: monthly, architecture: picture };
}
