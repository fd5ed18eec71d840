import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';

/** A failure of the file system (it carries the system call that failed), as opposed to a bug of ours. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** The closest ancestor of `path` (as given) that exists: the file in the way when a write fails with ENOTDIR. */
function existingAncestor(path: string): string {
  for (let parent = dirname(path); ; parent = dirname(parent)) {
    try {
      lstatSync(parent);
      return parent;
    } catch {
      if (dirname(parent) === parent) return parent;
    }
  }
}

/** What is wrong, in words, for the errors a user's path can meet; the system's own words for the rest (without the paths of our staging files). */
export function fileSystemReason(error: NodeJS.ErrnoException, path: string): string {
  const systemWords = error.message.split(',')[0];
  switch (error.code) {
    case 'ENOTDIR': return `${existingAncestor(path)} is a file, not a folder`;
    case 'ENOENT': return existingAncestor(path) === dirname(path) ? systemWords : `the folder ${dirname(path)} does not exist`;
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the file system is read-only';
    case 'ENOSPC': return 'no space is left on the device';
    case 'EDQUOT': return 'the disk quota is used up';
    case 'EISDIR': return 'it is a folder';
    case 'ENAMETOOLONG': return 'the name is longer than the file system allows';
    case 'ELOOP': return 'its symbolic links go round in a loop';
    case 'EEXIST': return 'it already exists';
    default: return systemWords;
  }
}
