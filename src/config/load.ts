import { isUtf8 } from 'node:buffer';
import { closeSync, constants, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, Pair, parseDocument, Scalar, visit, YAMLMap, YAMLSeq, type Document, type Node } from 'yaml';
import { SHORT_FORMS } from '../aws/intrinsics.js';
import { byPosition, excerpt, MastodonCfnError, type Problem } from '../errors.js';
import { fileSystemReason, isSystemError } from '../fileErrors.js';
import { isPlainObject, type ConfigPath } from './path.js';

export interface Position {
  line: number;
  col: number;
}

/** The config as written, with a way back from any path to where it stands in the file. */
export interface LoadedConfig {
  file: string;
  raw: Record<string, unknown>;
  /** Where `path` is written: the key itself when `key` is set, else its value. Falls back to the nearest ancestor. */
  locate(path: ConfigPath, options?: { key?: boolean }): Position;
}

/** A whole config is a few kilobytes; anything past this is not a config, and is refused before it is parsed. */
export const MAX_CONFIG_BYTES = 512 * 1024;
/** How deep a config may nest (a resource's properties are a dozen levels deep); yaml itself overflows its stack near 400. */
export const MAX_NESTING = 64;
/** How long a pipe or a device may stay silent before its config is given up on. */
const SILENCE_MS = 10_000;

const tooLarge = (file: string, size: string) =>
  MastodonCfnError.of('config.tooLarge', `${file} is ${size}: mastodon-cfn reads configs of up to 512 KB (a complete config is a few KB). Is this the right file?`);

/**
 * A pipe, a FIFO or a device (`--config <(make-config)`, /dev/zero) has no size to check first:
 * read at most one byte past the limit, and never wait on it for ever. Non-blocking, so that a FIFO
 * with no writer reads as empty instead of blocking the open.
 */
function readStream(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    let silentSince = Date.now();
    while (length < buffer.length) {
      let read: number;
      try {
        read = readSync(fd, buffer, length, buffer.length - length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        if (Date.now() - silentSince > SILENCE_MS) throw MastodonCfnError.of('config.silent', `${file} sent nothing for ${SILENCE_MS / 1000} seconds: is anything writing to it?`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      if (read === 0) break;
      length += read;
      silentSince = Date.now();
    }
    if (length > MAX_CONFIG_BYTES) throw tooLarge(file, 'not a regular file and gives more than 512 KB');
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/** Why bytes that are not UTF-8 text cannot be a config, in words. */
function encodingProblem(bytes: Buffer): string | undefined {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  if (utf16) return 'is UTF-16 text: save it as UTF-8';
  // isUtf8 is a plain byte check; a fatal TextDecoder would start ICU (5 ms of every build).
  if (bytes.includes(0)) return 'is not a text file (it holds binary data, or UTF-16 text): save it as UTF-8 text';
  if (!isUtf8(bytes)) return 'is not UTF-8 text (a binary file, or text in another encoding such as Latin-1): save it as UTF-8';
  return undefined;
}

/** Reads a config file, or a file a config reads with `${file(...)}` (`what` says which, in messages). */
function readYamlText(file: string, what = 'config'): string {
  let bytes: Buffer;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) throw MastodonCfnError.of('config.folder', `${file} is a folder, not a config file: give the path of your mastodon.config.yaml (--config FILE).`);
    if (stat.size > MAX_CONFIG_BYTES) throw tooLarge(file, `${(stat.size / 1024 / 1024).toFixed(1)} MB`);
    bytes = stat.isFile() ? readFileSync(file) : readStream(file);
  } catch (error) {
    if (error instanceof MastodonCfnError) throw error;
    if (!isSystemError(error)) throw error;
    const reason = error.code === 'ENOENT' ? 'no such file' : fileSystemReason(error, file);
    throw MastodonCfnError.of('config.unreadable', `cannot read ${what} ${file === '' ? '"" (an empty path)' : file}: ${reason}`);
  }
  const encoding = encodingProblem(bytes);
  if (encoding) throw new MastodonCfnError([{ code: 'config.encoding', path: '', message: `this file ${encoding}`, line: 1, col: 1 }], file);
  return bytes.toString('utf8');
}

export function loadConfigFile(file: string): LoadedConfig {
  return parseConfig(readYamlText(file), file);
}

/**
 * A YAML or JSON file that a config reads with `${file(./x.yml)}`: any value, read with the
 * config's own rules and bounds. CloudFormation's short forms are read everywhere in it, as
 * Serverless reads them, since such a file usually holds `resources:`.
 */
export function loadIncludedFile(file: string): { raw: unknown; locate: LoadedConfig['locate'] } {
  return parseYaml(readYamlText(file, 'file'), file, { shortForms: 'everywhere' });
}

/** A text file a config reads with `${file(./x.txt)}`: its text, as the Serverless Framework reads a file that is neither YAML nor JSON. */
export function loadTextFile(file: string): { raw: string; locate: LoadedConfig['locate'] } {
  return { raw: readYamlText(file, 'file'), locate: () => ({ line: 1, col: 1 }) };
}

/**
 * An unclosed quoted string is reported by the parser where the file ends: point at its opening
 * quote instead, the last such quote before the end (the unclosed string holds no other).
 */
function openingQuote(text: string, message: string, end: number): number | undefined {
  const quote = /Missing closing (["'])quote/.exec(message)?.[1];
  if (!quote) return undefined;
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) if (text[i] === quote && text[i - 1] !== '\\') return i;
  return undefined;
}

/** Where a mapping repeats a key: one pass, a set of keys per mapping. */
function duplicateKeys(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) offsets.push(pair.key.range?.[0] ?? 0);
        seen.add(pair.key.value);
      }
    },
  });
  return offsets;
}

