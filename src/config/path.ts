/** Config paths: arrays of keys and indexes, shown to people as dotted strings. */
export type ConfigPath = readonly (string | number)[];

export function dotted(path: ConfigPath): string {
  return path.map(String).join('.');
}

export function getAt(value: unknown, path: ConfigPath): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
