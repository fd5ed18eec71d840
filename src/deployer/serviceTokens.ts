import { createHash } from 'node:crypto';
import { DescribeSecretCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type { ServiceToken } from '../compiler/fragment.js';
import { MastodonCfnError } from '../errors.js';
import { SERVICE_ACCOUNT_VARIABLES } from '../mastodon/serviceAccount.js';
import type { AwsClient } from './aws.js';
import type { Polling } from './stacks.js';
import { runAfterDeploy } from './tasks.js';
import type { Reporter } from './terminal.js';

/**
 * Tags the deployer puts on a token's secret once the account task stored a token there: when, for
 * which account, with which scopes, in which main stack (its StackId, new each time the stack is
 * created, so with a new database). A token is ready only while they match the manifest and the
 * stack, so a changed account or scope set, or a stack created anew after a remove, makes a new
 * token on the next deploy that gets that far.
 */
const TAGS = { made: 'mastodon-cfn:token-made', account: 'mastodon-cfn:token-account', scopes: 'mastodon-cfn:token-scopes', stack: 'mastodon-cfn:token-stack' } as const;

/** Secrets Manager takes tag values of at most 256 characters: a longer scope list is tagged by its digest. */
const TAG_VALUE_LIMIT = 256;
function scopesTag(scopes: readonly string[]): string {
  const value = [...scopes].sort().join(' ');
  return value.length <= TAG_VALUE_LIMIT ? value : `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

type Tags = Record<string, string>;

/** The secret's tags; none when the secret does not exist yet (its stack is deployed before this one, so only on a first deploy that stopped early). */
async function secretTags(secretsManager: AwsClient, token: ServiceToken): Promise<Tags> {
  try {
    const described = await secretsManager.send(new DescribeSecretCommand({ SecretId: token.secret }));
    return Object.fromEntries((described.Tags ?? []).map((tag: { Key?: string; Value?: string }) => [tag.Key ?? '', tag.Value ?? '']));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return {};
    throw error;
  }
}

function isReady(tags: Tags, token: ServiceToken, stackId: string | undefined): boolean {
  return TAGS.made in tags && tags[TAGS.account] === token.account && tags[TAGS.scopes] === scopesTag(token.scopes) && stackId !== undefined && tags[TAGS.stack] === stackId;
}

/**
 * The TokenMade parameter of each service: when the token in its secret was made, and only when it was
 * made for the manifest's account and scopes in this stack (`stackId`: none before it is created);
 * '' otherwise, which keeps the service at zero tasks.
 */
export async function tokenParameters(secretsManager: AwsClient, tokens: readonly ServiceToken[], stackId: string | undefined): Promise<Record<string, string>> {
  const made = await Promise.all(
    tokens.map(async (token) => {
      const tags = await secretTags(secretsManager, token);
      return [token.madeParameter, isReady(tags, token, stackId) ? tags[TAGS.made] : ''] as const;
    }),
  );
  return Object.fromEntries(made);
}

/**
 * Refuses, before anything is deployed, a `--rotate-token` that names a service without a Mastodon
 * token, or one the deploy cannot make because Mastodon sleeps (maintenance and debug modes).
 */
export function checkRotation(tokens: readonly ServiceToken[], rotate: readonly string[]): void {
  const unknown = rotate.filter((service) => !tokens.some((token) => token.service === service));
  if (unknown.length > 0) {
    const known = tokens.map((token) => token.service);
    throw MastodonCfnError.of('usage.rotateUnknown', `--rotate-token ${unknown.join(', ')}: ${known.length ? `only ${known.join(', ')} ${known.length === 1 ? 'has' : 'have'} a Mastodon token (services.<name>.mastodon)` : 'no service has a Mastodon token (services.<name>.mastodon)'}`, 2);
  }
  const asleep = rotate.filter((service) => tokens.some((token) => token.service === service && !token.task));
  if (asleep.length > 0) throw MastodonCfnError.of('usage.rotateAsleep', `--rotate-token ${asleep.join(', ')}: Mastodon is in maintenance or debug mode, where no task can make a token; deploy in production mode to rotate it`, 2);
}

/**
 * After a production deploy's migrations: runs the account task of each service whose token is not
 * ready, or that `rotate` names, then tags its secret. The token itself never passes through the
 * deployer: the task writes it to Secrets Manager. Returns the services that got a new token (their
 * running tasks still hold the old one until they are replaced).
 */
export async function makeServiceTokens(
  clients: { ecs: AwsClient; secretsManager: AwsClient },
  tokens: readonly ServiceToken[],
  outputs: Record<string, string>,
  stack: { name: string; region: string; id: string },
  reporter: Reporter,
  polling: Polling,
  options: { rotate: readonly string[] },
): Promise<string[]> {
  checkRotation(tokens, options.rotate);
  const made: string[] = [];
  for (const token of tokens) {
    // Maintenance and debug: Mastodon sleeps, and the service runs as its token allows.
    if (!token.task) continue;
    const tags = await secretTags(clients.secretsManager, token);
    const rotate = options.rotate.includes(token.service);
    const who = `@${token.account} (${token.scopes.join(' ')})`;
    if (isReady(tags, token, stack.id) && !rotate) {
      reporter.line(`Service ${token.service}: its token for ${who} is in ${token.secret}, left as it is (deploy --rotate-token ${token.service} makes a new one).`);
      continue;
    }
    // A run that fails half-way may leave the secret with a token that no longer works: until a run succeeds, the token is not ready.
    if (TAGS.made in tags) await clients.secretsManager.send(new UntagResourceCommand({ SecretId: token.secret, TagKeys: Object.values(TAGS) }));
    await runAfterDeploy(clients.ecs, token.task, outputs, stack, reporter, polling, { environment: { [SERVICE_ACCOUNT_VARIABLES.rotate]: String(rotate) } });
    await clients.secretsManager.send(
      new TagResourceCommand({
        SecretId: token.secret,
        Tags: [
          { Key: TAGS.made, Value: new Date().toISOString() },
          { Key: TAGS.account, Value: token.account },
          { Key: TAGS.scopes, Value: scopesTag(token.scopes) },
          { Key: TAGS.stack, Value: stack.id },
        ],
      }),
    );
    reporter.line(`Service ${token.service}: ${rotate ? 'a new token' : 'its token'} for ${who} is stored in Secrets Manager (${token.secret}); the service reads it as an ECS secret, and it is never printed.`);
    made.push(token.service);
  }
  return made;
}
