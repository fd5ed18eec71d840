import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { MastodonCfnError, type Problem } from '../errors.js';
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

export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw MastodonCfnError.of('config.unreadable', `cannot read config ${file}: ${reason}`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const toPosition = (offset: number): Position => lineCounter.linePos(offset);

  const problems: Problem[] = doc.errors.map((error) => ({
    code: `yaml.${error.code}`,
    path: '',
    message: `YAML: ${error.message.split('\n')[0]}`,
    ...toPosition(error.pos[0]),
  }));
  if (problems.length > 0) throw new MastodonCfnError(problems, file);

  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isPlainObject(raw)) {
    throw new MastodonCfnError([{ code: 'yaml.notAMapping', path: '', message: 'the config must be a mapping of keys (service, domain, ...)', line: 1, col: 1 }], file);
  }

  const locate = (path: ConfigPath, options: { key?: boolean } = {}): Position => {
    let node: Node | null | undefined = doc.contents;
    let best: Position = { line: 1, col: 1 };
    for (const [index, segment] of path.entries()) {
      const last = index === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) return best;
        const keyNode = pair.key as Node;
        if (last && options.key && keyNode.range) return toPosition(keyNode.range[0]);
        node = pair.value as Node | null;
        const anchor = node?.range ? node : keyNode;
        if (anchor.range) best = toPosition(anchor.range[0]);
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)];
        if (!item || isPair(item)) return best;
        node = item as Node;
        if (node.range) best = toPosition(node.range[0]);
      } else {
        return best;
      }
    }
    return best;
  };

  return { file, raw, locate };
}
