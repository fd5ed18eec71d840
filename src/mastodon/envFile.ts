import { readFileSync, statSync } from 'node:fs';
import { MastodonCfnError } from '../errors.js';
import { fileSystemReason, isSystemError } from '../fileErrors.js';
import { MASTODON_SECRET_VARIABLES } from './facts.js';

/** Far more than a .env.production holds (rake mastodon:setup writes a few dozen lines). */
const MAX_ENV_FILE_BYTES = 64 * 1024;

export type MastodonSecretName = (typeof MASTODON_SECRET_VARIABLES)[number];

/**
 * The keys of an old server's .env.production that an import carries into the kept Mastodon secret: the
 * ones Mastodon derives its encryption from (SECRET_KEY_BASE, Active Record encryption, the pre-4.4
 * OTP_SECRET) and its Web Push identity (VAPID). dotenv's format: `KEY=value`, `export KEY=value`, values in
 * single or double quotes, `#` comments. Every other key is left alone: the config decides the rest.
 */
export function readMastodonSecrets(path: string, option = '--env-production'): Partial<Record<MastodonSecretName, string>> {
  let text: string;
  try {
    const { size } = statSync(path);
    if (size > MAX_ENV_FILE_BYTES) throw MastodonCfnError.of('usage.envFile', `${option} ${path} is ${size.toLocaleString('en-US')} bytes; a .env.production is a few kilobytes (at most ${MAX_ENV_FILE_BYTES.toLocaleString('en-US')})`, 2);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isSystemError(error)) throw MastodonCfnError.of('usage.envFile', `${option} ${path}: ${fileSystemReason(error, path)}`, 2);
    throw error;
  }
  const found: Partial<Record<MastodonSecretName, string>> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw MastodonCfnError.of('usage.envFile', `${path}:${index + 1}:1: not KEY=value (a .env.production line)`, 2);
    const [, key, rest] = match;
    if (!(MASTODON_SECRET_VARIABLES as readonly string[]).includes(key)) continue;
    const quoted = /^(['"])(.*)\1\s*(#.*)?$/.exec(rest);
    if (!quoted && /^['"]/.test(rest)) throw MastodonCfnError.of('usage.envFile', `${path}:${index + 1}:${raw.indexOf('=') + 2}: the value of ${key} opens a quote it does not close`, 2);
    const value = quoted ? quoted[2] : rest.replace(/\s+#.*$/, '').trim();
    if (value === '') throw MastodonCfnError.of('usage.envFile', `${path}:${index + 1}:${raw.indexOf('=') + 2}: ${key} is empty`, 2);
    found[key as MastodonSecretName] = value;
  }
  if (!found.SECRET_KEY_BASE) throw MastodonCfnError.of('usage.envFile', `${path} has no SECRET_KEY_BASE: give the old server's .env.production (without its key, its sessions, two-factor logins and encrypted columns cannot be read)`, 2);
  const vapid = [found.VAPID_PRIVATE_KEY, found.VAPID_PUBLIC_KEY].filter(Boolean).length;
  if (vapid === 1) throw MastodonCfnError.of('usage.envFile', `${path} has only one of VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY: a Web Push key pair goes together`, 2);
  return found;
}
