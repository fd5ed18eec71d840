import type { ResourceExtension } from '../config/types.js';
import { excerpt, type Problem } from '../errors.js';
import { nearest, plural } from '../format.js';
import { STATEFUL_TYPES } from '../stateful.js';
import type { Resource } from './cfn.js';

/**
 * `resources.extensions`, as the Serverless Framework's and the CDK's `addPropertyOverride`: each
 * entry changes a resource mastodon-cfn generated in the main stack. Properties and Metadata are
 * merged (a mapping into a mapping, key by key; another value replaces; null removes; a key with
 * dots is a path, numbers naming list items), DependsOn is added to, and the resource attributes
 * replace. Pure: the generated resources are copied, never changed.
 */
const MERGED = ['Properties', 'Metadata'] as const;
const REPLACED = ['Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'UpdatePolicy', 'CreationPolicy'] as const;

/** A resource as a template holds it, attribute by attribute (cloudform-types' Resource has no UpdateReplacePolicy). */
type ResourceAttributes = { Type: string; DependsOn?: unknown; DeletionPolicy?: unknown; UpdateReplacePolicy?: unknown } & Record<string, unknown>;

/** `generated`: the resources extensions may change; `stackIds`: every logical id of the stack, which DependsOn may name. */
export function extendResources(generated: Record<string, Resource>, extensions: Record<string, ResourceExtension>, stackIds: ReadonlySet<string>, templateFile: string): { resources: Record<string, Resource>; problems: Problem[] } {
  const problems: Problem[] = [];
  const resources = { ...generated };
  for (const [id, extension] of Object.entries(extensions)) {
    const path = `resources.extensions.${id}`;
    const original = generated[id];
    if (!original) {
      const near = nearest(id, Object.keys(generated));
      problems.push({ code: 'extensions.unknownLogicalId', path, message: `the main stack has no generated resource ${id}${near ? `; the nearest is ${near.word}` : ''} (build writes every generated logical id into ${templateFile})` });
      continue;
    }
    // Through JSON: cloudform-types' intrinsic functions are objects that become their JSON form only when written.
    const extended = JSON.parse(JSON.stringify(original)) as ResourceAttributes;
    for (const section of MERGED) {
      if (extension[section] === undefined) continue;
      const target = (extended[section] ??= {}) as Record<string, unknown>;
      for (const [key, value] of Object.entries(extension[section]!)) {
        const problem = setAt(target, key.split('.'), value);
        if (problem) problems.push({ code: 'extensions.path', path: `${path}.${section}.${key}`, message: problem });
      }
    }
    if (extension.DependsOn !== undefined) {
      const before = extended.DependsOn === undefined ? [] : ([extended.DependsOn].flat() as string[]);
      const added = [extension.DependsOn].flat().filter((name) => !before.includes(name));
      for (const name of added) if (!stackIds.has(name) || name === id) problems.push({ code: 'extensions.dependsOn', path: `${path}.DependsOn`, message: name === id ? 'a resource cannot depend on itself' : `${name} is no resource of the main stack` });
      extended.DependsOn = [...before, ...added];
    }
    for (const attribute of REPLACED) if (extension[attribute] !== undefined) extended[attribute] = extension[attribute];
    problems.push(...keepsItsData(original, extended as unknown as Resource, path));
    resources[id] = extended as unknown as Resource;
  }
  return { resources, problems };
}

/**
 * The policies that keep a resource's data when CloudFormation deletes or replaces it (User Guide,
 * "DeletionPolicy attribute", "UpdateReplacePolicy attribute"). Without the attribute, CloudFormation
 * deletes the resource (an RDS cluster or instance takes a snapshot first, but only if it has no
 * DBClusterIdentifier), so a missing policy counts as Delete.
 */
const KEEPING_POLICIES = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);
/** The properties that make AWS refuse to delete a resource, by type (the RDS and DynamoDB resource references). */
const DELETION_PROTECTION: Readonly<Record<string, string>> = { 'AWS::RDS::DBCluster': 'DeletionProtection', 'AWS::RDS::DBInstance': 'DeletionProtection', 'AWS::DynamoDB::Table': 'DeletionProtectionEnabled' };

