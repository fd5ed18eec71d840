import { createInterface } from 'node:readline/promises';
import { Interrupted, throwIfInterrupted } from './stacks.js';

/**
 * Honest terminal output: on a terminal, one live status line (a spinner with the count of
 * resources done); in CI logs, or with --progress events, one plain line per event.
 */
export interface Reporter {
  /** A line that stays. */
  line(text: string): void;
  /** A stack event; printed as a line in events mode. */
  event(text: string): void;
  /** The live status; only drawn on a terminal in bar mode. */
  status(text: string): void;
  /** Clears the live status. */
  clear(): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function terminalReporter(progress: 'bar' | 'events' | undefined, stream: NodeJS.WriteStream = process.stdout): Reporter {
  const live = Boolean(stream.isTTY) && progress !== 'events';
  let frame = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    line(text) {
      clear();
      stream.write(`${text}\n`);
    },
    event(text) {
      if (!live) stream.write(`${text}\n`);
    },
    status(text) {
      if (!live) return;
      clear();
      stream.write(`${SPINNER[frame++ % SPINNER.length]} ${text}`);
      drawn = true;
    },
    clear,
  };
}

/** A reporter that keeps every line, for tests. */
export function recordingReporter(): Reporter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (text) => lines.push(text), event: (text) => lines.push(text), status: () => undefined, clear: () => undefined };
}

export type Confirm = (question: string) => Promise<boolean>;

/** Why a confirmation came back "no": the user said so, or nobody could be asked. */
export function notConfirmed(outcome: string): string {
  return process.stdin.isTTY ? `${outcome}.` : `${outcome}: there is no terminal to confirm on (run again with --yes).`;
}

/**
 * Asks on a terminal; --yes answers for the user; with no terminal and no --yes there is nobody to ask. Ctrl-C at the
 * prompt (which readline takes from the terminal, so no SIGINT reaches the process) aborts `interrupt`, as it does
 * anywhere else, and the question ends in Interrupted.
 */
export function terminalConfirm(yes: boolean, interrupt: AbortController): Confirm {
  return async (question) => {
    if (yes) return true;
    if (!process.stdin.isTTY) return false;
    throwIfInterrupted(interrupt.signal);
    const readline = createInterface({ input: process.stdin, output: process.stdout });
    readline.on('SIGINT', () => interrupt.abort());
    try {
      return /^y(es)?$/i.test((await readline.question(`${question} [y/N] `, { signal: interrupt.signal })).trim());
    } catch (error) {
      if (interrupt.signal.aborted) {
        process.stdout.write('\n');
        throw new Interrupted();
      }
      throw error;
    } finally {
      readline.close();
    }
  };
}