/** The tags YAML 1.2's core schema reads as plain JSON values; any other (`!!binary`, `!!set`, `!!timestamp`, `!Ref`) changes or drops a value. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`));

/** Half of a UTF-16 surrogate pair, alone (`"\ud800"`): no character, so it cannot be written as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * What YAML can say that a config cannot hold, each where it is written: tags that turn a value
 * into something else, YAML 1.1 (where `yes`, `2001-12-14` and `010` are no longer strings and
 * numbers), a list or mapping as a key, an alias with no anchor before it, a lone surrogate.
 */
function unsupportedNodes(doc: Document, text: string): { offset: number; code: string; message: string; path?: string }[] {
  const found: { offset: number; code: string; message: string; path?: string }[] = [];
  if (doc.directives?.yaml.version === '1.1') {
    found.push({ offset: Math.max(0, text.indexOf('%YAML')), code: 'yaml.version', message: 'YAML: %YAML 1.1 reads yes/no, dates and 010 as other values than they look; remove the directive (mastodon-cfn reads YAML 1.2)' });
  }
  visit(doc, {
    Node(_key, node, ancestors) {
      const offset = node.range?.[0] ?? 0;
      if (node.tag && !PLAIN_TAGS.has(node.tag)) {
        const tag = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
        const hint = tag.startsWith('!!') ? 'write the value plainly' : Object.hasOwn(SHORT_FORMS, tag) ? `CloudFormation's short forms are read only under resources:` : `it is no YAML tag mastodon-cfn reads (CloudFormation's short forms, such as !Ref and !GetAtt, are read under resources:)`;
        found.push({ offset, code: 'yaml.tag', path: keyPath(ancestors, node), message: `YAML: the tag ${excerpt(tag, 40)} would change or drop this value; ${hint}` });
      }
      if (isScalar(node) && typeof node.value === 'string' && LONE_SURROGATE.test(node.value)) {
        found.push({ offset, code: 'yaml.loneSurrogate', message: 'YAML: this string holds half of a UTF-16 surrogate pair (an escape such as "\\ud800" with no partner), which is no character and cannot be written as UTF-8; write the whole character' });
      }
      if (isAlias(node) && !node.resolve(doc)) {
        found.push({ offset, code: 'yaml.undefinedAlias', message: `YAML: alias *${excerpt(node.source, 40)} has no anchor &${excerpt(node.source, 40)} before it` });
      }
    },
    Pair(_key, pair) {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      if (isCollection(key)) {
        const offset = (pair.key as Node).range?.[0] ?? 0;
        found.push({ offset, code: 'yaml.complexKey', message: 'YAML: a key must be a plain value, not a list or mapping' });
      }
      // Read into a JavaScript object, this key sets the object's prototype instead of a key: the value would vanish unchecked.
      if (isScalar(key) && key.value === '__proto__') {
        found.push({ offset: key.range?.[0] ?? 0, code: 'yaml.protoKey', message: 'YAML: the key __proto__ is not allowed (it names no setting)' });
      }
    },
  });
  return found;
}

