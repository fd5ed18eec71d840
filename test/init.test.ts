import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { collectAnswers, terminalAsk } from '../src/init.js';
import { buildConfig, REPO_ROOT, runCli, tempDir } from './support/build.js';

describe('mastodon-cfn init', () => {
  it('writes a commented config from flags, with the schema modeline, that builds into what was asked', () => {
    const directory = tempDir();
    const file = join(directory, 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes', '--domain', 'social.example.org', '--region', 'eu-west-1', '--profile', 'small', '--route53', '--mail-from', 'hello@example.org']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.equal(`Wrote ${file}.\nNext: mastodon-cfn cost (what it will cost), mastodon-cfn build (the templates and architecture.svg), mastodon-cfn deploy.\n`);
    const text = readFileSync(file, 'utf8');
    const modeline = /^# yaml-language-server: \$schema=(.+)$/m.exec(text.split('\n')[0]);
    expect(modeline, 'the first line is the schema modeline').to.not.equal(null);
    expect(resolve(dirname(file), modeline![1])).to.equal(join(REPO_ROOT, 'schema/mastodon.config.schema.json'));
    expect(text).to.include("domain: social.example.org          # Mastodon's LOCAL_DOMAIN: it cannot change after the first deploy\n");
    const { config, estimate } = buildConfig({ file });
    expect([config.service, config.domain, config.media.domain, config.provider.region, config.mail.from, config.profile, config.dns]).to.deep.equal([
      'social', 'social.example.org', 'media.social.example.org', 'eu-west-1', 'hello@example.org', 'small', { route53: true, dmarc: 'none' },
    ]);
    expect(estimate.region).to.equal('eu-west-1');
  });

  it('never writes over an existing file, and says so before asking anything', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    writeFileSync(file, 'service: mine\n');
    const result = runCli(['init', '--config', file, '--yes', '--domain', 'social.example.org']);
    expect(result.status).to.equal(1);
    expect(result.stderr.trim()).to.equal(`${file} already exists: it is left as it is. Choose another file, or move that one away.`);
    expect(readFileSync(file, 'utf8')).to.equal('service: mine\n');
  });

  it('without a terminal asks nothing: it needs --yes or a flag for every answer', () => {
    const directory = tempDir();
    const partly = runCli(['init', '--config', join(directory, 'a.yaml'), '--domain', 'social.example.org']);
    expect(partly.status).to.equal(2);
    expect(partly.stderr.trim()).to.equal('init asks its questions on a terminal, and there is none: give the answers as flags (--domain, --region, ...), or --yes for the defaults.');
    expect(existsSync(join(directory, 'a.yaml'))).to.equal(false);
    const every = runCli(['init', '--config', join(directory, 'b.yaml'), '--domain', 'social.example.org', '--media-domain', 'files.example.org', '--region', 'us-west-2', '--mail-from', 'a@example.org', '--profile', 'standard', '--no-route53']);
    expect(every.status, every.stderr).to.equal(0);
    expect(readFileSync(join(directory, 'b.yaml'), 'utf8')).to.include('# dns:\n#   route53: true');
  });

  it('--yes alone takes every default, and says the domain is a placeholder to replace', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes'], { env: { AWS_REGION: 'ap-northeast-1' } });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include('domain is the placeholder social.example.com: set your own before you deploy.');
    const { config } = buildConfig({ file });
    expect([config.domain, config.provider.region, config.profile, config.dns]).to.deep.equal(['social.example.com', 'ap-northeast-1', 'standard', undefined]);
  });

  it('a bad answer is named by its flag, exit code 2, and nothing is written', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes', '--domain', 'Not_A_Domain']);
    expect(result.status).to.equal(2);
    expect(result.stderr).to.match(/^--domain: must be a lower-case DNS name/m);
    expect(existsSync(file)).to.equal(false);
  });

  it('on a terminal asks each question in turn, with the default from the answers before it', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    // A person answering each prompt as it appears: the domain, Enter for the media domain, a region, Enter, a profile, and yes for Route 53.
    const typed = ['social.example.net', '', 'eu-west-1', '', 'small', 'yes'];
    let shown = '';
    output.on('data', (chunk) => {
      shown += String(chunk);
      if (String(chunk).endsWith(']: ')) input.write(`${typed.shift()}\n`);
    });
    const { ask, close } = terminalAsk(input, output);
    const answers = await collectAnswers({}, ask, {});
    close();
    expect(answers).to.deep.equal({ domain: 'social.example.net', mediaDomain: 'media.social.example.net', region: 'eu-west-1', mailFrom: 'notifications@social.example.net', profile: 'small', route53: true });
    expect(shown).to.include("The instance's domain (people's handles end with it; it cannot change later) [social.example.com]: ");
    expect(shown).to.include('The domain media files are served from (CloudFront) [media.social.example.net]: ');
  });
});
