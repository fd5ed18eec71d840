import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type FullHandlebars from 'handlebars';
import handlebarsRuntime from 'handlebars/runtime.js';
import { MastodonCfnError } from './errors.js';
import { refuseForeignFile, writeFile } from './output.js';
import { packagePath } from './packagePath.js';
import { loadValidConfig } from './pipeline.js';
import { SIZES, type Size } from './config/types.js';
import { config as configTemplate } from './templates.generated.js';
import { stringify } from 'yaml';
import packageJson from '../package.json' with { type: 'json' };

const Handlebars = handlebarsRuntime as unknown as typeof FullHandlebars;

/** What `init` asks, each with its flag. */
export interface InitAnswers {
  domain: string;
  service: string;
  mediaDomain: string;
  region: string;
  mailFrom: string;
  size: Size;
  route53: boolean;
}

/** The questions in order: the flag that answers one, the question, and its default from the answers before it. */
const QUESTIONS: { key: keyof InitAnswers; flag: string; path: string; question: string; fallback: (answers: Partial<InitAnswers>, env: NodeJS.ProcessEnv) => string; refuse?: (answer: string) => string | undefined }[] = [
  // There is no sensible default name for an instance: this one is a placeholder, said so when used.
  { key: 'domain', flag: '--domain', path: 'domain', question: "The instance's domain (people's handles end with it; it cannot change later)", fallback: () => PLACEHOLDER_DOMAIN },
  // The stack names derive from it, so a second instance in the same account needs a name of its own.
  { key: 'service', flag: '--service', path: 'service', question: 'The service name (the stacks are named after it: <service>-<stage>, <service>-<stage>-secrets, ...)', fallback: (a) => serviceName(a.domain!) },
  { key: 'mediaDomain', flag: '--media-domain', path: 'media.domain', question: 'The domain media files are served from (CloudFront)', fallback: (a) => `media.${a.domain}` },
  { key: 'region', flag: '--region', path: 'provider.region', question: 'The AWS region', fallback: (_, env) => env.AWS_REGION || 'us-east-1' },
  { key: 'mailFrom', flag: '--mail-from', path: 'mail.from', question: "The sender of Mastodon's e-mails", fallback: (a) => `notifications@${a.domain}` },
  { key: 'size', flag: '--size', path: 'size', question: 'The size: small (one Spot task and RDS db.t4g.micro, the cheapest; down a few minutes when Spot takes the task back), standard (two web tasks, no downtime, Aurora) or large (web, streaming and Sidekiq autoscaled apart)', fallback: () => 'standard', refuse: (answer) => (SIZES.includes(answer.trim().toLowerCase() as Size) ? undefined : `answer ${SIZES.join(', ')}`) },
  { key: 'route53', flag: '--route53', path: 'dns.route53', question: 'Is the domain in Route 53 in this account, for mastodon-cfn to write its DNS records (yes/no)', fallback: () => 'no', refuse: (answer) => (/^(y|yes|true|n|no|false)$/i.test(answer) ? undefined : 'answer yes or no') },
];

export const PLACEHOLDER_DOMAIN = 'social.example.com';

/** The flags that answer questions, as the CLI passes them (undefined: not given). */
export type InitFlags = Partial<Record<keyof InitAnswers, string | boolean>>;

/** Asks one question; `refused` says why the answer before was not taken. */
export type Ask = (question: string, fallback: string, refused?: string) => Promise<string>;

/**
 * Asks on a terminal, one question a line, Enter taking the default shown in brackets. Lines
 * typed ahead are kept for the questions that follow; input that ends before the last answer
 * is a wrong command line, and nothing is written.
 */
export function terminalAsk(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): { ask: Ask; close: () => void } {
  const lines = createInterface({ input, terminal: false });
  const typedAhead: string[] = [];
  let waiting: ((line: string | undefined) => void) | undefined;
  let ended = false;
  lines.on('line', (line) => (waiting ? waiting(line) : typedAhead.push(line)));
  lines.on('close', () => {
    ended = true;
    waiting?.(undefined);
  });
  const nextLine = () =>
    typedAhead.length > 0 ? Promise.resolve(typedAhead.shift()) : ended ? Promise.resolve(undefined) : new Promise<string | undefined>((resolve) => (waiting = resolve));
  return {
    ask: async (question, fallback, refused) => {
      output.write(`${refused ? `  not taken: ${refused}\n` : ''}${question} [${fallback}]: `);
      const line = await nextLine();
      waiting = undefined;
      if (line === undefined) throw MastodonCfnError.of('usage.init', 'init: the input ended before every question was answered, and nothing was written.', 2);
      return line.trim() || fallback;
    },
    close: () => lines.close(),
  };
}