/**
 * The data-loss guard's side of a change made after compiling (an extension, or a plugin): a
 * stateful resource that mastodon-cfn keeps on delete and replace must go on being kept, and keep
 * its deletion protection, since a deploy would otherwise delete its data without the change set
 * saying so.
 */
export function keepsItsData(generated: Resource | undefined, later: Resource | undefined, path: string): Problem[] {
  const original = generated as unknown as ResourceAttributes | undefined;
  const changed = later as unknown as ResourceAttributes | undefined;
  if (!original || !changed || !STATEFUL_TYPES.has(original.Type)) return [];
  const problems: Problem[] = [];
  for (const policy of ['DeletionPolicy', 'UpdateReplacePolicy'] as const) {
    if (!KEEPING_POLICIES.has(String(original[policy])) || KEEPING_POLICIES.has(String(changed[policy]))) continue;
    const given = changed[policy] === undefined ? `without ${policy}, CloudFormation would delete` : `${policy} ${JSON.stringify(changed[policy])} would let CloudFormation delete`;
    problems.push({ code: 'extensions.dataLoss', path: `${path}.${policy}`, message: `${given} the data of this ${original.Type} (mastodon-cfn gives it ${String(original[policy])}); refused` });
  }
  const protection = DELETION_PROTECTION[original.Type];
  const before = (original.Properties as Record<string, unknown> | undefined)?.[protection];
  const after = (changed.Properties as Record<string, unknown> | undefined)?.[protection];
  if (protection && before !== undefined && JSON.stringify(before) !== JSON.stringify(after) && after !== true && after !== 'true') {
    problems.push({ code: 'extensions.dataLoss', path: `${path}.Properties.${protection}`, message: `${protection} is mastodon-cfn's to switch (deploy turns it on once the database is created, remove off only to delete the stack): it may be made true, not false or removed; refused` });
  }
  return problems;
}

/** Sets `value` at `path` inside `target`: mappings are merged into, numbers index lists, null removes. A problem in words, or undefined. */
function setAt(target: Record<string, unknown> | unknown[], path: string[], value: unknown): string | undefined {
  const [key, ...rest] = path;
  if (key === '') return `"${excerpt(path.join('.'), 60)}" has an empty step`;
  if (Array.isArray(target)) {
    if (!/^\d+$/.test(key) || Number(key) >= target.length + (rest.length === 0 ? 1 : 0)) return `the list has ${plural(target.length, 'item')}; "${excerpt(key, 20)}" is none of them (count from 0)`;
  }
  const container = target as Record<string, unknown>;
  if (rest.length === 0) {
    if (value === null) {
      if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete container[key];
    } else if (isKeyedList(value) && isKeyedList(container[key])) {
      // A list of { Key, Value } (LoadBalancerAttributes, Tags) is merged by Key: an entry given replaces the generated one of its Key, the others stay; Value null removes it.
      const merged = [...(container[key] as { Key: string }[])];
      for (const item of value) {
        const at = merged.findIndex((existing) => existing.Key === item.Key);
        const removes = (item as { Value?: unknown }).Value === null;
        if (at >= 0 && removes) merged.splice(at, 1);
        else if (at >= 0) merged[at] = structuredClone(item);
        else if (!removes) merged.push(structuredClone(item));
      }
      container[key] = merged;
    } else if (isMapping(value) && isMapping(container[key])) {
      for (const [inner, innerValue] of Object.entries(value)) {
        const problem = setAt(container[key] as Record<string, unknown>, [inner], innerValue);
        if (problem) return problem;
      }
    } else {
      container[key] = structuredClone(value);
    }
    return undefined;
  }
  const next = container[key];
  if (next === undefined) container[key] = /^\d+$/.test(rest[0]) ? [] : {};
  else if (typeof next !== 'object' || next === null) return `${excerpt(key, 40)} is ${JSON.stringify(next)?.slice(0, 40)}, not a mapping or list to go into`;
  return setAt(container[key] as Record<string, unknown>, rest, value);
}

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isKeyedList = (value: unknown): value is { Key: string }[] => Array.isArray(value) && value.length > 0 && value.every((item) => isMapping(item) && typeof item.Key === 'string');
