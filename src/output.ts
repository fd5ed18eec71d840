import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MastodonCfnError } from './errors.js';

/** The file that marks a folder as a mastodon-cfn build, and so as one mastodon-cfn may replace. */
export const BUILD_MARKER = '.mastodon-cfn-build';
const MARKER_TEXT = 'This folder was written by mastodon-cfn build; it is replaced as a whole by the next build.\n';

/** A folder from before the marker existed: nothing but a manifest and templates. */
function isUnmarkedBuild(entries: string[]): boolean {
  return entries.includes('manifest.json') && entries.every((entry) => entry === 'manifest.json' || entry.endsWith('.template.json'));
}

/** Refuses any target that is not absent, empty, or an earlier build: the tool never deletes what it did not write. */
function checkReplaceable(target: string, shown: string): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) {
    throw MastodonCfnError.of('output.notAFolder', `${shown} exists and is not a folder: mastodon-cfn writes its build into a folder of its own. Choose another --out.`);
  }
  const entries = readdirSync(target);
  if (entries.length === 0 || entries.includes(BUILD_MARKER) || isUnmarkedBuild(entries)) return;
  throw MastodonCfnError.of(
    'output.notABuild',
    `${shown} is not a mastodon-cfn build folder (it holds ${entries.length} other file${entries.length === 1 ? '' : 's'} and no ${BUILD_MARKER}): mastodon-cfn only replaces folders it wrote itself. Choose another --out, or an empty folder.`,
  );
}

function fsProblem(error: unknown, shown: string): never {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code === 'ENOSPC' ? 'no space left on the device' : (error as Error).message;
  throw MastodonCfnError.of('output.unwritable', `cannot write the build to ${shown}: ${reason}. Choose another --out, or fix the folder's permissions.`);
}

/**
 * Replaces `directory` with exactly `files`, all or nothing: everything is written to a
 * sibling folder first and swapped in by rename, so a failed build never leaves a half-written one.
 * Only an absent or empty folder, or an earlier build, is ever replaced.
 */
export function writeOutput(directory: string, files: Map<string, string>): void {
  const target = resolve(directory);
  checkReplaceable(target, directory);
  const staging = `${target}.tmp-${process.pid}`;
  const previous = `${target}.old-${process.pid}`;
  try {
    mkdirSync(dirname(target), { recursive: true });
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    writeFileSync(join(staging, BUILD_MARKER), MARKER_TEXT);
    for (const [name, content] of files) writeFileSync(join(staging, name), content);
    if (existsSync(target)) renameSync(target, previous);
    renameSync(staging, target);
  } catch (error) {
    if (error instanceof MastodonCfnError) throw error;
    fsProblem(error, directory);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(previous, { recursive: true, force: true });
  }
}

/** Refuses a file that exists and does not hold `ownMark` (any existing file, without a mark). */
export function refuseForeignFile(path: string, ownMark?: string): void {
  const target = resolve(path);
  if (!existsSync(target)) return;
  const ours = ownMark !== undefined && statSync(target).isFile() && readFileSync(target, 'utf8').includes(ownMark);
  if (!ours) throw MastodonCfnError.of('output.exists', `${path} already exists${ownMark ? ' and mastodon-cfn did not write it' : ''}: it is left as it is. Choose another file, or move that one away.`);
}

/**
 * Writes one file, whole or not at all (a sibling written first, then renamed over). An existing
 * file is replaced only when it holds `ownMark`, the mark of a file mastodon-cfn wrote; without
 * one, nothing that exists is ever replaced.
 */
export function writeFile(path: string, content: string, ownMark?: string): void {
  const target = resolve(path);
  refuseForeignFile(path, ownMark);
  const staging = `${target}.tmp-${process.pid}`;
  try {
    writeFileSync(staging, content);
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { force: true });
    fsProblem(error, path);
  }
}
