import { statSync, type Stats } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { SUB_PLACEHOLDER } from '../aws/intrinsics.js';
import { excerpt, MastodonCfnError, type Problem } from '../errors.js';
import { loadIncludedFile, loadTextFile, MAX_CONFIG_BYTES, MAX_NESTING, type LoadedConfig } from './load.js';
import { dotted, isPlainObject, type ConfigPath } from './path.js';
import { DEFAULT_REGION, DEFAULT_STAGE } from './types.js';

/**
 * Serverless-style variables, in values only (as the Serverless Framework's docs, variables and
 * parameters, describe them):
 *   ${opt:stage}            a CLI option (e.g. --stage)
 *   ${env:NAME}             an environment variable
 *   ${self:custom.x}        another value of this config
 *   ${sls:stage}            the stage: --stage, else provider.stage, else prod
 *   ${aws:region}           the home region: --region, else provider.region, else AWS_REGION, else us-east-1
 *   ${aws:accountId}        the account of the credentials in use (read from AWS: STS GetCallerIdentity)
 *   ${param:name}           --param name=value, else params.<stage>.name, else params.default.name
 *   ${file(./x.yml)}        a YAML or JSON file, relative to the config; ${file(./x.yml):a.b} one of its values
 *   ${cf:stack.Output}      an output of a deployed stack in the home region; ${cf(eu-west-1):stack.Output} in another (read from AWS)
 *   ${strToBool(value)}     "true" or "1" is true, "false" or "0" is false
 *   ${ssm:/path}            a CloudFormation dynamic reference, resolved by CloudFormation at deploy time
 * each optionally with a default after a comma: a quoted string, a number, true/false or another variable.
 * A string that is exactly one variable takes the variable's type (so ${self:custom.ports} can be a list).
 * Under `resources:`, what Fn::Sub substitutes (`${AWS::Region}`, `${Bucket.Arn}`) is left to CloudFormation.
 */
export interface VariableSources {
  options: Readonly<Record<string, string | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
  /** `--param name=value`: wins over the config's `params:`. */
  params?: Readonly<Record<string, string>>;
  /** The config's folder: `${file(...)}` paths are relative to it. */
  baseDir?: string;
  /** What was read from AWS for the variables that need it, on an earlier pass. */
  aws?: AwsValues;
}

/** Values of AWS that variables read: `${aws:accountId}`, and the outputs of the stacks `${cf:}` names (null: no such stack). */
export interface AwsValues {
  accountId?: string;
  stackOutputs: Record<string, Record<string, string> | null>;
}

/** Something a variable needs from AWS that the build does not have yet, the variable that needs it (as written), and where it is. */
export type AwsLookup = ({ kind: 'accountId' } | { kind: 'stackOutputs'; region: string; stack: string }) & { variable: string; where: Omit<Problem, 'code' | 'message'>; file: string };

export const stackOutputsKey = (region: string, stack: string) => `${region}/${stack}`;

type Expression = { kind: 'literal'; value: unknown } | Variable;
interface Variable {
  kind: 'variable';
  source: string;
  /** What a function-like source is given in parentheses: `${file(./x.yml)}`, `${cf(us-east-1):…}`, `${strToBool(…)}`. */
  argument?: Segment[];
  address: Segment[];
  fallback?: Expression;
  text: string;
}

/** The sources that take an argument in parentheses, and whether it is required. */
const ARGUMENT: Readonly<Record<string, 'required' | 'optional'>> = { file: 'required', cf: 'optional', strToBool: 'required' };
const SOURCES = ['opt', 'env', 'self', 'sls', 'aws', 'param', 'file', 'cf', 'strToBool', 'ssm'];

/** The first segment of the path a value of an included file is resolved under: its file, and whether it stands under `resources:`. */
const FILE_SCOPE = '\u0000file:';
const fileScope = (file: string, underResources: boolean) => `${FILE_SCOPE}${underResources ? 'r' : 'c'}:${file}`;
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
/** How many files `${file(...)}` may read, each at most as large as a config: a config splits into a handful. */
const MAX_INCLUDED_FILES = 64;
const YAML_OR_JSON = /\.(ya?ml|json)$/i;
/** The sources that can only give text: the command line (--opt, --stage, --param) and the environment. */
const TEXT_SOURCES = new Set(['opt', 'env', 'param']);
const SCRIPT = /\.([cm]?js|[cm]?ts)$/i;

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

