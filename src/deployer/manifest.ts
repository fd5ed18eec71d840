import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Manifest, ManifestStack } from '../compiler/index.js';
import { MastodonCfnError } from '../errors.js';

/** A stack as the deployer reads it: only name, region, templateFile and dependsOn are required. */
export type DeployStack = Pick<ManifestStack, 'name' | 'region' | 'templateFile' | 'dependsOn'> & Partial<Omit<ManifestStack, 'name' | 'region' | 'templateFile' | 'dependsOn'>>;

export interface DeployPackage {
  /** Where the package is, for messages: a folder, or a build kept in memory. */
  source: string;
  stacks: DeployStack[];
  estimate?: Manifest['estimate'];
  /** provider.profile of the build: the credentials profile, unless --profile or the environment names others. */
  profile?: string;
  /** The config's plugins: their deploy hooks run only when deploy builds the config itself. */
  plugins?: string[];
  /** Stacks whose outputs the config's `${cf:}` variables read: a build by deploy or diff reads them again. */
  variableStacks?: Manifest['variableStacks'];
  template(stack: DeployStack): string;
}

/** A build output's files (manifest.json and its templates): all the deployer knows of the config. */
function packageOf(source: string, read: (name: string) => string): DeployPackage {
  const file = join(source, 'manifest.json');
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(read('manifest.json')) as Partial<Manifest>;
  } catch (error) {
    throw MastodonCfnError.of('package.unreadable', `cannot read ${file}: ${(error as Error).message} (build first, or give --package the folder mastodon-cfn build wrote)`);
  }
  if (manifest.manifestVersion !== 1) {
    throw MastodonCfnError.of('package.invalid', `${file} is not a manifest this mastodon-cfn reads (manifestVersion ${JSON.stringify(manifest.manifestVersion)}, expected 1): build again with this version`);
  }
  const stacks = manifest.stacks;
  if (!Array.isArray(stacks) || stacks.length === 0) throw MastodonCfnError.of('package.invalid', `${file} lists no stacks`);
  const names = new Set<string>();
  for (const [i, stack] of stacks.entries()) {
    for (const key of ['name', 'region', 'templateFile'] as const) {
      if (typeof stack[key] !== 'string' || stack[key] === '') throw MastodonCfnError.of('package.invalid', `${file}: stacks[${i}].${key} must be a non-empty string`);
    }
    // The package's own files only: a manifest naming ../ or an absolute path would make the deployer send any file to AWS.
    if (basename(stack.templateFile) !== stack.templateFile || stack.templateFile.startsWith('.')) {
      throw MastodonCfnError.of('package.invalid', `${file}: stacks[${i}].templateFile must name a file in the package folder, not ${JSON.stringify(stack.templateFile)}`);
    }
    if (!Array.isArray(stack.dependsOn)) throw MastodonCfnError.of('package.invalid', `${file}: stacks[${i}].dependsOn must be a list`);
    for (const dependency of stack.dependsOn) {
      if (!names.has(dependency)) throw MastodonCfnError.of('package.invalid', `${file}: ${stack.name} depends on ${dependency}, which is not listed before it`);
    }
    names.add(stack.name);
  }
  return {
    source,
    stacks: stacks as DeployStack[],
    estimate: manifest.estimate,
    profile: typeof manifest.profile === 'string' && manifest.profile !== '' ? manifest.profile : undefined,
    plugins: Array.isArray(manifest.plugins) ? manifest.plugins.filter((name): name is string => typeof name === 'string') : undefined,
    variableStacks: Array.isArray(manifest.variableStacks) ? manifest.variableStacks.filter((stack) => typeof stack?.name === 'string' && typeof stack.region === 'string') : undefined,
    template: (stack) => {
      const path = join(source, stack.templateFile);
      let text: string;
      try {
        text = read(stack.templateFile);
      } catch (error) {
        throw MastodonCfnError.of('package.unreadable', `cannot read ${path}: ${(error as Error).message}`);
      }
      let template: unknown;
      try {
        template = JSON.parse(text);
      } catch (error) {
        throw MastodonCfnError.of('package.invalid', `${path} is not valid JSON (${(error as Error).message}): build again instead of editing the package`);
      }
      if (typeof template !== 'object' || template === null || Array.isArray(template)) throw MastodonCfnError.of('package.invalid', `${path} is not a CloudFormation template (a JSON object): build again`);
      return text;
    },
  };
}

/** Reads a build output folder. */
export function readPackage(directory: string): DeployPackage {
  return packageOf(directory, (name) => readFileSync(join(directory, name), 'utf8'));
}

/** A build that was never written: what info, diff and remove use unless told to write it. */
export function inMemoryPackage(files: Map<string, string>): DeployPackage {
  return packageOf('(the build of the config)', (name) => {
    const content = files.get(name);
    if (content === undefined) throw new Error(`${name} is not part of the build`);
    return content;
  });
}
