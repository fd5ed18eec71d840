import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { StackRole } from './compiler/naming.js';
import type { Config } from './config/types.js';
import { excerpt, MastodonCfnError, printable } from './errors.js';

/**
 * Plugins, as in the Serverless Framework: `plugins: [./path/to/plugin.js, package-name]` in the
 * config. A plugin module exports a class (as its default export, or as module.exports); the build
 * makes one instance per config and calls its `hooks` at these points. docs/plugins.md has the
 * guide and examples/plugins/ a working plugin.
 */
export const HOOKS = ['after:compile', 'before:deploy', 'after:deploy'] as const;
export type HookName = (typeof HOOKS)[number];

/** A template as plugins get it: CloudFormation's JSON, as `build` writes it. */
export interface TemplateJson {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Parameters?: Record<string, Record<string, unknown>>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [attribute: string]: unknown }>;
  Outputs?: Record<string, { Value: unknown; [attribute: string]: unknown }>;
  [section: string]: unknown;
}

/** The compiled templates, keyed by stack (a build has no secrets stack when it needs none). */
export type Templates = Partial<Record<StackRole, TemplateJson>>;

export interface HookContext {
  /** The validated config, defaults filled in (read-only: a change to it changes nothing). */
  readonly config: Readonly<Config>;
  /**
   * The templates: after:compile and before:deploy may change them in place. They are checked
   * again afterwards (CloudFormation's limits, the data-loss guard) and priced.
   * after:deploy sees the templates as deployed; changing them there changes nothing.
   */
  templates: Templates;
  /** after:deploy only: each stack's outputs, by stack name. */
  readonly outputs?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Writes one line to the terminal, prefixed by the plugin's name. */
  log(message: string): void;
}

export interface PluginOptions {
  /** The stage and region being built. */
  stage: string;
  region: string;
  /** The command being run: build, deploy, diff, … */
  command: string;
}

/** What a plugin instance offers: hooks by name, each may be async. */
export interface MastodonCfnPlugin {
  hooks: Partial<Record<HookName, (context: HookContext) => void | Promise<void>>>;
}

/** A plugin's class: `new Plugin(config, options)`. */
export type MastodonCfnPluginClass = new (config: Readonly<Config>, options: Readonly<PluginOptions>) => MastodonCfnPlugin;

export interface LoadedPlugin {
  /** As written in the config's `plugins:`. */
  name: string;
  instance: MastodonCfnPlugin;
}

function pluginError(name: string, message: string): MastodonCfnError {
  return MastodonCfnError.of('plugin.failed', `plugin ${excerpt(name, 80)}: ${message}`);
}

/**
 * While plugin code runs, until the returned function is called: what it prints (console.log,
 * process.stdout.write) goes to stderr, as stdout is the command's own (a plan, a policy, JSON a
 * pipe reads); and process.exit stops the plugin, not the command, which would end with nothing
 * written and no word why.
 */
function guardPluginCode(name: string, what: string): () => void {
  const write = process.stdout.write;
  const { log, info, debug } = console;
  const exit = process.exit;
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  console.log = console.info = console.debug = console.error;
  process.exit = ((code?: number) => {
    throw pluginError(name, `${what} called process.exit(${code ?? ''}); a plugin throws an Error to stop the command`);
  }) as typeof process.exit;
  return () => {
    process.stdout.write = write;
    Object.assign(console, { log, info, debug });
    process.exit = exit;
  };
}

