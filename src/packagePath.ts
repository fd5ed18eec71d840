import { existsSync } from 'node:fs';

/**
 * A file shipped with the package (e.g. the JSON Schema). The CLI runs as one bundle
 * (dist/mastodon-cfn.js) while the tests import the compiled modules (dist/src/...), so the
 * package root is found by walking up to package.json rather than by a fixed relative path.
 */
export function packagePath(relative: string): URL {
  let directory = new URL('.', import.meta.url);
  while (!existsSync(new URL('package.json', directory))) {
    const parent = new URL('..', directory);
    if (parent.href === directory.href) throw new Error(`package.json not found above ${import.meta.url}`);
    directory = parent;
  }
  return new URL(relative, directory);
}
