import type { OneOffTask, SearchIndex } from '../compiler/fragment.js';
import type { AwsClient } from './aws.js';
import type { Polling } from './stacks.js';
import { runOnceMarked } from './secrets.js';
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
  await runOnceMarked(clients.secretsManager, search.credentialsSecret, { [TAGS.domain]: domain, [TAGS.version]: search.mastodonVersion }, TAGS.indexed, () =>
    runAfterDeploy(clients.ecs, { ...oneOffTask, description: search.description }, outputs, stack, reporter, polling, { command: search.command }),
  );
}
