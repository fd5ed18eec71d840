import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Replaces `directory` with exactly `files`, all or nothing: everything is written to a
 * sibling folder first and swapped in by rename, so a failed build never leaves a half-written one.
 */
export function writeOutput(directory: string, files: Map<string, string>): void {
  const target = resolve(directory);
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.tmp-${process.pid}`;
  const previous = `${target}.old-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    mkdirSync(staging);
    for (const [name, content] of files) writeFileSync(join(staging, name), content);
    if (existsSync(target)) renameSync(target, previous);
    renameSync(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(previous, { recursive: true, force: true });
  }
}