const yes = (value: string | boolean) => value === true || /^(y|yes|true)$/i.test(String(value));

/**
 * What makes a value unfit to be written into the config at all, whatever its key: a control
 * character (a line break would start a key of its own) or a variable (init writes what it is
 * given; a variable would be resolved from the environment at build time).
 */
export function unwritable(value: string): string | undefined {
  const control = /[\p{Cc}\u2028\u2029]/u.exec(value);
  if (control) return `holds a control character (${JSON.stringify(control[0])} at character ${control.index + 1}): give it on one line, as plain text`;
  if (value.includes('${')) return 'holds ${...}, a variable: init writes values as given; write variables into the file yourself';
  return undefined;
}

/** Refuses every flag whose value cannot be written (all of them at once), each named by its flag. */
function refuseUnwritableFlags(flags: InitFlags, configPath: string): void {
  const problems = [
    ...[{ flag: '--config', value: configPath }, ...QUESTIONS.map((q) => ({ flag: q.flag, value: flags[q.key] }))].flatMap(({ flag, value }) => {
      const why = typeof value === 'string' ? unwritable(value) : undefined;
      return why ? [{ code: 'usage.init', path: '', message: `${flag}: ${why}` }] : [];
    }),
  ];
  if (problems.length > 0) throw new MastodonCfnError(problems, undefined, 2);
}

/**
 * Every answer: from a flag, else asked (when `ask` is given), else the default. `again` holds the
 * questions to ask once more and why (the config check refused their answers); an answer that
 * was a default after one of them is asked again too, as its default may have come from it.
 */
export async function collectAnswers(flags: InitFlags, ask: Ask | undefined, env: NodeJS.ProcessEnv, earlier?: { answers: InitAnswers; defaulted: Set<keyof InitAnswers>; again: Map<keyof InitAnswers, string> }): Promise<{ answers: InitAnswers; defaulted: Set<keyof InitAnswers> }> {
  const answers: Partial<Record<keyof InitAnswers, string | boolean>> = {};
  const defaulted = new Set<keyof InitAnswers>();
  let anyAgain = false;
  for (const { key, question, fallback, refuse } of QUESTIONS) {
    const given = flags[key];
    const fallbackValue = fallback(answers as Partial<InitAnswers>, env);
    const again = earlier?.again.get(key);
    anyAgain ||= again !== undefined;
    if (given !== undefined) {
      answers[key] = given;
    } else if (earlier && again === undefined && !(anyAgain && earlier.defaulted.has(key))) {
      answers[key] = earlier.answers[key];
      if (earlier.defaulted.has(key)) defaulted.add(key);
    } else if (ask) {
      let refused = again;
      for (;;) {
        const answer = await ask(question, fallbackValue, refused);
        refused = unwritable(answer) ?? refuse?.(answer);
        if (refused === undefined) {
          answers[key] = answer;
          if (answer === fallbackValue) defaulted.add(key);
          break;
        }
      }
    } else {
      answers[key] = fallbackValue;
      defaulted.add(key);
    }
  }
  return { answers: { ...(answers as unknown as InitAnswers), route53: yes(answers.route53!), size: String(answers.size).trim().toLowerCase() as Size }, defaulted };
}

/** `social.example.com` → `social`: the first label, as a service name may be written. */
function serviceName(domain: string): string {
  const label = domain.split('.')[0].toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '');
  return label.length >= 2 ? label.slice(0, 40).replace(/-+$/, '') : 'mastodon';
}

/** One string as a YAML scalar on one line: plain where that reads back as the same string, else double-quoted. */
const scalar = (value: string) => stringify(value, { lineWidth: 0, defaultStringType: 'PLAIN', defaultKeyType: 'PLAIN' }).trimEnd();

const SCHEMA_FILE = 'schema/mastodon.config.schema.json';