/** The dotted config path of a node, from the mappings' keys and the lists' indexes above it. */
function keyPath(ancestors: readonly unknown[], node: unknown): string {
  const keys: string[] = [];
  const chain = [...ancestors, node];
  chain.forEach((step, i) => {
    if (isPair(step) && isScalar(step.key)) keys.push(String(step.key.value));
    else if (isSeq(step) && i + 1 < chain.length) keys.push(String(step.items.indexOf(chain[i + 1] as never)));
  });
  return keys.join('.');
}

/** The first alias of the document, where a recursive alias or an alias bomb is reported. */
function firstAlias(doc: Document): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

/** Whether a value contains itself: depth-first, each object explored once (aliases share objects). */
function isCyclic(value: unknown, ancestors = new Set<object>(), explored = new Set<object>()): boolean {
  if (value === null || typeof value !== 'object' || explored.has(value)) return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  for (const child of Object.values(value)) if (isCyclic(child, ancestors, explored)) return true;
  ancestors.delete(value);
  explored.add(value);
  return false;
}

/** How many nodes one alias may expand to (yaml's maxAliasCount). */
const MAX_ALIAS_EXPANSION = 100;

/**
 * Turns CloudFormation's short forms (`!GetAtt Cluster.Arn`) into their long forms
 * (`{ Fn::GetAtt: [Cluster, Arn] }`), where `within` says they belong: under the config's
 * `resources:`, or anywhere in a file a config reads. The new mapping keeps the short form's
 * place in the file, so that a problem in it is reported there.
 */
function expandShortForms(doc: Document, within: 'resources' | 'everywhere'): void {
  const resources = isMap(doc.contents) ? doc.contents.items.find((pair) => isScalar(pair.key) && pair.key.value === 'resources') : undefined;
  if (within === 'resources' && !resources) return;
  visit(doc, {
    Node(_key, node, path) {
      const long = node.tag === undefined ? undefined : Object.hasOwn(SHORT_FORMS, node.tag) ? SHORT_FORMS[node.tag] : undefined;
      if (long === undefined || (within === 'resources' && !path.includes(resources!))) return undefined;
      node.tag = undefined;
      let value: Node = node;
      if (long === 'Fn::GetAtt' && isScalar(node) && typeof node.value === 'string' && node.value.includes('.')) {
        const dot = node.value.indexOf('.');
        const parts = new YAMLSeq();
        parts.items = [new Scalar(node.value.slice(0, dot)), new Scalar(node.value.slice(dot + 1))];
        parts.range = node.range;
        value = parts;
      }
      const map = new YAMLMap();
      map.items = [new Pair(new Scalar(long), value)];
      map.range = node.range;
      return map;
    },
  });
}

export function parseConfig(text: string, file: string): LoadedConfig {
  const parsed = parseYaml(text, file, { shortForms: 'resources' });
  if (!isPlainObject(parsed.raw)) {
    throw new MastodonCfnError([{ code: 'yaml.notAMapping', path: '', message: 'the config must be a mapping of keys (service, domain, ...)', line: 1, col: 1 }], file);
  }
  return { file, raw: parsed.raw, locate: parsed.locate };
}

