import { DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type { Stack } from '@aws-sdk/client-cloudformation';
import { MastodonCfnError } from '../errors.js';
import type { DeployStack } from './manifest.js';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { SecretGenerator } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import type { Reporter } from './terminal.js';

type SecretValues = Record<string, string>;

/**
 * Runs `task` unless the secret already carries every one of `marks` as a tag; once it succeeded,
 * tags the secret with them, and with the time under `doneAt`. It is how the deployer remembers that a
 * one-off task ran for this stack, domain or release; a failed run is not marked, so the next deploy
 * runs it again. Whether it ran.
 */
export async function runOnceMarked(client: AwsClient, secretId: string, marks: Record<string, string>, doneAt: string, task: () => Promise<void>): Promise<boolean> {
  const secret = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const tags = new Map(((secret.Tags ?? []) as { Key?: string; Value?: string }[]).map((tag) => [tag.Key, tag.Value]));
  if (Object.entries(marks).every(([key, value]) => tags.get(key) === value)) return false;
  await task();
  await client.send(new TagResourceCommand({ SecretId: secretId, Tags: [{ Key: doneAt, Value: new Date().toISOString() }, ...Object.entries(marks).map(([Key, Value]) => ({ Key, Value }))] }));
  return true;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** What `rails db:encryption:init` makes: 32 random alphanumeric characters. */
function alphanumeric(length: number): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of randomBytes(length)) if (byte < 248 && out.length < length) out.push(ALPHANUMERIC[byte % ALPHANUMERIC.length]);
  }
  return out.join('');
}

/** A Web Push (VAPID) key pair: an EC P-256 key, both halves URL-safe base64 as Mastodon expects. */
export function vapidKeyPair(): { VAPID_PRIVATE_KEY: string; VAPID_PUBLIC_KEY: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicPoint = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { VAPID_PRIVATE_KEY: jwk.d!, VAPID_PUBLIC_KEY: publicPoint.toString('base64url') };
}

/** SES's SMTP password: an HMAC chain over the IAM secret access key (AWS's documented SigV4 derivation). */
export function sesSmtpPassword(secretAccessKey: string, region: string): string {
  const sign = (key: Buffer | string, message: string) => createHmac('sha256', key).update(message).digest();
  let signature = sign(`AWS4${secretAccessKey}`, '11111111');
  for (const message of [region, 'ses', 'aws4_request', 'SendRawEmail']) signature = sign(signature, message);
  return Buffer.concat([Buffer.from([0x04]), signature]).toString('base64');
}

/** Each generator adds only the keys that are missing: a value once made is never changed. */
const GENERATORS: Record<SecretGenerator, (current: SecretValues, region: string) => SecretValues> = {
  'mastodon-secrets': (current) => ({
    SECRET_KEY_BASE: hex(64),
    // As rake mastodon:setup makes it (lib/tasks/mastodon.rake at v4.3.0); only 4.3 reads it.
    OTP_SECRET: hex(64),
    ...(current.VAPID_PRIVATE_KEY && current.VAPID_PUBLIC_KEY ? {} : vapidKeyPair()),
    ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY: alphanumeric(32),
    ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT: alphanumeric(32),
    ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY: alphanumeric(32),
    ...current,
  }),
  'ses-smtp-password': (current, region) => (current.secretAccessKey && !current.password ? { ...current, password: sesSmtpPassword(current.secretAccessKey, region) } : current),
};

async function readSecret(client: AwsClient, secretId: string): Promise<SecretValues> {
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return result.SecretString ? (JSON.parse(result.SecretString) as SecretValues) : {};
  } catch (error) {
    // A secret created without a value has no AWSCURRENT version yet.
    if ((error as { name?: string }).name === 'ResourceNotFoundException' && /value|version|staging/i.test((error as Error).message)) return {};
    throw error;
  }
}

/** Puts values into a secret of the stack's own, keeping its other keys; returns the keys whose value changed (never the values). */
export async function replaceSecretKeys(client: AwsClient, secretId: string, values: SecretValues): Promise<string[]> {
  const current = await readSecret(client, secretId);
  const changed = Object.keys(values).filter((key) => current[key] !== values[key]);
  if (changed.length) await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ ...current, ...values }) }));
  return changed;
}

/** Fills the secrets a stack created, once; reports which keys it made, never their values. */
export async function fillGeneratedSecrets(client: AwsClient, region: string, generated: Record<string, SecretGenerator>, outputs: Record<string, string>, reporter: Reporter): Promise<void> {
  for (const [output, generator] of Object.entries(generated)) {
    const secretId = outputs[output];
    if (!secretId) throw MastodonCfnError.of('deploy.missingOutput', `the stack has no output ${output} naming the secret to fill; deploy it again with this version of mastodon-cfn`);
    const current = await readSecret(client, secretId);
    const next = GENERATORS[generator](current, region);
    const added = Object.keys(next).filter((key) => !(key in current));
    if (added.length === 0) continue;
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(next) }));
    reporter.line(`Generated ${added.join(', ')} in ${secretId.split(':').at(-1)} (once; later deploys keep them)`);
  }
}

/** The values a deployed stack already has for its reuse parameters: a kept secret once adopted stays adopted. */
function previousParameters(stack: DeployStack, existing: Stack | undefined): Record<string, string> {
  const previous = new Map((existing?.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue ?? '']));
  return Object.fromEntries((stack.reusableSecrets ?? []).filter((r) => previous.has(r.parameter)).map((r) => [r.parameter, previous.get(r.parameter)!]));
}

/**
 * A kept secret outlives its stack (an earlier `remove` left it, with Mastodon's keys in it).
 * A stack created again takes it over instead of failing with "already exists"; a secret
 * scheduled for deletion must be restored by the user first.
 */
export async function reusedSecretParameters(client: AwsClient, stack: DeployStack, existing: Stack | undefined, reporter: Reporter): Promise<Record<string, string>> {
  if (existing) return previousParameters(stack, existing);
  const parameters: Record<string, string> = {};
  for (const { parameter, name } of stack.reusableSecrets ?? []) {
    let found: { ARN?: string; DeletedDate?: Date };
    try {
      found = await client.send(new DescribeSecretCommand({ SecretId: name }));
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') continue;
      throw error;
    }
    if (found.DeletedDate) {
      throw MastodonCfnError.of(
        'deploy.secretScheduledForDeletion',
        `The secret ${name} is scheduled for deletion, and a new ${stack.name} would need its name. If it holds this instance's keys, restore it: aws secretsmanager restore-secret --secret-id ${name} --region ${stack.region}; then deploy again.`,
      );
    }
    parameters[parameter] = found.ARN!;
    reporter.line(`${stack.name}: reusing ${name}, kept by an earlier remove (its values stay as they were)`);
  }
  return parameters;
}