/**
 * The modeline's schema: this version's schema as the published package holds it. A URL, not a
 * path into the install folder, so that the config keeps its schema wherever it is moved or
 * committed, and on machines that have mastodon-cfn elsewhere or not at all. unpkg serves every
 * published version's files forever (npm never lets a version change).
 */
export const SCHEMA_URL = `https://unpkg.com/${packageJson.name}@${packageJson.version}/${SCHEMA_FILE}`;

/** The commented config for the answers. */
export function renderConfig(answers: InitAnswers, mastodonVersion: string): string {
  const handlebars = Handlebars.create();
  // Comments start in one column, as in the reference config.
  handlebars.registerHelper('line', (key: string, value: string) => `${`${key}${value}`.padEnd(35)} `);
  // Every answer is written as one YAML scalar, quoted where YAML would read it otherwise (`#` starts a comment, `yes` or `1.5` are not strings in every reader).
  const quoted = Object.fromEntries(Object.entries({ ...answers, version: mastodonVersion }).map(([key, value]) => [key, typeof value === 'string' ? scalar(value) : value]));
  return handlebars.template(configTemplate)({ ...quoted, schema: SCHEMA_URL });
}

/** Which question a config path comes from, for messages about bad answers. */
const QUESTION_OF_PATH: Record<string, (typeof QUESTIONS)[number]> = Object.fromEntries(QUESTIONS.map((q) => [q.path, q]));

/** Whether the flags answer every question, so that nothing needs asking. */
export const answersEverything = (flags: InitFlags) => QUESTIONS.every((q) => flags[q.key] !== undefined);

/** The problems `build` would find in the config, each named by the question its path comes from. */
function configProblems(text: string): { key?: keyof InitAnswers; flag: string; message: string }[] {
  const scratch = mkdtempSync(join(tmpdir(), 'mastodon-cfn-init-'));
  try {
    const file = join(scratch, 'mastodon.config.yaml');
    writeFileSync(file, text);
    loadValidConfig({ configFile: file, options: {}, env: {} });
    return [];
  } catch (error) {
    if (!(error instanceof MastodonCfnError)) throw error;
    return error.problems.map((problem) => {
      const question = QUESTION_OF_PATH[problem.path];
      return { key: question?.key, flag: question?.flag ?? problem.path, message: problem.message };
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Writes a new config (never over an existing file) and says what to do next. The config is
 * checked as `build` would before it is written: on a terminal a refused answer is asked again
 * (the others are kept); a refused flag is a wrong command line (exit 2), named by its flag.
 */
export async function init(target: string, flags: InitFlags, ask: Ask | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  // Refused before any question is asked: the answers would be lost.
  refuseUnwritableFlags(flags, target);
  const destination = { path: target, flag: '--config' };
  refuseForeignFile(destination);
  // The release this mastodon-cfn knows best, written out so that an upgrade is a deliberate edit.
  const mastodonVersion = JSON.parse(readFileSync(packagePath(SCHEMA_FILE), 'utf8')).properties.mastodon.properties.version.default as string;
  let collected = await collectAnswers(flags, ask, env);
  for (;;) {
    const text = renderConfig(collected.answers, mastodonVersion);
    const problems = configProblems(text);
    if (problems.length === 0) {
      writeFile(destination, text);
      break;
    }
    const askable = ask !== undefined && problems.every((problem) => problem.key !== undefined && flags[problem.key] === undefined);
    if (!askable) {
      // A default refused beside a refused answer came from that answer: naming a flag that was not given would mislead.
      const fromAnswers = problems.filter((problem) => problem.key === undefined || !collected.defaulted.has(problem.key));
      const reported = fromAnswers.length > 0 ? fromAnswers : problems;
      throw new MastodonCfnError(reported.map((problem) => ({ code: 'usage.init', path: '', message: `${problem.flag}: ${problem.message}` })), undefined, 2);
    }
    const again = new Map(problems.map((problem) => [problem.key!, problem.message]));
    collected = await collectAnswers(flags, ask, env, { ...collected, again });
  }
  return [
    `Wrote ${target}.`,
    ...(collected.answers.domain === PLACEHOLDER_DOMAIN ? [`domain is the placeholder ${PLACEHOLDER_DOMAIN}: set your own before you deploy.`] : []),
    'Next: mastodon-cfn cost (what it will cost), mastodon-cfn build (the templates and architecture.svg), mastodon-cfn deploy.',
  ];
}