/** A module's message, on one line, without its stack (a plugin's bug is the plugin's to fix). */
function reason(error: unknown): string {
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message.split('\n')[0]}`;
  return String(error);
}

/**
 * Loads and makes the config's plugins, in their order. A path (./x.js, ../x.mjs, /abs/x.js) is
 * relative to the config file; anything else is a package resolved from the config's folder, as
 * Node resolves it. ESM modules are loaded by require (Node 20.19 and later), so a module with a
 * top-level await is refused, with Node's own reason.
 */
export function loadPlugins(config: Readonly<Config>, configFile: string, options: PluginOptions): LoadedPlugin[] {
  return config.plugins.map((name) => {
    const restore = guardPluginCode(name, 'loading it');
    try {
      return loadPlugin(name, config, configFile, options);
    } finally {
      restore();
    }
  });
}

function loadPlugin(name: string, config: Readonly<Config>, configFile: string, options: PluginOptions): LoadedPlugin {
  const requireFromConfig = createRequire(resolve(configFile));
  const isPath = name.startsWith('./') || name.startsWith('../') || isAbsolute(name);
  const module = isPath ? resolve(dirname(configFile), name) : name;
  let exported: unknown;
  try {
    exported = requireFromConfig(module);
  } catch (error) {
    if (error instanceof MastodonCfnError) throw error;
    // Node's message names the module it could not find: this one, or one it requires.
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${module}'`)) {
      throw pluginError(name, isPath ? `there is no module ${module}` : `no package ${name} is installed where the config is (npm install ${name} beside it), or write a path starting with ./`);
    }
    throw pluginError(name, `loading it failed: ${reason(error)}`);
  }
  const Plugin = (exported as { default?: unknown })?.default ?? exported;
  if (typeof Plugin !== 'function') throw pluginError(name, 'the module exports no class (export default class … { hooks = { … } }, or module.exports = class …)');
  let instance: MastodonCfnPlugin;
  try {
    instance = new (Plugin as MastodonCfnPluginClass)(config, options);
  } catch (error) {
    if (error instanceof MastodonCfnError) throw error;
    throw pluginError(name, `its constructor failed: ${reason(error)}`);
  }
  const hooks = (instance as Partial<MastodonCfnPlugin> | undefined)?.hooks;
  if (hooks === null || typeof hooks !== 'object') throw pluginError(name, `its instance has no hooks (an object mapping ${HOOKS.join(', ')} to functions)`);
  for (const [hook, run] of Object.entries(hooks)) {
    if (!(HOOKS as readonly string[]).includes(hook)) throw pluginError(name, `it has a hook "${excerpt(hook, 40)}", which mastodon-cfn never calls (it calls ${HOOKS.join(', ')})`);
    if (typeof run !== 'function') throw pluginError(name, `its hook ${hook} is not a function`);
  }
  return { name, instance };
}

export const hasHook = (plugins: LoadedPlugin[], hook: HookName) => plugins.some((plugin) => plugin.instance.hooks[hook] !== undefined);

/**
 * How long one hook may take: a hook changes templates (and may call an API or two), so one that
 * takes longer is stuck, and the command says so instead of waiting for ever.
 */
export const HOOK_TIMEOUT_MS = 300_000;

/**
 * Runs one hook of every plugin that has it, in the config's order, and `check`s what each left; a
 * plugin that throws, or does not finish, stops the command, named. A hook's promise that nothing
 * is left to settle (Node's event loop runs empty: `beforeExit`) is said so at once; one that waits
 * on something is given up on after `timeoutMs`.
 */
export async function runHook(
  plugins: LoadedPlugin[],
  hook: HookName,
  context: Omit<HookContext, 'log'>,
  write: (line: string) => void,
  options: { timeoutMs?: number; check?: (plugin: LoadedPlugin) => void } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? HOOK_TIMEOUT_MS;
  for (const plugin of plugins) {
    const run = plugin.instance.hooks[hook];
    if (!run) continue;
    let timer: NodeJS.Timeout | undefined;
    let onEmptyLoop: (() => void) | undefined;
    let onStrayError: ((error: unknown) => void) | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(pluginError(plugin.name, `its ${hook} hook did not finish within ${timeoutMs / 1000} seconds`)), timeoutMs).unref();
      onEmptyLoop = () => reject(pluginError(plugin.name, `its ${hook} hook returned a promise that never settles (it waits on nothing that could settle it)`));
      // A rejection nobody awaits, or a throw in a timer, while the hook runs: the hook's, whoever else could have made it.
      onStrayError = (error) => reject(pluginError(plugin.name, `its ${hook} hook left an error unhandled: ${reason(error)}`));
      process.once('beforeExit', onEmptyLoop);
      process.on('unhandledRejection', onStrayError);
      process.on('uncaughtException', onStrayError);
    });
    // One line each, prefixed, with control characters written as escapes, as the tool's own messages are.
    const log = (message: string) => String(message).split('\n').forEach((line) => write(`${plugin.name}: ${printable(line)}`));
    const restore = guardPluginCode(plugin.name, `its ${hook} hook`);
    try {
      await Promise.race([Promise.resolve().then(() => run.call(plugin.instance, { ...context, log })), stuck]);
    } catch (error) {
      if (error instanceof MastodonCfnError) throw error;
      throw pluginError(plugin.name, `its ${hook} hook failed: ${reason(error)}`);
    } finally {
      restore();
      clearTimeout(timer);
      process.removeListener('beforeExit', onEmptyLoop!);
      process.removeListener('unhandledRejection', onStrayError!);
      process.removeListener('uncaughtException', onStrayError!);
    }
    options.check?.(plugin);
  }
}
