import { excerpt, MastodonCfnError, type Problem } from '../errors.js';
import { MAX_CONFIG_BYTES, MAX_NESTING, type LoadedConfig } from './load.js';
import { dotted, isPlainObject, type ConfigPath } from './path.js';

/**
 * Serverless-style variables, in values only:
 *   ${opt:stage}            a CLI option (e.g. --stage)
 *   ${env:NAME}             an environment variable
 *   ${self:custom.x}        another value of this config
 *   ${ssm:/path}            a CloudFormation dynamic reference, resolved by CloudFormation at deploy time
 * each optionally with a default after a comma: a quoted string, a number, true/false or another variable.
 * A string that is exactly one variable takes the variable's type (so ${self:custom.ports} can be a list).
 */
export interface VariableSources {
  options: Readonly<Record<string, string | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
}

type Expression = { kind: 'literal'; value: unknown } | Variable;
interface Variable {
  kind: 'variable';
  source: string;
  address: Segment[];
  fallback?: Expression;
  text: string;
}
type Segment = string | Variable;

const FAILED = Symbol('failed');
type Resolved = unknown | typeof FAILED;

class VariableSyntaxError extends Error {}

/**
 * Bounds on what variables may expand to, so that no config makes the build run out of memory,
 * stack or time: a real config's variables refer a level or two deep and resolve to a few KB.
 * Past a bound the config is refused, as an alias bomb is (one problem, where it was found).
 */
/** How deep variables may nest inside one another, or refer on through other values (`${self:a}` → a: `${self:b}` → ...). */
const MAX_VARIABLE_DEPTH = 16;
/** How many variables the whole config may resolve (each value is resolved once). */
const MAX_RESOLUTIONS = 10_000;
/** The resolved config may be no larger than a config file may be. */
const MAX_RESOLVED_SIZE = MAX_CONFIG_BYTES;

/** A bound was passed: the config is refused with this one problem. */
class LimitExceeded extends Error {
  constructor(readonly code: string, readonly path: ConfigPath, message: string) {
    super(message);
  }
}

/** What a resolved value adds to the config: its characters (keys and strings, one per other value) and how deep it nests. */
interface Extent {
  size: number;
  height: number;
}

/** Parses `text` into literal pieces and variables. */
function parseTemplate(text: string): Segment[] {
  const segments: Segment[] = [];
  let index = 0;
  let literal = '';
  while (index < text.length) {
    if (text.startsWith('${', index)) {
      if (literal) segments.push(literal);
      literal = '';
      const [variable, end] = parseVariable(text, index, 1);
      segments.push(variable);
      index = end;
    } else {
      literal += text[index++];
    }
  }
  if (literal) segments.push(literal);
  return segments;
}

