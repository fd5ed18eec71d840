import { linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, type Stats, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { excerpt, MastodonCfnError } from './errors.js';
import { fileSystemReason, isSystemError } from './fileErrors.js';
import { plural } from './format.js';

/** The file that marks a folder as a mastodon-cfn build, and lists the files that build wrote: the only ones a later build replaces. */
export const BUILD_MARKER = '.mastodon-cfn-build';
const MARKER_HEADER = 'This folder was written by mastodon-cfn build. The next build replaces the files listed below and leaves everything else here alone.\n';

/** Where a file is written: the path as the user gave it, and the flag that gave it (named in the advice). */
export interface Destination {
  path: string;
  flag: string;
}

/**
 * Runs `write` and turns what the file system refuses into the user's problem (exit 1), naming
 * the path as given and what is wrong with it; only errors that are not the file system's stay bugs.
 */
function asUserProblem<T>(destination: Destination, what: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (!isSystemError(error)) throw error;
    throw MastodonCfnError.of('output.unwritable', `cannot write ${what}${excerpt(destination.path, 160)}: ${fileSystemReason(error, destination.path)}. Choose another ${destination.flag}, or fix that and run again.`);
  }
}

/** The entry at `target` without following a symbolic link (a link is not ours to replace), or undefined when there is none. */
function entryAt(target: string): Stats | undefined {
  try {
    return lstatSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes what this process created; what is already gone (or whose parent is not a folder) needs no removing. */
function removeOwn(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
  }
}

const plainName = (name: string) => name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\\');

/**
 * The files an earlier build wrote, as its marker lists them. A marker from before the list
 * (its text only) stands for what that build's manifest lists: the manifest, the templates and the picture.
 */
function filesOfEarlierBuild(folder: string): Set<string> {
  const listed = readFileSync(join(folder, BUILD_MARKER), 'utf8').split('\n').slice(1).filter(plainName);
  if (listed.length > 0) return new Set(listed);
  const ours = new Set(['manifest.json', 'architecture.svg']);
  try {
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as { stacks?: { templateFile?: unknown }[] };
    for (const stack of manifest.stacks ?? []) if (typeof stack.templateFile === 'string' && plainName(stack.templateFile)) ours.add(stack.templateFile);
  } catch {
    // No readable manifest: the build listed nothing more that could be told apart from the user's files.
  }
  return ours;
}

/**
 * What in the target folder is not the earlier build's: kept across the new build. Refuses a
 * target that is not a folder, a folder without the marker (unless empty: only a marked folder is
 * ours), and a folder where the user's file has the name of one the build writes.
 */
function othersIn(target: string, destination: Destination, files: Map<string, string>): string[] {
  const entry = entryAt(target);
  if (entry === undefined) return [];
  if (!entry.isDirectory()) {
    throw MastodonCfnError.of('output.notAFolder', `${destination.path} ${entry.isSymbolicLink() ? 'is a symbolic link' : 'exists and is not a folder'}: mastodon-cfn writes its build into a folder of its own. Choose another ${destination.flag}.`);
  }
  const entries = readdirSync(target);
  if (entries.length === 0) return [];
  if (!entries.includes(BUILD_MARKER)) {
    throw MastodonCfnError.of(
      'output.notABuild',
      `${destination.path} is not a mastodon-cfn build folder (it holds ${plural(entries.length, 'other file')} and no ${BUILD_MARKER}): mastodon-cfn only replaces folders it wrote itself. Choose another ${destination.flag}, or an empty folder.`,
    );
  }
  const ours = filesOfEarlierBuild(target);
  // A name the earlier build wrote is still its file only while it is one: a folder (or link) put there since is the user's.
  const isOurs = (name: string) => ours.has(name) && lstatSync(join(target, name)).isFile();
  const others = entries.filter((name) => name !== BUILD_MARKER && !isOurs(name)).sort();
  const clashing = others.filter((name) => files.has(name));
  if (clashing.length > 0) {
    throw MastodonCfnError.of(
      'output.foreignFile',
      `${destination.path} holds ${clashing.join(', ')}, which the earlier build did not write and this build would: it is left as it is. Move it away, or choose another ${destination.flag}.`,
    );
  }
  return others;
}

/** Puts `from` (a user's entry) into the staging folder as well, as hard links: the original stays where it is until the swap. */
function linkInto(from: string, to: string): void {
  if (lstatSync(from).isDirectory()) {
    mkdirSync(to);
    for (const name of readdirSync(from)) linkInto(join(from, name), join(to, name));
  } else {
    linkSync(from, to);
  }
}

/**
 * Writes the build into `destination`, all or nothing: everything is written to a sibling folder
 * first and swapped in by rename, so a failed build never leaves a half-written one. Only an
 * absent or empty folder, or an earlier build's, is written to; of an earlier build only the
 * files its marker lists are replaced, and what else is in the folder is kept (hard-linked into
 * the new folder, so it is never copied or moved away) and returned, for the caller to name.
 */
export function writeOutput(destination: Destination, files: Map<string, string>): string[] {
  const target = resolve(destination.path);
  const staging = `${target}.tmp-${process.pid}`;
  const previous = `${target}.old-${process.pid}`;
  return asUserProblem(destination, 'the build to ', () => {
    const others = othersIn(target, destination, files);
    const replacing = entryAt(target) !== undefined;
    try {
      mkdirSync(dirname(target), { recursive: true });
      removeOwn(staging);
      mkdirSync(staging);
      for (const [name, content] of files) writeFileSync(join(staging, name), content);
      for (const name of others) linkInto(join(target, name), join(staging, name));
      writeFileSync(join(staging, BUILD_MARKER), `${MARKER_HEADER}${[...files.keys()].join('\n')}\n`);
      if (replacing) renameSync(target, previous);
      try {
        renameSync(staging, target);
      } catch (error) {
        // The earlier folder goes back: it holds the user's own files, which staging only links to.
        if (replacing) renameSync(previous, target);
        throw error;
      }
    } finally {
      removeOwn(staging);
    }
    // Only now does every kept file live in the new folder too.
    if (replacing) removeOwn(previous);
    return others;
  });
}

/**
 * How a file mastodon-cfn wrote is told from the user's: a mark its text holds, or, for a format with no room for
 * one (JSON), a test of its text and what the test recognises, for the refusal.
 */
export type OwnMark = string | { ours: (content: string) => boolean; what: string };

/** Refuses a file that exists and is not marked as ours (any existing file, without a mark; a symbolic link always). */
export function refuseForeignFile(destination: Destination, ownMark?: OwnMark): void {
  asUserProblem(destination, '', () => {
    const entry = entryAt(resolve(destination.path));
    if (entry === undefined) return;
    const content = () => readFileSync(resolve(destination.path), 'utf8');
    const ours = ownMark !== undefined && entry.isFile() && (typeof ownMark === 'string' ? content().includes(ownMark) : ownMark.ours(content()));
    if (!ours) {
      const why = ownMark === undefined ? '' : typeof ownMark === 'string' ? ' and mastodon-cfn did not write it' : ` and is not ${ownMark.what}`;
      throw MastodonCfnError.of('output.exists', `${destination.path} already exists${why}: it is left as it is. Choose another file, or move that one away.`);
    }
  });
}

/**
 * Writes one file, whole or not at all (a sibling written first, then renamed over). An existing
 * file is replaced only when `ownMark` recognises it as one mastodon-cfn wrote; without a mark,
 * nothing that exists is ever replaced.
 */
export function writeFile(destination: Destination, content: string, ownMark?: OwnMark): void {
  refuseForeignFile(destination, ownMark);
  const target = resolve(destination.path);
  const staging = `${target}.tmp-${process.pid}`;
  asUserProblem(destination, '', () => {
    try {
      writeFileSync(staging, content);
      renameSync(staging, target);
    } finally {
      removeOwn(staging);
    }
  });
}
