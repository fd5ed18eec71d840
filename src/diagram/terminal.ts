import { MastodonCfnError } from '../errors.js';
import { writeFile } from '../output.js';
import { DIAGRAM_MARK } from './render.js';

/**
 * Where `diagram` puts the SVG when its output is a terminal, on which markup is of no use: the
 * folder it is run in, where a person looks for what they just made (as `curl -O` does), and
 * under the name `build` gives the same picture.
 */
export const TERMINAL_FILE = 'architecture.svg';

/** Writes the picture there, replacing only one mastodon-cfn drew, and says so in one line. */
export function writeForTerminal(svg: string): string {
  try {
    writeFile({ path: TERMINAL_FILE, flag: '--out' }, svg, DIAGRAM_MARK);
  } catch (error) {
    if (!(error instanceof MastodonCfnError) || error.problems[0].code !== 'output.exists') throw error;
    throw MastodonCfnError.of(
      'diagram.exists',
      `${TERMINAL_FILE} already exists in this folder and mastodon-cfn did not write it: it is left as it is. Write the picture elsewhere with --out FILE, or print it into a file: mastodon-cfn diagram > FILE.`,
    );
  }
  return `Wrote ${TERMINAL_FILE} (open it in a browser)\n`;
}
