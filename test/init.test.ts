import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'yaml';
import { MastodonCfnError } from '../src/errors.js';
import { collectAnswers, init, terminalAsk } from '../src/init.js';
import { buildConfig, REPO_ROOT, runCli, tempDir } from './support/build.js';

const { name, version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
/** Where the modeline points: this version's schema in the published package (test/install.test.ts checks the package holds it there). */
const schemaUrl = `https://unpkg.com/${name}@${version}/schema/mastodon.config.schema.json`;

describe('mastodon-cfn init', () => {
  it('writes a commented config from flags, with the schema modeline, that builds into what was asked', () => {
    const directory = tempDir();
    const file = join(directory, 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes', '--domain', 'social.example.org', '--region', 'eu-west-1', '--size', 'small', '--route53', '--mail-from', 'hello@example.org']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.equal(`Wrote ${file}.\nNext: mastodon-cfn cost (what it will cost), mastodon-cfn build (the templates and architecture.svg), mastodon-cfn deploy.\n`);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0], 'the first line is the schema modeline').to.equal(`# yaml-language-server: $schema=${schemaUrl}`);
    expect(text).to.include("domain: social.example.org          # Mastodon's LOCAL_DOMAIN: it cannot change after the first deploy\n");
    const { config, estimate } = buildConfig({ file });
    expect([config.service, config.domain, config.media.domain, config.provider.region, config.mail.from, config.size, config.dns]).to.deep.equal([
      'social', 'social.example.org', 'media.social.example.org', 'eu-west-1', 'hello@example.org', 'small', { route53: true, dmarc: 'none' },
    ]);
    expect(estimate.region).to.equal('eu-west-1');
  });

  it("the README's example config names the schema as init writes it", () => {
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).to.include(`\`\`\`yaml\n# yaml-language-server: $schema=${schemaUrl}\n`);
  });

  it('--service names the service, which the stacks are named after', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes', '--service', 'club', '--domain', 'social.example.org']);
    expect(result.status, result.stderr).to.equal(0);
    expect(readFileSync(file, 'utf8')).to.include('\nservice: club                       # stack names derive from service and stage\n');
    const { config, stacks } = buildConfig({ file });
    expect([config.service, stacks.map((stack) => stack.name).sort()]).to.deep.equal(['club', ['club-prod', 'club-prod-certificates', 'club-prod-secrets']]);
  });

  it("--service takes only what the config schema's rule for service takes: else exit 2, named by the flag, and nothing is written", () => {
    const directory = tempDir();
    const file = join(directory, 'mastodon.config.yaml');
    const hint = 'lower-case letters, digits and dashes, starting with a letter (e.g. social)';
    const refused = (service: string) => {
      const result = runCli(['init', '--config', file, '--yes', '--service', service]);
      expect(result.status, service).to.equal(2);
      return result.stderr.trim();
    };
    // The schema's rule is more than the characters: at least two of them, not ending with a dash, at most 40.
    for (const service of ['Club_1', 'x', 'club-', '1club']) expect(refused(service)).to.equal(`--service: must be ${hint}; got "${service}"`);
    expect(refused('a'.repeat(41))).to.equal('--service: must be at most 40 characters long; got 41');
    expect(readdirSync(directory)).to.deep.equal([]);
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
    const every = runCli(['init', '--config', join(directory, 'b.yaml'), '--domain', 'social.example.org', '--service', 'social', '--media-domain', 'files.example.org', '--region', 'us-west-2', '--mail-from', 'a@example.org', '--size', 'standard', '--no-route53']);
    expect(every.status, every.stderr).to.equal(0);
    expect(readFileSync(join(directory, 'b.yaml'), 'utf8')).to.include('# dns:\n#   route53: true');
  });

  it('--yes alone takes every default, and says the domain is a placeholder to replace', () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const result = runCli(['init', '--config', file, '--yes'], { env: { AWS_REGION: 'ap-northeast-1' } });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include('domain is the placeholder social.example.com: set your own before you deploy.');
    const { config } = buildConfig({ file });
    expect([config.domain, config.provider.region, config.size, config.dns]).to.deep.equal(['social.example.com', 'ap-northeast-1', 'standard', undefined]);
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
    // A person answering each prompt as it appears: the domain, Enter for the service name and the media domain, a region, Enter, a size (in any case), and yes for Route 53.
    const typed = ['social.example.net', '', '', 'eu-west-1', '', 'Small', 'yes'];
    let shown = '';
    output.on('data', (chunk) => {
      shown += String(chunk);
      if (String(chunk).endsWith(']: ')) input.write(`${typed.shift()}\n`);
    });
    const { ask, close } = terminalAsk(input, output);
    const { answers } = await collectAnswers({}, ask, {});
    close();
    expect(answers).to.deep.equal({ domain: 'social.example.net', service: 'social', mediaDomain: 'media.social.example.net', region: 'eu-west-1', mailFrom: 'notifications@social.example.net', size: 'small', route53: true });
    expect(shown).to.include("The instance's domain (people's handles end with it; it cannot change later) [social.example.com]: ");
    expect(shown).to.include('The service name (the stacks are named after it: <service>-<stage>, <service>-<stage>-secrets, ...) [social]: ');
    expect(shown).to.include('The domain media files are served from (CloudFront) [media.social.example.net]: ');
  });

  it('on a terminal, --service answers the service question', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const typed = ['social.example.net', '', 'eu-west-1', '', 'small', 'no'];
    let shown = '';
    output.on('data', (chunk) => {
      shown += String(chunk);
      if (String(chunk).endsWith(']: ')) input.write(`${typed.shift()}\n`);
    });
    const { ask, close } = terminalAsk(input, output);
    const { answers } = await collectAnswers({ service: 'club' }, ask, {});
    close();
    expect([answers.service, answers.mediaDomain, typed]).to.deep.equal(['club', 'media.social.example.net', []]);
    expect(shown).to.not.include('The service name');
  });

  it('never turns a flag into config: a control character or a variable in any flag is refused, each named by its flag, and nothing is written', () => {
    const directory = tempDir();
    const file = join(directory, 'mastodon.config.yaml');
    const injected = runCli(['init', '--config', file, '--yes', '--domain', 'social\texample.org', '--mail-from', 'a@b.c\nresources:\n  Resources:\n    Evil: { Type: AWS::SNS::Topic }']);
    expect(injected.status).to.equal(2);
    expect(injected.stderr.trim().split('\n')).to.deep.equal([
      '--domain: holds a control character ("\\t" at character 7): give it on one line, as plain text',
      '--mail-from: holds a control character ("\\n" at character 6): give it on one line, as plain text',
    ]);
    const variable = runCli(['init', '--config', file, '--yes', '--mail-from', '${env:HOME}@social.example.org']);
    expect(variable.status).to.equal(2);
    expect(variable.stderr.trim()).to.equal('--mail-from: holds ${...}, a variable: init writes values as given; write variables into the file yourself');
    const fileName = runCli(['init', '--config', join(directory, 'a\nb.yaml'), '--yes']);
    expect(fileName.status).to.equal(2);
    expect(fileName.stderr.trim()).to.match(/^--config: holds a control character \("\\n" at character \d+\)/);
    expect(readdirSync(directory)).to.deep.equal([]);
  });

  it('writes every answer as one quoted value: what YAML would cut or misread is refused as given, or read back exactly', () => {
    const directory = tempDir();
    // Unquoted, ` #x` would be a comment: the domain would be cut silently to social.example.com.
    const comment = runCli(['init', '--config', join(directory, 'a.yaml'), '--yes', '--domain', 'social.example.com #x', '--media-domain', 'media.example.net', '--mail-from', 'a@example.net']);
    expect(comment.status).to.equal(2);
    expect(comment.stderr.trim()).to.equal('--domain: must be a lower-case DNS name such as social.example.com; got "social.example.com #x"');
    const region = runCli(['init', '--config', join(directory, 'a.yaml'), '--yes', '--region', 'eu-west-1 # x']);
    expect(region.status).to.equal(2);
    expect(region.stderr.trim()).to.equal('--region: must be an AWS region such as eu-central-1; got "eu-west-1 # x"');
    expect(existsSync(join(directory, 'a.yaml'))).to.equal(false);

    // A leading % is a YAML directive unquoted (today: a YAML error blamed on the file).
    const given = { domain: 'social.example.org', mediaDomain: 'files.example.org', region: 'ap-southeast-2', mailFrom: '%team+news@social.example.org', size: 'small' };
    const file = join(directory, 'b.yaml');
    const result = runCli(['init', '--config', file, '--domain', given.domain, '--service', 'social', '--media-domain', given.mediaDomain, '--region', given.region, '--mail-from', given.mailFrom, '--size', given.size, '--no-route53']);
    expect(result.status, result.stderr).to.equal(0);
    const written = parse(readFileSync(file, 'utf8'));
    expect({ domain: written.domain, mediaDomain: written.media.domain, region: written.provider.region, mailFrom: written.mail.from, size: written.size }).to.deep.equal(given);
    expect(written.dns).to.equal(undefined);
    const { config } = buildConfig({ file });
    expect([config.domain, config.media.domain, config.provider.region, config.mail.from, config.size]).to.deep.equal(Object.values(given));
  });

  it('on a terminal asks a refused answer again, keeping the others, and writes the config once all are right', async () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const input = new PassThrough();
    const output = new PassThrough();
    // A bad domain, a bad service name, then everything else; then the domain and the service name again (the mail default came from the domain, so it is asked again too).
    const typed = ['Social_Example', 'My_Club', 'files.example.net', 'eu-west-1', '', 'small', 'maybe', 'yes', 'social.example.net', 'club', 'tab\there@example.net', 'me@social.example.net'];
    let shown = '';
    output.on('data', (chunk) => {
      shown += String(chunk);
      if (String(chunk).endsWith(']: ')) input.write(`${typed.shift()}\n`);
    });
    const { ask, close } = terminalAsk(input, output);
    const lines = await init(file, {}, ask, {});
    close();
    expect(typed).to.deep.equal([]);
    expect(lines[0]).to.equal(`Wrote ${file}.`);
    expect(shown).to.include('  not taken: answer yes or no\nIs the domain in Route 53');
    expect(shown).to.include("  not taken: must be a lower-case DNS name such as social.example.com; got \"Social_Example\"\nThe instance's domain (people's handles end with it; it cannot change later) [social.example.com]: ");
    expect(shown).to.include('  not taken: must be lower-case letters, digits and dashes, starting with a letter (e.g. social); got "My_Club"\nThe service name');
    expect(shown).to.include('  not taken: holds a control character ("\\t" at character 4): give it on one line, as plain text\n');
    const { config } = buildConfig({ file });
    expect([config.domain, config.service, config.media.domain, config.provider.region, config.mail.from, config.size, config.dns?.route53]).to.deep.equal(['social.example.net', 'club', 'files.example.net', 'eu-west-1', 'me@social.example.net', 'small', true]);
  });

  it('on a terminal, input that ends before the last answer is exit 2 and nothing is written', async () => {
    const file = join(tempDir(), 'mastodon.config.yaml');
    const input = new PassThrough();
    const { ask, close } = terminalAsk(input, new PassThrough());
    input.end('social.example.net\n');
    const failure = await init(file, {}, ask, {}).then(() => undefined, (error: unknown) => error);
    close();
    expect(failure).to.be.instanceOf(MastodonCfnError);
    expect([(failure as MastodonCfnError).exitCode, (failure as MastodonCfnError).message]).to.deep.equal([2, 'init: the input ended before every question was answered, and nothing was written.']);
    expect(existsSync(file)).to.equal(false);
  });
});
