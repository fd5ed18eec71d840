import { DescribeSecretCommand, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import type { OneOffTask, SearchIndex } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import type { Polling } from './stacks.js';
import { runAfterDeploy } from './tasks.js';
import type { Reporter } from './terminal.js';

/** Set on the search master user's secret once the index is built: when, for which domain (its ARN, new with each domain) and which release. */
const TAGS = { indexed: 'mastodon-cfn:search-indexed', domain: 'mastodon-cfn:search-domain', version: 'mastodon-cfn:search-version' } as const;

/**
 * Builds the search index once for each search domain and release, after the migrations: `tootctl
 * search deploy` in the stack's one-off task. Later deploys leave the index to Mastodon, which keeps
 * it up to date; a domain made anew (its ARN changes) is indexed again, and so is one after an
 * upgrade (an index's definition may change: tootctl rebuilds only those that did). A failed run is
 * not tagged, so the next deploy runs it again.
 */
export async function buildSearchIndexOnce(clients: { ecs: AwsClient; secretsManager: AwsClient }, search: SearchIndex, oneOffTask: OneOffTask, outputs: Record<string, string>, stack: { name: string; region: string }, reporter: Reporter, polling: Polling): Promise<void> {
  const domain = outputs[search.domainOutput];
  if (!domain) return;
  const secret = await clients.secretsManager.send(new DescribeSecretCommand({ SecretId: search.credentialsSecret }));
  const tags = new Map(((secret.Tags ?? []) as { Key?: string; Value?: string }[]).map((tag) => [tag.Key, tag.Value]));
  if (tags.get(TAGS.domain) === domain && tags.get(TAGS.version) === search.mastodonVersion) return;
  await runAfterDeploy(clients.ecs, { ...oneOffTask, description: search.description }, outputs, stack, reporter, polling, { command: search.command });
  await clients.secretsManager.send(
    new TagResourceCommand({
      SecretId: search.credentialsSecret,
      Tags: [
        { Key: TAGS.indexed, Value: new Date().toISOString() },
        { Key: TAGS.domain, Value: domain },
        { Key: TAGS.version, Value: search.mastodonVersion },
      ],
    }),
  );
}
