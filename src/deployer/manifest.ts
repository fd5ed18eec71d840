import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, ManifestStack } from '../compiler/index.js';
import { MastodonCfnError } from '../errors.js';

/** A stack as the deployer reads it: only name, region, templateFile and dependsOn are required. */
export type DeployStack = Pick<ManifestStack, 'name' | 'region' | 'templateFile' | 'dependsOn'> & Partial<Omit<ManifestStack, 'name' | 'region' | 'templateFile' | 'dependsOn'>>;

export interface DeployPackage {
  directory: string;
  stacks: DeployStack[];
  template(stack: DeployStack): string;
}

/** Reads a build output (manifest.json and its templates): all the deployer knows of the config. */
export function readPackage(directory: string): DeployPackage {
  const file = join(directory, 'manifest.json');
  let manifest: Partial<Manifest>;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Partial<Manifest>;
  } catch (error) {
    throw MastodonCfnError.of('package.unreadable', `cannot read ${file}: ${(error as Error).message} (build first, or give --package the folder mastodon-cfn build wrote)`);
  }
  const stacks = manifest.stacks;
  if (!Array.isArray(stacks) || stacks.length === 0) throw MastodonCfnError.of('package.invalid', `${file} lists no stacks`);
  const names = new Set<string>();
  for (const [i, stack] of stacks.entries()) {
    for (const key of ['name', 'region', 'templateFile'] as const) {
      if (typeof stack[key] !== 'string' || stack[key] === '') throw MastodonCfnError.of('package.invalid', `${file}: stacks[${i}].${key} must be a non-empty string`);
    }
    if (!Array.isArray(stack.dependsOn)) throw MastodonCfnError.of('package.invalid', `${file}: stacks[${i}].dependsOn must be a list`);
    for (const dependency of stack.dependsOn) {
      if (!names.has(dependency)) throw MastodonCfnError.of('package.invalid', `${file}: ${stack.name} depends on ${dependency}, which is not listed before it`);
    }
    names.add(stack.name);
  }
  return {
    directory,
    stacks: stacks as DeployStack[],
    template: (stack) => readFileSync(join(directory, stack.templateFile), 'utf8'),
  };
}