/** Parses `text` into literal pieces and variables; with `subPlaceholders`, Fn::Sub's own `${...}` stay literal text. */
function parseTemplate(text: string, subPlaceholders: boolean): Segment[] {
  const segments: Segment[] = [];
  let index = 0;
  let literal = '';
  while (index < text.length) {
    const placeholder = text.startsWith('${', index) ? SUB_PLACEHOLDER.exec(text.slice(index))?.[0] : undefined;
    if (placeholder !== undefined && subPlaceholders) {
      literal += placeholder;
      index += placeholder.length;
    } else if (placeholder !== undefined) {
      const instead = placeholder.includes('::') ? ' (here, ${aws:region} is the region and ${aws:accountId} the account)' : '; a variable is ${source:address}';
      throw new VariableSyntaxError(`${excerpt(placeholder, 40)} is CloudFormation's Fn::Sub syntax, which is read only under resources:${instead}`);
    } else if (text.startsWith('${', index)) {
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
  const sourceMatch = /^\$\{([a-zA-Z][a-zA-Z0-9]*)(?=[(:])/.exec(text.slice(start));
  if (!sourceMatch) {
    throw new VariableSyntaxError(`malformed variable at "${excerpt(text.slice(start), 20)}": expected \${source:address}`);
  }
  const source = sourceMatch[1];
  let index = start + sourceMatch[0].length;
  let argument: Segment[] | undefined;
  if (text[index] === '(') {
    if (!Object.hasOwn(ARGUMENT, source)) throw new VariableSyntaxError(`\${${source}(...)}: ${source} takes no argument in parentheses`);
    [argument, index] = parsePieces(text, index + 1, depth, (char) => char === ')');
    if (text[index] !== ')') throw new VariableSyntaxError(`unterminated variable "${excerpt(text.slice(start))}": missing ")"`);
    index++;
  } else if (ARGUMENT[source] === 'required') {
    throw new VariableSyntaxError(`${excerpt(text.slice(start), 40)}: ${source} takes its argument in parentheses, as \${${source === 'file' ? 'file(./values.yml)' : `${source}(value)`}}`);
  }
  let address: Segment[] = [];
  if (text[index] === ':') [address, index] = parsePieces(text, index + 1, depth, (char) => char === ',' || char === '}');
  let fallback: Expression | undefined;
  if (text[index] === ',') {
    index++;
    while (text[index] === ' ') index++;
    [fallback, index] = parseFallback(text, index, depth + 1);
    while (text[index] === ' ') index++;
  }
  if (text[index] !== '}') throw new VariableSyntaxError(`unterminated variable "${excerpt(text.slice(start))}": missing "}"`);
  return [{ kind: 'variable', source, argument, address, fallback, text: text.slice(start, index + 1) }, index + 1];
}

/** Literal text and nested variables from `start` up to the first character `ends` takes (outside a nested variable), trimmed. */
function parsePieces(text: string, start: number, depth: number, ends: (char: string) => boolean): [Segment[], number] {
  const pieces: Segment[] = [];
  let index = start;
  let literal = '';
  while (index < text.length && !ends(text[index])) {
    if (text.startsWith('${', index)) {
      if (literal) pieces.push(literal);
      literal = '';
      const [nested, end] = parseVariable(text, index, depth + 1);
      pieces.push(nested);
      index = end;
    } else {
      literal += text[index++];
    }
  }
  if (literal.trim()) pieces.push(literal.trim());
  if (typeof pieces[0] === 'string') pieces[0] = pieces[0].trimStart();
  return [pieces, index];
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
  /** The values being resolved, outermost first, each as messages name it. */
  private readonly inProgress: string[] = [];
  /** Extents of the lists and mappings built so far; values are shared (a memoized `${self:}`), so each is measured once. */
  private readonly extents = new WeakMap<object, Extent>();
  private depth = 0;
  private resolutions = 0;
  /** What variables need from AWS that `sources.aws` does not hold: the build reads it and resolves again. */
  readonly awsLookups = new Map<string, AwsLookup>();
  /** Values that are one variable of the command line or the environment, whose text a number or a boolean of the schema may be read from. */
  readonly textFromOutside = new Set<string>();
  /** Every stack whose outputs a variable reads, read yet or not. */
  readonly stacksRead = new Map<string, { region: string; name: string }>();
  /** Files read by `${file(...)}`, by absolute path (undefined: there is no such file). */
  private readonly files = new Map<string, ReturnType<typeof loadIncludedFile> | undefined>();

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
    const shown = this.shownPath(path);
    if (this.inProgress.includes(shown)) {
      const cycle = [...this.inProgress.slice(this.inProgress.indexOf(shown)), shown].join(' → ');
      this.fail(path, 'variables.cycle', `circular reference: ${cycle}`);
      return FAILED;
    }
    this.inProgress.push(shown);
    let result: Resolved;
    try {
      const segments = parseTemplate(text, this.underResources(path));
      result = this.evaluateSegments(segments, path, true);
      const [only] = segments;
      if (segments.length === 1 && typeof only !== 'string' && TEXT_SOURCES.has(only.source) && typeof result === 'string' && !this.includedFile(path)) this.textFromOutside.add(key);
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

  /** Whether `path` stands under `resources:`, directly or through an included file. */
  private underResources(path: ConfigPath): boolean {
    const first = String(path[0] ?? '');
    return first === 'resources' || first.startsWith(fileScope('', true));
  }

  private lookUp(variable: Variable, path: ConfigPath): Resolved {
    const address = this.evaluateSegments(variable.address, path, false);
    if (address === FAILED) return FAILED;
    const name = String(address);
    const evaluated = variable.argument && this.evaluateSegments(variable.argument, path, true);
    if (evaluated === FAILED) return FAILED;
    // A quoted argument, as the Serverless Framework takes it: ${strToBool('true')}, ${file('./x.yml')}.
    const argument = typeof evaluated === 'string' ? evaluated.replace(/^(['"])(.*)\1$/s, '$2') : evaluated;
    const found = this.valueOf(variable, name, argument, path);
    if (found.value === FAILED) return FAILED;
    if (found.value !== undefined && found.value !== null) return found.value;
    // Not read from AWS yet: the default may not apply, and is not looked at until it is read.
    if (found.pending) return FAILED;
    if (variable.fallback) {
      return variable.fallback.kind === 'literal' ? variable.fallback.value : this.evaluateVariable(variable.fallback, path);
    }
    this.fail(path, 'variables.unresolved', `${excerpt(variable.text)} cannot be resolved: ${found.missing} and no default is given (add one: ${excerpt(variable.text.slice(0, -1), 60)}, 'value'})`);
    return FAILED;
  }

  /** The value a variable names (undefined: there is none, for the reason `missing` gives; `pending`: it is still to be read from AWS). */
  private valueOf(variable: Variable, name: string, argument: unknown, path: ConfigPath): { value: Resolved; missing?: string; pending?: boolean } {
    const failed = (code: string, message: string) => {
      this.fail(path, code, `${excerpt(variable.text)}: ${message}`);
      return { value: FAILED };
    };
    switch (variable.source) {
      case 'opt': {
        const option = name === 'stage' || name === 'region' ? `--${name} ${name.toUpperCase()}` : `--opt ${name}=VALUE`;
        return { value: own(this.sources.options, name), missing: `no ${option} option was given` };
      }
      case 'env':
        return { value: own(this.sources.env, name), missing: `environment variable ${name} is not set` };
      case 'self':
        return { value: name ? this.lookupSelf(name.split('.')) : undefined, missing: name ? `there is no key ${name} in this config` : 'it names no key (write ${self:custom.name})' };
      case 'sls':
        if (name === 'stage') return { value: this.stage() };
        return failed('variables.unknownAddress', `mastodon-cfn knows \${sls:stage} only (instanceId changes on every run, which would change the templates every build)`);
      case 'aws':
        if (name === 'region') return { value: this.region() };
        if (name === 'accountId') return this.fromAws({ kind: 'accountId', variable: variable.text }, path, (aws) => aws.accountId, '');
        return failed('variables.unknownAddress', 'the aws source has region and accountId');
      case 'param': {
        const stage = this.stage();
        if (stage === FAILED) return { value: FAILED };
        const given = this.sources.params && own(this.sources.params, name);
        const value = given ?? this.lookupSelf(['params', String(stage), name]) ?? this.lookupSelf(['params', 'default', name]);
        return { value, missing: `no --param ${name}=VALUE was given, and neither params.${stage}.${name} nor params.default.${name} is in this config` };
      }
      case 'file':
        return this.fromFile(String(argument), name, path);
      case 'cf': {
        const region = argument === undefined ? this.region() : String(argument);
        if (region === FAILED) return { value: FAILED };
        const dot = name.indexOf('.');
        if (dot < 1 || dot === name.length - 1) return failed('variables.cfAddress', 'write the stack and its output as ${cf:stack-name.OutputKey}');
        const stack = name.slice(0, dot);
        const output = name.slice(dot + 1);
        const key = stackOutputsKey(String(region), stack);
        return this.fromAws(
          { kind: 'stackOutputs', region: String(region), stack, variable: variable.text },
          path,
          (aws) => (Object.hasOwn(aws.stackOutputs, key) ? (aws.stackOutputs[key] === null ? null : (own(aws.stackOutputs[key]!, output) ?? null)) : undefined),
          (aws) => (aws.stackOutputs[key] === null ? `there is no stack ${stack} in ${region}` : `stack ${stack} in ${region} has no output ${output} (its outputs: ${Object.keys(aws.stackOutputs[key] ?? {}).join(', ') || 'none'})`),
        );
      }
      case 'strToBool': {
        // As the Serverless Framework reads it (lib/configuration/variables/sources/str-to-bool.js).
        const text = String(argument).trim().toLowerCase();
        if (text === 'true' || text === '1') return { value: true };
        if (text === 'false' || text === '0') return { value: false };
        return failed('variables.strToBool', `expected "true", "false", "0" or "1", got "${excerpt(String(argument), 40)}"`);
      }
      case 'ssm':
        if (!/^[A-Za-z0-9_.\-/]+(:[0-9]+)?$/.test(name)) return failed('variables.ssmName', `"${name}" is not a Parameter Store name`);
        return { value: `{{resolve:ssm:${name}}}` };
      default:
        return failed('variables.unknownSource', `unknown variable source "${variable.source}" (use ${SOURCES.join(', ')})`);
    }
  }

  /** `${sls:stage}`: --stage, else provider.stage, else the default, as the build itself takes it. */
  private stage(): Resolved {
    return this.sources.options.stage ?? this.lookupSelf(['provider', 'stage']) ?? DEFAULT_STAGE;
  }

  /** `${aws:region}`: --region, else provider.region, else AWS_REGION, else the default, as the build itself takes it. */
  private region(): Resolved {
    return this.sources.options.region ?? this.lookupSelf(['provider', 'region']) ?? (this.sources.env.AWS_REGION || undefined) ?? DEFAULT_REGION;
  }

  /** A value read from AWS on an earlier pass; or, when it has not been read, a note of what to read. */
  private fromAws(
    need: ({ kind: 'accountId' } | { kind: 'stackOutputs'; region: string; stack: string }) & { variable: string },
    path: ConfigPath,
    read: (aws: AwsValues) => unknown,
    missing: string | ((aws: AwsValues) => string),
  ): { value: Resolved; missing?: string; pending?: boolean } {
    const { code: _code, message: _message, ...where } = this.problemAt(path, '', '');
    const lookup: AwsLookup = { ...need, where, file: this.loaded.file };
    if (lookup.kind === 'stackOutputs') this.stacksRead.set(stackOutputsKey(lookup.region, lookup.stack), { region: lookup.region, name: lookup.stack });
    const value = this.sources.aws && read(this.sources.aws);
    if (value === undefined) {
      this.awsLookups.set(lookup.kind === 'accountId' ? 'accountId' : stackOutputsKey(lookup.region, lookup.stack), lookup);
      return { value: undefined, pending: true };
    }
    return { value, missing: typeof missing === 'string' ? missing : missing(this.sources.aws!) };
  }

  /**
   * `${file(path)}` and `${file(path):a.b}`: a YAML or JSON file's value, or one of its keys, with
   * its own variables resolved; any other file's text. A script is refused: the Serverless Framework
   * runs a .js file, which a build that only reads cannot.
   */
  private fromFile(given: string, keys: string, path: ConfigPath): { value: Resolved; missing?: string } {
    const file = resolve(this.sources.baseDir ?? '.', given);
    if (SCRIPT.test(file)) throw new VariableSyntaxError(`\${file(${excerpt(given, 60)})}: mastodon-cfn reads YAML, JSON or text files, and runs no script: write the values in a .yml or .json file`);
    const parsed = YAML_OR_JSON.test(file);
    if (!parsed && keys) throw new VariableSyntaxError(`\${file(${excerpt(given, 60)}):${excerpt(keys, 40)}}: ${excerpt(given, 60)} is read as text (it is no .yml, .yaml or .json file), which has no keys`);
    if (!this.files.has(file) && this.files.size >= MAX_INCLUDED_FILES) {
      throw new LimitExceeded('variables.tooManyFiles', path, `the config reads more than ${MAX_INCLUDED_FILES} files with \${file(...)}; refused, as it looks like a runaway expansion`);
    }
    if (!this.files.has(file)) {
      let stat: Stats | undefined;
      try {
        stat = statSync(file);
      } catch {
        stat = undefined;
      }
      // A device or a FIFO is no file of values: /dev/zero would never end, a FIFO may never be written.
      if (stat && !stat.isFile()) throw new VariableSyntaxError(`\${file(${excerpt(given, 60)})}: ${excerpt(given, 60)} is ${stat.isDirectory() ? 'a folder' : 'not a regular file (a device, a FIFO or a socket)'}; give a YAML, JSON or text file`);
      const exists = stat !== undefined;
      try {
        this.files.set(file, exists ? (parsed ? loadIncludedFile(file) : loadTextFile(file)) : undefined);
      } catch (error) {
        if (!(error instanceof MastodonCfnError)) throw error;
        // The file's own problems, each where it stands in that file, next to the value that reads it.
        for (const problem of error.problems) this.problems.push({ ...problem, path: dotted(path), origin: `${this.shown(file)}:${problem.line ?? 1}:${problem.col ?? 1}`, message: `in ${given}: ${problem.message}` });
        return { value: FAILED };
      }
    }
    const included = this.files.get(file);
    // Where it was looked for is said when the path leads out of the config's folder.
    if (included === undefined) return { value: undefined, missing: `there is no file ${given}${!isAbsolute(given) && this.shown(file) === file ? ` (${file})` : ''}` };
    const scope = fileScope(file, this.underResources(path));
    return { value: this.lookUpIn(included.raw, [scope], keys ? keys.split('.') : []), missing: `${given} has no key ${keys}` };
  }

  /** A file as messages name it: relative to the config's folder when it is inside it. */
  private shown(file: string): string {
    const shown = relative(this.sources.baseDir ?? '.', file);
    return shown.startsWith('..') ? file : shown;
  }

  private lookupSelf(segments: string[]): Resolved {
    return this.lookUpIn(this.loaded.raw, [], segments);
  }

  /** The value at `segments` inside `root` (the config, or an included file's value at `base`), resolved; undefined where there is none. */
  private lookUpIn(root: unknown, base: ConfigPath, segments: string[]): Resolved {
    let current: unknown = root;
    const path: (string | number)[] = [...base];
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

  /** The file a value of an included file is in (undefined: the value is the config's). */
  private includedFile(path: ConfigPath): string | undefined {
    const first = String(path[0] ?? '');
    return first.startsWith(FILE_SCOPE) ? first.slice(fileScope('', false).length) : undefined;
  }

  /** A path as messages name it: dotted, or `file(x.yml):a.b` for a value of an included file. */
  private shownPath(path: ConfigPath): string {
    const file = this.includedFile(path);
    return file === undefined ? dotted(path) : `file(${this.shown(file)}):${dotted(path.slice(1))}`;
  }

  /** A problem of the value at `path`, where it is written: in the config, or in the included file it comes from. */
  problemAt(path: ConfigPath, code: string, message: string): Problem {
    const file = this.includedFile(path);
    if (file === undefined) return { code, path: dotted(path), message, ...this.loaded.locate(path) };
    const { line, col } = this.files.get(file)!.locate(path.slice(1));
    return { code, path: this.shownPath(path), message, origin: `${this.shown(file)}:${line}:${col}` };
  }

  private fail(path: ConfigPath, code: string, message: string): void {
    this.problems.push(this.problemAt(path, code, message));
  }
}

/**
 * Resolves every variable of the config. A value that fails keeps its text and is listed in `failedPaths`, next to its problem.
 * A config whose variables pass the bounds above is refused at once.
 */
export function resolveVariables(
  loaded: LoadedConfig,
  sources: VariableSources,
): { config: Record<string, unknown>; problems: Problem[]; failedPaths: ReadonlySet<string>; awsLookups: AwsLookup[]; stacksRead: { region: string; name: string }[]; textFromOutside: ReadonlySet<string> } {
  const resolver = new Resolver(loaded, sources);
  try {
    const config = resolver.resolveTree(loaded.raw, []) as Record<string, unknown>;
    return { config, problems: resolver.problems, failedPaths: resolver.failedPaths, awsLookups: [...resolver.awsLookups.values()], stacksRead: [...resolver.stacksRead.values()], textFromOutside: resolver.textFromOutside };
  } catch (error) {
    if (!(error instanceof LimitExceeded)) throw error;
    throw new MastodonCfnError([resolver.problemAt(error.path, error.code, error.message)], loaded.file);
  }
}