/** Parses the variable starting at `start` (at `${`), `depth` variables deep; returns it and the index after its `}`. */
function parseVariable(text: string, start: number, depth: number): [Variable, number] {
  if (depth > MAX_VARIABLE_DEPTH) throw new VariableSyntaxError(`variables nest more than ${MAX_VARIABLE_DEPTH} deep inside one another in "${excerpt(text, 40)}"`);
  const sourceMatch = /^\$\{([a-zA-Z]+):/.exec(text.slice(start));
  if (!sourceMatch) {
    throw new VariableSyntaxError(`malformed variable at "${excerpt(text.slice(start), 20)}": expected \${source:address}`);
  }
  let index = start + sourceMatch[0].length;
  const address: Segment[] = [];
  let literal = '';
  while (index < text.length && text[index] !== ',' && text[index] !== '}') {
    if (text.startsWith('${', index)) {
      if (literal) address.push(literal);
      literal = '';
      const [nested, end] = parseVariable(text, index, depth + 1);
      address.push(nested);
      index = end;
    } else {
      literal += text[index++];
    }
  }
  if (literal.trim()) address.push(literal.trim());
  let fallback: Expression | undefined;
  if (text[index] === ',') {
    index++;
    while (text[index] === ' ') index++;
    [fallback, index] = parseFallback(text, index, depth + 1);
    while (text[index] === ' ') index++;
  }
  if (text[index] !== '}') throw new VariableSyntaxError(`unterminated variable "${excerpt(text.slice(start))}": missing "}"`);
  return [{ kind: 'variable', source: sourceMatch[1], address, fallback, text: text.slice(start, index + 1) }, index + 1];
}

function parseFallback(text: string, start: number, depth: number): [Expression, number] {
  const quote = text[start];
  if (quote === "'" || quote === '"') {
    const end = text.indexOf(quote, start + 1);
    if (end < 0) throw new VariableSyntaxError(`unterminated quoted default in "${excerpt(text)}"`);
    return [{ kind: 'literal', value: text.slice(start + 1, end) }, end + 1];
  }
  if (text.startsWith('${', start)) return parseVariable(text, start, depth);
  let end = start;
  while (end < text.length && text[end] !== '}') end++;
  const bare = text.slice(start, end).trim();
  const value = bare === 'true' ? true : bare === 'false' ? false : bare !== '' && !Number.isNaN(Number(bare)) ? Number(bare) : bare;
  return [{ kind: 'literal', value }, end];
}

/** A source's own entry only: `${env:toString}` names no variable, not Object.prototype.toString. */
function own(record: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

class Resolver {
  readonly problems: Problem[] = [];
  /** Dotted paths of values whose variables could not be resolved: they keep their text, and checks of them are left out. */
  readonly failedPaths = new Set<string>();
  private readonly memo = new Map<string, Resolved>();
  private readonly inProgress: string[] = [];
  /** Extents of the lists and mappings built so far; values are shared (a memoized `${self:}`), so each is measured once. */
  private readonly extents = new WeakMap<object, Extent>();
  private depth = 0;
  private resolutions = 0;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly sources: VariableSources,
  ) {}

  resolveNode(value: unknown, path: ConfigPath): Resolved {
    if (typeof value === 'string') return value.includes('${') ? this.resolveString(value, path) : value;
    if (Array.isArray(value)) return this.assemble(path, true, value.map((item, i) => [i, () => this.resolveNode(item, [...path, i])]));
    if (isPlainObject(value)) return this.assemble(path, false, Object.entries(value).map(([key, item]) => [key, () => this.resolveNode(item, [...path, key])]));
    return value;
  }

  /**
   * Builds the list or mapping at `path` from its children, resolved one after another, and
   * measures it as it grows: a value past the bounds is refused before the next child is resolved.
   */
  private assemble(path: ConfigPath, isList: boolean, children: [string | number, () => unknown][]): Resolved {
    this.checkExtent(path, 0, path.length + 1);
    const built: unknown[] | Record<string, unknown> = isList ? [] : {};
    const extent: Extent = { size: 1, height: 1 };
    let failed = false;
    for (const [key, resolve] of children) {
      const child = resolve();
      if (child === FAILED) {
        failed = true;
        continue;
      }
      const { size, height } = this.extent(child);
      extent.size += size + (isList ? 0 : String(key).length);
      extent.height = Math.max(extent.height, height + 1);
      this.checkExtent([...path, key], extent.size, path.length + extent.height);
      (built as Record<string, unknown>)[key] = child;
    }
    if (failed) return FAILED;
    this.extents.set(built, extent);
    return built;
  }

  private extent(value: unknown): Extent {
    if (typeof value === 'string') return { size: value.length, height: 0 };
    if (value !== null && typeof value === 'object') return this.extents.get(value)!;
    return { size: 1, height: 0 };
  }

  /** Refuses the value at `path` when, resolved, it takes the config past its size (`size` so far) or nesting (`depth` reached). */
  private checkExtent(path: ConfigPath, size: number, depth: number): void {
    if (size > MAX_RESOLVED_SIZE) {
      throw new LimitExceeded('variables.tooLarge', path, `with variables resolved, the config passes ${MAX_RESOLVED_SIZE / 1024} KB (the size limit of a config) at this value; refused, as it looks like a runaway expansion`);
    }
    if (depth > MAX_NESTING) throw new LimitExceeded('variables.tooDeep', path, `this value nests more than ${MAX_NESTING} levels deep, counting what its variables resolve to; refused`);
  }

  private resolveString(text: string, path: ConfigPath): Resolved {
    const key = dotted(path);
    if (this.memo.has(key)) return this.memo.get(key);
    if (this.inProgress.includes(key)) {
      const cycle = [...this.inProgress.slice(this.inProgress.indexOf(key)), key].join(' → ');
      this.fail(path, 'variables.cycle', `circular reference: ${cycle}`);
      return FAILED;
    }
    this.inProgress.push(key);
    let result: Resolved;
    try {
      const segments = parseTemplate(text);
      result = this.evaluateSegments(segments, path, true);
    } catch (error) {
      if (!(error instanceof VariableSyntaxError)) throw error;
      this.fail(path, 'variables.syntax', error.message);
      result = FAILED;
    }
    this.inProgress.pop();
    this.memo.set(key, result);
    return result;
  }

  /** Joins the pieces; a lone variable keeps its own type when `keepType` is set. */
  private evaluateSegments(segments: Segment[], path: ConfigPath, keepType: boolean): Resolved {
    const values = segments.map((segment) => (typeof segment === 'string' ? segment : this.evaluateVariable(segment, path)));
    if (values.includes(FAILED)) return FAILED;
    if (keepType && values.length === 1) return values[0];
    for (const [i, value] of values.entries()) {
      if (typeof value === 'object' && value !== null) {
        this.fail(path, 'variables.notAString', `${(segments[i] as Variable).text} is a ${Array.isArray(value) ? 'list' : 'mapping'} and cannot be part of a longer string`);
        return FAILED;
      }
    }
    const pieces = values.map(String);
    this.checkExtent(path, pieces.reduce((total, piece) => total + piece.length, 0), 0);
    return pieces.join('');
  }

  private evaluateVariable(variable: Variable, path: ConfigPath): Resolved {
    if (++this.resolutions > MAX_RESOLUTIONS) throw new LimitExceeded('variables.tooMany', path, `the config resolves more than ${MAX_RESOLUTIONS.toLocaleString('en-US')} variables; refused, as it looks like a runaway expansion`);
    if (this.depth >= MAX_VARIABLE_DEPTH) {
      const chain = this.inProgress.length > 1 ? ` (${excerpt(this.inProgress[0], 40)} → … → ${excerpt(this.inProgress.at(-1)!, 40)})` : '';
      throw new LimitExceeded('variables.tooDeep', path, `variables refer on through more than ${MAX_VARIABLE_DEPTH} values or defaults here${chain}; refused, as a config's variables are a few levels deep`);
    }
    this.depth++;
    try {
      return this.lookUp(variable, path);
    } finally {
      this.depth--;
    }
  }

  private lookUp(variable: Variable, path: ConfigPath): Resolved {
    const address = this.evaluateSegments(variable.address, path, false);
    if (address === FAILED) return FAILED;
    const name = String(address);
    let value: Resolved;
    switch (variable.source) {
      case 'opt':
        value = own(this.sources.options, name);
        break;
      case 'env':
        value = own(this.sources.env, name);
        break;
      case 'self':
        value = name ? this.lookupSelf(name.split('.')) : undefined;
        break;
      case 'ssm':
        if (!/^[A-Za-z0-9_.\-/]+(:[0-9]+)?$/.test(name)) {
          this.fail(path, 'variables.ssmName', `${variable.text}: "${name}" is not a Parameter Store name`);
          return FAILED;
        }
        return `{{resolve:ssm:${name}}}`;
      default:
        this.fail(path, 'variables.unknownSource', `${variable.text}: unknown variable source "${variable.source}" (use opt, env, self or ssm)`);
        return FAILED;
    }
    if (value === FAILED) return FAILED;
    if (value !== undefined && value !== null) return value;
    if (variable.fallback) {
      return variable.fallback.kind === 'literal' ? variable.fallback.value : this.evaluateVariable(variable.fallback, path);
    }
    const option = name === 'stage' || name === 'region' ? `--${name} ${name.toUpperCase()}` : `--opt ${name}=VALUE`;
    const what = { opt: `no ${option} option was given`, env: `environment variable ${name} is not set`, self: `there is no key ${name} in this config` }[variable.source as 'opt' | 'env' | 'self'];
    this.fail(path, 'variables.unresolved', `${excerpt(variable.text)} cannot be resolved: ${what} and no default is given (add one: \${${variable.source}:${excerpt(name, 40)}, 'value'})`);
    return FAILED;
  }

  private lookupSelf(segments: string[]): Resolved {
    let current: unknown = this.loaded.raw;
    const path: string[] = [];
    for (const segment of segments) {
      if (typeof current === 'string' && current.includes('${')) current = this.resolveString(current, path);
      if (current === FAILED) return FAILED;
      if (current === null || typeof current !== 'object') return undefined;
      // A list has items, not keys: `length` is no value of the config.
      if (Array.isArray(current) && !/^\d+$/.test(segment)) return undefined;
      current = own(current as Record<string, unknown>, segment);
      path.push(segment);
    }
    return current === undefined ? undefined : this.resolveNode(current, path);
  }

  /** The whole config: a value whose variables fail keeps its text, so that the rest can still be checked. */
  resolveTree(value: unknown, path: ConfigPath): unknown {
    if (typeof value === 'string') {
      const resolved = this.resolveNode(value, path);
      if (resolved !== FAILED) return resolved;
      this.failedPaths.add(dotted(path));
      return value;
    }
    if (Array.isArray(value)) return this.assemble(path, true, value.map((item, i) => [i, () => this.resolveTree(item, [...path, i])]));
    if (isPlainObject(value)) return this.assemble(path, false, Object.entries(value).map(([key, item]) => [key, () => this.resolveTree(item, [...path, key])]));
    return value;
  }

  private fail(path: ConfigPath, code: string, message: string): void {
    this.problems.push({ code, path: dotted(path), message, ...this.loaded.locate(path) });
  }
}

/**
 * Resolves every variable of the config. A value that fails keeps its text and is listed in `failedPaths`, next to its problem.
 * A config whose variables pass the bounds above is refused at once.
 */
export function resolveVariables(loaded: LoadedConfig, sources: VariableSources): { config: Record<string, unknown>; problems: Problem[]; failedPaths: ReadonlySet<string> } {
  const resolver = new Resolver(loaded, sources);
  try {
    const config = resolver.resolveTree(loaded.raw, []) as Record<string, unknown>;
    return { config, problems: resolver.problems, failedPaths: resolver.failedPaths };
  } catch (error) {
    if (!(error instanceof LimitExceeded)) throw error;
    throw new MastodonCfnError([{ code: error.code, path: dotted(error.path), message: error.message, ...loaded.locate(error.path) }], loaded.file);
  }
}
