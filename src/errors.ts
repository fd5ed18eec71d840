/**
 * The one error type of mastodon-cfn. Every problem a user can act on carries a code, the
 * dotted config path it concerns and, where known, a position in the config file; all
 * problems found are reported together. The CLI's top-level handler turns it into an exit code.
 */
export interface Problem {
  /** Stable machine-readable code, e.g. `schema.additionalProperties` or `semantic.capacity`. */
  code: string;
  /** Dotted config path (`database.minCapacity`), or `(file)` for the file as a whole. */
  path: string;
  message: string;
  line?: number;
  col?: number;
  /** Where the value came from when it is not the config file: a flag (`--region`) or an environment variable (`AWS_REGION`). */
  origin?: string;
}

/** The CLI and the deployer are separate bundles, each with a copy of this class: errors are recognised by a registered brand. */
const BRAND = Symbol.for('mastodon-cfn.error');

export class MastodonCfnError extends Error {
  readonly [BRAND] = true;

  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(
    readonly problems: Problem[],
    /** The config file the problems are in, if they concern one. */
    readonly file?: string,
    readonly exitCode = 1,
  ) {
    super(problems.map((p) => p.message).join('; '));
    this.name = 'MastodonCfnError';
  }

  /** A single problem not tied to a config key (a missing file, a refused deploy). */
  static of(code: string, message: string, exitCode = 1): MastodonCfnError {
    return new MastodonCfnError([{ code, path: '', message }], undefined, exitCode);
  }
}

/** One problem of a config is one line: a key or a value the user wrote may hold a newline or a terminal's escape. */
export function formatProblem(problem: Problem, file?: string): string {
  if (!file) return problem.message;
  const where = problem.origin ?? `${printable(file)}:${problem.line ?? 1}:${problem.col ?? 1}`;
  return `${where}  ${printable(problem.path) || '(file)'}  ${printable(problem.message)}`;
}

/** Control characters (C0, DEL, C1) and line or paragraph separators, which would break a message's line or drive the terminal. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The text with its control characters written as escapes (`\n`, `\u001b`), as JSON would write them. */
export function printable(text: string): string {
  return text.replace(CONTROL, (char) => NAMED_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most ~80 characters of a value a user wrote, for messages: a bad value may be a whole file, and may hold control characters. */
export function excerpt(text: string, limit = 80): string {
  const shown = printable(text);
  return shown.length <= limit ? shown : `${shown.slice(0, limit - 1)}… (${text.length} characters)`;
}

/** File order: how problems are listed. */
export function byPosition(a: Problem, b: Problem): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}