function parseYaml(text: string, file: string, options: { shortForms: 'resources' | 'everywhere' }): { raw: unknown; locate: LoadedConfig['locate'] } {
  const lineCounter = new LineCounter();
  // yaml's own duplicate-key check compares each key with every earlier one (quadratic): keys are checked below, once each.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  const toPosition = (offset: number): Position => lineCounter.linePos(offset);
  if (doc.errors.length === 0) expandShortForms(doc, options.shortForms);

  const problems: Problem[] = doc.errors.map((error) => {
    // yaml reads nesting recursively and reports where its stack ran out.
    const message = error.message.includes('Maximum call stack size exceeded') ? `nested too deeply (mastodon-cfn reads up to ${MAX_NESTING} levels)` : error.message.split('\n')[0];
    const start = openingQuote(text, message, error.pos[0]) ?? error.pos[0];
    return { code: `yaml.${error.code}`, path: '', message: `YAML: ${message}`, ...toPosition(start) };
  });
  problems.push(...duplicateKeys(doc).map((offset) => ({ code: 'yaml.DUPLICATE_KEY', path: '', message: 'YAML: Map keys must be unique', ...toPosition(offset) })));
  problems.push(...unsupportedNodes(doc, text).map(({ offset, code, message, path }) => ({ code, path: path ?? '', message, ...toPosition(offset) })));
  if (problems.length > 0) throw new MastodonCfnError(problems.sort(byPosition), file);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
    // yaml turns an alias to a node containing it into a cyclic object, which no later stage could walk.
    if (isCyclic(raw)) throw new RangeError('recursive alias');
  } catch (error) {
    // An alias bomb expands to billions of nodes: yaml stops at maxAliasCount.
    const recursive = error instanceof RangeError;
    const message = recursive
      ? 'YAML: an alias refers to a node that contains it, so it never ends; copy the value instead'
      : `YAML: aliases expand to too many nodes (over ${MAX_ALIAS_EXPANSION} per alias); refused, as it looks like an alias bomb`;
    throw new MastodonCfnError([{ code: recursive ? 'yaml.recursiveAlias' : 'yaml.aliasBomb', path: '', message, ...toPosition(firstAlias(doc)) }], file);
  }
  // Every key's and value's offset, by path, made once on the first look-up: a file with
  // thousands of problems is located in one pass, not one scan of its mappings per problem.
  let index: Map<string, { key?: number; value?: number }> | undefined;
  const pathKey = (path: ConfigPath) => path.map(String).join('\u0000');
  const buildIndex = () => {
    const offsets = new Map<string, { key?: number; value?: number }>();
    const walk = (node: Node | null | undefined, path: (string | number)[]) => {
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isScalar(pair.key)) continue;
          const child = [...path, String(pair.key.value)];
          const value = pair.value as Node | null;
          offsets.set(pathKey(child), { key: pair.key.range?.[0], value: value?.range?.[0] ?? pair.key.range?.[0] });
          walk(value, child);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          if (isPair(item)) return;
          const child = [...path, i];
          offsets.set(pathKey(child), { value: (item as Node).range?.[0] });
          walk(item as Node, child);
        });
      }
    };
    walk(doc.contents, []);
    return offsets;
  };
  const locate = (path: ConfigPath, options: { key?: boolean } = {}): Position => {
    index ??= buildIndex();
    for (let depth = path.length; depth > 0; depth--) {
      const found = index.get(pathKey(path.slice(0, depth)));
      if (!found) continue;
      const offset = depth === path.length && options.key ? (found.key ?? found.value) : found.value;
      if (offset !== undefined) return toPosition(offset);
    }
    return { line: 1, col: 1 };
  };

  return { raw, locate };
}
