import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MastodonCfnError } from '../src/errors.js';
import { build } from '../src/pipeline.js';
import { minimalYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';

/** Hostile input reaches exit 1 with a message, never exit 70, and never hangs. */
describe('hostile input', () => {
  it('reads at most 512 KB from a device, and a FIFO with no writer as empty instead of blocking', function () {
    this.timeout(30_000);
    for (const device of ['/dev/zero', '/dev/urandom']) {
      const result = runCli(['build', '--config', device, '--out', join(tempDir(), 'out')]);
      expect(result.status, result.stderr).to.equal(1);
      expect(result.stderr).to.equal(`${device} is not a regular file and gives more than 512 KB: mastodon-cfn reads configs of up to 512 KB (a complete config is a few KB). Is this the right file?\n`);
    }
    const dir = tempDir();
    const fifo = join(dir, 'config.fifo');
    spawnSync('mkfifo', [fifo]);
    // No writer: read as empty at once, not blocked in open().
    const empty = runCli(['build', '--config', fifo, '--out', join(dir, 'out')]);
    expect(empty.status).to.equal(1);
    expect(empty.stderr).to.match(/config.fifo:1:1  \(file\)  the config must be a mapping/);
  });

  it('stops reading a FIFO that never ends', async function () {
    this.timeout(30_000);
    const dir = tempDir();
    const fifo = join(dir, 'config.fifo');
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `yes > '${fifo}'`], { stdio: 'ignore' });
    try {
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const cli = spawn(process.execPath, [join(REPO_ROOT, 'bin/mastodon-cfn.cjs'), 'build', '--config', fifo, '--out', join(dir, 'out')]);
        let stderr = '';
        cli.stderr.on('data', (chunk) => (stderr += String(chunk)));
        cli.once('close', (status) => resolve({ status, stderr }));
      });
      expect(result.status, result.stderr).to.equal(1);
      expect(result.stderr).to.match(/is not a regular file and gives more than 512 KB/);
    } finally {
      writer.kill();
    }
  });

  it('reports a UTF-16 file as FILE:1:1', () => {
    const dir = tempDir();
    const utf16 = join(dir, 'utf16.yaml');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(minimalYaml(), 'utf16le')]));
    const result = runCli(['build', '--config', utf16, '--out', join(dir, 'out')]);
    expect(result.status).to.equal(1);
    expect(result.stderr.split('\n')[0]).to.equal(`${utf16}:1:1  (file)  this file is UTF-16 text: save it as UTF-8`);
  });

  it('print --format json of doubling lists is refused at once', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const levels = Array.from({ length: 30 }, (_, i) => `  d${i + 1}: ["\${self:custom.d${i}}", "\${self:custom.d${i}}"]\n`).join('');
    writeFileSync(file, minimalYaml(`custom:\n  d0: [a, b]\n${levels}`));
    const started = Date.now();
    const result = runCli(['print', '--format', 'json', '--config', file]);
    expect(Date.now() - started).to.be.below(5_000);
    expect(result.status).to.equal(1);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.match(/:20:8  custom\.d16  with variables resolved, the config passes 512 KB/);
  });

  it('measures a template as written, not only compacted', () => {
    // Deep nesting costs a few bytes compacted and a line of indentation per level as written.
    const dir = tempDir();
    const file = join(dir, 'mastodon.config.yaml');
    const deep = `${'['.repeat(50)}x${']'.repeat(50)}`;
    const copies = Array.from({ length: 200 }, () => '"${self:custom.deep}"').join(', ');
    writeFileSync(file, minimalYaml(`custom:\n  deep: ${deep}\nresources:\n  Resources:\n    Notes:\n      Type: AWS::SNS::Topic\n      Metadata:\n        Copies: [${copies}]\n`));
    const result = runCli(['build', '--config', file, '--out', join(dir, 'out')]);
    expect(result.status, result.stderr).to.equal(1);
    const [, bytes] = /the social-prod stack would have (\d+) bytes of template, as written; CloudFormation allows 1000000/.exec(result.stderr) ?? [];
    expect(Number(bytes)).to.be.above(1_000_000);
    // What the deployer would send, compacted, is far below the limit: the written file is what is measured.
    expect(200 * deep.length).to.be.below(100_000);
  });

  it('survives a few hundred mutations of the reference config: a MastodonCfnError or a build, each within a second', function () {
    this.timeout(300_000);
    // Mutated in another folder: its postblog folder is the repository's.
    const reference = readFileSync(join(REPO_ROOT, 'mastodon.config.yaml'), 'utf8').replace('build: ./postblog', `build: ${join(REPO_ROOT, 'postblog')}`).split('\n');
    let seed = 14;
    // mulberry32: the same mutations on every run.
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const hostile = [
      '${self:constructor}', '${env:toString}', '${opt:hasOwnProperty}', '${self:custom}', '${self:}', '${self:provider.stage}${self:provider.stage}',
      '${opt:a, ${opt:b, ${opt:c}}}', '${', '}', '"\\ud800"', '!!binary aGVsbG8=', '!!set {a}', '!Ref X', '*nope', '&a x', '[', '{', '? [a]', ': :',
      '"a\\nb\\u001b"', '\t', '~', '-1', '1e400', '0x1F', 'yes', '2001-12-14', "'", '"', '#', '|', '>-', '%YAML 1.1', '---', '...', '__proto__', 'x'.repeat(300),
      '[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]', 'null', '{}', '[]', 'AWS::SNS::Topic', 'Outputs', 'MastodonVersion', '${ssm:/a b}',
    ];
    const mutate = (lines: string[]): string[] => {
      const out = [...lines];
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const i = Math.floor(random() * out.length);
        switch (Math.floor(random() * 5)) {
          case 0: out.splice(i, 1); break;
          case 1: out.splice(i, 0, out[Math.floor(random() * out.length)]); break;
          case 2: out[i] = out[i].replace(/:\s.*$/, `: ${pick(hostile)}`); break;
          case 3: { const at = Math.floor(random() * (out[i].length + 1)); out[i] = out[i].slice(0, at) + pick(hostile) + out[i].slice(at); break; }
          default: out.splice(i, 0, `${' '.repeat(Math.floor(random() * 3) * 2)}${pick(['custom', 'resources', 'Resources', 'Outputs', 'X', 'mastodon'])}: ${pick(hostile)}`);
        }
      }
      return out;
    };
    const file = join(tempDir(), 'mastodon.config.yaml');
    let built = 0;
    for (let run = 0; run < 300; run++) {
      const text = mutate(reference).join('\n');
      writeFileSync(file, text);
      const started = Date.now();
      try {
        build({ configFile: file, options: {}, env: {} });
        built++;
      } catch (error) {
        if (!(error instanceof MastodonCfnError)) throw new Error(`mutation ${run} threw ${String(error)}:\n${text}`);
      }
      expect(Date.now() - started, `mutation ${run}:\n${text}`).to.be.below(1_000);
    }
    // Some mutations leave a valid config: the test builds, not only refuses.
    expect(built).to.be.above(10);
  });
});
