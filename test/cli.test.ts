import { expect } from 'chai';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { lintLater, minimalYaml, REPO_ROOT, runCli, tempDir } from './support/build.js';

function configFile(yaml: string): string {
  const file = join(tempDir(), 'mastodon.config.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('cli', () => {
  it('builds the shipped config into .mastodon-cfn/ and prints what is left to do by hand', () => {
    const out = join(tempDir(), '.mastodon-cfn');
    const result = runCli(['build', '--out', out]);
    expect(result.status, result.stderr).to.equal(0);
    expect(readdirSync(out).sort()).to.deep.equal(['.mastodon-cfn-build', 'architecture.svg', 'manifest.json', 'social-prod-certificates.template.json', 'social-prod-secrets.template.json', 'social-prod.template.json']);
    expect(result.stdout).to.match(/social-prod-certificates\s+us-east-1\s+1 resource  /);
    expect(result.stdout).to.match(/social-prod\s+eu-central-1\s+\d+ resources /);
    expect(result.stdout).to.include('mastodonmedia.example.com: CNAME or alias to CloudFront');
    expect(result.stdout).to.include('DKIM');
    lintLater(out);
  });

  it('with dns in Route 53 leaves only the SES sandbox to do by hand', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(file, 'service: social\ndomain: social.example.com\ndns: { route53: true }\n');
    const out = join(tempDir(), 'out');
    const result = runCli(['build', '--config', file, '--out', out]);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout.split('By hand, once (mastodon-cfn cannot do these for you):\n')[1]).to.equal('  - ask AWS to move SES out of its sandbox to mail anyone (mastodon-cfn status says whether it still is)\n');
    lintLater(out);
  });

  it('writes byte-identical files for the same config, whatever the locale', () => {
    const first = join(tempDir(), 'out');
    const second = join(tempDir(), 'out');
    expect(runCli(['build', '--out', first], { env: { LANG: 'C' } }).status).to.equal(0);
    expect(runCli(['build', '--out', second], { env: { LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' } }).status).to.equal(0);
    for (const file of readdirSync(first)) expect(readFileSync(join(second, file), 'utf8'), file).to.equal(readFileSync(join(first, file), 'utf8'));
  });

  it('replaces what the earlier build wrote, keeps what else is in the folder and names it once', () => {
    const out = join(tempDir(), 'out');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    writeFileSync(join(out, 'my-own.json'), '{"mine": true}');
    mkdirSync(join(out, 'notes'));
    writeFileSync(join(out, 'notes', 'deploy.md'), 'how we deploy');
    const result = runCli(['build', '--out', out, '--stage', 'dev']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include(`\nLeft alone in ${out}/, as mastodon-cfn did not write them: my-own.json, notes\n`);
    // The prod templates were the earlier build's: gone. The user's files are where they were.
    expect(readdirSync(out).sort()).to.deep.equal(['.mastodon-cfn-build', 'architecture.svg', 'manifest.json', 'my-own.json', 'notes', 'social-dev-certificates.template.json', 'social-dev-secrets.template.json', 'social-dev.template.json']);
    expect(readFileSync(join(out, 'my-own.json'), 'utf8')).to.equal('{"mine": true}');
    expect(readFileSync(join(out, 'notes', 'deploy.md'), 'utf8')).to.equal('how we deploy');
    expect(readFileSync(join(out, '.mastodon-cfn-build'), 'utf8').split('\n').slice(1).filter(Boolean).sort()).to.deep.equal(['architecture.svg', 'manifest.json', 'social-dev-certificates.template.json', 'social-dev-secrets.template.json', 'social-dev.template.json']);
    lintLater(out);
  });

  it('refuses to write over a file of the folder that the earlier build did not write, and changes nothing', () => {
    const out = join(tempDir(), 'out');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    const before = readFileSync(join(out, 'manifest.json'), 'utf8');
    writeFileSync(join(out, 'social-dev.template.json'), 'my draft');
    const result = runCli(['build', '--out', out, '--stage', 'dev']);
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal(`${out} holds social-dev.template.json, which the earlier build did not write and this build would: it is left as it is. Move it away, or choose another --out.`);
    expect(readFileSync(join(out, 'social-dev.template.json'), 'utf8')).to.equal('my draft');
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).to.equal(before);
  });

  it('keeps a folder of the user\'s put where the earlier build wrote a file, and refuses to write over it', () => {
    const out = join(tempDir(), 'out');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    rmSync(join(out, 'manifest.json'));
    mkdirSync(join(out, 'manifest.json'));
    writeFileSync(join(out, 'manifest.json', 'keep.txt'), 'precious');
    const result = runCli(['build', '--out', out]);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include(`${out} holds manifest.json, which the earlier build did not write and this build would`);
    expect(readFileSync(join(out, 'manifest.json', 'keep.txt'), 'utf8')).to.equal('precious');
  });

  it("a marker from before it listed the files stands for what that build's manifest lists", () => {
    const out = join(tempDir(), 'out');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    writeFileSync(join(out, '.mastodon-cfn-build'), 'This folder was written by mastodon-cfn build; it is replaced as a whole by the next build.\n');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const result = runCli(['build', '--out', out, '--stage', 'dev']);
    expect(result.status, result.stderr).to.equal(0);
    expect(readdirSync(out).filter((name) => name.startsWith('social-prod'))).to.deep.equal([]);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).to.equal('mine');
    expect(result.stdout).to.include('as mastodon-cfn did not write them: notes.txt\n');
  });

  it('only a folder with the marker is an earlier build: a manifest and templates of the user are refused and kept', () => {
    const out = tempDir();
    writeFileSync(join(out, 'manifest.json'), '{"mine": true}');
    writeFileSync(join(out, 'my-own.template.json'), '{"Resources": {}}');
    const result = runCli(['build', '--out', out]);
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal(`${out} is not a mastodon-cfn build folder (it holds 2 other files and no .mastodon-cfn-build): mastodon-cfn only replaces folders it wrote itself. Choose another --out, or an empty folder.`);
    expect(readdirSync(out).sort()).to.deep.equal(['manifest.json', 'my-own.template.json']);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).to.equal('{"mine": true}');
  });

  it('a path the file system refuses is the user\'s to fix: exit 1 naming the path and what is wrong, for build, diagram and init alike', () => {
    const project = tempDir();
    writeFileSync(join(project, 'mastodon.config.yaml'), minimalYaml());
    writeFileSync(join(project, 'notes.txt'), 'mine');
    symlinkSync('loop', join(project, 'loop'));
    const long = `${'a'.repeat(300)}.svg`;
    const cases: [string[], string][] = [
      [['build', '-o', 'notes.txt/sub'], 'cannot write the build to notes.txt/sub: notes.txt is a file, not a folder. Choose another --out, or fix that and run again.'],
      [['build', '-o', 'notes.txt/sub/deeper'], 'cannot write the build to notes.txt/sub/deeper: notes.txt is a file, not a folder. Choose another --out, or fix that and run again.'],
      [['diagram', '--out', 'notes.txt/a.svg'], 'cannot write notes.txt/a.svg: notes.txt is a file, not a folder. Choose another --out, or fix that and run again.'],
      [['init', '-c', 'notes.txt/x.yaml', '--yes'], 'cannot write notes.txt/x.yaml: notes.txt is a file, not a folder. Choose another --config, or fix that and run again.'],
      [['diagram', '--out', 'missing/a.svg'], 'cannot write missing/a.svg: the folder missing does not exist. Choose another --out, or fix that and run again.'],
      [['diagram', '--out', 'loop/a.svg'], 'cannot write loop/a.svg: its symbolic links go round in a loop. Choose another --out, or fix that and run again.'],
      [['build', '-o', 'loop/out'], 'cannot write the build to loop/out: its symbolic links go round in a loop. Choose another --out, or fix that and run again.'],
      [['diagram', '--out', long], `cannot write ${long.slice(0, 159)}… (304 characters): the name is longer than the file system allows. Choose another --out, or fix that and run again.`],
      [['init', '-c', long, '--yes'], `cannot write ${long.slice(0, 159)}… (304 characters): the name is longer than the file system allows. Choose another --config, or fix that and run again.`],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args, { cwd: project });
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).to.equal(1);
      expect(result.stderr.trim(), args.join(' ')).to.equal(message);
    }
    expect(readdirSync(project).sort()).to.deep.equal(['loop', 'mastodon.config.yaml', 'notes.txt']);
    expect(readFileSync(join(project, 'notes.txt'), 'utf8')).to.equal('mine');
  });

  it('never replaces a symbolic link with its picture, nor writes the build through one', () => {
    const project = tempDir();
    writeFileSync(join(project, 'mastodon.config.yaml'), minimalYaml());
    symlinkSync('elsewhere.svg', join(project, 'picture.svg'));
    mkdirSync(join(project, 'real'));
    symlinkSync('real', join(project, 'linked'));
    const picture = runCli(['diagram', '--out', 'picture.svg'], { cwd: project });
    expect(picture.status).to.equal(1);
    expect(picture.stderr.trim()).to.equal('picture.svg already exists and mastodon-cfn did not write it: it is left as it is. Choose another file, or move that one away.');
    const build = runCli(['build', '-o', 'linked'], { cwd: project });
    expect(build.status).to.equal(1);
    expect(build.stderr.trim()).to.equal('linked is a symbolic link: mastodon-cfn writes its build into a folder of its own. Choose another --out.');
    expect(readlinkSync(join(project, 'picture.svg'))).to.equal('elsewhere.svg');
    expect(readlinkSync(join(project, 'linked'))).to.equal('real');
    expect(readdirSync(join(project, 'real'))).to.deep.equal([]);
  });

  it('--stage and --region override the config and feed ${opt:...}', () => {
    const file = configFile(minimalYaml("provider:\n  stage: ${opt:stage, 'prod'}\ncustom:\n  team: ${opt:team, 'ops'}\nmastodon:\n  environment:\n    TEAM: ${self:custom.team}\n"));
    const result = runCli(['print', '--config', file, '--stage', 'staging', '--region', 'eu-west-1', '--opt', 'team=social', '--format', 'json']);
    expect(result.status, result.stderr).to.equal(0);
    const config = JSON.parse(result.stdout);
    expect(config.provider).to.include({ stage: 'staging', region: 'eu-west-1' });
    expect(config.mastodon.environment).to.deep.equal({ TEAM: 'social' });
  });

  it('takes the home region from AWS_REGION when neither the config nor --region gives one', () => {
    const region = (yaml: string, args: string[] = []) => JSON.parse(runCli(['print', '--config', configFile(yaml), '--format', 'json', ...args], { env: { AWS_REGION: 'eu-west-3' } }).stdout).provider.region;
    expect(region(minimalYaml())).to.equal('eu-west-3');
    expect(region(minimalYaml('provider: { region: eu-central-1 }\n'))).to.equal('eu-central-1');
    expect(region(minimalYaml('provider: { region: eu-central-1 }\n'), ['--region', 'ap-northeast-1'])).to.equal('ap-northeast-1');
  });

  it('print shows the resolved config with every default filled in', () => {
    const result = runCli(['print', '--config', configFile(minimalYaml())]);
    expect(result.status, result.stderr).to.equal(0);
    const config = parse(result.stdout);
    expect(config.database).to.deep.equal({ minCapacity: 0.5, maxCapacity: 1, engineVersion: '16.10', backupRetentionDays: 7, readReplica: false });
    expect(config.media.domain).to.equal('media.social.example.com');
  });

  it('explains a missing config file without a stack trace', () => {
    const result = runCli(['build', '--config', 'no-such.yaml', '--out', join(tempDir(), 'out')]);
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal('cannot read config no-such.yaml: no such file');
    const underAFile = runCli(['build', '--config', 'mastodon.config.yaml/x.yaml']);
    expect(underAFile.status).to.equal(1);
    expect(underAFile.stderr.trim()).to.equal('cannot read config mastodon.config.yaml/x.yaml: mastodon.config.yaml is a file, not a folder');
  });

  it('has --help on every command and --version', () => {
    for (const command of [[], ['build'], ['print']]) {
      const result = runCli([...command, '--help']);
      expect(result.status, command.join(' ')).to.equal(0);
      expect(result.stdout).to.match(/^Usage: mastodon-cfn/);
    }
    const version = runCli(['--version']);
    expect(version.stdout.trim()).to.equal(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  });

  it('run needs a command (exit code 2); tootctl and run have help', () => {
    const missing = runCli(['run']);
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.include("missing required argument 'command'");
    for (const command of ['run', 'tootctl']) expect(runCli([command, '--help']).stdout).to.match(new RegExp(`^Usage: mastodon-cfn ${command}`));
  });

  it('rejects an unknown option or command with exit code 2', () => {
    expect(runCli(['build', '--sateg', 'dev']).status).to.equal(2);
    expect(runCli(['biuld']).status).to.equal(2);
    const bad = runCli(['build', '--opt', 'novalue', '--out', join(tempDir(), 'out')]);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.include('--opt takes name=value');
  });

  it('never replaces a folder it did not write: build -o . leaves the project alone, -o FILE leaves the file alone', () => {
    const project = tempDir();
    writeFileSync(join(project, 'mastodon.config.yaml'), minimalYaml());
    writeFileSync(join(project, 'notes.txt'), 'mine');
    const refused = runCli(['build', '-o', '.'], { cwd: project });
    expect(refused.status).to.equal(1);
    expect(refused.stderr.trim()).to.equal(". is not a mastodon-cfn build folder (it holds 2 other files and no .mastodon-cfn-build): mastodon-cfn only replaces folders it wrote itself. Choose another --out, or an empty folder.");
    expect(readdirSync(project).sort()).to.deep.equal(['mastodon.config.yaml', 'notes.txt']);

    const file = join(project, 'notes.txt');
    const onFile = runCli(['build', '--config', join(project, 'mastodon.config.yaml'), '-o', file]);
    expect(onFile.status).to.equal(1);
    expect(onFile.stderr).to.include('exists and is not a folder');
    expect(readFileSync(file, 'utf8')).to.equal('mine');
  });

  it('marks its build folder, replaces it on the next build, and says so when the folder cannot be written', () => {
    const out = join(tempDir(), 'out');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    expect(readdirSync(out)).to.include('.mastodon-cfn-build');
    expect(runCli(['build', '--out', out]).status).to.equal(0);
    lintLater(out);
    if (process.getuid?.() !== 0) {
      const locked = tempDir();
      chmodSync(locked, 0o500);
      const result = runCli(['build', '--out', join(locked, 'out')]);
      expect(result.status).to.equal(1);
      expect(result.stderr).to.match(/^cannot write the build to .*: permission denied/);
    }
  });

  it('says in one sentence when the config is a folder, a binary file, or far too large to be a config', () => {
    const dir = tempDir();
    const binary = join(dir, 'binary.yaml');
    writeFileSync(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0xff]));
    const large = join(dir, 'large.yaml');
    writeFileSync(large, minimalYaml(`custom:\n${'  k: 1\n'.repeat(1)}${Array.from({ length: 60_000 }, (_, i) => `  key${i}: 1\n`).join('')}`));
    const cases: [string, RegExp][] = [
      [dir, /^\S+ is a folder, not a config file: give the path of your mastodon.config.yaml \(--config FILE\)\.$/],
      [binary, /^\S+binary.yaml:1:1  \(file\)  this file is not a text file \(it holds binary data/],
      [large, /^\S+large.yaml is 0\.\d MB: mastodon-cfn reads configs of up to 512 KB/],
    ];
    for (const [config, message] of cases) {
      const result = runCli(['build', '--config', config, '--out', join(dir, 'out')]);
      expect(result.status, config).to.equal(1);
      expect(result.stderr.trim()).to.match(message);
    }
  });

  it('prints the first 50 of thousands of problems, then how many more, each at its line', () => {
    const keys = Array.from({ length: 16_000 }, (_, i) => `  unknown${i}: 1\n`).join('');
    const result = runCli(['build', '--config', configFile(minimalYaml(`mastodon:\n${keys}`)), '--out', join(tempDir(), 'out')]);
    expect(result.status).to.equal(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).to.have.length(52);
    expect(lines[0]).to.match(/:4:3  mastodon\.unknown0  unknown key "unknown0"/);
    expect(lines[49]).to.match(/:53:3  mastodon\.unknown49  /);
    expect(lines.slice(50)).to.deep.equal(['... and 15950 more', lines[51]]);
    expect(lines[51]).to.match(/^16000 problems in .*; nothing was written\.$/);
  });

  it('writes nothing when the config is wrong', () => {
    const out = join(tempDir(), 'out');
    const result = runCli(['build', '--config', configFile(minimalYaml('database: { minCapacity: 2, maxCapacity: 1 }\n')), '--out', out]);
    expect(result.status).to.equal(1);
    expect(existsSync(out)).to.equal(false);
  });
});
