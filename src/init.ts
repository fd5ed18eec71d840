import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type FullHandlebars from 'handlebars';
import handlebarsRuntime from 'handlebars/runtime.js';
import { MastodonCfnError } from './errors.js';
import { refuseForeignFile, writeFile } from './output.js';
import { packagePath } from './packagePath.js';
import { loadValidConfig } from './pipeline.js';
import { config as configTemplate } from './templates.generated.js';

const Handlebars = handlebarsRuntime as unknown as typeof FullHandlebars;

/** What `init` asks, each with its flag. */
export interface InitAnswers {
  domain: string;
  mediaDomain: string;
  region: string;
  mailFrom: string;
  profile: 'standard' | 'small';
  route53: boolean;
}

/** The questions in order: the flag that answers one, the question, and its default from the answers before it. */
const QUESTIONS: { key: keyof InitAnswers; flag: string; path: string; question: string; fallback: (answers: Partial<InitAnswers>, env: NodeJS.ProcessEnv) => string }[] = [
  // There is no sensible default name for an instance: this one is a placeholder, said so when used.
  { key: 'domain', flag: '--domain', path: 'domain', question: "The instance's domain (people's handles end with it; it cannot change later)", fallback: () => PLACEHOLDER_DOMAIN },
  { key: 'mediaDomain', flag: '--media-domain', path: 'media.domain', question: 'The domain media files are served from (CloudFront)', fallback: (a) => `media.${a.domain}` },
  { key: 'region', flag: '--region', path: 'provider.region', question: 'The AWS region', fallback: (_, env) => env.AWS_REGION || 'us-east-1' },
  { key: 'mailFrom', flag: '--mail-from', path: 'mail.from', question: "The sender of Mastodon's e-mails", fallback: (a) => `notifications@${a.domain}` },
  { key: 'profile', flag: '--profile', path: 'profile', question: 'The profile: standard (Aurora) or small (RDS db.t4g.micro, cheaper)', fallback: () => 'standard' },
  { key: 'route53', flag: '--route53', path: 'dns.route53', question: 'Is the domain in Route 53 in this account, for mastodon-cfn to write its DNS records (yes/no)', fallback: () => 'no' },
];

export const PLACEHOLDER_DOMAIN = 'social.example.com';

/** The flags that answer questions, as the CLI passes them (undefined: not given). */
export type InitFlags = Partial<Record<keyof InitAnswers, string | boolean>>;

export type Ask = (question: string, fallback: string) => Promise<string>;

/** Asks on a terminal, one question a line, Enter taking the default shown in brackets. */
export function terminalAsk(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): { ask: Ask; close: () => void } {
  const lines = createInterface({ input, output, terminal: false });
  return {
    ask: async (question, fallback) => (await lines.question(`${question} [${fallback}]: `)).trim() || fallback,
    close: () => lines.close(),
  };
}

const yes = (value: string | boolean) => value === true || /^(y|yes|true)$/i.test(String(value));

/** Every answer: from a flag, else asked (when `ask` is given), else the default. */
export async function collectAnswers(flags: InitFlags, ask: Ask | undefined, env: NodeJS.ProcessEnv): Promise<InitAnswers> {
  const answers: Partial<Record<keyof InitAnswers, string | boolean>> = {};
  for (const { key, question, fallback } of QUESTIONS) {
    const given = flags[key];
    const fallbackValue = fallback(answers as Partial<InitAnswers>, env);
    answers[key] = given !== undefined ? given : ask ? await ask(question, fallbackValue) : fallbackValue;
  }
  return { ...(answers as unknown as InitAnswers), route53: yes(answers.route53!), profile: String(answers.profile) as InitAnswers['profile'] };
}

/** `social.example.com` → `social`: the first label, as a service name may be written. */
function serviceName(domain: string): string {
  const label = domain.split('.')[0].toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '');
  return label.length >= 2 ? label.slice(0, 40).replace(/-+$/, '') : 'mastodon';
}

/** The commented config for the answers; `schema` is the modeline's path to the JSON Schema. */
export function renderConfig(answers: InitAnswers, schema: string, mastodonVersion: string): string {
  const handlebars = Handlebars.create();
  // Comments start in one column, as in the reference config.
  handlebars.registerHelper('line', (key: string, value: string) => `${`${key}${value}`.padEnd(35)} `);
  return handlebars.template(configTemplate)({ ...answers, service: serviceName(answers.domain), schema, version: mastodonVersion });
}

/** Which flag answers the question a config path comes from, for messages about bad answers (the service name comes from the domain). */
const FLAG_OF_PATH: Record<string, string> = { ...Object.fromEntries(QUESTIONS.map((q) => [q.path, q.flag])), service: '--domain' };

/** Whether the flags answer every question, so that nothing needs asking. */
export const answersEverything = (flags: InitFlags) => QUESTIONS.every((q) => flags[q.key] !== undefined);

/**
 * Checks the config as `build` would, before it is written: a bad answer is named by its flag
 * and nothing is written.
 */
function checkConfig(text: string): void {
  const scratch = mkdtempSync(join(tmpdir(), 'mastodon-cfn-init-'));
  try {
    const file = join(scratch, 'mastodon.config.yaml');
    writeFileSync(file, text);
    loadValidConfig({ configFile: file, options: {}, env: {} });
  } catch (error) {
    if (!(error instanceof MastodonCfnError)) throw error;
    throw new MastodonCfnError(
      error.problems.map((problem) => ({ ...problem, line: undefined, col: undefined, message: `${FLAG_OF_PATH[problem.path] ?? problem.path}: ${problem.message}` })),
      undefined,
      2,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Writes a new config (never over an existing file) and says what to do next. */
export async function init(target: string, flags: InitFlags, ask: Ask | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  const path = resolve(target);
  // Refused before any question is asked: the answers would be lost.
  const destination = { path: target, flag: '--config' };
  refuseForeignFile(destination);
  const answers = await collectAnswers(flags, ask, env);
  const schemaFile = packagePath('schema/mastodon.config.schema.json');
  // The release this mastodon-cfn knows best, written out so that an upgrade is a deliberate edit.
  const mastodonVersion = JSON.parse(readFileSync(schemaFile, 'utf8')).properties.mastodon.properties.version.default as string;
  const fromConfig = relative(dirname(path), schemaFile.pathname);
  const schema = fromConfig.startsWith('.') || fromConfig.startsWith('/') ? fromConfig : `./${fromConfig}`;
  const text = renderConfig(answers, schema, mastodonVersion);
  checkConfig(text);
  writeFile(destination, text);
  return [
    `Wrote ${target}.`,
    ...(answers.domain === PLACEHOLDER_DOMAIN ? [`domain is the placeholder ${PLACEHOLDER_DOMAIN}: set your own before you deploy.`] : []),
    'Next: mastodon-cfn cost (what it will cost), mastodon-cfn build (the templates and architecture.svg), mastodon-cfn deploy.',
  ];
}
