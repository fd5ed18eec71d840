import { refuseForeignFile, writeFile, type Destination, type OwnMark } from '../output.js';
import type { DeployPackage } from './manifest.js';

/** What `deploy --outputs-file` writes, as `cdk deploy --outputs-file` does: each stack's outputs by key. */
export type StackOutputs = Record<string, Record<string, string>>;

/**
 * JSON has no room for a mark: a file is taken for one deploy wrote when it is an outputs file of
 * this package's stacks (an object of some of their names, each an object of strings). Any other
 * file, an outputs file of another stage or service among them, is the user's.
 */
function outputsFileOf(pkg: DeployPackage): OwnMark {
  const names = new Set(pkg.stacks.map((stack) => stack.name));
  const ours = (content: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch {
      return false;
    }
    const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
    if (!isObject(parsed)) return false;
    const entries = Object.entries(parsed);
    return entries.length > 0 && entries.every(([name, outputs]) => names.has(name) && isObject(outputs) && Object.values(outputs).every((value) => typeof value === 'string'));
  };
  return { ours, what: `an outputs file of ${[...names].join(', ')} (what deploy --outputs-file writes)` };
}

/** Refuses, before anything is deployed, a file the deploy could not replace afterwards. */
export function checkOutputsFile(destination: Destination, pkg: DeployPackage): void {
  refuseForeignFile(destination, outputsFileOf(pkg));
}

/** Writes the outputs whole or not at all (a sibling renamed over), replacing only an earlier outputs file of these stacks. */
export function writeOutputsFile(destination: Destination, pkg: DeployPackage, outputs: StackOutputs): void {
  writeFile(destination, `${JSON.stringify(outputs, null, 2)}\n`, outputsFileOf(pkg));
}
