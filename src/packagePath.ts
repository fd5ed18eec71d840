import { existsSync } from 'node:fs';

/**
 * A file shipped with the package (e.g. the JSON Schema). The CLI runs as one bundle
 * (dist/bundle/cli.js) while the tests import the compiled modules (dist/src/...), so the
 * file is found by walking up from here rather than by a fixed relative path.
 */
export function packagePath(relative: string): URL {
  let directory = new URL('.', import.meta.url);
  while (!existsSync(new URL(relative, directory))) {
    const parent = new URL('..', directory);
    if (parent.href === directory.href) throw new Error(`${relative} is missing from the mastodon-cfn package`);
    directory = parent;
  }
  return new URL(relative, directory);
}
