import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONFIGS, REPO_ROOT, runCli, tempDir } from './support/build.js';

/**
 * The corpus of broken configs: each file ends with `# expect: LINE:COL PATH MESSAGE` lines, one per
 * problem `mastodon-cfn build` must report, all at once, and nothing else.
 */
const directory = join(CONFIGS, 'broken');
const files = readdirSync(directory).filter((file) => file.endsWith('.yaml')).sort();

describe('broken configs: the right message at the right place', () => {
  it('has a corpus of at least 25 broken configs', () => {
    expect(files.length).to.be.at.least(25);
  });

  for (const file of files) {
    it(file, () => {
      const path = join(directory, file);
      const expected = readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('# expect: '))
        .map((line) => {
          const [, position, configPath, message] = /^# expect: (\d+:\d+) (\S+) (.*)$/.exec(line)!;
          return `${relative(REPO_ROOT, path)}:${position}  ${configPath}  ${message}`;
        });
      expect(expected, 'the file states what it expects').to.not.be.empty;

      // The output folder holds an earlier build; a failed build must leave it exactly as it was.
      const out = join(tempDir(), 'out');
      mkdirSync(out);
      writeFileSync(join(out, 'earlier.template.json'), '{}');

      const result = runCli(['build', '--config', relative(REPO_ROOT, path), '--out', out], { env: { MASTODON_CFN_TEST_UNSET_IMAGE: undefined } });
      expect(result.status, result.stderr).to.equal(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines.slice(0, -1)).to.deep.equal(expected);
      expect(lines.at(-1)).to.match(/^\d+ problems? in .*; nothing was written\.$/);
      expect(result.stderr).to.not.match(/\n\s+at .*\(.*:\d+:\d+\)/);
      expect(result.stdout).to.equal('');
      expect(readdirSync(out)).to.deep.equal(['earlier.template.json']);
    });
  }
});
